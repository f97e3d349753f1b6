"""Signed bundles and requests: round trip, and each way a message is refused."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest

from vigil.errors import (
    DamagedInput,
    PolicyViolation,
    ReplayDetected,
    SignatureInvalid,
    StaleMessage,
    UnknownKey,
)
from vigil.share import keys
from vigil.share.protocol import (
    canonical,
    make_bundle,
    sign_bundle,
    sign_request,
    verify_envelope,
    verify_request,
)

from ._sample import signals

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


class Nonces:
    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    def __call__(self, key_id: str, nonce: str, _at: dt.datetime) -> bool:
        if (key_id, nonce) in self.seen:
            return True
        self.seen.add((key_id, nonce))
        return False


@pytest.fixture
def key() -> Any:
    return keys.generate()


def _bundle(key: Any, created: dt.datetime = NOW) -> dict[str, Any]:
    return make_bundle(
        agency="de-bka",
        operation="op-1",
        case_ref="c-17",
        key_id=keys.key_id(key),
        signals=signals(),
        created_at=created,
    )


def test_canonical_bytes_are_stable_and_sorted() -> None:
    assert canonical({"b": 1, "a": [1, "é"]}) == '{"a":[1,"é"],"b":1}'.encode()
    with pytest.raises(PolicyViolation):
        canonical({"x": float("nan")})


def test_round_trip(key: Any) -> None:
    bundle = _bundle(key)
    data = sign_bundle(bundle, key)
    pubs = {keys.key_id(key): key.public_key()}
    got = verify_envelope(data, pubs, NOW, DAY, Nonces())
    assert got == bundle
    assert json.loads(data)["key_id"] == keys.key_id(key)


def test_tampered_bundle_is_refused(key: Any) -> None:
    env = json.loads(sign_bundle(_bundle(key), key))
    env["bundle"]["signals"][0]["value"] = "00" * 16
    pubs = {keys.key_id(key): key.public_key()}
    with pytest.raises(SignatureInvalid, match="tampered"):
        verify_envelope(canonical(env), pubs, NOW, DAY, Nonces())


def test_wrong_and_unknown_keys(key: Any) -> None:
    other = keys.generate()
    data = sign_bundle(_bundle(key), key)
    with pytest.raises(UnknownKey):
        verify_envelope(data, {keys.key_id(other): other.public_key()}, NOW, DAY, Nonces())
    # a registered id whose public key is not the signer's
    with pytest.raises(SignatureInvalid):
        verify_envelope(data, {keys.key_id(key): other.public_key()}, NOW, DAY, Nonces())
    with pytest.raises(PolicyViolation, match="signed with"):
        sign_bundle(_bundle(key), other)


def test_stale_future_and_replayed(key: Any) -> None:
    pubs = {keys.key_id(key): key.public_key()}
    old = sign_bundle(_bundle(key, NOW - 2 * DAY), key)
    with pytest.raises(StaleMessage, match="older"):
        verify_envelope(old, pubs, NOW, DAY, Nonces())
    future = sign_bundle(_bundle(key, NOW + dt.timedelta(hours=1)), key)
    with pytest.raises(StaleMessage, match="future"):
        verify_envelope(future, pubs, NOW, DAY, Nonces())
    data = sign_bundle(_bundle(key), key)
    nonces = Nonces()
    verify_envelope(data, pubs, NOW, DAY, nonces)
    with pytest.raises(ReplayDetected, match="replay"):
        verify_envelope(data, pubs, NOW, DAY, nonces)


def test_refused_envelope_does_not_burn_its_nonce(key: Any) -> None:
    pubs = {keys.key_id(key): key.public_key()}
    data = sign_bundle(_bundle(key), key)
    nonces = Nonces()
    with pytest.raises(StaleMessage):
        verify_envelope(data, pubs, NOW + 3 * DAY, DAY, nonces)
    assert not nonces.seen


@pytest.mark.parametrize("data", [b"not json", b"[]", b'{"bundle": {}}'])
def test_malformed_envelopes(key: Any, data: bytes) -> None:
    with pytest.raises(DamagedInput):
        verify_envelope(data, {}, NOW, DAY, Nonces())


def test_signed_bundle_with_a_forbidden_signal_is_refused_on_import(key: Any) -> None:
    bundle = _bundle(key)
    bundle["signals"].append(
        {"kind": "sha256", "value": "ab" * 32, "local_ref": "item:1", "meta": {"path": "x"}}
    )
    # a modified client signs it anyway; the importer still refuses it
    env = {
        "bundle": bundle,
        "key_id": keys.key_id(key),
        "signature": base64.b64encode(key.sign(canonical(bundle))).decode(),
    }
    with pytest.raises(PolicyViolation, match="meta fields not allowed"):
        verify_envelope(canonical(env), {keys.key_id(key): key.public_key()}, NOW, DAY, Nonces())


def test_header_rules(key: Any) -> None:
    with pytest.raises(PolicyViolation, match="agency"):
        make_bundle(agency="A B", operation="o", case_ref="c", key_id=keys.key_id(key), signals=[])


def test_request_signing(key: Any) -> None:
    pubs = {keys.key_id(key): key.public_key()}
    body = b'{"x":1}'
    headers = sign_request("post", "/api/v1/push?x=1", body, key, now=NOW)
    nonces = Nonces()
    minute = dt.timedelta(minutes=5)
    assert verify_request("POST", "/api/v1/push?x=1", body, headers, pubs, NOW, minute, nonces)
    with pytest.raises(ReplayDetected):
        verify_request("POST", "/api/v1/push?x=1", body, headers, pubs, NOW, minute, nonces)
    fresh = sign_request("POST", "/api/v1/push", body, key, now=NOW)
    for method, path, b in [
        ("GET", "/api/v1/push", body),
        ("POST", "/api/v1/other", body),
        ("POST", "/api/v1/push", b"{}"),
    ]:
        with pytest.raises(SignatureInvalid):
            verify_request(method, path, b, fresh, pubs, NOW, minute, Nonces())
    with pytest.raises(StaleMessage):
        verify_request(
            "POST", "/api/v1/push", body, fresh, pubs, NOW + 2 * minute, minute, Nonces()
        )
    with pytest.raises(SignatureInvalid, match="not signed"):
        verify_request("POST", "/api/v1/push", body, {}, pubs, NOW, minute, Nonces())


def test_key_files(tmp_path: Any, key: Any) -> None:
    kid = keys.write_keypair(key, tmp_path / "k.pem", tmp_path / "k.pub")
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600
    assert keys.key_id(keys.load_private(tmp_path / "k.pem")) == kid
    assert keys.key_id(keys.load_public(tmp_path / "k.pub")) == kid
    raw = base64.b64encode(keys.public_raw(key.public_key()))
    assert keys.key_id(keys.parse_public(raw)) == kid
    with pytest.raises(Exception, match="refusing to overwrite"):
        keys.write_keypair(key, tmp_path / "k.pem", tmp_path / "k.pub")
