"""Generated benign test images (shapes, gradients, texture, text) for tests and benchmarks.

No real photographs and certainly no people: every picture is drawn from a seed, so a test or a
benchmark can regenerate exactly the same pixels anywhere. The images have photo-like statistics
(smooth gradients, edges at many scales, sensor-like noise) so that PDQ quality is high and the
JPEG codec does realistic work.
"""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter


def scene(
    seed: int, width: int = 640, height: int = 480, *, grain: float = 4.0
) -> npt.NDArray[np.uint8]:
    """An RGB picture of random shapes over a gradient, drawn from ``seed``.

    ``grain`` is the standard deviation of the sensor-like noise added at full size (higher
    values give JPEG files closer to camera photos in bytes per megapixel).
    """
    rng = np.random.default_rng(seed)
    # draw at a working size, then scale (keeps drawing cost flat for 12 MP images)
    ww, wh = min(width, 1024), min(height, 1024)
    yy, xx = np.mgrid[0:wh, 0:ww].astype(np.float32)
    base = np.empty((wh, ww, 3), np.float32)
    for c in range(3):
        a, b, k = rng.uniform(-1, 1, 3)
        base[..., c] = 128 + 90 * np.sin(a * xx / ww * 3 + b * yy / wh * 3 + k * 6)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(12, 30))):
        x0, y0 = int(rng.integers(0, ww)), int(rng.integers(0, wh))
        x1 = x0 + int(rng.integers(ww // 20, ww // 2))
        y1 = y0 + int(rng.integers(wh // 20, wh // 2))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        elif kind == 1:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.line((x0, y0, x1, y1), fill=colour, width=int(rng.integers(2, 12)))
    img = img.filter(ImageFilter.GaussianBlur(radius=1.2))
    if (ww, wh) != (width, height):
        img = img.resize((width, height), Image.Resampling.BICUBIC)
    arr = np.asarray(img, dtype=np.int16)
    noise = rng.normal(0, grain, arr.shape).astype(np.int16)
    out: npt.NDArray[np.uint8] = np.clip(arr + noise, 0, 255).astype(np.uint8)
    return out


def jpeg_bytes(pixels: npt.NDArray[np.uint8], quality: int = 90) -> bytes:
    """Encode RGB pixels as a baseline JPEG."""
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png_bytes(img: Image.Image) -> bytes:
    """Encode a Pillow image as PNG (any mode PNG supports)."""
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()
