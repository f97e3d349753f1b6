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
* **Reduced scale**: ``min_side`` lets the decoder reduce the image while keeping the decoded
  shorter side at least ``min_side`` pixels: JPEGs by DCT scaling (Pillow ``draft``, 1/2, 1/4,
  1/8), every other format by an integer box reduction applied strip by strip after colour
  conversion. The bound on what this changes is measured per signal and documented with it.
* **Memory budget** (issue 14): a small file can decode to 400 MP. Before any pixel is decoded
  the memory the decode needs (the decoder's native buffer plus the RGB output) is estimated
  from the header; the output is reduced to at most ``max_pixels`` pixels (``exact=True``
  callers, e.g. PRNU, are refused instead) and a decode whose native buffer would not fit
  ``max_bytes`` raises :class:`~vigil.errors.TooLarge` before allocating it. Conversion and
  reduction then run in strips, so a worker's peak stays near native + output, never the
  5-10 copies a naive ``convert``/``asarray`` chain makes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from vigil.content.exif import header_exif
from vigil.content.imageopen import ImageSource as ImageSource  # re-exported (their old home)
from vigil.content.imageopen import open_image as open_image
from vigil.errors import DamagedInput, TooLarge

MAX_PIXELS = 48_000_000
"""Default cap on decoded (output) pixels: larger images are decoded at a reduced scale (scale
recorded in :attr:`Decoded.scale`). 48 MP covers phone and most camera photos at full size."""
MAX_BYTES = 768 * 1024 * 1024
"""Default budget for pixel memory during one decode (decoder buffer + RGB output). With a
worker's ~250-400 MB of code and models this keeps a worker under 1.5 GB on any input."""
STRIP_BYTES = 32 * 1024 * 1024
"""Native bytes converted per strip when converting/reducing large images."""

_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
"""Pillow's storage per pixel by mode (multi-band modes are stored as 4 bytes per pixel)."""
_GREY = frozenset({"1", "L", "I;16", "I;16B", "I;16L", "I;16N", "I", "F"})


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


def native_bytes(mode: str, size: tuple[int, int]) -> int:
    """Bytes Pillow allocates to hold an image of ``mode`` and ``size`` (width, height)."""
    return _BYTES_PER_PIXEL.get(mode, 4) * size[0] * size[1]


def to_grey8(img: Image.Image, top: float | None = None) -> Image.Image:
    """Convert a single-band image (1, L, 16-bit, I, F) to 8-bit L by the colour policy.

    ``top`` is the maximum of the whole image for modes I and F (given when ``img`` is one strip
    of a larger image, so every strip is scaled alike); computed from ``img`` when omitted.
    """
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        arr = np.asarray(img, dtype=np.uint16)
        return Image.fromarray((arr >> 8).astype(np.uint8), "L")
    if mode == "I":
        arr32 = np.asarray(img, dtype=np.int64)
        top_i = (int(arr32.max()) if arr32.size else 0) if top is None else int(top)
        shift = 8 if top_i > 255 else 0
        return Image.fromarray(np.clip(arr32 >> shift, 0, 255).astype(np.uint8), "L")
    if mode == "F":
        arrf = np.asarray(img, dtype=np.float64)
        top_f = (float(np.nanmax(arrf)) if arrf.size else 0.0) if top is None else float(top)
        factor = 255.0 if top_f <= 1.0 else 1.0
        clipped = np.clip(np.nan_to_num(arrf) * factor, 0, 255)
        return Image.fromarray(clipped.astype(np.uint8), "L")
    return img if mode == "L" else img.convert("L")


def to_rgb8(img: Image.Image, top: float | None = None) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB following the module's colour policy."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in _GREY:
        return to_grey8(img, top).convert("RGB")
    if mode in ("P", "PA"):
        return img.convert("RGBA").convert("RGB")
    return img.convert("RGB")


def plan_reduction(
    size: tuple[int, int],
    *,
    min_side: int | None,
    max_pixels: int,
    exact: bool = False,
) -> float:
    """The factor (>= 1) by which an image of ``size`` is to be reduced.

    ``min_side`` allows a reduction that keeps the shorter side >= ``min_side`` (only taken
    from a factor of 2 on, as DCT scaling can only halve); ``max_pixels`` demands one.
    """
    w, h = size
    factor = 1.0
    if min_side is not None and min(w, h) > 0 and not exact:
        allowed = min(w, h) / max(min_side, 1)
        if allowed >= 2:
            factor = allowed
    if w * h / (factor * factor) > max_pixels:
        if exact:
            raise TooLarge(
                f"image of {w}x{h} ({w * h / 1e6:.0f} MP) is over the {max_pixels / 1e6:.0f} MP "
                "a worker decodes at full scale"
            )
        factor = max(factor, math.sqrt(w * h / max_pixels))
    return factor


def plan_key(
    size: tuple[int, int], fmt: str | None, *, min_side: int | None, max_pixels: int = MAX_PIXELS
) -> tuple[int, int]:
    """(DCT scale denominator, box factor) that :func:`decode` will use for these arguments:
    two requests with the same key get the same pixels (one decode can serve both)."""
    factor = plan_reduction(size, min_side=min_side, max_pixels=max_pixels)
    w, h = size
    denom = 1
    if factor >= 2 and fmt == "JPEG":  # Pillow's draft: the largest of 8, 4, 2 that fits
        tw, th = max(1, int(w / factor)), max(1, int(h / factor))
        scale = min(w // tw, h // th)
        denom = next(d for d in (8, 4, 2, 1) if scale >= d)
        w, h = -(-w // denom), -(-h // denom)
    k = int(factor) if factor >= 2 and fmt != "JPEG" else 1
    if w * h > max_pixels * k * k:
        k = math.ceil(math.sqrt(w * h / max_pixels))
    return denom, k


def reduce_decoded(full: Decoded, k: int) -> Decoded:
    """The decode with box factor ``k`` of a non-JPEG image, derived from its full-scale decode
    (same pixels: the reduction is done in stored orientation, as :func:`decode` does)."""
    if k <= 1:
        return full
    inverse = {6: 8, 8: 6}.get(full.orientation, full.orientation)
    stored = orient_array(full.pixels, inverse) if full.orientation != 1 else full.pixels
    reduced = np.asarray(Image.fromarray(stored, "RGB").reduce(k), dtype=np.uint8)
    scale = reduced.shape[1] / full.original_size[0] if full.original_size[0] else 1.0
    if full.orientation != 1:
        reduced = orient_array(reduced, full.orientation)
    return Decoded(np.ascontiguousarray(reduced), full.original_size, scale, full.orientation)


def decode(
    src: ImageSource,
    *,
    min_side: int | None = None,
    apply_orientation: bool = True,
    exact: bool = False,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_BYTES,
) -> Decoded:
    """Decode ``src`` to RGB uint8 pixels within a memory budget.

    Args:
        src: a path, the file's bytes or a binary stream.
        min_side: if given, the image may be decoded at a reduced scale as long as the decoded
            shorter side stays >= ``min_side`` pixels (DCT scaling for JPEG, box reduction else).
        apply_orientation: apply the EXIF orientation tag (the default policy).
        exact: every stored pixel is needed (e.g. PRNU): never reduce; refuse what does not fit.
        max_pixels: larger images are decoded reduced to at most this many pixels.
        max_bytes: pixel memory the decode may use (native buffer + output).

    Raises:
        WrongFormat: the data is not an image Pillow can read.
        DamagedInput: the image is truncated or corrupt.
        TooLarge: the image cannot be decoded within the budget (nothing was allocated).
    """
    img = open_image(src)
    try:
        original = img.size
        orientation = 1
        try:
            orientation = int(header_exif(img).get(0x0112, 1) or 1)
        except (OSError, ValueError, TypeError, SyntaxError):  # SyntaxError: broken EXIF/PNG
            orientation = 1
        factor = plan_reduction(original, min_side=min_side, max_pixels=max_pixels, exact=exact)
        if factor >= 2 and img.format == "JPEG":
            target = (max(1, int(original[0] / factor)), max(1, int(original[1] / factor)))
            img.draft("RGB", target)  # DCT scaling: decodes at >= target, at most 1/8
        stored = img.size  # after draft: what the decoder will allocate
        k = int(factor) if factor >= 2 and img.format != "JPEG" else 1  # JPEG: draft did it
        if stored[0] * stored[1] > max_pixels * k * k:  # DCT scaling stops at 1/8
            k = math.ceil(math.sqrt(stored[0] * stored[1] / max_pixels))
        out_w, out_h = -(-stored[0] // k), -(-stored[1] // k)
        need = native_bytes(img.mode, stored) + 3 * out_w * out_h * (2 if orientation > 1 else 1)
        if need > max_bytes:
            raise TooLarge(
                f"decoding {original[0]}x{original[1]} {img.format or ''} {img.mode} needs "
                f"~{need >> 20} MB, over the {max_bytes >> 20} MB a worker may use; refused"
            )
        try:
            img.load()
            pixels = _rgb_array(img, k)
        except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError) as exc:
            raise DamagedInput(f"image data truncated or corrupt: {exc}") from exc
        scale = pixels.shape[1] / original[0] if original[0] else 1.0
        if apply_orientation and orientation != 1:
            pixels = orient_array(pixels, orientation)
        return Decoded(np.ascontiguousarray(pixels), original, scale, orientation)
    finally:
        img.close()


def _rgb_array(img: Image.Image, k: int) -> npt.NDArray[np.uint8]:
    """RGB pixels of a loaded image, box-reduced by ``k``; large images go strip by strip so
    that only one strip's conversion is held next to the native buffer and the output."""
    w, h = img.size
    if k == 1 and native_bytes(img.mode, img.size) <= STRIP_BYTES:
        arr: npt.NDArray[np.uint8] = np.asarray(to_rgb8(img), dtype=np.uint8)
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise DamagedInput(f"unexpected decoded shape {arr.shape}")
        return arr
    top: float | None = None
    if img.mode in ("I", "F"):
        lo_hi = img.getextrema()
        top = float(lo_hi[1]) if isinstance(lo_hi[1], int | float) else None
    out = np.empty((-(-h // k), -(-w // k), 3), np.uint8)
    rows = max(k, (STRIP_BYTES // max(1, w * 4)) // k * k)
    grey = img.mode in _GREY
    for y0 in range(0, h, rows):
        strip = img.crop((0, y0, w, min(h, y0 + rows)))
        # single-band images are reduced before the (channel-replicating) RGB conversion: the
        # same pixels, a third of the work
        strip = to_grey8(strip, top) if grey else to_rgb8(strip, top)
        if k > 1:
            strip = strip.reduce(k)
        part = np.asarray(strip.convert("RGB") if grey else strip, dtype=np.uint8)
        out[y0 // k : y0 // k + part.shape[0]] = part
    return out


def orient_array(pixels: npt.NDArray[np.uint8], orientation: int) -> npt.NDArray[np.uint8]:
    """Apply an EXIF orientation (2-8) to H x W x C pixels, as Pillow's transposes would."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(pixels)) if op is not None else pixels
