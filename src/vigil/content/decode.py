"""The one canonical image decode pipeline of Vigil.

Every signal (PDQ, faces, scenes, PRNU) gets its pixels from here so that the same file always
yields the same pixels. Policy:

* **Orientation**: the EXIF orientation tag is applied (pixels are as a viewer shows them), so a
  photo re-saved with rotated pixels and one with a rotation tag give the same signal. Callers
  that need pixels exactly as stored (PRNU sensor noise) pass ``apply_orientation=False``.
* **Colour**: every mode becomes 8-bit sRGB-ish RGB: CMYK via Pillow's JPEG-aware conversion,
  palette images through their palette (never as indices), 1-bit via L, 16-bit integer images
  scaled (``>> 8``, never clipped), float images clipped to 0..1 / 0..255 by their range.
  Alpha is dropped (transparent pixels keep their colour), matching the PDQ references.
* **Reduced scale**: ``min_side`` lets JPEG decoding use DCT scaling (Pillow ``draft``) while
  keeping the decoded shorter side at least ``min_side`` pixels; the bound on what this changes
  is measured per signal and documented with it.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from vigil.errors import DamagedInput, WrongFormat

Image.MAX_IMAGE_PIXELS = 400_000_000  # ~400 MP: beyond this we refuse (decompression bombs)

ImageSource = Path | str | bytes | BinaryIO


@dataclass(frozen=True)
class Decoded:
    """Decoded pixels with how they were obtained."""

    pixels: npt.NDArray[np.uint8]
    """H x W x 3, uint8, RGB."""
    original_size: tuple[int, int]
    """(width, height) of the stored image before reduced-scale decoding and orientation."""
    scale: float
    """Decoded width / stored width (1.0 for a full decode)."""
    orientation: int
    """EXIF orientation tag found (1 when absent); applied unless the caller said otherwise."""


def open_image(src: ImageSource) -> Image.Image:
    """Open ``src`` with Pillow, translating failures into Vigil errors."""
    fp: str | Path | BinaryIO = io.BytesIO(src) if isinstance(src, bytes) else src
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(fp)
    except UnidentifiedImageError as exc:
        raise WrongFormat(f"not a decodable image: {exc}") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DamagedInput(f"image too large to decode safely: {exc}") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise DamagedInput(f"image header unreadable: {exc}") from exc


def to_rgb8(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB following the module's colour policy."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        arr = np.asarray(img, dtype=np.uint16)
        return Image.fromarray((arr >> 8).astype(np.uint8), "L").convert("RGB")
    if mode == "I":
        arr32 = np.asarray(img, dtype=np.int64)
        top = int(arr32.max()) if arr32.size else 0
        shift = 8 if top > 255 else 0
        return Image.fromarray(np.clip(arr32 >> shift, 0, 255).astype(np.uint8), "L").convert("RGB")
    if mode == "F":
        arrf = np.asarray(img, dtype=np.float64)
        top_f = float(np.nanmax(arrf)) if arrf.size else 0.0
        factor = 255.0 if top_f <= 1.0 else 1.0
        clipped = np.clip(np.nan_to_num(arrf) * factor, 0, 255)
        return Image.fromarray(clipped.astype(np.uint8), "L").convert("RGB")
    if mode in ("P", "PA"):
        return img.convert("RGBA").convert("RGB")
    if mode in ("LAB", "HSV", "YCbCr", "CMYK", "1", "L", "LA", "RGBA", "RGBa", "La", "RGBX"):
        return img.convert("RGB")
    return img.convert("RGB")


def decode(
    src: ImageSource,
    *,
    min_side: int | None = None,
    apply_orientation: bool = True,
) -> Decoded:
    """Decode ``src`` to RGB uint8 pixels.

    Args:
        src: a path, the file's bytes or a binary stream.
        min_side: if given, JPEGs may be decoded at a reduced DCT scale as long as the decoded
            shorter side stays >= ``min_side`` pixels.
        apply_orientation: apply the EXIF orientation tag (the default policy).

    Raises:
        WrongFormat: the data is not an image Pillow can read.
        DamagedInput: the image is truncated or corrupt.
    """
    img = open_image(src)
    try:
        original = img.size
        orientation = 1
        try:
            orientation = int(img.getexif().get(0x0112, 1) or 1)
        except (OSError, ValueError, TypeError, SyntaxError):  # SyntaxError: broken EXIF/PNG
            orientation = 1
        if min_side is not None and img.format == "JPEG" and min(original) > 0:
            factor = min(original) / max(min_side, 1)
            if factor >= 2:
                target = (max(1, int(original[0] / factor)), max(1, int(original[1] / factor)))
                img.draft("RGB", target)
        try:
            img.load()
        except (OSError, ValueError, SyntaxError) as exc:
            raise DamagedInput(f"image data truncated or corrupt: {exc}") from exc
        scale = img.size[0] / original[0] if original[0] else 1.0
        try:
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)
        except (EOFError, IndexError, OSError, ValueError, TypeError, SyntaxError) as exc:
            raise DamagedInput(f"image frames truncated or corrupt: {exc}") from exc
        rgb = to_rgb8(img)
        if apply_orientation and orientation != 1:
            rgb = _orient(rgb, orientation)
        pixels = np.asarray(rgb, dtype=np.uint8)
        if pixels.ndim != 3 or pixels.shape[2] != 3:
            raise DamagedInput(f"unexpected decoded shape {pixels.shape}")
        return Decoded(np.ascontiguousarray(pixels), original, scale, orientation)
    finally:
        img.close()


_TRANSPOSE = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}


def _orient(img: Image.Image, orientation: int) -> Image.Image:
    for op in _TRANSPOSE.get(orientation, ()):
        img = img.transpose(op)
    return img
