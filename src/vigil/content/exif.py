"""EXIF extraction: camera make/model/serial, capture time, GPS and a JSON-safe tag dump.

Values found in the wild are often broken (zero denominators, out-of-range coordinates, text
padded with NULs). Nothing here raises on bad values: a bad field is left out and reported in
``problems`` so ingest can store it as a warning on the item.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from PIL import ExifTags, Image

_TAG_NAMES = ExifTags.TAGS
_GPS_NAMES = ExifTags.GPSTAGS
EXIF_IFD = 0x8769
GPS_IFD = 0x8825
MAX_VALUE_BYTES = 256


@dataclass
class ExifInfo:
    """What ingest stores about a photo's EXIF."""

    make: str | None = None
    model: str | None = None
    serial: str | None = None
    captured_at: str | None = None
    orientation: int | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    gps_alt: float | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _num(value: Any) -> float:
    """A float from an EXIF rational/int (NaN when the denominator is zero or it is junk)."""
    try:
        if isinstance(value, tuple) and len(value) == 2:
            num, den = value
            return float(num) / float(den) if float(den) else math.nan
        return float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return math.nan


def dms_to_decimal(dms: Any, ref: Any) -> float | None:
    """Degrees/minutes/seconds plus an N/S/E/W reference to signed decimal degrees.

    Accepts a 3-sequence of rationals (the EXIF form), a single number (some writers store
    decimal degrees), or text like ``"51 30 26.5"``. Returns None for anything unusable.
    """
    parts: list[float]
    if isinstance(dms, str):
        try:
            parts = [float(p) for p in dms.replace(",", " ").split()]
        except ValueError:
            return None
    elif isinstance(dms, (tuple, list)):
        parts = [_num(p) for p in dms]
    else:
        parts = [_num(dms)]
    if not parts or len(parts) > 3 or any(math.isnan(p) or p < 0 for p in parts):
        return None
    parts += [0.0] * (3 - len(parts))
    deg, minutes, seconds = parts
    if minutes >= 60 or seconds >= 60:
        return None
    value = deg + minutes / 60.0 + seconds / 3600.0
    ref_text = ref.decode("ascii", "ignore") if isinstance(ref, bytes) else str(ref or "")
    ref_text = ref_text.strip("\x00 ").upper()
    if ref_text in ("S", "W"):
        value = -value
    elif ref_text not in ("N", "E", ""):
        return None
    return value


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    cleaned = value.replace("\x00", "").strip()
    return cleaned or None


def _exif_time(value: Any) -> str | None:
    """``YYYY:MM:DD HH:MM:SS`` to ISO-8601 text; None for the all-zero or malformed forms."""
    text = _text(value)
    if not text or len(text) < 19 or text.startswith("0000"):
        return None
    date, _, time = text[:19].partition(" ")
    date_parts = date.split(":")
    if len(date_parts) != 3 or not all(p.isdigit() for p in date_parts) or len(time) != 8:
        return None
    return f"{date_parts[0]}-{date_parts[1]}-{date_parts[2]}T{time}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return None if len(value) > MAX_VALUE_BYTES else value.hex()
    if isinstance(value, str):
        return value.replace("\x00", "")[:MAX_VALUE_BYTES]
    if isinstance(value, (tuple, list)):
        items = [_jsonable(v) for v in value[:32]]
        return items
    if isinstance(value, (int, bool)):
        return value
    number = _num(value)
    return None if math.isnan(number) or math.isinf(number) else round(number, 6)


def header_exif(img: Image.Image) -> Image.Exif:
    """The EXIF block found without decoding pixels.

    Pillow's PNG reader decodes the *whole image* to look for an ``eXIf`` chunk after the pixel
    data (a 400 KB PNG bomb then costs gigabytes, issue 14); the PNG specification places
    ``eXIf`` before the first ``IDAT``, so only a header block is read here. Other formats keep
    EXIF in their header and are read as usual.
    """
    if img.format == "PNG" and "exif" not in img.info:
        return Image.Exif()
    return img.getexif()


def read_exif(img: Image.Image) -> ExifInfo:
    """Extract :class:`ExifInfo` from an opened Pillow image (never raises on bad values)."""
    try:
        exif = header_exif(img)
    except (OSError, ValueError, TypeError, SyntaxError) as exc:
        return ExifInfo(problems=[f"EXIF block unreadable: {exc}"])
    return exif_info(exif)


def exif_info(exif: Image.Exif) -> ExifInfo:
    """:class:`ExifInfo` from a loaded Pillow EXIF block (never raises on bad values)."""
    info = ExifInfo()
    if not exif:
        return info
    try:
        sub = dict(exif.get_ifd(EXIF_IFD))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        info.problems.append(f"EXIF sub-IFD unreadable: {exc}")
        sub = {}
    try:
        gps = dict(exif.get_ifd(GPS_IFD))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        info.problems.append(f"GPS IFD unreadable: {exc}")
        gps = {}
    top = list(exif.items())
    return fill_exif_info(info, top, dict(top), sub, gps)


def fill_exif_info(
    info: ExifInfo,
    top: list[tuple[int, Any]],
    ifd0: dict[int, Any],
    sub: dict[int, Any],
    gps: dict[int, Any],
) -> ExifInfo:
    """Fill ``info`` from a block's first IFD (``top``: its items in Pillow's order; ``ifd0``:
    the same as a mapping), its EXIF sub-IFD and its GPS IFD, as Pillow gives them."""
    for tag, value in top + list(sub.items()):
        if tag in (EXIF_IFD, GPS_IFD, 0x927C, 0x02BC, 0x8773, 0x9286):  # IFD pointers, blobs
            continue
        jv = _jsonable(value)
        if jv is not None:
            info.tags[_TAG_NAMES.get(tag, f"0x{tag:04x}")] = jv
    for tag, value in gps.items():
        jv = _jsonable(value)
        if jv is not None:
            info.tags["GPS" + _GPS_NAMES.get(tag, f"0x{tag:04x}")] = jv
    info.make = _text(ifd0.get(0x010F))
    info.model = _text(ifd0.get(0x0110))
    info.serial = _text(sub.get(0xA431)) or _text(ifd0.get(0xC62F)) or _text(sub.get(0xC62F))
    info.captured_at = _exif_time(sub.get(0x9003)) or _exif_time(ifd0.get(0x0132))
    offset = _text(sub.get(0x9011))
    if info.captured_at and offset and len(offset) == 6 and offset[0] in "+-":
        info.captured_at += offset
    orientation = ifd0.get(0x0112)
    if isinstance(orientation, int):
        if 1 <= orientation <= 8:
            info.orientation = orientation
        else:
            info.problems.append(f"EXIF orientation {orientation} is not 1..8; ignored")
    if gps:
        _read_gps(gps, info)
    return info


def _read_gps(gps: dict[int, Any], info: ExifInfo) -> None:
    if 2 in gps or 4 in gps:
        lat = dms_to_decimal(gps.get(2), gps.get(1))
        lon = dms_to_decimal(gps.get(4), gps.get(3))
        if lat is None or lon is None or not -90 <= lat <= 90 or not -180 <= lon <= 180:
            info.problems.append(
                f"GPS position unusable (lat={gps.get(2)!r} {gps.get(1)!r}, "
                f"lon={gps.get(4)!r} {gps.get(3)!r})"
            )
        elif lat == 0.0 and lon == 0.0:
            info.problems.append("GPS position is 0,0 (null island): treated as absent")
        else:
            info.gps_lat, info.gps_lon = round(lat, 7), round(lon, 7)
    if 6 in gps:
        alt = _num(gps.get(6))
        if not math.isnan(alt):
            ref = gps.get(5)
            below = ref in (1, b"\x01")
            info.gps_alt = -alt if below else alt
