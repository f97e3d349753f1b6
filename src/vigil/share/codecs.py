"""Encoders between Vigil's arrays and the compact values a shared signal carries.

Both sides use these, so the hub decodes exactly what an agency encoded:

- face templates: little-endian float32, base64 (``dim`` from the model card);
- scene descriptors: a global vector as float16/float32/uint8, base64 (a shortlist needs no more);
- PRNU fingerprints: the **sign** of each sample of a centred crop, packed 8 per byte, base64.
  Binarised fingerprints keep enough of the noise pattern for a correlation/PCE test (Bayram et
  al., "Efficient sensor fingerprint matching through fingerprint binarization", 2012) at 1/32 of
  the float size, and they cannot be turned back into an image.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.errors import InvalidInput
from vigil.share.kinds import SCENE_DTYPES

F32 = npt.NDArray[np.float32]
_NP_DTYPES = {"f16": "<f2", "f32": "<f4", "u8": "u1"}
PRNU_SIDE = 512


def encode_vector(vec: npt.ArrayLike, dtype: str = "f32") -> str:
    """A 1-D vector as base64 of its little-endian ``dtype`` bytes."""
    if dtype not in SCENE_DTYPES:
        raise InvalidInput(f"unknown vector dtype {dtype!r}")
    arr = np.asarray(vec).reshape(-1).astype(_NP_DTYPES[dtype])
    return base64.b64encode(arr.tobytes()).decode("ascii")


def decode_vector(value: str, dtype: str = "f32") -> F32:
    """The inverse of :func:`encode_vector`, as float32."""
    return np.frombuffer(base64.b64decode(value), _NP_DTYPES[dtype]).astype(np.float32)


def encode_prnu(k: npt.ArrayLike, side: int = PRNU_SIDE) -> tuple[str, dict[str, Any]]:
    """A fingerprint's centred ``side`` x ``side`` crop (or less) as packed sign bits + meta."""
    arr = np.asarray(k, dtype=np.float32)
    if arr.ndim != 2:
        raise InvalidInput("a PRNU fingerprint is a 2-D array")
    sh, sw = arr.shape
    h, w = min(side, sh), min(side, sw)
    top, left = (sh - h) // 2, (sw - w) // 2
    crop = arr[top : top + h, left : left + w]
    bits = np.packbits((crop > 0).reshape(-1))
    meta = {"codec": "sign-bits", "height": h, "width": w, "source_height": sh, "source_width": sw}
    return base64.b64encode(bits.tobytes()).decode("ascii"), meta


def decode_prnu(value: str, meta: dict[str, Any]) -> F32:
    """A shared fingerprint as a zero-mean +-1 float32 array of ``height`` x ``width``."""
    h, w = int(meta["height"]), int(meta["width"])
    bits = np.unpackbits(np.frombuffer(base64.b64decode(value), np.uint8), count=h * w)
    return (bits.astype(np.float32) * 2.0 - 1.0).reshape(h, w)
