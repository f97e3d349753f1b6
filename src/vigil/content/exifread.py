"""A reader of plain EXIF blocks that gives exactly what Pillow's EXIF path gives (issue 16).

Ingest reads every new photo's EXIF block. Through Pillow (:class:`PIL.Image.Exif`, its TIFF
directory reader and :func:`vigil.content.exif.exif_info`) that was most of the CPU time of a
JPEG's header probe, all of it holding the GIL. This module reads the first IFD, the EXIF sub-IFD
and the GPS IFD itself and builds :class:`~vigil.content.exif.ExifInfo` from the same values, in
the same order, that Pillow gives: the values are made as Pillow makes them (``str`` from Latin-1,
``int`` or a tuple of them, ``bytes``, :class:`~PIL.TiffImagePlugin.IFDRational`), each tag's
spec (:func:`PIL.TiffTags.lookup`) decides between one value and a tuple as in Pillow, and the
tags come in the order of Pillow's own sets of tag numbers, made by the same steps.

Anything it does not know to give exactly what Pillow gives returns ``None`` (the caller then
uses Pillow as before): BigTIFF or a bad byte order, a directory or a value outside the block
(Pillow warns and skips), a type other than BYTE, ASCII, SHORT, LONG, RATIONAL and UNDEFINED, a
tag with an enumeration, a one-value tag with several values (Pillow warns), an IFD pointer that
is not one plain number, anything in the resolution reading that Pillow's open would fail on.
It never raises on bad input (tested against Pillow on generated and mutated blocks, fuzzed with
the rest of :mod:`vigil.content`).
"""

from __future__ import annotations

import math
import struct
from typing import Any

from PIL import TiffTags
from PIL.TiffImagePlugin import IFDRational

from vigil.content.exif import EXIF_IFD, GPS_IFD, ExifInfo, fill_exif_info

_UNIT = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1}
"""Byte size of one value of the types read here (BYTE, ASCII, SHORT, LONG, RATIONAL,
UNDEFINED)."""
DPI_ERRORS = (struct.error, KeyError, SyntaxError, TypeError, ValueError, ZeroDivisionError)
"""What Pillow's reading of the resolution from EXIF may raise and Pillow ignores."""
_SPECS: dict[tuple[int, int | None], tuple[int | None, bool]] = {}


class _Unsure(Exception):
    """Pillow's answer may differ from this reader's: leave the block to Pillow."""


def pillow_dpi_steps(get: Any) -> None:
    """The steps of Pillow's ``JpegImageFile._read_dpi_from_exif`` on the tags ``get`` (tag
    number → value) returns, for what they may raise: a JPEG whose JFIF segment gives no
    resolution reads it from EXIF, and what that raises decides whether Pillow opens it."""
    unit = get(0x0128)
    x_resolution = get(0x011A)
    try:
        dpi = float(x_resolution[0]) / x_resolution[1]
    except TypeError:
        dpi = x_resolution
    if math.isnan(dpi):
        raise ValueError("DPI is not a number")
    if unit == 3:
        dpi *= 2.54


def read_exif_info(segment: bytes | None, dpi_in_jfif: bool) -> ExifInfo | None:
    """The :class:`ExifInfo` of a JPEG's APP1 EXIF segment (``Exif\\0\\0`` + TIFF block) as
    Pillow's path gives it, or None where this reader is not sure to agree.

    ``dpi_in_jfif``: the JFIF segment gives a resolution (else Pillow's open reads it from the
    EXIF block, which decides the order of the tags).
    """
    if segment is None:
        return ExifInfo()
    try:
        return _read(segment, dpi_in_jfif)
    except (_Unsure, struct.error, IndexError, OverflowError):
        return None


def _spec(tag: int, group: int | None) -> tuple[int | None, bool]:
    key = (tag, group)
    found = _SPECS.get(key)
    if found is None:
        info = TiffTags.lookup(tag, group)
        found = (info.length, bool(info.enum))
        if len(_SPECS) < 4096:
            _SPECS[key] = found
    return found


def _directory(data: bytes, offset: int, endian: str, group: int | None) -> dict[int, Any]:
    """One IFD's tags → values, in the order of Pillow's ``_tagdata`` (the file's order; a tag
    given twice keeps its first place and its last value)."""
    if offset < 0 or offset + 2 > len(data):
        raise _Unsure
    (count,) = struct.unpack_from(endian + "H", data, offset)
    pos = offset + 2
    if pos + 12 * count + 4 > len(data):
        raise _Unsure  # Pillow warns (a short directory or next pointer)
    raw: dict[int, tuple[int, bytes]] = {}
    for _ in range(count):
        tag, typ, n, inline = struct.unpack_from(endian + "HHL4s", data, pos)
        pos += 12
        unit = _UNIT.get(typ)
        if unit is None:
            raise _Unsure
        size = n * unit
        if size > 4:
            (at,) = struct.unpack(endian + "L", inline)
            if at + size > len(data):
                raise _Unsure  # Pillow warns and skips the tag
            value = data[at : at + size]
        else:
            value = inline[:size]
        if not value:
            continue  # no values: Pillow skips the tag
        raw[tag] = (typ, value)
    return {tag: _value(tag, typ, value, endian, group) for tag, (typ, value) in raw.items()}


def _value(tag: int, typ: int, data: bytes, endian: str, group: int | None) -> Any:
    """What Pillow's ``Exif`` gives for one tag (after its one-element-tuple unwrapping)."""
    length, enum = _spec(tag, group)
    if typ == 2:
        if enum:
            raise _Unsure
        if data.endswith(b"\0"):
            data = data[:-1]
        return data.decode("latin-1", "replace")
    if typ in (1, 7):
        return data
    values: tuple[Any, ...]
    if typ == 5:
        ints = struct.unpack(f"{endian}{len(data) // 4}L", data)
        values = tuple(IFDRational(a, b) for a, b in zip(ints[::2], ints[1::2], strict=True))
    else:
        values = struct.unpack(f"{endian}{len(data) // _UNIT[typ]}{'H' if typ == 3 else 'L'}", data)
    if length == 1 and len(values) != 1:
        raise _Unsure  # Pillow warns and keeps the first
    return values[0] if len(values) == 1 else values


def _read(segment: bytes, dpi_in_jfif: bool) -> ExifInfo | None:
    data = segment
    while data.startswith(b"Exif\x00\x00"):
        data = data[6:]
    if not data:
        return ExifInfo()
    if data[:4] == b"II*\x00":
        endian = "<"
    elif data[:4] == b"MM\x00*":
        endian = ">"
    else:
        raise _Unsure
    (first,) = struct.unpack_from(endian + "L", data, 4)
    pending = _directory(data, first, endian, None)  # Pillow's Exif._info
    taken: dict[int, Any] = {}  # Pillow's Exif._data: tags read so far, in reading order

    def get(tag: int) -> Any:
        if tag in pending:
            taken[tag] = pending.pop(tag)
        return taken[tag]

    if not dpi_in_jfif:  # JpegImageFile._read_dpi_from_exif, as read_jpeg_header does it
        try:
            pillow_dpi_steps(get)
        except DPI_ERRORS:
            pass
        except Exception as exc:
            raise _Unsure from exc
    info = ExifInfo()
    if not taken and not pending:
        return info
    sub = _sub_directory(data, endian, EXIF_IFD, get)
    gps = _sub_directory(data, endian, GPS_IFD, get)
    keys = set(taken)  # Exif.__iter__
    keys.update(iter(set(pending) | set()))
    top = [(tag, get(tag)) for tag in keys]
    return fill_exif_info(info, top, dict(top), sub, gps)


def _sub_directory(data: bytes, endian: str, pointer: int, get: Any) -> dict[int, Any]:
    """``dict(Exif.get_ifd(pointer))``: the sub-IFD's tags in the order of Pillow's set."""
    try:
        offset = get(pointer)
    except KeyError:
        return {}
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise _Unsure
    values = _directory(data, offset, endian, pointer)
    return {tag: values[tag] for tag in set(values) | set()}
