"""Damaged archives found by the fuzzers (tests/fuzz): a damaged part costs only itself and is
reported; nothing escapes as a traceback."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

from vigil.evidence.walk import Entry, Walker
from vigil.settings import IngestLimits

MEMBERS = {f"f{i}.txt": f"content {i} ".encode() * 200 for i in range(4)}


def _walk(path: Path, tmp_path: Path) -> dict[bytes, Entry]:
    return {e.raw_path: e for e in Walker(path, IngestLimits(), tmp_path / "spool")}


def _tar() -> bytearray:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in MEMBERS.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return bytearray(buf.getvalue())


def test_a_damaged_tar_header_costs_only_its_member(tmp_path: Path) -> None:
    """tarfile used to stop at the damaged header without a word: f2 and f3 vanished."""
    data = _tar()
    with tarfile.open(fileobj=io.BytesIO(bytes(data))) as tf:
        offset = tf.getmember("f1.txt").offset
    data[offset + 150] ^= 0x10  # inside the checksum field
    path = tmp_path / "ev.tar"
    path.write_bytes(bytes(data))
    found = _walk(path, tmp_path)
    for name in ("f0.txt", "f2.txt", "f3.txt"):
        assert found[b"ev.tar!/" + name.encode()].data == MEMBERS[name]
    assert b"ev.tar!/f1.txt" not in found
    (damage,) = [e for raw, e in found.items() if b"[damaged bytes" in raw]
    assert damage.warnings[0][0] == "archive_damaged"
    assert f"bytes {offset}-" in damage.warnings[0][1]


def _zip(method: int) -> bytearray:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in MEMBERS.items():
            zf.writestr(name, data)
    return bytearray(buf.getvalue())


def test_damaged_deflate_data_is_a_member_warning(tmp_path: Path) -> None:
    """zlib.error is no OSError: it used to escape the walker."""
    data = _zip(zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("f2.txt")
    start = info.header_offset + 30 + len(info.filename)
    data[start : start + 8] = b"\xff" * 8
    path = tmp_path / "ev.zip"
    path.write_bytes(bytes(data))
    found = _walk(path, tmp_path)
    assert found[b"ev.zip!/f2.txt"].status == "skipped"
    assert found[b"ev.zip!/f2.txt"].warnings[0][0] == "damaged"
    for name in ("f0.txt", "f1.txt", "f3.txt"):
        assert found[b"ev.zip!/" + name.encode()].data == MEMBERS[name]


def test_a_central_directory_asking_for_a_new_version_is_archive_damage(tmp_path: Path) -> None:
    data = _zip(zipfile.ZIP_STORED)
    central = data.rindex(b"PK\x01\x02")
    data[central + 6] = 107  # "version needed to extract": 10.7
    path = tmp_path / "ev.zip"
    path.write_bytes(bytes(data))
    found = _walk(path, tmp_path)
    assert found[b"ev.zip!/"].warnings[0][0] == "archive_damaged"


def test_damaged_gzip_stream_of_a_tar_is_archive_damage(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in MEMBERS.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    raw = bytearray(buf.getvalue())
    raw[len(raw) // 2 : len(raw) // 2 + 6] = b"\x00\xff" * 3
    path = tmp_path / "ev.tar.gz"
    path.write_bytes(bytes(raw))
    found = _walk(path, tmp_path)
    assert any(c == "archive_damaged" for e in found.values() for c, _m in e.warnings)


def test_a_zip_member_without_a_name_is_read_under_a_placeholder(tmp_path: Path) -> None:
    """zipfile's is_dir() raised IndexError on an empty name (found by the fuzzers)."""
    data = _zip(zipfile.ZIP_STORED)
    central = data.rindex(b"PK\x01\x02")  # the last member's central directory record
    name_len = int.from_bytes(data[central + 28 : central + 30], "little")
    data[central + 28 : central + 30] = b"\x00\x00"  # file name length 0 ...
    del data[central + 46 : central + 46 + name_len]  # ... and no name
    end = data.rindex(b"PK\x05\x06")  # the central directory is shorter by the name
    size = int.from_bytes(data[end + 12 : end + 16], "little") - name_len
    data[end + 12 : end + 16] = size.to_bytes(4, "little")
    path = tmp_path / "ev.zip"
    path.write_bytes(bytes(data))
    found = _walk(path, tmp_path)
    assert any(b"without a name" in raw or e.warnings for raw, e in found.items())
    for name in ("f0.txt", "f1.txt", "f2.txt"):
        assert found[b"ev.zip!/" + name.encode()].data == MEMBERS[name]
