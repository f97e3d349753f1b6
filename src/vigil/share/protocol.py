"""The wire format between a member agency and the hub: signed bundles and signed requests.

A **bundle** is a JSON object ``{"header": {...}, "signals": [...]}``. Its *canonical bytes* are
UTF-8 JSON with sorted keys and no whitespace (:func:`canonical`); they are what is signed, so
both sides must produce identical bytes from the same object, which rules out NaN/Infinity and
leaves floats only where unavoidable (a face model's calibrated threshold).

The header holds ``format`` (``vigil-signals/1``), ``agency``, ``operation``, ``created_at``
(UTC, ``YYYY-MM-DDTHH:MM:SSZ``), ``nonce`` (128 random bits, hex), ``case_ref`` (an opaque local
reference) and ``key_id``. Each signal is checked by :func:`vigil.share.kinds.validate_signal`.

An **envelope** (a bundle file, or the body of a push) is ``{"bundle", "key_id", "signature"}``
where the signature is Ed25519 over the bundle's canonical bytes, base64-encoded.
:func:`verify_envelope` refuses, in this order and each with its own error: a malformed envelope
(:class:`~vigil.errors.DamagedInput`), an unknown key (:class:`~vigil.errors.UnknownKey`), a bad
signature (:class:`~vigil.errors.SignatureInvalid`), a signal outside the policy
(:class:`~vigil.errors.PolicyViolation`), a timestamp outside the window
(:class:`~vigil.errors.StaleMessage`) and a nonce already seen (:class:`~vigil.errors.ReplayDetected`).

**Requests** to the hub's HTTP API carry four headers (:func:`sign_request`); the signature
covers the method, the path with its query, the SHA-256 of the body, the timestamp, the nonce and
the key id, so a captured request can be neither altered nor replayed.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vigil.errors import (
    DamagedInput,
    PolicyViolation,
    ReplayDetected,
    SignatureInvalid,
    StaleMessage,
    UnknownKey,
)
from vigil.share import keys
from vigil.share.kinds import KINDS, TOKEN, validate_signal

FORMAT = "vigil-signals/1"
REQUEST_FORMAT = "vigil-request/1"
HEADER_KEYS = frozenset(
    {"format", "agency", "operation", "created_at", "nonce", "case_ref", "key_id"}
)
ENVELOPE_KEYS = frozenset({"bundle", "key_id", "signature"})
MAX_SIGNALS = 2_000_000
NONCE = re.compile(r"^[0-9a-f]{32}$")
KEY_ID = re.compile(rf"^[0-9a-f]{{{keys.KEY_ID_HEX}}}$")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
DEFAULT_REQUEST_SKEW = dt.timedelta(minutes=5)
DEFAULT_BUNDLE_AGE = dt.timedelta(days=30)
"""Bundle files travel by hand to air-gapped units, so they may be this old when imported."""

H_KEY, H_TIME, H_NONCE, H_SIG = (
    "x-vigil-key",
    "x-vigil-time",
    "x-vigil-nonce",
    "x-vigil-signature",
)

SeenNonce = Callable[[str, str, dt.datetime], bool]
"""``seen(key_id, nonce, created_at)``: record the nonce and return True if it was already used."""

__all__ = ["FORMAT", "KINDS", "canonical", "make_bundle", "make_signal", "sign_bundle"]


def canonical(obj: Any) -> bytes:
    """The exact bytes that are signed: sorted keys, no whitespace, UTF-8, no NaN."""
    try:
        text = json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise PolicyViolation(f"not representable as canonical JSON: {exc}") from exc
    return text.encode("utf-8")


def utc_text(when: dt.datetime) -> str:
    """A timestamp as the protocol writes it (UTC, whole seconds, trailing Z)."""
    if when.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return when.astimezone(dt.UTC).strftime(TIME_FORMAT)


def parse_time(text: Any, what: str) -> dt.datetime:
    """Parse a protocol timestamp, or raise DamagedInput naming ``what``."""
    try:
        return dt.datetime.strptime(str(text), TIME_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError as exc:
        raise DamagedInput(f"{what}: timestamp {text!r} is not YYYY-MM-DDTHH:MM:SSZ") from exc


def new_nonce() -> str:
    """128 random bits as 32 hex digits."""
    return secrets.token_hex(16)


def make_signal(
    kind: str, value: str, local_ref: str, meta: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One signal, checked against the policy."""
    return validate_signal(
        {"kind": kind, "value": value, "local_ref": local_ref, "meta": dict(meta or {})}
    )


def make_bundle(
    *,
    agency: str,
    operation: str,
    case_ref: str,
    key_id: str,
    signals: Iterable[Mapping[str, Any]],
    created_at: dt.datetime | None = None,
    nonce: str | None = None,
) -> dict[str, Any]:
    """A bundle with a fresh nonce and the current time, validated."""
    bundle = {
        "header": {
            "format": FORMAT,
            "agency": agency,
            "operation": operation,
            "created_at": utc_text(created_at or dt.datetime.now(dt.UTC)),
            "nonce": nonce or new_nonce(),
            "case_ref": case_ref,
            "key_id": key_id,
        },
        "signals": [dict(s) for s in signals],
    }
    return validate_bundle(bundle)


def validate_header(header: Any) -> dict[str, Any]:
    """Check a bundle header's fields and shapes (PolicyViolation on anything unexpected)."""
    if not isinstance(header, dict) or set(header) != HEADER_KEYS:
        got = sorted(header) if isinstance(header, dict) else type(header).__name__
        raise PolicyViolation(f"bundle header must have exactly {sorted(HEADER_KEYS)}, got {got}")
    if header["format"] != FORMAT:
        raise PolicyViolation(f"bundle format {header['format']!r} is not {FORMAT!r}")
    for name in ("agency", "operation", "case_ref"):
        if not isinstance(header[name], str) or not TOKEN.match(header[name]):
            raise PolicyViolation(f"bundle header {name} {header[name]!r} must be a short token")
    if not isinstance(header["nonce"], str) or not NONCE.match(header["nonce"]):
        raise PolicyViolation("bundle header nonce must be 32 lower-case hex digits")
    if not isinstance(header["key_id"], str) or not KEY_ID.match(header["key_id"]):
        raise PolicyViolation(f"bundle header key_id must be {keys.KEY_ID_HEX} hex digits")
    parse_time(header["created_at"], "bundle header created_at")
    return header


def validate_bundle(bundle: Any) -> dict[str, Any]:
    """Check a whole bundle: header, then every signal (the first bad one is named)."""
    if not isinstance(bundle, dict) or set(bundle) != {"header", "signals"}:
        raise PolicyViolation("a bundle is exactly {header, signals}")
    validate_header(bundle["header"])
    signals = bundle["signals"]
    if not isinstance(signals, list):
        raise PolicyViolation("bundle signals must be a list")
    if len(signals) > MAX_SIGNALS:
        raise PolicyViolation(f"bundle holds {len(signals)} signals, more than {MAX_SIGNALS}")
    for i, signal in enumerate(signals):
        validate_signal(signal, index=i)
    return bundle


def sign_bundle(bundle: dict[str, Any], private_key: Ed25519PrivateKey) -> bytes:
    """Validate, sign and wrap a bundle; return the envelope's bytes (file or HTTP body)."""
    validate_bundle(bundle)
    kid = keys.key_id(private_key)
    if bundle["header"]["key_id"] != kid:
        raise PolicyViolation(f"bundle names key {bundle['header']['key_id']}, signed with {kid}")
    sig = private_key.sign(canonical(bundle))
    return canonical({"bundle": bundle, "key_id": kid, "signature": base64.b64encode(sig).decode()})


def _check_signature(pub: Ed25519PublicKey, signature: Any, message: bytes, what: str) -> None:
    try:
        raw = base64.b64decode(str(signature), validate=True)
        pub.verify(raw, message)
    except (binascii.Error, ValueError, InvalidSignature) as exc:
        raise SignatureInvalid(
            f"{what}: signature does not verify (tampered or wrong key)"
        ) from exc


def _check_time(
    created: dt.datetime,
    now: dt.datetime,
    max_age: dt.timedelta,
    max_future: dt.timedelta,
    what: str,
) -> None:
    if created > now + max_future:
        raise StaleMessage(
            f"{what}: timestamp {utc_text(created)} is in the future (now {utc_text(now)})"
        )
    if created < now - max_age:
        raise StaleMessage(
            f"{what}: timestamp {utc_text(created)} is older than {max_age} (now {utc_text(now)})"
        )


def verify_envelope(
    data: bytes,
    public_keys: Mapping[str, Ed25519PublicKey],
    now: dt.datetime,
    max_skew: dt.timedelta,
    seen_nonce: SeenNonce,
    *,
    max_future: dt.timedelta = DEFAULT_REQUEST_SKEW,
) -> dict[str, Any]:
    """Authenticate and validate an envelope; return its bundle.

    ``max_skew`` is how old a bundle may be (air-gapped files need days), ``max_future`` how far
    ahead of ``now`` its clock may run. ``seen_nonce`` is called last, so a refused envelope never
    burns a nonce.
    """
    try:
        env = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DamagedInput(f"envelope is not JSON: {exc}") from exc
    if (
        not isinstance(env, dict)
        or set(env) != ENVELOPE_KEYS
        or not isinstance(env["bundle"], dict)
    ):
        raise DamagedInput(f"an envelope is exactly {sorted(ENVELOPE_KEYS)}")
    kid = env["key_id"]
    pub = public_keys.get(kid) if isinstance(kid, str) else None
    if pub is None:
        raise UnknownKey(f"bundle signed by unknown key {kid!r}")
    bundle: dict[str, Any] = env["bundle"]
    _check_signature(pub, env["signature"], canonical(bundle), "bundle")
    validate_bundle(bundle)
    header = bundle["header"]
    if header["key_id"] != kid:
        raise SignatureInvalid(f"bundle header names key {header['key_id']}, envelope {kid}")
    created = parse_time(header["created_at"], "bundle created_at")
    _check_time(created, now, max_skew, max_future, "bundle")
    if seen_nonce(kid, header["nonce"], created):
        raise ReplayDetected(
            f"bundle nonce {header['nonce']} was already used by key {kid}: replay refused"
        )
    return bundle


def request_message(
    method: str, path: str, body: bytes, timestamp: str, nonce: str, key_id: str
) -> bytes:
    """The bytes a request signature covers."""
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join(
        [REQUEST_FORMAT, method.upper(), path, digest, timestamp, nonce, key_id]
    ).encode()


def sign_request(
    method: str,
    path: str,
    body: bytes,
    private_key: Ed25519PrivateKey,
    *,
    now: dt.datetime | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four ``X-Vigil-*`` headers for one HTTP request (``path`` includes the query)."""
    kid = keys.key_id(private_key)
    ts = utc_text(now or dt.datetime.now(dt.UTC))
    n = nonce or new_nonce()
    sig = private_key.sign(request_message(method, path, body, ts, n, kid))
    return {H_KEY: kid, H_TIME: ts, H_NONCE: n, H_SIG: base64.b64encode(sig).decode()}


def verify_request(
    method: str,
    path: str,
    body: bytes,
    headers: Mapping[str, str],
    public_keys: Mapping[str, Ed25519PublicKey],
    now: dt.datetime,
    max_skew: dt.timedelta,
    seen_nonce: SeenNonce,
) -> str:
    """Authenticate one HTTP request; return the key id that signed it."""
    lower = {k.lower(): v for k, v in headers.items()}
    missing = [h for h in (H_KEY, H_TIME, H_NONCE, H_SIG) if h not in lower]
    if missing:
        raise SignatureInvalid(f"request is not signed (missing headers: {', '.join(missing)})")
    kid, ts, nonce = lower[H_KEY], lower[H_TIME], lower[H_NONCE]
    pub = public_keys.get(kid)
    if pub is None:
        raise UnknownKey(f"request signed by unknown key {kid!r}")
    if not NONCE.match(nonce):
        raise SignatureInvalid("request nonce must be 32 lower-case hex digits")
    _check_signature(
        pub, lower[H_SIG], request_message(method, path, body, ts, nonce, kid), "request"
    )
    created = parse_time(ts, "request time")
    _check_time(created, now, max_skew, max_skew, "request")
    if seen_nonce(kid, nonce, created):
        raise ReplayDetected(f"request nonce {nonce} was already used by key {kid}: replay refused")
    return kid
