"""Opening an image's header with Pillow, without NumPy (ingest workers probe every photo's
header and EXIF; only a photo that must be decoded needs :mod:`vigil.content.decode`)."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from vigil.errors import DamagedInput, WrongFormat

Image.MAX_IMAGE_PIXELS = 400_000_000  # ~400 MP: beyond this we refuse (decompression bombs)

ImageSource = Path | str | bytes | BinaryIO


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
