"""What a shared signal may look like, kind by kind: the policy both sides enforce.

The exporter calls :func:`validate_signal` before anything is signed (a failure is a
:class:`~vigil.errors.PolicyViolation`: the export is refused, nothing is written) and the hub
calls it again on import (defence in depth: a modified or foreign client cannot slip a file name,
a face crop or a free-text field past the hub). The rules are deliberately narrow:

- every signal is exactly ``{kind, value, local_ref, meta}``; unknown keys are refused;
- ``value`` is a string of the exact shape of its kind (lower-case hex of the right length, or
  base64 of an exact byte size derived from ``meta``), so no room is left for media or text;
- ``meta`` has a fixed set of fields per kind; names are short tokens (``[A-Za-z0-9_.:+-]``);
- ``local_ref`` is ``prefix:id`` (e.g. ``item:123``), never a path or file name.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vigil.errors import PolicyViolation

KINDS = (
    "md5",
    "sha1",
    "sha256",
    "pdq",
    "vpdq",
    "face",
    "scene",
    "prnu",
    "person",
    "card_token",
    "email_token",
)
SIGNAL_KEYS = frozenset({"kind", "value", "local_ref", "meta"})
LOCAL_REF = re.compile(r"^[a-z][a-z_]{0,31}:[A-Za-z0-9_-]{1,64}$")
TOKEN = re.compile(r"^[A-Za-z0-9_.:+-]{1,64}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
LOWER_HEX = re.compile(r"[0-9a-f]*")
HEX_TOKEN = re.compile(r"^[0-9a-f]{16,64}$")
MAX_BLOCKS = 32
MAX_VPDQ_FRAMES = 3600
MAX_FACE_DIM = 2048
MAX_SCENE_BYTES = 16384
MAX_PRNU_SIDE = 1024
MAX_CLK_BITS = 8192
SCENE_DTYPES = {"f16": 2, "f32": 4, "u8": 1}
FACE_METRICS = ("cosine", "l2")
PRNU_CODECS = ("sign-bits",)
"""``sign-bits``: the sign of each fingerprint sample of a centred crop, packed MSB first."""


@dataclass(frozen=True)
class Field:
    """One allowed ``meta`` field: its Python type, whether it is required and an extra check."""

    type: type | tuple[type, ...]
    required: bool = True
    check: Callable[[Any], bool] | None = None
    hint: str = ""


def _token(v: Any) -> bool:
    return isinstance(v, str) and bool(TOKEN.match(v))


def _hex64(v: Any) -> bool:
    return isinstance(v, str) and bool(HEX64.match(v))


def _hex_list(v: Any) -> bool:
    return (
        isinstance(v, list)
        and len(v) <= MAX_BLOCKS
        and all(isinstance(x, str) and HEX_TOKEN.match(x) for x in v)
    )


def _between(lo: float, hi: float) -> Callable[[Any], bool]:
    return lambda v: not isinstance(v, bool) and lo <= v <= hi and math.isfinite(v)


def _one_of(*options: str) -> Callable[[Any], bool]:
    return lambda v: v in options


_NUM = (int, float)
META: dict[str, dict[str, Field]] = {
    "md5": {},
    "sha1": {},
    "sha256": {},
    "pdq": {"quality": Field(int, False, _between(0, 100), "0..100")},
    "vpdq": {"version": Field(str, True, _token, "hasher version token")},
    "face": {
        "model": Field(str, True, _token, "model name token"),
        "model_version": Field(str, True, _token, "version token"),
        "weights_sha256": Field(str, True, _hex64, "64 hex digits"),
        "dim": Field(int, True, _between(8, MAX_FACE_DIM), f"8..{MAX_FACE_DIM}"),
        "metric": Field(str, True, _one_of(*FACE_METRICS), " or ".join(FACE_METRICS)),
        "threshold": Field(_NUM, True, _between(0, 4), "calibrated distance 0..4"),
    },
    "scene": {
        "descriptor": Field(str, True, _token, "descriptor name token"),
        "version": Field(str, True, _token, "version token"),
        "codebook_sha256": Field(str, True, _hex64, "64 hex digits"),
        "dim": Field(int, True, _between(8, MAX_SCENE_BYTES), "vector length"),
        "dtype": Field(str, True, _one_of(*SCENE_DTYPES), "/".join(SCENE_DTYPES)),
    },
    "prnu": {
        "codec": Field(str, True, _one_of(*PRNU_CODECS), "/".join(PRNU_CODECS)),
        "height": Field(int, True, _between(16, MAX_PRNU_SIDE), f"16..{MAX_PRNU_SIDE}"),
        "width": Field(int, True, _between(16, MAX_PRNU_SIDE), f"16..{MAX_PRNU_SIDE}"),
        "source_height": Field(int, True, _between(16, 1 << 16), "full sensor height"),
        "source_width": Field(int, True, _between(16, 1 << 16), "full sensor width"),
    },
    "person": {
        "params_id": Field(str, True, _token, "encoding scheme/parameters id token"),
        "key_id": Field(str, True, _token, "public fingerprint of the operation secret"),
        "bits": Field(int, True, lambda v: 64 <= v <= MAX_CLK_BITS and v % 8 == 0, "64..8192, /8"),
        "blocks": Field(list, False, _hex_list, f"up to {MAX_BLOCKS} keyed blocking tokens (hex)"),
    },
    "card_token": {"key_id": Field(str, True, _token, "token key id")},
    "email_token": {"key_id": Field(str, True, _token, "token key id")},
}


def _b64(value: str, expected: int, what: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PolicyViolation(f"{what}: value is not base64") from exc
    if len(raw) != expected:
        raise PolicyViolation(f"{what}: value has {len(raw)} bytes, expected exactly {expected}")
    return raw


def _hex(value: str, n: int, what: str) -> None:
    if len(value) != n or not LOWER_HEX.fullmatch(value):
        raise PolicyViolation(f"{what}: value must be {n} lower-case hex digits")


def _check_value(kind: str, value: str, meta: Mapping[str, Any], what: str) -> None:
    """The value's exact shape, given its (already checked) meta."""
    if kind in ("md5", "sha1", "sha256", "pdq", "card_token", "email_token"):
        n = {"md5": 32, "sha1": 40}.get(kind, 64)
        _hex(value, n, what)
    elif kind == "vpdq":
        frames = len(value) // 64
        if not 1 <= frames <= MAX_VPDQ_FRAMES or len(value) != 64 * frames:
            raise PolicyViolation(f"{what}: vpdq value is 1..{MAX_VPDQ_FRAMES} PDQ hex hashes")
        _hex(value, 64 * frames, what)
    elif kind == "face":
        raw = _b64(value, 4 * int(meta["dim"]), what)
        floats = struct.unpack(f"<{meta['dim']}f", raw)
        if not all(math.isfinite(x) for x in floats):
            raise PolicyViolation(f"{what}: face template holds NaN or infinity")
    elif kind == "scene":
        _b64(value, int(meta["dim"]) * SCENE_DTYPES[str(meta["dtype"])], what)
    elif kind == "prnu":
        _b64(value, (int(meta["height"]) * int(meta["width"]) + 7) // 8, what)
    elif kind == "person":
        _b64(value, int(meta["bits"]) // 8, what)
    else:  # pragma: no cover - KINDS and this function are kept in step by the tests
        raise PolicyViolation(f"{what}: no value rule for kind {kind!r}")


def _check_meta(kind: str, meta: Any, what: str) -> None:
    if not isinstance(meta, dict):
        raise PolicyViolation(f"{what}: meta must be an object")
    spec = META[kind]
    extra = sorted(set(meta) - set(spec))
    if extra:
        raise PolicyViolation(f"{what}: meta fields not allowed for {kind}: {', '.join(extra)}")
    for name, field in spec.items():
        if name not in meta:
            if field.required:
                raise PolicyViolation(f"{what}: meta.{name} is required for {kind}")
            continue
        v = meta[name]
        ok = isinstance(v, field.type) and not isinstance(v, bool)
        if not ok or (field.check is not None and not field.check(v)):
            raise PolicyViolation(f"{what}: meta.{name}={v!r} is not allowed ({field.hint})")


def validate_signal(signal: Any, *, index: int | None = None) -> dict[str, Any]:
    """Check one signal against the policy; return it unchanged or raise PolicyViolation."""
    what = "signal" if index is None else f"signal #{index}"
    if not isinstance(signal, dict):
        raise PolicyViolation(f"{what}: must be an object")
    keys = set(signal)
    if keys != SIGNAL_KEYS:
        extra, missing = sorted(keys - SIGNAL_KEYS), sorted(SIGNAL_KEYS - keys)
        raise PolicyViolation(
            f"{what}: fields must be exactly {sorted(SIGNAL_KEYS)} (extra {extra}, missing {missing})"
        )
    kind = signal["kind"]
    if kind not in META:
        raise PolicyViolation(
            f"{what}: kind {kind!r} may not be shared (allowed: {', '.join(KINDS)})"
        )
    what = f"{what} ({kind})"
    ref = signal["local_ref"]
    if not isinstance(ref, str) or not LOCAL_REF.match(ref):
        raise PolicyViolation(
            f"{what}: local_ref {ref!r} must look like 'item:123' (no paths or names)"
        )
    if not isinstance(signal["value"], str):
        raise PolicyViolation(f"{what}: value must be a string")
    _check_meta(kind, signal["meta"], what)
    _check_value(kind, signal["value"], signal["meta"], what)
    return signal
