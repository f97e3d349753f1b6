"""A sound MP4 / MOV file's video size, duration and frame rate from its boxes, without PyAV.

Ingest probes every new video. Opening it with PyAV costs the ``import av`` (about 65 ms of CPU
once per process) and, per video, FFmpeg's open, stream-info probing and a first-frame decode
(issue 16). For an ISO base media file (MP4, MOV, 3GP) the same values are written in its
``moov`` box; this module reads them with a few bounded reads (``mdat`` is never read) and gives
what PyAV's path gives (FFmpeg 8's ``libavformat/mov.c``):

* width, height: what the decoder reports, i.e. the H.264 sequence parameter set (``avcC``) or
  the MPEG-4 Part 2 video object layer (``esds``), cropped; read here from those and required to
  equal the sample entry's own width and height (FFmpeg's H.264 decoder prefers the sample
  entry's size when both round to the same macroblocks: equal sizes leave nothing to choose);
* duration: ``mvhd`` duration rescaled to microseconds, rounded to nearest (``av_rescale``), as
  ``mov_read_mvhd`` sets the format's duration (edit lists do not change it);
* frame rate: the first video track's ``stts`` sample count x ``mdhd`` timescale / ``stts``
  total duration, reduced (``mov_read_stts`` and ``av_reduce`` in ``mov_read_header``; edit lists
  do not enter it).

Anything else gives ``None`` and the caller opens the file with PyAV as before: fragmented files
(``mvex``, ``moof``), compressed ``moov``, a top-level box that is unknown, overlapping, running
past the end of the file or followed by stray bytes, no ``mdat``, a ``moov`` over
:data:`MAX_MOOV`, a zero timescale or duration, a sample of the video track lying outside every
``mdat`` (truncation), more than one sample description, codecs other than H.264 (``avc1``) and
MPEG-4 Part 2 (``mp4v``), a parameter set this reader does not parse exactly, a video stream that
might not be FFmpeg's first (a non-audio track before it, cover art, chapter tracks), external
data references. It never raises on bad input.
"""

from __future__ import annotations

import os
import struct
from array import array
from dataclasses import dataclass
from fractions import Fraction
from itertools import accumulate, pairwise
from pathlib import Path

from vigil.evidence.readonly import open_readonly_fd

MAX_MOOV = 64 * 1024 * 1024
"""A larger ``moov`` box is left to PyAV."""
MAX_TOP_BOXES = 4096
"""More top-level boxes than this are left to PyAV."""
_TOP_LEVEL = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"pnot"})
_INT_MAX = 2**31 - 1
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class Mp4Header:
    """What a video's probe records, as PyAV's path gives it."""

    width: int
    height: int
    duration_s: float
    frame_rate: float


class _GiveUp(Exception):
    """Raised anywhere in the walk: the file is left to PyAV."""


def read_mp4_header(src: Path | bytes) -> Mp4Header | None:
    """Size, duration and frame rate of a sound MP4/MOV; None: probe it with PyAV instead."""
    try:
        if isinstance(src, bytes):
            return _read(_BytesReader(src))
        fd = open_readonly_fd(src)
        try:
            return _read(_FdReader(fd))
        finally:
            os.close(fd)
    except (_GiveUp, OSError, IndexError, ValueError, struct.error, ZeroDivisionError):
        return None


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def read(self, offset: int, n: int) -> bytes:
        return self.data[offset : offset + n]


class _FdReader:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.size = os.fstat(fd).st_size

    def read(self, offset: int, n: int) -> bytes:
        parts: list[bytes] = []
        while n > 0:
            part = os.pread(self.fd, n, offset)
            if not part:
                break
            parts.append(part)
            offset += len(part)
            n -= len(part)
        return b"".join(parts)


_Reader = _BytesReader | _FdReader


def _need(cond: bool) -> None:
    if not cond:
        raise _GiveUp


def _read(reader: _Reader) -> Mp4Header | None:
    size = reader.size
    pos = 0
    moov: tuple[int, int] | None = None
    mdats: list[tuple[int, int]] = []
    count = 0
    while pos < size:
        count += 1
        _need(count <= MAX_TOP_BOXES and size - pos >= 8)
        head = reader.read(pos, 16)
        box_size, kind = struct.unpack(">I4s", head[:8])
        header = 8
        if box_size == 1:
            _need(len(head) == 16)
            box_size = struct.unpack(">Q", head[8:16])[0]
            header = 16
        elif box_size == 0:
            box_size = size - pos  # to the end of the file: only mdat is allowed to
            _need(kind == b"mdat")
        _need(box_size >= header and pos + box_size <= size)
        _need(kind in _TOP_LEVEL and (kind != b"ftyp" or pos == 0))
        if kind == b"ftyp":
            _need(box_size <= 1024)
            _text(reader.read(pos + header, box_size - header))
        if kind == b"moov":
            _need(moov is None and box_size - header <= MAX_MOOV)
            moov = (pos + header, pos + box_size)
        elif kind == b"mdat":
            mdats.append((pos + header, pos + box_size))
        pos += box_size
    if pos != size or moov is None or not mdats:
        return None
    data = reader.read(moov[0], moov[1] - moov[0])
    _need(len(data) == moov[1] - moov[0])
    return _moov(data, mdats)


def _text(raw: bytes) -> None:
    """FFmpeg exports these bytes as metadata and PyAV fails on text that is not UTF-8."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _GiveUp from None


def _udta_ok(data: bytes, start: int, end: int) -> None:
    """User data whose strings FFmpeg exports as metadata, all UTF-8: QuickTime "\xa9xyz"
    strings and an iTunes-style ``meta``/``ilst`` of ``data`` items. Anything else (binary
    user data, cover art) is left to PyAV."""
    for kind, s, e in _children(data, start, end):
        if kind[0] == 0xA9 and kind != b"\xa9xyz":
            _need(e - s >= 4)
            (length,) = struct.unpack_from(">H", data, s)
            _need(4 + length == e - s)
            _text(data[s + 4 : e])
        elif kind == b"meta":
            _need(e - s >= 4 and data[s : s + 4] == b"\0\0\0\0")
            inner = _children(data, s + 4, e)
            _need({k for k, _s, _e in inner} <= {b"hdlr", b"ilst"})
            hdlr = _only(inner, b"hdlr")
            _need(data[hdlr[0] + 8 : hdlr[0] + 12] == b"mdir")
            for item, i_s, i_e in _children(data, *_only(inner, b"ilst")):
                _need(item[0] == 0xA9)
                for d_kind, d_s, d_e in _children(data, i_s, i_e):
                    _need(d_kind == b"data" and d_e - d_s >= 8)
                    _need(data[d_s : d_s + 4] == b"\0\0\0\1")  # UTF-8 text
                    _text(data[d_s + 8 : d_e])
        else:
            raise _GiveUp


def _children(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """The boxes in ``data[start:end]`` as (type, payload start, payload end); they must fill it
    exactly (no 64-bit or to-the-end sizes inside ``moov``)."""
    out: list[tuple[bytes, int, int]] = []
    pos = start
    while pos < end:
        _need(end - pos >= 8)
        box_size, kind = struct.unpack_from(">I4s", data, pos)
        _need(box_size >= 8 and pos + box_size <= end)
        out.append((kind, pos + 8, pos + box_size))
        pos += box_size
    return out


def _only(boxes: list[tuple[bytes, int, int]], kind: bytes) -> tuple[int, int]:
    """The one box of ``kind`` among ``boxes`` (none or several: give up)."""
    found = [(s, e) for k, s, e in boxes if k == kind]
    _need(len(found) == 1)
    return found[0]


@dataclass
class _Track:
    handler: bytes
    start: int
    end: int
    boxes: list[tuple[bytes, int, int]]
    elst: tuple[int, int] | None


def _moov(data: bytes, mdats: list[tuple[int, int]]) -> Mp4Header | None:
    _need(b"covr" not in data)  # cover art becomes a video stream of its own
    boxes = _children(data, 0, len(data))
    kinds = [k for k, _s, _e in boxes]
    _need(b"mvex" not in kinds and b"cmov" not in kinds and b"meta" not in kinds)
    for kind, start, end in boxes:
        if kind == b"udta":
            _udta_ok(data, start, end)
    mvhd_start, mvhd_end = _only(boxes, b"mvhd")
    movie_scale, movie_duration = _scale_duration(data, mvhd_start, mvhd_end)
    video: _Track | None = None
    for kind, start, end in boxes:
        if kind != b"trak":
            continue
        track = _trak(data, start, end)
        if track.handler == b"vide":
            video = track
            break
        raise _GiveUp  # another stream enters FFmpeg's duration (or may be a video stream)
    if video is None or kinds.count(b"trak") != 1:
        return None
    return _video(data, video, movie_scale, movie_duration, mdats)


def _scale_duration(data: bytes, start: int, end: int) -> tuple[int, int]:
    """Timescale and duration of an ``mvhd`` or ``mdhd`` box (versions 0 and 1)."""
    version = data[start]
    if version == 1:
        _need(end - start >= 32)
        scale, duration = struct.unpack_from(">IQ", data, start + 20)
    else:
        _need(version == 0 and end - start >= 20)
        scale, duration = struct.unpack_from(">II", data, start + 12)
        _need(duration != 0xFFFFFFFF)  # "unknown"
    _need(0 < scale <= _INT_MAX and 0 < duration <= _INT64_MAX)
    return scale, duration


def _trak(data: bytes, start: int, end: int) -> _Track:
    boxes = _children(data, start, end)
    for kind, s, e in boxes:
        if kind == b"tref":
            refs = [k for k, _s, _e in _children(data, s, e)]
            _need(b"chap" not in refs)  # a chapter track may become an attached picture
    mdia = _only(boxes, b"mdia")
    mdia_boxes = _children(data, *mdia)
    hdlr_start, hdlr_end = _only(mdia_boxes, b"hdlr")
    _need(hdlr_end - hdlr_start >= 12)
    handler = data[hdlr_start + 8 : hdlr_start + 12]
    _text(data[hdlr_start + 24 : hdlr_end])  # the handler name
    edits = [(s, e) for k, s, e in boxes if k == b"edts"]
    _need(len(edits) <= 1)
    elst = _only(_children(data, *edits[0]), b"elst") if edits else None
    return _Track(handler, mdia[0], mdia[1], mdia_boxes, elst)


def _video(
    data: bytes, track: _Track, movie_scale: int, movie_duration: int, mdats: list[tuple[int, int]]
) -> Mp4Header | None:
    media_scale, _media_duration = _scale_duration(data, *_only(track.boxes, b"mdhd"))
    minf = _children(data, *_only(track.boxes, b"minf"))
    _dinf_ok(data, minf)
    stbl = _children(data, *_only(minf, b"stbl"))
    width, height = _sample_entry(data, *_only(stbl, b"stsd"))
    counts = _stts(data, *_only(stbl, b"stts"))
    frames, ticks = counts
    _need(0 < frames <= _INT_MAX and ticks > 0)
    rate = Fraction(media_scale * frames, ticks)
    _need(rate.numerator <= _INT_MAX and rate.denominator <= _INT_MAX)  # av_reduce is then exact
    sizes = _stsz(data, *_only(stbl, b"stsz"))
    _need(len(sizes) == frames)
    kinds = [k for k, _s, _e in stbl]
    _need((b"stco" in kinds) != (b"co64" in kinds))
    offsets = _chunk_offsets(data, stbl, b"stco" in kinds)
    _samples_inside(data, _only(stbl, b"stsc"), offsets, sizes, mdats)
    if track.elst is not None:
        _edit_ok(data, track.elst, ticks, media_scale, movie_scale)
    stss = [(s, e) for k, s, e in stbl if k == b"stss"]
    _need(len(stss) <= 1)
    if stss:
        _sync_ok(data, *stss[0], frames)
    micros = (ticks * 1_000_000 + media_scale // 2) // media_scale  # av_rescale_q, nearest
    _need(0 < micros <= _INT64_MAX)
    return Mp4Header(width, height, micros / 1_000_000, float(rate))


def _edit_ok(
    data: bytes, elst: tuple[int, int], ticks: int, media_scale: int, movie_scale: int
) -> None:
    """One edit, at normal rate, that plays the track's samples to their end: FFmpeg's stream
    duration is then the ``stts`` total (a shorter or longer edit changes it). A B-frame delay
    is the edit's media time: the edit still lasts the ``stts`` total."""
    start, end = elst
    version = data[start]
    _need(version in (0, 1) and data[start + 1 : start + 4] == b"\0\0\0")
    (entries,) = struct.unpack_from(">I", data, start + 4)
    _need(entries == 1 and end - start == 8 + (12 if version == 0 else 20))
    if version == 0:
        segment, media_time, rate = struct.unpack_from(">IiI", data, start + 8)
    else:
        segment, media_time, rate = struct.unpack_from(">QqI", data, start + 8)
    _need(rate == 0x00010000 and 0 <= media_time < ticks)
    played = (segment * media_scale + movie_scale // 2) // movie_scale  # av_rescale
    slack = media_scale // movie_scale + 1
    _need(abs(played - ticks) <= slack)


def _sync_ok(data: bytes, start: int, end: int, frames: int) -> None:
    """The sync samples start at the first and increase within the track."""
    _need(end - start >= 8 and data[start : start + 4] == b"\0\0\0\0")
    (count,) = struct.unpack_from(">I", data, start + 4)
    _need(count >= 1 and end - start == 8 + 4 * count)
    samples = _be_u32(data, start + 8, count)
    _need(samples[0] == 1 and samples[-1] <= frames)
    _need(all(a < b for a, b in pairwise(samples)))


def _dinf_ok(data: bytes, minf: list[tuple[bytes, int, int]]) -> None:
    """Every data reference is "this file" (flag 1): FFmpeg would open others."""
    dinf = _children(data, *_only(minf, b"dinf"))
    start, end = _only(dinf, b"dref")
    _need(end - start >= 8)
    (entries,) = struct.unpack_from(">I", data, start + 4)
    refs = _children(data, start + 8, end)
    _need(entries == len(refs) >= 1)
    for kind, s, e in refs:
        _need(kind in (b"url ", b"alis") and e - s >= 4 and data[s + 3] & 1 == 1)


def _stts(data: bytes, start: int, end: int) -> tuple[int, int]:
    (entries,) = struct.unpack_from(">I", data, start + 4)
    _need(end - start == 8 + 8 * entries)
    frames = ticks = 0
    for i in range(entries):
        count, delta = struct.unpack_from(">II", data, start + 8 + 8 * i)
        _need(delta < 2**31)  # larger deltas are "corrected" by FFmpeg (max_stts_delta)
        frames += count
        ticks += count * delta
    _need(ticks <= _INT64_MAX)
    return frames, ticks


def _be_u32(data: bytes, start: int, count: int) -> array[int]:
    values = array("I", data[start : start + 4 * count])
    _need(values.itemsize == 4 and len(values) == count)
    if struct.pack("=I", 1) != struct.pack(">I", 1):
        values.byteswap()
    return values


def _stsz(data: bytes, start: int, end: int) -> list[int]:
    _need(end - start >= 12)
    uniform, count = struct.unpack_from(">II", data, start + 4)
    if uniform:
        _need(end - start == 12)
        return [uniform] * count
    _need(end - start == 12 + 4 * count)
    sizes = _be_u32(data, start + 12, count)
    _need(all(sizes))  # a zero-size sample: FFmpeg's index differs
    return list(sizes)


def _chunk_offsets(data: bytes, stbl: list[tuple[bytes, int, int]], short: bool) -> list[int]:
    start, end = _only(stbl, b"stco" if short else b"co64")
    (count,) = struct.unpack_from(">I", data, start + 4)
    _need(count >= 1 and end - start == 8 + (4 if short else 8) * count)
    if short:
        return list(_be_u32(data, start + 8, count))
    return list(struct.unpack_from(f">{count}Q", data, start + 8))


def _samples_inside(
    data: bytes,
    stsc: tuple[int, int],
    offsets: list[int],
    sizes: list[int],
    mdats: list[tuple[int, int]],
) -> None:
    """Every sample of the track lies inside one ``mdat`` (a cut file does not)."""
    start, end = stsc
    (entries,) = struct.unpack_from(">I", data, start + 4)
    _need(entries >= 1 and end - start == 8 + 12 * entries)
    runs = [struct.unpack_from(">III", data, start + 8 + 12 * i) for i in range(entries)]
    _need(runs[0][0] == 1)
    ends = list(accumulate(sizes, initial=0))
    sample = 0
    for i, (first, per_chunk, desc) in enumerate(runs):
        last = runs[i + 1][0] if i + 1 < entries else len(offsets) + 1
        _need(first < last <= len(offsets) + 1 and per_chunk > 0 and desc == 1)
        for chunk in range(first - 1, last - 1):
            n = per_chunk
            _need(sample + n <= len(sizes))
            offset = offsets[chunk]
            chunk_end = offset + ends[sample + n] - ends[sample]
            _need(any(lo <= offset and chunk_end <= hi for lo, hi in mdats))
            sample += n
    _need(sample == len(sizes))


def _sample_entry(data: bytes, start: int, end: int) -> tuple[int, int]:
    """Width and height of the one visual sample entry, checked against its parameter set."""
    (entries,) = struct.unpack_from(">I", data, start + 4)
    _need(data[start] == 0 and entries == 1)
    ((kind, s, e),) = _children(data, start + 8, end)
    _need(e - s >= 78)
    width, height = struct.unpack_from(">HH", data, s + 24)
    _text(data[s + 12 : s + 16])  # vendor
    _text(data[s + 43 : s + 43 + min(31, data[s + 42])])  # compressor name
    _need(width > 0 and height > 0)
    inner = _children(data, s + 78, e)
    inner_kinds = [k for k, _s, _e in inner]
    _need(b"clap" not in inner_kinds)  # FFmpeg may crop to it
    if kind == b"avc1":
        coded = _avcc(data, *_only(inner, b"avcC"))
    elif kind == b"mp4v":
        coded = _esds_vol(data, *_only(inner, b"esds"))
    else:
        raise _GiveUp
    _need(coded == (width, height))
    return width, height


# --- H.264 sequence parameter set (ITU-T H.264 7.3.2.1.1), as FFmpeg's h264_ps.c reads it


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big")
        self.left = 8 * len(data)

    def u(self, n: int) -> int:
        _need(n <= self.left)
        self.left -= n
        return (self.value >> self.left) & ((1 << n) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            _need(zeros <= 31)
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def _unescape(nal: bytes) -> bytes:
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


def _avcc(data: bytes, start: int, end: int) -> tuple[int, int]:
    box = data[start:end]
    _need(len(box) >= 8 and box[0] == 1 and box[4] & 0xFC == 0xFC and box[5] & 0xE0 == 0xE0)
    _need(box[5] & 0x1F == 1)  # exactly one SPS
    (length,) = struct.unpack_from(">H", box, 6)
    _need(length >= 4 and 8 + length <= len(box))
    nal = box[8 : 8 + length]
    _need(nal[0] & 0x9F == 7)  # forbidden bit clear, type SPS
    _need(b"\x00\x00\x00" not in nal and b"\x00\x00\x01" not in nal and b"\x00\x00\x02" not in nal)
    bits = _Bits(_unescape(nal[1:]))
    profile = bits.u(8)
    bits.u(16)  # constraint flags, level
    _need(bits.ue() < 32)  # sps id
    chroma, separate = 1, 0
    if profile in _HIGH_PROFILES:
        chroma = bits.ue()
        _need(chroma <= 3)
        if chroma == 3:
            separate = bits.u(1)
        _need(bits.ue() <= 6 and bits.ue() <= 6)  # bit depths up to 14
        bits.u(1)
        if bits.u(1):  # scaling matrices
            for i in range(8 if chroma != 3 else 12):
                if bits.u(1):
                    _skip_scaling_list(bits, 16 if i < 6 else 64)
    _need(bits.ue() <= 12)  # log2_max_frame_num - 4
    poc_type = bits.ue()
    _need(poc_type <= 2)
    if poc_type == 0:
        _need(bits.ue() <= 12)
    elif poc_type == 1:
        bits.u(1)
        bits.se()
        bits.se()
        cycle = bits.ue()
        _need(cycle < 256)
        for _ in range(cycle):
            bits.se()
    _need(bits.ue() <= 16)  # max_num_ref_frames
    bits.u(1)
    mb_width = bits.ue() + 1
    map_height = bits.ue() + 1
    frame_mbs_only = bits.u(1)
    if not frame_mbs_only:
        bits.u(1)
    bits.u(1)  # direct_8x8_inference
    width, height = 16 * mb_width, 16 * map_height * (2 - frame_mbs_only)
    _need(width <= 16384 and height <= 16384)
    if bits.u(1):  # frame cropping
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        _need(left == 0 and top == 0)  # FFmpeg may round a left/top crop
        if chroma == 0 or separate:
            unit_x, unit_y = 1, 2 - frame_mbs_only
        else:
            unit_x = 2 if chroma in (1, 2) else 1
            unit_y = (2 if chroma == 1 else 1) * (2 - frame_mbs_only)
        _need(unit_x * right < width and unit_y * bottom < height)
        width -= unit_x * right
        height -= unit_y * bottom
    return width, height


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last = nxt = 8
    for _ in range(size):
        if nxt:
            delta = bits.se()
            _need(-128 <= delta <= 127)
            nxt = (last + delta + 256) % 256
        last = nxt or last


# --- MPEG-4 Part 2 video object layer (ISO/IEC 14496-2 6.2.3) in the esds decoder config


def _descriptor(data: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    """Payload bounds of the descriptor with ``tag`` at ``pos`` (ISO/IEC 14496-1 8.3.3)."""
    _need(pos < end and data[pos] == tag)
    pos += 1
    length = 0
    for _ in range(4):
        _need(pos < end)
        byte = data[pos]
        pos += 1
        length = (length << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    else:
        raise _GiveUp
    _need(pos + length <= end)
    return pos, pos + length


def _esds_vol(data: bytes, start: int, end: int) -> tuple[int, int]:
    _need(end - start >= 4 and data[start] == 0)
    es_start, es_end = _descriptor(data, start + 4, end, 0x03)
    _need(es_end - es_start >= 3)
    flags = data[es_start + 2]
    _need(flags & 0xE0 == 0)  # no dependency, URL or OCR stream fields
    dc_start, dc_end = _descriptor(data, es_start + 3, es_end, 0x04)
    _need(dc_end - dc_start >= 13 and data[dc_start] == 0x20)  # MPEG-4 Visual
    dsi_start, dsi_end = _descriptor(data, dc_start + 13, dc_end, 0x05)
    return _vol_size(data[dsi_start:dsi_end])


def _vol_size(config: bytes) -> tuple[int, int]:
    starts = [i for i in range(len(config) - 3) if config[i : i + 3] == b"\x00\x00\x01"]
    vols = [i for i in starts if 0x20 <= config[i + 3] <= 0x2F]
    _need(len(vols) == 1)
    bits = _Bits(config[vols[0] + 4 :])
    bits.u(1)  # random_accessible_vol
    _need(bits.u(8) != 0x12)  # not a fine granularity scalable object
    verid = 1
    if bits.u(1):  # is_object_layer_identifier
        verid = bits.u(4)
        bits.u(3)
    if bits.u(4) == 15:  # extended pixel aspect ratio
        _need(bits.u(8) != 0 and bits.u(8) != 0)
    if bits.u(1):  # vol_control_parameters
        _need(bits.u(2) == 1)  # 4:2:0
        bits.u(1)
        if bits.u(1):  # vbv parameters
            bits.u(15)
            _need(bits.u(1) == 1)
            bits.u(15)
            _need(bits.u(1) == 1)
            bits.u(15)
            _need(bits.u(1) == 1)
            bits.u(3)
            bits.u(11)
            _need(bits.u(1) == 1)
            bits.u(15)
            _need(bits.u(1) == 1)
    _need(bits.u(2) == 0)  # rectangular shape only
    del verid
    _need(bits.u(1) == 1)
    resolution = bits.u(16)
    _need(resolution > 0 and bits.u(1) == 1)
    if bits.u(1):  # fixed_vop_rate
        bits.u(max(1, (resolution - 1).bit_length()))
    _need(bits.u(1) == 1)
    width = bits.u(13)
    _need(bits.u(1) == 1)
    height = bits.u(13)
    _need(bits.u(1) == 1 and width > 0 and height > 0)
    return width, height
