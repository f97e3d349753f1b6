"""Conformance suite for every registered content type: each has an example that it, and only
it, recognises first; adding a type without an example here fails this test."""

from __future__ import annotations

import io
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from vigil.content.types import CONTENT_TYPES, KINDS, sniff


def _img(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(out, fmt)
    return out.getvalue()


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("a", b"a")
    return out.getvalue()


def _tar() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tf:
        info = tarfile.TarInfo("a")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"a"))
    return out.getvalue()


def _mbr() -> bytes:
    head = bytearray(4096)
    head[446 + 4] = 0x83
    head[510:512] = b"\x55\xaa"
    return bytes(head)


def _ts() -> bytes:
    head = bytearray(4096)
    for off in (0, 188, 376):
        head[off] = 0x47
    return bytes(head)


EXAMPLES: dict[str, bytes] = {
    "empty": b"",
    "jpeg": _img("JPEG"),
    "png": _img("PNG"),
    "gif": _img("GIF"),
    "webp": _img("WEBP"),
    "tiff": _img("TIFF"),
    "bmp": _img("BMP"),
    "heif": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
    "avif": b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1",
    "mov": b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ",
    "mp4": b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2",
    "avi": b"RIFF\x00\x00\x00\x00AVI LIST",
    "matroska": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01",
    "asf": b"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9",
    "flv": b"FLV\x01\x05\x00\x00\x00\x09",
    "mpeg_ps": b"\x00\x00\x01\xba\x44\x00",
    "mpeg_ts": _ts(),
    "zip": _zip(),
    "tar": _tar(),
    "gzip": b"\x1f\x8b\x08\x00" + b"\x00" * 20,
    "bzip2": b"BZh91AY&SY",
    "xz": b"\xfd7zXZ\x00\x00\x04",
    "7z": b"7z\xbc\xaf\x27\x1c\x00\x04",
    "rar": b"Rar!\x1a\x07\x01\x00",
    "e01": b"EVF\x09\x0d\x0a\xff\x00\x01\x01\x00",
    "raw_disk": _mbr(),
    "pdf": b"%PDF-1.7\n",
}


def test_every_registered_type_has_an_example() -> None:
    assert set(CONTENT_TYPES.names()) == set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_is_sniffed_as_its_type(name: str) -> None:
    ctype = CONTENT_TYPES.get(name)
    assert ctype.kind in KINDS
    assert ctype.mime
    assert sniff(EXAMPLES[name][:4096]).name == name


def test_unrecognised_content_is_unknown_not_an_error() -> None:
    assert sniff(b"just some text").name == "unknown"
    assert sniff(b"\x00" * 4096).name == "unknown"
