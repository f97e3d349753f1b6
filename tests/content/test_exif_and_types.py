from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from vigil.content.exif import dms_to_decimal, read_exif
from vigil.content.probe import probe_photo
from vigil.demo import jpeg_bytes, synthetic_picture


@pytest.mark.parametrize(
    ("dms", "ref", "expected"),
    [
        ((51.0, 30.0, 26.0), "N", 51.507222),
        (((51, 1), (30, 1), (2600, 100)), "N", 51.507222),
        ((0.0, 7.0, 39.0), "W", -0.1275),
        ((33.0, 52.0, 4.0), b"S\x00", -33.867778),
        ("51 30 26", "N", 51.507222),
        (12.5, "E", 12.5),
    ],
)
def test_dms_to_decimal(dms: object, ref: object, expected: float) -> None:
    got = dms_to_decimal(dms, ref)
    assert got is not None and math.isclose(got, expected, abs_tol=1e-5)


@pytest.mark.parametrize(
    ("dms", "ref"),
    [
        (((51, 0), (30, 1), (0, 1)), "N"),
        ((51.0, 75.0, 0.0), "N"),
        ((-5.0, 0.0, 0.0), "N"),
        ((1.0, 2.0, 3.0), "Q"),
        ("abc", "N"),
        ((), "N"),
    ],
)
def test_bad_dms_gives_none(dms: object, ref: object) -> None:
    assert dms_to_decimal(dms, ref) is None


def test_bad_gps_is_a_problem_not_an_exception() -> None:
    img = synthetic_picture(np.random.default_rng(0), 32, 32)
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (95.0, 0.0, 0.0)
    gps[3], gps[4] = "E", (10.0, 0.0, 0.0)
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    info = read_exif(Image.open(io.BytesIO(out.getvalue())))
    assert info.gps_lat is None
    assert any("GPS position unusable" in p for p in info.problems)


def test_truncated_and_trailing_bytes() -> None:
    data = jpeg_bytes(
        synthetic_picture(np.random.default_rng(0), 200, 150), camera=("A", "B", "S1")
    )
    ok = probe_photo(data, "jpeg")
    assert (ok.width, ok.height, ok.damaged) == (200, 150, False)
    assert ok.exif is not None and ok.exif.serial == "S1"
    trailing = probe_photo(data + b"extra appended bytes", "jpeg")
    assert trailing.damaged is False  # trailing data is not damage
    cut = probe_photo(data[: len(data) // 2], "jpeg")
    assert cut.damaged is True
    assert cut.warnings[0][0] == "corrupt_image"
    junk = probe_photo(b"\xff\xd8\xff" + b"\x00" * 50, "jpeg")
    assert junk.damaged is True
