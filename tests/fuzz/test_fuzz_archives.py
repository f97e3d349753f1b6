"""Fuzzing the evidence walker on archives (zip, tar, tar.gz, nested) and raw disk images: no
traceback, bounded time, and a damaged member costs only itself, with a warning naming it."""

from __future__ import annotations

import io
import os
import random
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from vigil.errors import DamagedInput
from vigil.evidence.archive import ArchiveMember, close_archives, read_member
from vigil.evidence.walk import Entry, Walker
from vigil.settings import IngestLimits

from . import harness

MEMBERS = {f"dir/file{i}.txt": (f"member {i} ".encode() * (40 + 13 * i)) for i in range(5)}
LIMITS = IngestLimits(max_archive_total=256 * 1024**2, max_member_size=64 * 1024**2, disk_probe_s=2)


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _tar(members: dict[str, bytes], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
    return bytes(buf.getvalue())


def _seeds() -> dict[str, list[bytes]]:
    nested = dict(MEMBERS)
    nested["inner.zip"] = _zip({"a.txt": b"inner a" * 30, "b.txt": b"inner b" * 30})
    return {
        "zip": [_zip(MEMBERS), _zip(MEMBERS, zipfile.ZIP_STORED)],
        "tar": [_tar(MEMBERS)],
        "tar_gz": [_tar(MEMBERS, "w:gz")],
        "nested": [_tar(nested, "w:gz"), _zip(nested)],
    }


def _walker(folder: Path) -> harness.Callable[[bytes], list[Entry]]:
    path = folder / "evidence.bin"

    def target(data: bytes) -> list[Entry]:
        path.write_bytes(data)
        spool = folder / "spool"
        try:
            return list(Walker(path, LIMITS, spool))
        finally:
            shutil.rmtree(spool, ignore_errors=True)

    return target


def _by_name(entries: list[Entry]) -> dict[str, Entry]:
    return {e.display.split("!/", 1)[-1]: e for e in entries if b"!/" in e.raw_path}


def _zip_damager(rng: random.Random) -> tuple[bytes, harness.Check]:
    """One member's compressed bytes damaged (its CRC then fails)."""
    data = bytearray(_zip(MEMBERS, rng.choice((zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED))))
    names = list(MEMBERS)
    bad = rng.choice(names)
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo(bad)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for _ in range(rng.randint(1, 4)):
        at = start + rng.randrange(info.compress_size)
        data[at] ^= 1 << rng.randrange(8)
    return bytes(data), _member_check(bad)


def _tar_damager(rng: random.Random) -> tuple[bytes, harness.Check]:
    """One member's header damaged (its checksum then fails)."""
    data = bytearray(_tar(MEMBERS))
    names = list(MEMBERS)
    bad = rng.choice(names[1:])  # a damaged first header means "not a tar file" at all
    with tarfile.open(fileobj=io.BytesIO(bytes(data))) as tf:
        offset = tf.getmember(bad).offset
    at = offset + rng.randrange(100, 160)  # mode..checksum fields
    data[at] ^= 1 << rng.randrange(8)
    return bytes(data), _member_check(bad)


def _member_check(bad: str) -> harness.Check:
    def check(result: object) -> str | None:
        assert isinstance(result, list)
        found = _by_name(result)
        for name, content in MEMBERS.items():
            if name == bad:
                continue
            entry = found.get(name)
            if entry is None or entry.data != content:
                return f"good member {name} lost next to damaged {bad}"
        damaged = found.get(bad)
        if damaged is not None and damaged.data == MEMBERS[bad]:
            return None  # the flipped bits did not matter
        named = any(
            e.warnings for e in result if bad.encode() in e.raw_path or b"[damaged" in e.raw_path
        )
        return None if named else f"damaged member {bad} dropped without a warning"

    return check


def _split_walker(folder: Path) -> harness.Callable[[bytes], list[Entry]]:
    """The walker handing out member locators, each member then read as a worker reads it
    (``read_member``); a member the worker refuses becomes the warning the ingest records."""
    path = folder / "evidence.bin"

    def target(data: bytes) -> list[Entry]:
        path.write_bytes(data)
        spool = folder / "spool"
        try:
            entries = list(Walker(path, LIMITS, spool, locate_archive_members=True))
            for entry in entries:
                if isinstance(entry.member, ArchiveMember):
                    try:
                        entry.data = b"".join(read_member(entry.member))
                    except DamagedInput as exc:
                        entry.warnings.append(("damaged", str(exc)))
            return entries
        finally:
            close_archives()
            shutil.rmtree(spool, ignore_errors=True)

    return target


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_split_archive_fuzz(kind: str, tmp_path: Path) -> None:
    """Archives whose members workers read themselves: the same guarantees as the walker's."""
    damaged = {"zip": _zip_damager, "tar": _tar_damager}[kind]
    report = harness.run(
        f"archive_split_{kind}",
        _seeds()[kind],
        _split_walker(tmp_path),
        n=harness.cases(60),
        damaged=damaged,
        max_case_s=10,
    )
    report.check()


@pytest.mark.parametrize("kind", ["zip", "tar", "tar_gz", "nested"])
def test_archive_walk_fuzz(kind: str, tmp_path: Path) -> None:
    damaged = {"zip": _zip_damager, "tar": _tar_damager}.get(kind)
    report = harness.run(
        f"archive_{kind}",
        _seeds()[kind],
        _walker(tmp_path),
        n=harness.cases(60),
        damaged=damaged,
        max_case_s=10,
    )
    report.check()


@pytest.mark.skipif(not shutil.which("mke2fs"), reason="e2fsprogs not installed")
def test_disk_image_walk_fuzz(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    (staging / "Pictures").mkdir(parents=True)
    for name, data in MEMBERS.items():
        (staging / "Pictures" / name.rsplit("/", 1)[-1]).write_bytes(data)
    img = tmp_path / "disk.dd"
    done = subprocess.run(
        ["mke2fs", "-q", "-F", "-t", "ext2", "-b", "1024", "-d", str(staging), str(img), "256K"],
        capture_output=True,
        check=False,
        env={**os.environ, "E2FSPROGS_FAKE_TIME": "1700000000"},
    )
    assert done.returncode == 0, done.stderr
    seed = img.read_bytes()
    walked = _walker(tmp_path / "run")
    (tmp_path / "run").mkdir()
    found = _by_name(walked(seed))
    assert found["Pictures/file0.txt"].data or found["Pictures/file0.txt"].has_content
    report = harness.run("disk_raw", [seed], walked, n=harness.cases(40), max_case_s=20)
    report.check()
