"""Opening an image's header with Pillow, without NumPy (ingest workers probe every photo's
header and EXIF; only a photo that must be decoded needs :mod:`vigil.content.decode`)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from vigil.errors import DamagedInput, WrongFormat
from vigil.evidence.readonly import readonly_stream

Image.MAX_IMAGE_PIXELS = 400_000_000  # ~400 MP: beyond this we refuse (decompression bombs)

ImageSource = Path | str | bytes | BinaryIO


def open_image(src: ImageSource) -> Image.Image:
    """Open ``src`` with Pillow, translating failures into Vigil errors.

    A path is opened by :func:`~vigil.evidence.readonly.open_readonly` (``O_NOATIME``), not by
    Pillow, and the image owns that handle as it would own a file Pillow opened itself: it is
    closed once the pixels are loaded or the image is closed."""
    owned = isinstance(src, (str, Path))
    try:
        fp = readonly_stream(src)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img = Image.open(fp)
        except BaseException:
            if owned:
                fp.close()
            raise
        if owned:
            img._exclusive_fp = True  # as for a path: Pillow closes it after load() / close()
        return img
    except UnidentifiedImageError as exc:
        raise WrongFormat(f"not a decodable image: {exc}") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DamagedInput(f"image too large to decode safely: {exc}") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise DamagedInput(f"image header unreadable: {exc}") from exc
