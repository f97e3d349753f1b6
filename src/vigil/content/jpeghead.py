"""A JPEG's size and EXIF block without Pillow's open machinery (issue 16).

Ingest reads every new photo's header: dimensions and EXIF. ``Image.open`` costs about as much as
the EXIF parsing itself (plug-in dispatch, file object layers, state for decoding), so a plain,
well-formed JPEG is read here instead: one bounded read of its first bytes, a walk over its marker
segments up to the start of scan, and the EXIF segment read by :mod:`vigil.content.exifread`
(which gives exactly what Pillow's path gives) or, where that reader is not sure, by Pillow's own
EXIF parser (:class:`PIL.Image.Exif`), so the EXIF values are exactly Pillow's.

Anything this reader does not know to give exactly what Pillow gives returns ``None`` and the
caller opens the file with Pillow as before: more than one frame header or EXIF segment, XMP
(Pillow may take the orientation from it), Adobe, Photoshop and multi-picture segments, padding
or junk between segments, a damaged table or frame header, a header longer than :data:`HEAD_BYTES`,
a size over Pillow's decompression-bomb limit, an EXIF block Pillow cannot parse. It never
raises on bad input (fuzzed with the rest of :mod:`vigil.content`).
"""

from __future__ import annotations

import contextlib
import struct
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from vigil.content.exif import ExifInfo, exif_info
from vigil.content.exifread import DPI_ERRORS, pillow_dpi_steps, read_exif_info
from vigil.evidence.readonly import open_readonly

HEAD_BYTES = 256 * 1024
"""At most this many leading bytes are read; a longer header is left to Pillow."""
FIRST_READ = 16 * 1024
"""The first read; most headers end within it (a longer one is read on, up to HEAD_BYTES)."""
TAIL_BYTES = 64

_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_SKIPPED = frozenset({0xC4, 0xCC, 0xDC, 0xDD, 0xDF})  # DHT, DAC, DNL, DRI, EXP: length only
_PLAIN_APP = frozenset(range(0xE3, 0xED)) | {0xEF}  # APP3-APP12, APP15: stored, nothing parsed
_XMP = b"http://ns.adobe.com/xap/1.0/\x00"


@dataclass
class JpegHeader:
    """What a photo's probe needs from a JPEG: size, EXIF, and its last bytes."""

    width: int
    height: int
    exif: Image.Exif | None
    """Pillow's EXIF object, where :mod:`vigil.content.exifread` left the block to Pillow."""
    tail: bytes
    info: ExifInfo | None = None
    """The EXIF block's :class:`ExifInfo` as Pillow's path gives it (None: see ``exif``)."""

    def exif_info(self) -> ExifInfo:
        """What the EXIF block says (through Pillow where the fast reader was not sure)."""
        if self.info is not None:
            return self.info
        return exif_info(self.exif if self.exif is not None else Image.Exif())


def read_jpeg_header(
    src: Path | bytes, *, ends: tuple[bytes, bytes] | None = None
) -> JpegHeader | None:
    """Size, EXIF and last :data:`TAIL_BYTES` bytes of a plain JPEG; None: open it with Pillow.

    ``ends``: the file's first ``min(size, FIRST_READ)`` bytes and its last ``TAIL_BYTES``
    bytes when the caller has them already (read while digesting it): the file is then opened
    only for a header longer than :data:`FIRST_READ`.

    A file that cannot be read gives None too (Pillow's open then reports it as it always has).
    """
    try:
        return _read(src, ends)
    except OSError:
        return None


def _read(src: Path | bytes, ends: tuple[bytes, bytes] | None) -> JpegHeader | None:
    if isinstance(src, bytes):
        found = _walk_bounded(src[:HEAD_BYTES], complete=True)
        tail = src[-TAIL_BYTES:]
    elif ends is not None:
        head, tail = ends
        found = _walk_bounded(head, complete=len(head) < FIRST_READ)
        if found is _MORE:
            with open_readonly(src) as fh:
                found = _walk_bounded(fh.read(HEAD_BYTES), complete=True)
    else:
        with open_readonly(src) as fh:
            head = fh.read(FIRST_READ)
            found = _walk_bounded(head, complete=len(head) < FIRST_READ)
            if found is _MORE:
                head += fh.read(HEAD_BYTES - FIRST_READ)
                found = _walk_bounded(head, complete=True)
            if len(head) < FIRST_READ:
                tail = head[-TAIL_BYTES:]
            else:
                size = fh.seek(0, 2)
                fh.seek(max(0, size - TAIL_BYTES))
                tail = fh.read()
    if found is None or found is _MORE:
        return None
    width, height, exif, info = found
    return JpegHeader(width, height, exif, tail, info)


_Found = tuple[int, int, Image.Exif | None, ExifInfo | None]
_MORE: _Found = (0, 0, Image.Exif(), None)
"""Returned by :func:`_walk` when the header goes on past the bytes it was given."""


def _walk_bounded(data: bytes, *, complete: bool) -> _Found | None:
    try:
        return _walk(data, complete=complete)
    except (IndexError, struct.error):
        return None


def _walk(data: bytes, *, complete: bool) -> _Found | None:
    """The marker walk of Pillow's JPEG reader, for the segments whose handling is known.

    ``complete``: ``data`` is all there is (else a header going on past it gives :data:`_MORE`).
    """
    if data[:3] != b"\xff\xd8\xff":
        return None
    pos = 2
    size: tuple[int, int] | None = None
    exif_data: bytes | None = None
    dpi_in_jfif = False
    icc: list[bytes] = []
    end = len(data)
    while True:
        if pos + 4 > end:
            return None if complete else _MORE
        if data[pos] != 0xFF:
            return None  # junk or padding: Pillow's own reading decides
        marker = data[pos + 1]
        length = (data[pos + 2] << 8) | data[pos + 3]
        if length < 2:
            return None
        if pos + 2 + length > end:
            return None if complete else _MORE
        seg = data[pos + 4 : pos + 2 + length]
        pos += 2 + length
        if marker == 0xDA:  # start of scan: the header is complete
            break
        if marker in _SOF:
            if size is not None or not _frame_ok(seg) or any(len(p) < 14 for p in icc):
                return None
            size = (seg[3] << 8) | seg[4], (seg[1] << 8) | seg[2]
        elif marker == 0xDB:
            if not _tables_ok(seg):
                return None
        elif marker == 0xE0:
            if seg.startswith(b"JFIF"):
                if len(seg) < 12:
                    return None
                dpi_in_jfif = dpi_in_jfif or seg[7] in (1, 2)  # a later one keeps it
        elif marker == 0xE1:
            if seg.startswith(b"Exif\0\0"):
                if exif_data is not None:
                    return None  # Pillow joins several EXIF segments
                exif_data = seg
            elif seg.startswith(_XMP):
                return None
        elif marker == 0xE2:
            if seg.startswith(b"MPF\0"):
                return None
            if seg.startswith(b"ICC_PROFILE\0"):
                icc.append(seg)
        elif marker not in _SKIPPED and marker not in _PLAIN_APP and marker != 0xFE:
            return None
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None
    if size[0] * size[1] > (Image.MAX_IMAGE_PIXELS or 0):
        return None  # Pillow's bomb check and its message
    info = read_exif_info(exif_data, dpi_in_jfif)
    if info is not None:
        return size[0], size[1], None, info
    exif = _exif(exif_data, dpi_in_jfif)
    if exif is None:
        return None
    return size[0], size[1], exif, None


def _frame_ok(seg: bytes) -> bool:
    """Pillow reads this frame header without error (8-bit, 1/3/4 components, whole records)."""
    return len(seg) >= 6 and seg[0] == 8 and seg[5] in (1, 3, 4) and (len(seg) - 6) % 3 == 0


def _tables_ok(seg: bytes) -> bool:
    """Every quantisation table in the segment is whole (Pillow refuses the file otherwise)."""
    pos = 0
    while pos < len(seg):
        length = 1 + (1 if seg[pos] < 16 else 2) * 64
        if len(seg) - pos < length:
            return False
        pos += length
    return True


def _exif(data: bytes | None, dpi_in_jfif: bool) -> Image.Exif | None:
    """Pillow's EXIF object for the segment, in the state ``Image.open`` leaves it in.

    ``Image.open`` reads the resolution from the EXIF block when the JFIF segment gives none
    (``JpegImageFile._read_dpi_from_exif``); the same two reads are done here, as that reading
    decides the order of the tags. A block Pillow fails on is left to Pillow.
    """
    exif = Image.Exif()
    exif._loaded = True  # as Image.getexif() marks it
    if data is None:
        return exif
    try:
        exif.load(data)
        if not dpi_in_jfif:
            with contextlib.suppress(*DPI_ERRORS):
                pillow_dpi_steps(exif.__getitem__)
    except Exception:  # noqa: BLE001 - whatever Pillow makes of it, Pillow's own path decides
        return None
    return exif
