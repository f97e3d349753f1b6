"""Same-room proof between two agencies: what travels, sealed or in the clear, and its policy.

The hub's ``same_room`` overlap is a *shortlist*: two global scene descriptors are similar. A
room is confirmed by geometry (:func:`vigil.places.verify.verify`: matched keypoints that one
camera motion explains), which needs both images' local features — and neither agency may
hand the other its image. The exchange, through the hub:

1. **The sender** (side *a* of the overlap: the member with the lower id) lends the verifier the
   local scene features of its one shortlisted image — keypoint positions and RootSIFT
   descriptors, the ``VSF1`` record the case store already holds, never pixels — **sealed**
   with AES-256-GCM under a key derived from the operation secret (which the hub never holds)
   and bound to the operation and the overlap (:func:`seal`). The hub relays an opaque blob it
   cannot open (:func:`validate_sealed` checks only its frame and size).
2. **The verifier** (side *b*) opens it (:func:`open_sealed`), verifies it against its own image's
   features with the places verifier, and returns only the **inlier coordinate pairs**, the
   counts, the inliers' coverage and a verdict (:func:`result_of`; :func:`validate_result` is the
   allow-list both sides enforce). The hub deletes the sealed blob on receipt and keeps the
   result as the overlap's proof evidence; both agencies are notified.

What the verifier learns is one image's local features; descriptors are not pixels, but
published inversion attacks rebuild a coarse picture from dense SIFT descriptors, which is why
the lending is per overlap, only for an image the hub already shortlisted, explicit (a command a
human runs, audited on both sides), and never to the hub. The plaintext must parse as a
``VSF1`` record and holds no image signature (checked before sealing).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import os
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vigil.errors import DamagedInput, PolicyViolation

if TYPE_CHECKING:
    from vigil.places.features import SceneFeatures
    from vigil.places.verify import Verification
    from vigil.share.persons import OperationSecret

FORMAT = "vigil-proof/1"
SEALED_MAGIC = b"VPS1"
NONCE_BYTES = 12
TAG_BYTES = 16
MAX_KEYPOINTS = 4000
"""Most keypoints a lent record may hold (the store keeps at most 2000 per image)."""
MAX_SEALED_BYTES = len(SEALED_MAGIC) + NONCE_BYTES + 16 + 132 * MAX_KEYPOINTS + TAG_BYTES
MAX_POINTS = MAX_KEYPOINTS
MAX_COORD = 65535.0
VERDICTS = ("same_room", "shared_object", "unsure", "not_verified")
"""``same_room``: verified, and one camera motion explains several surfaces; ``shared_object``:
the inliers sit on one object or region (a print, a bedspread: possibly a sibling room);
``unsure``: verified on one surface only; ``not_verified``: too few inliers or too small."""
RESULT_KEYS = frozenset({"verdict", "inliers", "matches", "coverage", "points"})
SEND_KEYS = frozenset({"sealed"})
MAX_DESCRIPTOR_VALUE = 232
"""Quantised RootSIFT is ``round(512 * v)`` with ``v`` below 0.45 (:mod:`vigil.places.features`)."""


def _aad(operation: str, overlap_id: int) -> bytes:
    return f"{FORMAT}|{operation}|{int(overlap_id)}".encode()


def seal(features: bytes, secret: OperationSecret, operation: str, overlap_id: int) -> str:
    """Check that ``features`` is a ``VSF1`` record and nothing else, then seal it (base64)."""
    check_plain(features)
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(secret.proof_key).encrypt(nonce, features, _aad(operation, overlap_id))
    return base64.b64encode(SEALED_MAGIC + nonce + sealed).decode("ascii")


def open_sealed(
    text: str, secret: OperationSecret, operation: str, overlap_id: int
) -> SceneFeatures:
    """Open a sealed record lent for this overlap; :class:`DamagedInput` if it cannot be opened."""
    from vigil.places.features import SceneFeatures

    raw = _decode_sealed(text, DamagedInput)
    nonce = raw[len(SEALED_MAGIC) : len(SEALED_MAGIC) + NONCE_BYTES]
    body = raw[len(SEALED_MAGIC) + NONCE_BYTES :]
    try:
        plain = AESGCM(secret.proof_key).decrypt(nonce, body, _aad(operation, overlap_id))
    except InvalidTag as exc:
        raise DamagedInput(
            f"sealed features of overlap #{overlap_id} do not open: another operation secret, "
            "another overlap, or altered on the way"
        ) from exc
    check_plain(plain)
    return SceneFeatures.from_bytes(plain)


def check_plain(features: bytes) -> None:
    """What may be lent: exactly one ``VSF1`` scene-feature record (positions + descriptors).

    The parse leaves no spare byte, and quantised RootSIFT values never exceed
    :data:`MAX_DESCRIPTOR_VALUE` (an encoded image smuggled as descriptors is full of 0xFF).
    """
    from vigil.errors import WrongFormat
    from vigil.places.features import SceneFeatures

    try:
        parsed = SceneFeatures.from_bytes(features)
    except (WrongFormat, DamagedInput) as exc:
        raise PolicyViolation(
            f"proof: only a VSF1 scene-feature record may be lent ({exc})"
        ) from exc
    if len(parsed) > MAX_KEYPOINTS:
        raise PolicyViolation(f"proof: {len(parsed)} keypoints, more than {MAX_KEYPOINTS}")
    if len(parsed) and int(parsed.descriptors.max()) > MAX_DESCRIPTOR_VALUE:
        raise PolicyViolation("proof: descriptor values outside quantised RootSIFT's range")


def _decode_sealed(text: Any, error: type[Exception]) -> bytes:
    if not isinstance(text, str) or len(text) > 4 * (MAX_SEALED_BYTES // 3 + 1):
        raise error("proof: sealed features must be a base64 string of bounded size")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise error("proof: sealed features are not base64") from exc
    if not raw.startswith(SEALED_MAGIC) or len(raw) < len(SEALED_MAGIC) + NONCE_BYTES + TAG_BYTES:
        raise error("proof: sealed features must be a VPS1 frame (magic, nonce, AES-GCM)")
    if len(raw) > MAX_SEALED_BYTES:
        raise error(f"proof: sealed features over {MAX_SEALED_BYTES} bytes")
    return raw


def validate_send(payload: Any) -> str:
    """The hub's check of a sender's upload: exactly ``{"sealed": <VPS1 frame>}``."""
    if not isinstance(payload, dict) or set(payload) != SEND_KEYS:
        raise PolicyViolation(f"proof upload must be exactly {sorted(SEND_KEYS)}")
    _decode_sealed(payload["sealed"], PolicyViolation)
    return str(payload["sealed"])


def sealed_digest(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _number(v: Any, lo: float, hi: float) -> bool:
    return (
        isinstance(v, int | float)
        and not isinstance(v, bool)
        and math.isfinite(v)
        and lo <= v <= hi
    )


def validate_result(payload: Any) -> dict[str, Any]:
    """The allow-list of a proof result (verifier before sending, hub on receipt).

    Exactly ``verdict``, ``inliers``, ``matches``, ``coverage`` and ``points`` (one
    ``[x_a, y_a, x_b, y_b]`` per inlier, original-image pixels of side a's and side b's image):
    numbers and one verdict word, nothing that could carry a descriptor, a crop or a name.
    """
    if not isinstance(payload, dict) or set(payload) != RESULT_KEYS:
        got = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise PolicyViolation(f"proof result must be exactly {sorted(RESULT_KEYS)}, got {got}")
    if payload["verdict"] not in VERDICTS:
        raise PolicyViolation(f"proof verdict must be one of {VERDICTS}")
    for name in ("inliers", "matches"):
        v = payload[name]
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_KEYPOINTS:
            raise PolicyViolation(f"proof {name} must be an integer 0..{MAX_KEYPOINTS}")
    if not _number(payload["coverage"], 0.0, 1.0):
        raise PolicyViolation("proof coverage must be a number 0..1")
    points = payload["points"]
    if not isinstance(points, list) or len(points) != payload["inliers"]:
        raise PolicyViolation("proof points must be a list with one entry per inlier")
    for p in points:
        if not isinstance(p, list) or len(p) != 4 or not all(_number(v, 0, MAX_COORD) for v in p):
            raise PolicyViolation("each proof point is [x_a, y_a, x_b, y_b], pixels 0..65535")
    if payload["matches"] < payload["inliers"]:
        raise PolicyViolation("proof inliers cannot exceed matches")
    return {
        "verdict": payload["verdict"],
        "inliers": payload["inliers"],
        "matches": payload["matches"],
        "coverage": round(float(payload["coverage"]), 4),
        "points": [[round(float(v), 1) for v in p] for p in points],
    }


def verdict_of(v: Verification) -> str:
    """The verdict word of one verification (see :data:`VERDICTS`)."""
    if v.verified():
        return str(v.layout.verdict) if v.layout is not None else "unsure"
    if v.small_region():
        return "shared_object"
    return "not_verified"


def result_of(v: Verification) -> dict[str, Any]:
    """What the verifier returns: counts, coverage, verdict and the inlier coordinate pairs only."""
    points = [
        [*map(float, q), *map(float, c)]
        for q, c in zip(v.query_points, v.candidate_points, strict=True)
    ]
    points = [[min(max(x, 0.0), MAX_COORD) for x in p] for p in points]
    return validate_result(
        {
            "verdict": verdict_of(v),
            "inliers": len(points),
            "matches": max(int(v.matches), len(points)),
            "coverage": min(max(float(v.coverage), 0.0), 1.0),
            "points": points,
        }
    )
