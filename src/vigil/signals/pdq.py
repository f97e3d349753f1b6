"""PDQ: Meta's 256-bit perceptual hash for photos, with its 0-100 quality score.

Pipeline (the one canonical way Vigil hashes a photo):

1. :func:`vigil.content.decode.decode` gives 8-bit RGB pixels (CMYK, palette, 1-bit and 16-bit
   images converted properly; EXIF orientation **applied**, so a rotated-by-tag photo and the
   same photo with rotated pixels hash alike).
2. With ``reduced=True`` (ingest's default) photos are decoded at a reduced scale (JPEG: DCT
   scaling; other formats: integer box reduction) keeping the shorter side >=
   :data:`REDUCED_MIN_SIDE` px; the change this makes to the hash is measured
   (``benchmarks/hashing.py``, ``tests/signals/test_pdq.py``) and documented in
   ``docs/known-vs-fresh.md``. ``reduced=False`` hashes every pixel (conformance runs).
3. The reference algorithm (Meta's C++ core, as ``pdqhash.compute`` runs it) gives 256 bits
   and a quality score; bits are packed most-significant first, which is PDQ's canonical
   64-hex-digit form. :mod:`vigil.signals._pdqkernel` computes it with the reference's float32
   operations in the reference's order, scheduled for the cache (~5x faster at 2 MP, where the
   hash, not the decode, was the cost): hashes, qualities and DCT values are bit-identical to
   ``pdqhash.compute`` (tested), so stored values and hash lists computed elsewhere agree as
   before. ``pdqhash`` still hashes images under 5 px a side and exactly 64 x 64.
4. A quality below the floor (default :data:`QUALITY_FLOOR`) is an explicit
   :class:`~vigil.signals.base.Unhashable` with code ``pdq_low_quality``: such hashes
   (blank, flat or tiny images) match far too much to be evidence.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from functools import lru_cache
from types import ModuleType
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import pdqhash

from vigil.content.decode import ImageSource, decode
from vigil.errors import DamagedInput, InvalidInput, VigilError, WrongFormat
from vigil.index.base import SignalIndex
from vigil.index.hamming import MihIndex
from vigil.signals.base import Comparison, Hashed, HashOutcome, SignalType, Unhashable

QUALITY_FLOOR = 50
"""Hashes of lower quality are reported as unhashable (the vPDQ and HMA default)."""
DEFAULT_THRESHOLD = 31
"""Default match radius in bits (Meta's recommendation for PDQ)."""
REDUCED_MIN_SIDE = 640
"""Reduced-scale decoding keeps the decoded shorter side at least this many pixels. It is the
scale scene features use too (``ANALYSIS_MIN_SIDE``), so ingest decodes a photo once for both;
it was 512 in ``pdq-1`` (the bound below was measured there; 640 is closer to full scale)."""
REDUCED_MAX_BITS = 18
"""Documented bound: bits a reduced-scale hash may differ from the full-decode hash (measured)."""
HASHER_VERSION = "pdq-2"
"""Stored with every PDQ value; bump when the decode or hashing policy changes."""

DIHEDRAL_NAMES = (
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flipx",
    "flipy",
    "flip_plus1",
    "flip_minus1",
)
"""Order of the eight hashes ``pdqhash.compute_dihedral`` returns (computed in the DCT domain)."""

_HEX = frozenset(string.hexdigits)


def bits_to_hex(bits: npt.NDArray[np.integer]) -> str:
    """Pack 256 0/1 values, most significant first, into 64 hex digits."""
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def distance(a: str, b: str) -> int:
    """Hamming distance of two canonical PDQ hex strings."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


class PdqSignal(SignalType):
    """PDQ perceptual hash (256 bits, Hamming distance)."""

    name = "pdq"
    content_kinds: ClassVar[frozenset[str]] = frozenset({"photo", "video"})
    default_threshold: ClassVar[int | None] = DEFAULT_THRESHOLD

    @classmethod
    def validate(cls, value: str) -> str:
        if not isinstance(value, str):
            raise InvalidInput(f"pdq must be text, got {type(value).__name__}")
        v = value.strip().lower()
        if len(v) != 64 or not set(v) <= _HEX:
            raise InvalidInput(f"not a PDQ hash (64 hex digits): {value!r}")
        return v

    @classmethod
    def compare(cls, a: str, b: str, *, threshold: int | None = None) -> Comparison:
        t = DEFAULT_THRESHOLD if threshold is None else threshold
        d = distance(cls.validate(a), cls.validate(b))
        return Comparison(d <= t, d)

    @classmethod
    def index_cls(cls) -> type[SignalIndex]:
        return MihIndex

    @classmethod
    def examples(cls) -> Sequence[str]:
        # hashes of the ThreatExchange test photos (bridge, LA.png): public, benign
        return [
            "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
            "accb6d39648035f8125c8ce6ba65007de7b54c67a2d93ef7b8f33b0611306715",
            "fb4eed46cb8a6c78819ca06b756c541f7b07ef6d02c82fccd00f862166272cda",
        ]


_MIN_KERNEL_SIDE = 5
"""The reference hashes nothing below 5 pixels on a side (quality 0); ``pdqhash`` does those."""


@lru_cache(maxsize=1)
def _kernel() -> ModuleType:
    """The compiled PDQ (:mod:`vigil.signals._pdqkernel`), imported on first use (Numba)."""
    from vigil.signals import _pdqkernel

    return _pdqkernel


def hash_pixels(
    pixels: npt.NDArray[np.uint8], *, quality_floor: int = QUALITY_FLOOR
) -> HashOutcome:
    """PDQ of decoded RGB pixels (H x W x 3 uint8)."""
    if pixels.ndim != 3 or pixels.shape[2] != 3 or min(pixels.shape[:2]) < 1:
        return Unhashable("pdq_bad_pixels", f"cannot hash pixels of shape {pixels.shape}")
    h, w = pixels.shape[:2]
    if min(h, w) >= _MIN_KERNEL_SIDE and (h, w) != (64, 64):
        bits, quality = _kernel().pdq_bits(pixels)
    else:  # tiny images (hash cleared by the reference) and its 64 x 64 shortcut
        bits, quality = pdqhash.compute(np.ascontiguousarray(pixels))
    value = bits_to_hex(bits)
    q = int(quality)
    if q < quality_floor:
        return Unhashable(
            "pdq_low_quality",
            f"unhashable: low quality (PDQ quality {q} < floor {quality_floor})",
            quality=q,
        )
    return Hashed(value, q)


def dihedral_hashes(pixels: npt.NDArray[np.uint8]) -> dict[str, str]:
    """The eight dihedral-variant hashes (rotations and flips) in the DCT domain, by name."""
    hashes, _quality = pdqhash.compute_dihedral(np.ascontiguousarray(pixels))
    return {name: bits_to_hex(h) for name, h in zip(DIHEDRAL_NAMES, hashes, strict=True)}


def hash_image(
    src: ImageSource,
    *,
    reduced: bool = True,
    quality_floor: int = QUALITY_FLOOR,
    apply_orientation: bool = True,
) -> HashOutcome:
    """Decode and hash one photo; decode failures become :class:`Unhashable`, never raise."""
    try:
        decoded = decode(
            src,
            min_side=REDUCED_MIN_SIDE if reduced else None,
            apply_orientation=apply_orientation,
        )
    except WrongFormat as exc:
        return Unhashable("pdq_not_an_image", f"not a decodable image: {exc}")
    except DamagedInput as exc:
        return Unhashable("pdq_decode_error", f"image could not be decoded: {exc}")
    except VigilError as exc:
        return Unhashable("pdq_decode_error", f"image could not be decoded: {exc}")
    except (OSError, ValueError, MemoryError) as exc:
        return Unhashable("pdq_decode_error", f"image could not be decoded: {exc}")
    return hash_pixels(decoded.pixels, quality_floor=quality_floor)
