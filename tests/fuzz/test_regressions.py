"""Inputs the fuzzers found that raised something other than a Vigil error; each must now be
refused with one (or decode). All are damaged copies of generated pictures."""

from __future__ import annotations

import base64
import io
import warnings

import pytest

from vigil.content.decode import decode
from vigil.content.probe import probe_photo
from vigil.content.types import sniff
from vigil.errors import VigilError

from .test_fuzz_images import _picture

# images_tiff case 903: a first page fine, a second IFD without dimensions (Pillow raises
# TypeError from n_frames)
TIFF_NO_DIMENSIONS = base64.b64decode(
    "SUkqAPwBAAAjolCBBRKdGEXRHRHRHRHRHQQWEE1IaLoIIQghSERaaSCCc0QiIhBMpyhyhwmCSFhMECEjoujCBAhYQtJMocLUIIREIIWUOUOEyhwmFhBMJLCCEwi6CCEjoIIRYQsJpIIJhMLEREIIRI6BAkgQJIIJrSCC2TVGER0XRHQIEJHQQQtJbCYX+ohBCIiyhwtlDhMJhMJhbSSSUTCI6I6CCEdoIJhMLSSCC2klI6CCEREjoIJgkmEwtpJJIIL8RI6I6I6CCaCCaCC0kggtpJJJJKR0CBJC0kwmFtJekkkkkkoiJHQQTCYJIIJoILYX/9pSOiOggmkkmggtoIL/+wti0EEwmEwSWwv7SSSQQW1BAkmEwmkggtf6SSW0EE+wSbeSBUkkkggv/aCCYTQQTYTTC2tpJJJJJBBbCxahBMLCC9IILSSSSSSWwsSnSsLaS//+0EEwmggQtdhbC//7CaCC0kjjhBPpJBBf/2kggmmkkmE/aSSSSSSQQWlpBBMIUggh7C//tbCaSCCYIUgQSpBBf/2EwmEwmEIsjoIRbSSSSSS0ggtIIJhMjojoEIlDlD0kkkkkwmtphMIRZHRHQQiErSS2FpBBCkEEwhKHgAhEQQIaSSCCYINNBBCkkEELI6I6I+EN7CwgmCSSBAkkmR0EIiIIKACACAkAAAEDAAEAAAAwAAAAAQEDAAEAAAAgAAAAAgEDAAEAAAABAAAAAwEDAAEAAAAEAAAABgEDAAEAAAABAAAAEQEEAAEAAAAIAAAAFgEDAAEAAAAgAAAAFwEEAAEAAAD0AAAAFgEDAAEAAAAgAAAAFwEEAAEAAAD0AQAAHAEDAAEAAAABAAAAAAAAAAEAABwBAwABAAAAAQAAAAAAAAA="
)


# images_png case 1354: a palette PNG whose chunk after the pixel data is damaged; looking for
# EXIF there made Pillow read on and raise SyntaxError
PNG_BROKEN_AFTER_IDAT = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAADAAAAAgEAAAAAAhL3iDAAABL0lEQVR4nL2VMU4DMRBF31jjgoITpEc03IAjBAmJMgIlHRKiQIIiJQ0NRQokKOhASLQpEHADbhWK4CRsYmPvetAW+3fk1R9///kWYIbHIbjFUws7RNC8hQV4ytGyLmy16O2L/dw/hG0baQLSpP4VKHXlDAp7a+BXBpvqQs9GmrY7KMbCjJ1O0vyBhd2MhR/029ILe1YzPH+HMzAzqmZFRQf6+aAZGjVm02qU6aioQOlQFI/nDV1gvwFrBF9H//B4vNBP9PDIaaN+y7hsL8KhjTQBK752vDHieVkPLnpcYlSl5yHwsupM4dhGmoDaDpppVJzzkE8pnNlIE3DOjfZPUZGmP+C9fAcX3GXTfMZCMzVo953uih/s1gLqMhJvJ416NN5+Y+GmrmuaX4pyxcTOqN/fdSFKSTu+3wAAAABJRU5ErkJggg=="
)


def _animated_gif() -> bytes:
    buf = io.BytesIO()
    frames = [_picture(seed=i).convert("P") for i in range(3)]
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    return buf.getvalue()


def _webp_exif_not_tiff() -> bytes:
    """An EXIF chunk that is not TIFF: Pillow raised SyntaxError reading the orientation."""
    buf = io.BytesIO()
    _picture().save(buf, "WEBP", exif=b"Exif\x00\x00" + b"V\xdc\xa4\xee\xdf@\xa4\xed" * 4)
    return buf.getvalue()


CASES = {
    "gif_truncated_frame": _animated_gif()[:-1000],  # IndexError from counting frames
    "png_broken_after_idat": PNG_BROKEN_AFTER_IDAT,
    "webp_exif_not_tiff": _webp_exif_not_tiff(),
    "tiff_page_without_dimensions": TIFF_NO_DIMENSIONS,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_fuzz_finding_is_refused_or_decoded(name: str) -> None:
    data = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Pillow's notes on the damage
        meta = probe_photo(data, sniff(data[:4096]).name, deep=True)
        try:
            decode(data, min_side=16)
        except VigilError:
            assert meta.damaged or meta.warnings
