"""Generated decompression bombs: tiny files that decode to huge images (tests, benchmarks).

A flat 20000 x 20000 picture compresses to a few hundred kilobytes in most formats, yet a naive
decode allocates gigabytes. These writers stream their output (PNG is written row by row, so
even the generator stays small) so that the memory budget of :mod:`vigil.content.decode` can be
checked on every format without keeping such files around. Nothing here is a real picture.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from PIL import Image

_PNG_COLOUR = {"1": (1, 0), "L": (8, 0), "RGB": (8, 2), "RGBA": (8, 6), "I;16": (16, 0)}
_CHANNELS = {"1": 1, "L": 1, "RGB": 3, "RGBA": 4, "I;16": 2}


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(path: Path, width: int = 20000, height: int = 20000, mode: str = "1") -> Path:
    """A flat PNG (``mode`` 1, L, RGB, RGBA or I;16) written without holding its pixels."""
    depth, colour = _PNG_COLOUR[mode]
    row = (width + 7) // 8 if mode == "1" else width * _CHANNELS[mode]
    line = b"\x00" + b"\x00" * row  # filter byte "none" + a black row
    comp = zlib.compressobj(9)
    with path.open("wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n")
        fh.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)))
        pending = bytearray()
        for _ in range(height):
            pending += comp.compress(line)
            if len(pending) >= 1 << 16:
                fh.write(_chunk(b"IDAT", bytes(pending)))
                pending.clear()
        pending += comp.flush()
        fh.write(_chunk(b"IDAT", bytes(pending)))
        fh.write(_chunk(b"IEND", b""))
    return path


def pillow_bomb(
    path: Path, fmt: str, width: int, height: int, mode: str = "L", **options: object
) -> Path:
    """A flat image saved by Pillow (JPEG, TIFF, WebP, GIF, BMP); the generator holds the pixels
    once (``width * height`` bytes for mode L), so keep it for benchmarks and modest sizes."""
    img = Image.new(mode, (width, height), 0)
    try:
        img.save(path, fmt, **options)
    finally:
        img.close()
    return path


def gif_frames_bomb(path: Path, width: int = 4000, height: int = 4000, frames: int = 40) -> Path:
    """An animated GIF of many large flat frames: a time bomb for anything that walks frames."""
    first = Image.new("P", (width, height), 0)
    rest = [Image.new("P", (width, height), i % 2) for i in range(1, frames)]
    try:
        first.save(path, "GIF", save_all=True, append_images=rest, duration=40, optimize=False)
    finally:
        for img in (first, *rest):
            img.close()
    return path
