"""The JPEG header reader (issue 16) gives exactly what Pillow's open gives: for generated photos
of many shapes and for mutants of them, :func:`probe_photo` with the reader and with it switched
off (every JPEG through ``Image.open``) agree on everything it records, and the reader never
raises. Plain photos must take the reader's path (else it saves nothing)."""

from __future__ import annotations

import io
import os
import random
import re
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from vigil.content import jpeghead, probe
from vigil.content.probe import probe_photo
from vigil.demo import jpeg_bytes, synthetic_picture

CASES = int(os.environ.get("VIGIL_FUZZ_CASES", "300"))


def _picture(w: int = 96, h: int = 64, seed: int = 0) -> Image.Image:
    return synthetic_picture(np.random.default_rng(seed), w, h)


def _save(img: Image.Image, **kw: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kw)
    return buf.getvalue()


def _full_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "GenCam\x00"
    exif[0x0110] = "Model 7"
    exif[0x0128] = 2
    exif[0x011A] = exif[0x011B] = IFDRational(300, 1)
    exif[0x0131] = "gen 1.0"
    exif[0x0132] = "2023:05:06 07:08:09"
    sub = exif.get_ifd(0x8769)
    sub.update({0x9003: "2024:01:02 03:04:05", 0x9011: "+02:00", 0xA431: "SN-42"})
    sub[0x829A] = IFDRational(1, 250)
    sub[0x9286] = b"ASCII\x00\x00\x00hello"
    exif.get_ifd(0x8825).update(
        {1: "S", 2: (33.0, 52.0, 4.0), 3: "E", 4: (151.0, 12.0, 36.0), 5: 1, 6: IFDRational(12, 1)}
    )
    return exif


def _with_segment(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    """``jpeg`` with one more segment right after SOI."""
    seg = bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload
    return jpeg[:2] + seg + jpeg[2:]


def _seeds() -> dict[str, bytes]:
    img = _picture()
    plain = jpeg_bytes(img, camera=("Bench", "k", "SN1"), taken="2024:01:01 12:00:00")
    big_text = Image.Exif()
    big_text[0x010E] = "x" * 40_000  # an EXIF block past the reader's first read
    bad_orientation = Image.Exif()
    bad_orientation[0x0112] = 11
    return {
        "camera_time": plain,
        "gps": jpeg_bytes(img, camera=("C", "M", None), gps=(51.5, -0.12)),
        "no_exif": _save(img, quality=70),
        "full_exif": _save(img, exif=_full_exif()),
        "jfif_dpi": _save(img, dpi=(300, 300), exif=_full_exif()),
        "progressive": _save(img, progressive=True, exif=_full_exif()),
        "grey": _save(img.convert("L"), exif=_full_exif()),
        "cmyk_adobe": _save(img.convert("CMYK")),
        "icc": _save(img, icc_profile=b"\x00" * 300, exif=_full_exif()),
        "comment": _save(img, comment=b"made by a test", exif=_full_exif()),
        "big_exif": _save(img, exif=big_text),
        "bad_orientation": _save(img, exif=bad_orientation),
        "xmp_orientation": _with_segment(
            _save(img), 0xE1, b'http://ns.adobe.com/xap/1.0/\x00<x tiff:Orientation="3"/>'
        ),
        "two_exif": _with_segment(plain, 0xE1, b"Exif\x00\x00" + _full_exif().tobytes()),
        "app5": _with_segment(plain, 0xE5, b"vendor data"),
        # a JFIF resolution, then a JFIF segment without one: Pillow keeps the first
        "two_jfif": _with_segment(
            _with_segment(_save(img, exif=_full_exif()), 0xE0, b"JFIF\x00\x01\x01\x00" + bytes(6)),
            0xE0,
            b"JFIF\x00\x01\x01\x01\x00\x48\x00\x48\x00\x00",
        ),
        "truncated": plain[: len(plain) // 2],
        "trailing_bytes": plain + b"\x00" * 10 + b"junk",
    }


def _mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four mutations (bit flip, extreme byte, insert, delete, duplicate, truncate)."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(buf)) if buf else 0
        op = rng.randrange(6)
        if op == 0 and buf:
            buf[at] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:
            buf[at] = rng.choice((0, 1, 0x7F, 0x80, 0xFE, 0xFF))
        elif op == 2:
            buf[at:at] = rng.choice((b"\xff", b"\x00", b"\xff\xd8", b"\xff\xe1\x00\x02"))
        elif op == 3:
            del buf[at : at + rng.randint(1, 16)]
        elif op == 4 and buf:
            j = rng.randrange(len(buf))
            buf[at:at] = buf[j : j + rng.randint(1, 64)]
        elif op == 5:
            del buf[at:]
    return bytes(buf)


def _outcome(
    src: Path | bytes,
    *,
    reader: bool,
    monkeypatch: pytest.MonkeyPatch,
    ends: tuple[bytes, bytes] | None = None,
) -> Any:
    with monkeypatch.context() as m, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's warnings on bad EXIF: the same on both paths
        if not reader:
            m.setattr(probe, "read_jpeg_header", lambda _src, ends=None: None)
        try:
            meta = probe_photo(src, "jpeg", decode_check=False, ends=ends)
        except Exception as exc:  # noqa: BLE001 - the two paths must fail alike too
            return ("raised", type(exc).__name__, str(exc))
    out = asdict(meta)
    if meta.exif is not None:
        out["tag_order"] = list(meta.exif.tags)
    # Pillow names an in-memory file by its address in some messages
    return re.sub(r"object at 0x[0-9a-f]+", "object at ADDRESS", repr(out))


PLAIN = ("camera_time", "gps", "no_exif", "full_exif", "jfif_dpi", "progressive", "grey")


def test_plain_photos_take_the_reader_and_agree_with_pillow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, data in _seeds().items():
        path = tmp_path / f"{name}.jpg"
        path.write_bytes(data)
        header = jpeghead.read_jpeg_header(path)
        if name in PLAIN:
            assert header is not None, name
            with Image.open(path) as img:
                assert (header.width, header.height) == img.size
        for src in (data, path):
            fast = _outcome(src, reader=True, monkeypatch=monkeypatch)
            slow = _outcome(src, reader=False, monkeypatch=monkeypatch)
            assert fast == slow, name
        # the file's ends as read while digesting it: the same answer without reading it again
        ends = (data[: jpeghead.FIRST_READ], data[-jpeghead.TAIL_BYTES :])
        for reader in (True, False):
            given = _outcome(path, reader=reader, monkeypatch=monkeypatch, ends=ends)
            assert given == _outcome(path, reader=reader, monkeypatch=monkeypatch), name
        if name in PLAIN:
            with monkeypatch.context() as m:
                m.setattr(jpeghead, "open_readonly", _no_open)
                assert jpeghead.read_jpeg_header(path, ends=ends) == header, name


def _no_open(_path: Path) -> Any:
    raise AssertionError("the file was opened again")


def test_the_ends_read_while_digesting_are_the_files_ends(tmp_path: Path) -> None:
    from vigil.evidence.hashing import digest_stream_ends

    rng = random.Random(3)
    for size in (0, 1, 63, 64, 65, 4095, 16384, 16385, (1 << 20) - 1, 1 << 20, (1 << 20) + 7):
        data = rng.randbytes(size)
        path = tmp_path / f"{size}.bin"
        path.write_bytes(data)
        with path.open("rb") as fh:
            digests, head, tail = digest_stream_ends(fh, keep=jpeghead.FIRST_READ, tail=64)
        assert head == data[: jpeghead.FIRST_READ], size
        assert tail == data[-64:], size
        assert digests.size == size


def test_the_reader_leaves_unusual_headers_to_pillow() -> None:
    seeds = _seeds()
    for name in ("cmyk_adobe", "xmp_orientation", "two_exif"):
        assert jpeghead.read_jpeg_header(seeds[name]) is None, name
    assert jpeghead.read_jpeg_header(b"") is None
    assert jpeghead.read_jpeg_header(b"\xff\xd8\xff") is None


def test_mutated_photos_agree_with_pillow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seeds = list(_seeds().values())
    rng = random.Random(16)
    n = CASES
    taken = 0
    for i in range(n):
        seed = seeds[i % len(seeds)]
        # mutate the header, where the reader works (the rest is entropy-coded data)
        head = seed[: min(len(seed), 2048)]
        data = _mutate(head, rng) + seed[len(head) :]
        header = jpeghead.read_jpeg_header(data)  # never raises
        taken += header is not None
        fast = _outcome(data, reader=True, monkeypatch=monkeypatch)
        slow = _outcome(data, reader=False, monkeypatch=monkeypatch)
        assert fast == slow, f"case {i}: {data[:64]!r}"
        if i % 4 == 0:  # as a file whose ends were read while digesting it
            path = tmp_path / f"{i}.jpg"
            path.write_bytes(data)
            ends = (data[: jpeghead.FIRST_READ], data[-jpeghead.TAIL_BYTES :])
            given = _outcome(path, reader=True, monkeypatch=monkeypatch, ends=ends)
            slow = _outcome(path, reader=False, monkeypatch=monkeypatch)
            assert given == slow, f"case {i} (file): {data[:64]!r}"
    assert taken > n // 10  # many mutants are still plain JPEGs the reader reads


_TYPES = (1, 2, 3, 4, 5, 7, 2, 3, 5)
_OTHER_TYPES = (6, 8, 9, 10, 11, 12, 13, 99)  # left to Pillow
_UNITS = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_TAGS = (
    0x010E, 0x010F, 0x0110, 0x0112, 0x011A, 0x011B, 0x0128, 0x0131, 0x0132, 0x0103, 0x0106,
    0x8298, 0xC62F, 0x9003, 0x9011, 0xA431, 0x829A, 0x9286, 0x927C, 0x9000, 0x02BC, 0xABCD,
)  # fmt: skip
_GPS_TAGS = (0, 1, 2, 3, 4, 5, 6, 7, 0x1D, 0x77)


def _entry(rng: random.Random, tags: tuple[int, ...]) -> tuple[int, int, int, bytes]:
    """A random IFD entry (tag, type, count, value bytes), often well formed."""
    tag = rng.choice(tags) if rng.random() < 0.9 else rng.randrange(1 << 16)
    typ = rng.choice(_TYPES if rng.random() < 0.95 else _OTHER_TYPES)
    count = rng.choice((0, 1, 1, 1, 1, 2, 3, 3, 4, 7, 20))
    if typ == 2:
        text = rng.choice(
            (b"Cam", b"2024:01:02 03:04:05", b"+01:00", b"S", b"N", "\xe9t\xe9".encode("latin-1"))
        )
        value = text + (b"\x00" if rng.random() < 0.8 else b"") + b"\x00" * rng.randrange(2)
        count = len(value)
    elif typ in (5, 10) and rng.random() < 0.7:
        pairs = [
            (rng.choice((0, 1, 51, 300, 2**32 - 1)), rng.choice((0, 1, 60, 100)))
            for _ in range(count)
        ]
        value = b"".join(a.to_bytes(4, "big") + b.to_bytes(4, "big") for a, b in pairs)
    elif typ in (3, 4) and rng.random() < 0.7:
        value = b"".join(
            rng.choice((0, 1, 3, 6, 9, 11)).to_bytes(_UNITS[typ], "big") for _ in range(count)
        )
    else:
        value = rng.randbytes(count * _UNITS.get(typ, 1))
    return tag, typ, count, value


def _tiff(rng: random.Random, endian: str) -> bytes:
    """A TIFF block: a first IFD, often an EXIF sub-IFD and a GPS IFD (values big-endian,
    re-packed for ``endian``), sometimes a pointer or an offset out of place."""
    order = "big" if endian == ">" else "little"

    def fix(typ: int, value: bytes) -> bytes:  # big-endian numbers to the block's order
        unit = {3: 2, 4: 4, 5: 4, 8: 2, 9: 4, 10: 4}.get(typ)
        if unit is None:
            return value
        return (
            b"".join(
                int.from_bytes(value[i : i + unit], "big").to_bytes(unit, order)
                for i in range(0, len(value) - len(value) % unit, unit)
            )
            + value[len(value) - len(value) % unit :]
        )

    ifds: list[list[tuple[int, int, int, bytes]]] = [
        [_entry(rng, _TAGS) for _ in range(rng.randrange(0, 9))]
    ]
    for pointer, tags in ((0x8769, _TAGS), (0x8825, _GPS_TAGS)):
        if rng.random() < 0.6:
            ifds[0].append((pointer, 4, 1, b""))  # offset filled in below
            ifds.append([_entry(rng, tags) for _ in range(rng.randrange(0, 7))])
    if rng.random() < 0.3:
        rng.shuffle(ifds[0])
    sizes = [2 + 12 * len(ifd) + 4 for ifd in ifds]
    starts = [8 + sum(sizes[:i]) for i in range(len(ifds))]
    data_at = 8 + sum(sizes)
    body, extra = b"", b""
    sub = iter(starts[1:])
    for ifd in ifds:
        body += len(ifd).to_bytes(2, order)
        for tag, typ, count, value in ifd:
            if tag in (0x8769, 0x8825) and typ == 4 and value == b"":
                target = next(sub, 0)
                if rng.random() < 0.05:
                    target = rng.choice((0, 3, 1 << 20))
                body += tag.to_bytes(2, order) + typ.to_bytes(2, order)
                body += (1).to_bytes(4, order) + target.to_bytes(4, order)
                continue
            value = fix(typ, value)
            body += tag.to_bytes(2, order) + typ.to_bytes(2, order) + count.to_bytes(4, order)
            if len(value) <= 4:
                body += value.ljust(4, b"\x00")
            else:
                at = data_at + len(extra) + (1 << 16 if rng.random() < 0.03 else 0)
                body += at.to_bytes(4, order)
                extra += value
        body += (0).to_bytes(4, order)
    head = (b"MM\x00*" if endian == ">" else b"II*\x00") + (8).to_bytes(4, order)
    block = head + body + extra
    if rng.random() < 0.05:
        block = block[: rng.randrange(len(block))]
    return block


def test_generated_exif_blocks_agree_with_pillow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Random EXIF blocks of every type (and some out of place): the fast EXIF reader gives
    exactly what Pillow gives, or leaves the block to Pillow; most plain blocks it reads."""
    rng = random.Random(1616)
    img = _picture()
    bases = (_save(img, quality=70), _save(img, quality=70, dpi=(72, 72)))
    taken = 0
    for i in range(CASES):
        block = b"Exif\x00\x00" + _tiff(rng, rng.choice("<>"))
        data = _with_segment(bases[i % 2], 0xE1, block)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            header = jpeghead.read_jpeg_header(data)  # never raises
        taken += header is not None and header.info is not None
        fast = _outcome(data, reader=True, monkeypatch=monkeypatch)
        slow = _outcome(data, reader=False, monkeypatch=monkeypatch)
        assert fast == slow, f"case {i}: {block!r}"
    assert taken > CASES // 4


def test_plain_exif_takes_the_fast_reader() -> None:
    seeds = _seeds()
    for name in PLAIN:
        header = jpeghead.read_jpeg_header(seeds[name])
        assert header is not None and header.info is not None, name
        assert header.exif is None, name
