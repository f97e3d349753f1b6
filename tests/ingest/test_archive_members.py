"""A zip or plain tar archive's members are read by the workers themselves (one archive spreads
over workers), with the store the walker-reads-everything path gives, damage included.

The walker lists the archive and hands out :class:`ArchiveMember` locators; each worker opens
the archive read-only and reads its chunk's members. The reference is the same ingest with
``split_archives`` off (every member read by the walker and sent as bytes), and the oracle is
the SHA-256 of every member as it was written.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import tarfile
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vigil.demo import jpeg_bytes, synthetic_picture
from vigil.evidence.archive import ArchiveMember, close_archives, read_member
from vigil.evidence.walk import Entry, Walker
from vigil.ingest import pipeline
from vigil.ingest.pipeline import ingest
from vigil.ingest.worker import Task, close_worker, init_worker, process_many
from vigil.settings import IngestLimits, Settings
from vigil.store.db import Database

Dump = Callable[[Database], dict[str, Any]]


def photos(count: int, side: tuple[int, int] = (160, 120)) -> dict[str, bytes]:
    """Generated photos, each a distinct item (a few trailing bytes) with the same pixels."""
    base = jpeg_bytes(synthetic_picture(np.random.default_rng(11), *side), quality=85)
    return {
        f"DCIM/{i // 100:03d}/img{i:04d}.jpg": base + i.to_bytes(4, "big") for i in range(count)
    }


def build_zip(path: Path, members: dict[str, bytes]) -> dict[bytes, str]:
    """A deflated zip of ``members``; returns the oracle (member path → SHA-256)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return {
        path.name.encode() + b"!/" + name.encode(): hashlib.sha256(data).hexdigest()
        for name, data in members.items()
    }


def _tar_bytes(members: dict[str, bytes], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build_damaged(root: Path) -> Path:
    """Archives with every kind of damage the walker reports, and nested archives."""
    root.mkdir(parents=True)
    pics = photos(30)
    text = {f"t{i}.txt": f"text {i} ".encode() * 300 for i in range(4)}
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("nested/a.txt", "a zip inside a zip is expanded by the walker")
        zf.writestr("nested/b.jpg", next(iter(pics.values())) + b"nested")
    # a.zip: photos, text, a nested zip and a nested tar.gz, a duplicate name, damaged members
    with zipfile.ZipFile(root / "a.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in {**pics, **text}.items():
            zf.writestr(name, data)
        zf.writestr("r.bin", np.random.default_rng(2).bytes(64 * 1024))  # > the head read
        zf.writestr("inner.zip", inner.getvalue())
        zf.writestr("inner.tar.gz", _tar_bytes(text, "w:gz"))
        zf.writestr("../climbs.txt", b"path traversal is recorded, never extracted")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # zipfile: "Duplicate name"
            zf.writestr("t0.txt", b"a second member named t0.txt")
    data = bytearray((root / "a.zip").read_bytes())
    with zipfile.ZipFile(root / "a.zip") as zf:
        infos = {i.filename: i for i in zf.infolist()}
    for name, where in (("t1.txt", 0.0), ("r.bin", 0.6)):  # damaged at the start / the middle
        info = infos[name]
        start = info.header_offset + 30 + len(info.filename) + int(info.compress_size * where)
        data[start : start + 8] = b"\xff" * 8
    info = infos[next(iter(pics))]  # stored bytes changed: only the CRC check at the end sees it
    start = info.header_offset + 30 + len(info.filename) + info.compress_size - 4
    data[start] ^= 0x01
    (root / "a.zip").write_bytes(bytes(data))
    # b.tar: members, a damaged header, a nested tar.gz; c.tar: truncated in its last member
    tar = bytearray(_tar_bytes({**text, "nested.tar.gz": _tar_bytes(text, "w:gz"), **pics}))
    with tarfile.open(fileobj=io.BytesIO(bytes(tar))) as tf:
        offset = tf.getmember("t1.txt").offset
    tar[offset + 150] ^= 0x10  # inside the checksum field
    (root / "b.tar").write_bytes(bytes(tar))
    whole = _tar_bytes({**pics, "r.bin": np.random.default_rng(3).bytes(64 * 1024)})
    with tarfile.open(fileobj=io.BytesIO(whole)) as tf:
        last = tf.getmembers()[-1]
    (root / "c.tar").write_bytes(whole[: last.offset_data + last.size // 2])  # past its head
    # d.tar.gz: compressed, streamed by the walker
    (root / "d.tar.gz").write_bytes(_tar_bytes({**pics, **text}, "w:gz"))
    return root


def _settings(home: Path, split: bool, **limits: Any) -> Settings:
    settings = Settings.load(home, limits={"split_archives": split, **limits})
    settings.data_dir.mkdir(parents=True)
    return settings


def test_walker_hands_out_archive_members_instead_of_reading_them(tmp_path: Path) -> None:
    evidence = build_damaged(tmp_path / "ev")
    limits = IngestLimits()
    read_here = list(Walker(evidence, limits, tmp_path / "spool"))
    located = list(Walker(evidence, limits, tmp_path / "spool", locate_archive_members=True))
    # the same entries; only damage the walker no longer reads itself differs (the workers
    # find it: see the store test below)
    assert [(e.raw_path, e.depth, e.size) for e in located] == [
        (e.raw_path, e.depth, e.size) for e in read_here
    ]
    differ = {e.raw_path for e, r in zip(located, read_here, strict=True) if e.status != r.status}
    assert differ == {b"a.zip!/r.bin", b"a.zip!/DCIM/000/img0000.jpg"}
    by_path: dict[bytes, Entry] = {e.raw_path: e for e in located}
    photo = by_path[b"a.zip!/DCIM/000/img0003.jpg"]
    assert isinstance(photo.member, ArchiveMember) and photo.data is None and photo.has_content
    assert photo.member.archive == str(evidence / "a.zip") and photo.member.kind == "zip"
    assert by_path[b"b.tar!/DCIM/000/img0003.jpg"].member is not None
    # containers inside are read and expanded by the walker, a compressed tar is streamed
    assert by_path[b"a.zip!/inner.zip"].data is not None
    assert by_path[b"a.zip!/inner.zip!/nested/b.jpg"].data is not None
    assert by_path[b"b.tar!/nested.tar.gz!/t3.txt"].data is not None
    assert by_path[b"d.tar.gz!/DCIM/000/img0003.jpg"].data is not None
    assert by_path[b"d.tar.gz!/DCIM/000/img0003.jpg"].member is None
    # the member damaged at its start is found damaged by the walker's read of its head
    assert by_path[b"a.zip!/t1.txt"].warnings[0][0] == "damaged"
    # the second member named t0.txt is located by its place in the directory, not by name
    second = by_path[b"a.zip!/t0.txt [duplicate name 2]"].member
    assert isinstance(second, ArchiveMember)
    assert b"".join(read_member(second)) == b"a second member named t0.txt"
    # what every located member reads back is what the walker reads itself
    here = {e.raw_path: e.data for e in read_here if e.data is not None}
    for entry in located:
        if isinstance(entry.member, ArchiveMember) and entry.raw_path in here:
            assert b"".join(read_member(entry.member)) == here[entry.raw_path], entry.raw_path
    close_archives()


def test_a_damaged_member_is_refused_with_the_walkers_words(tmp_path: Path) -> None:
    evidence = build_damaged(tmp_path / "ev")
    read_here = {e.raw_path: e for e in Walker(evidence, IngestLimits(), tmp_path / "spool")}
    located = {
        e.raw_path: e
        for e in Walker(evidence, IngestLimits(), tmp_path / "spool", locate_archive_members=True)
    }
    names = [b"a.zip!/r.bin", b"a.zip!/DCIM/000/img0000.jpg", b"a.zip!/t3.txt"]
    member = located[names[2]].member
    assert isinstance(member, ArchiveMember)
    moved = ArchiveMember(member.archive, "zip", "elsewhere.txt", member.index, 0, 10)
    init_worker(None, (), False, None, str(tmp_path / "spool"))
    try:
        results = process_many(
            [Task(i, raw, member=located[raw].member) for i, raw in enumerate(names)]
            + [Task(9, b"moved", member=moved)]
        )
    finally:
        close_worker()
    for raw, result in zip(names[:2], results, strict=False):
        assert result.digests is None and result.error is None
        # the walker, reading the member itself, gives the same code and message
        assert read_here[raw].status == "skipped"
        assert result.refused == read_here[raw].warnings[0], raw
    assert results[2].digests is not None and results[2].refused is None
    assert results[3].refused is not None and "changed since it was listed" in results[3].refused[1]


def test_split_archives_give_the_store_of_the_walker_reading_them(
    tmp_path: Path, dump: Dump
) -> None:
    evidence = build_damaged(tmp_path / "ev")
    stores = {}
    for split in (False, True):
        settings = _settings(tmp_path / f"split-{split}", split, spool_in_memory=4096)
        db = Database(settings.database_url)
        report = ingest(settings, db, evidence, "arch", "tester", [], workers=0)
        assert report.archive_member_workers == (1 if split else 0), report
        assert not settings.spool_dir.exists() or not any(settings.spool_dir.rglob("*"))
        stores[split] = dump(db)
        db.dispose()
    assert stores[True] == stores[False]
    codes = {(raw, code) for raw, code, _m in stores[True]["warnings"]}
    for expected in (
        (b"a.zip!/t1.txt", "damaged"),  # found by the walker (its head)
        (b"a.zip!/r.bin", "damaged"),  # found by the worker (mid-stream)
        (b"a.zip!/DCIM/000/img0000.jpg", "damaged"),  # found by the worker (CRC)
        (b"a.zip!/../climbs.txt", "unsafe_path"),
        (b"a.zip!/t0.txt [duplicate name 2]", "duplicate_member_name"),
        (b"c.tar!/", "archive_damaged"),
    ):
        assert expected in codes, expected
    assert any(raw.startswith(b"b.tar!/[damaged bytes") for raw, _c in codes)
    occurrences = {o[0]: o for o in stores[True]["occurrences"]}
    assert occurrences[b"a.zip!/inner.zip!/nested/b.jpg"][3] == "ok"
    assert occurrences[b"b.tar!/t3.txt"][3] == "ok" and b"b.tar!/t1.txt" not in occurrences


@pytest.mark.slow
def test_one_zip_spreads_over_the_local_workers(tmp_path: Path, dump: Dump) -> None:
    zip_path = tmp_path / "ev" / "card.zip"
    expected = build_zip(zip_path, photos(300, (320, 240)))
    stores, reports = {}, {}
    for split in (False, True):
        settings = _settings(tmp_path / f"split-{split}", split)
        db = Database(settings.database_url)
        reports[split] = ingest(settings, db, zip_path, "card", "tester", ["pdq"], workers=2)
        stores[split] = dump(db)
        db.dispose()
    # both workers read members of the one archive themselves
    assert reports[True].archive_member_workers == 2, reports[True]
    assert reports[False].archive_member_workers == 0
    assert stores[True] == stores[False]
    members = {o[0]: o[1] for o in stores[True]["occurrences"] if b"!/" in o[0]}
    assert members == expected


def _count(db_file: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("select count(*) from occurrences").fetchone()[0])
    except sqlite3.Error:
        return 0


def _run(home: Path, *args: str) -> None:
    env = {**os.environ, "VIGIL_HOME": str(home), "VIGIL_USER": "tester"}
    done = subprocess.run(
        [sys.executable, "-m", "vigil.cli.main", *args],
        env=env,
        capture_output=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()


@pytest.mark.slow
def test_a_killed_ingest_of_one_zip_resumes_to_the_same_store(tmp_path: Path, dump: Dump) -> None:
    zip_path = tmp_path / "ev" / "card.zip"
    expected_members = build_zip(zip_path, photos(600, (480, 360)))
    args = ("ingest", str(zip_path), "--case", "kill", "--workers", "2", "--profile", "fast",
            "--quiet")  # fmt: skip
    _run(tmp_path / "ref", *args)
    ref_db = Database(Settings.load(tmp_path / "ref").database_url)
    expected = dump(ref_db)
    ref_db.dispose()
    total = len(expected["occurrences"])
    assert {o[0]: o[1] for o in expected["occurrences"] if b"!/" in o[0]} == expected_members

    home = tmp_path / "killed"
    env = {**os.environ, "VIGIL_HOME": str(home), "VIGIL_USER": "tester"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vigil.cli.main", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while _count(home / "vigil.db") < 50 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    at_kill = _count(home / "vigil.db")
    assert 0 < at_kill < total, f"the kill must land mid-ingest (recorded {at_kill} of {total})"
    _run(home, *args)
    db = Database(Settings.load(home).database_url)
    assert dump(db) == expected
    db.dispose()


def test_threads_read_members_of_several_archives_at_once(
    tmp_path: Path, dump: Dump, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without analyzers, where workers are not forked, members are read by threads of the
    ingest process: each keeps its own open archive (a shared file position would mix members'
    bytes)."""
    monkeypatch.setattr(pipeline, "_fork_safe", lambda: False)
    evidence = build_damaged(tmp_path / "ev")
    build_zip(evidence / "card.zip", photos(120, (160, 120)))
    build_zip(evidence / "card2.zip", photos(120, (120, 160)))
    stores = {}
    for label, split, workers in (("walker", False, 0), ("threads", True, 2)):
        settings = _settings(tmp_path / label, split, spool_in_memory=4096)
        db = Database(settings.database_url)
        report = ingest(settings, db, evidence, "arch", "tester", [], workers=workers)
        stores[label] = dump(db)
        db.dispose()
        if split:
            assert report.archive_member_workers == 1 and report.worker_processes == 1, report
    assert stores["threads"] == stores["walker"]
