from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from vigil.errors import InvalidInput, NotFound
from vigil.ingest.pipeline import ingest
from vigil.settings import Settings
from vigil.store import audit, repo
from vigil.store.db import Database
from vigil.store.models import MediaItem, Occurrence

Dump = Callable[[Database], dict[str, Any]]


def tree_state(root: Path) -> dict[str, tuple[str, int, int]]:
    """(sha256, mtime_ns, mode) of every regular file and link under root."""
    state: dict[str, tuple[str, int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + dirnames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            if p.is_symlink():
                state[str(p)] = (os.readlink(p), st.st_mtime_ns, st.st_mode)
            elif p.is_file():
                state[str(p)] = (
                    hashlib.sha256(p.read_bytes()).hexdigest(),
                    st.st_mtime_ns,
                    st.st_mode,
                )
    return state


def test_demo_ingest_records_everything_and_leaves_evidence_untouched(
    settings: Settings, db: Database, evidence_copy: Path, dump: Dump
) -> None:
    before = tree_state(evidence_copy)
    report = ingest(settings, db, evidence_copy, "op-test", "tester")
    assert tree_state(evidence_copy) == before, "evidence must never be modified"
    data = dump(db)
    paths = {o[0]: o for o in data["occurrences"]}
    # every file and member is accounted for
    assert b"DCIM/IMG_1000.JPG" in paths
    assert b"Downloads/holiday.zip!/holiday/more.tar.gz!/nested/pic2.jpg" in paths
    assert b"DCIM/VID_0001.mp4" in paths
    assert report.files == len(data["occurrences"])
    # duplicates: same bytes under three names → one item, three occurrences
    with db.read() as s:
        first = s.execute(
            select(Occurrence.item_id).where(Occurrence.raw_path == b"DCIM/IMG_1000.JPG")
        ).scalar_one()
        n = s.execute(select(func.count()).where(Occurrence.item_id == first)).scalar_one()
        item = s.get(MediaItem, first)
    assert n == 2
    assert item is not None
    assert (item.kind, item.content_type, item.width, item.height) == ("photo", "jpeg", 320, 240)
    assert (item.camera_make, item.camera_model, item.camera_serial) == (
        "VigilSynth",
        "SX-100",
        "SN0001",
    )
    assert item.gps_lat is not None and abs(item.gps_lat - 51.5) < 0.02
    assert item.captured_at == "2024-01-10T10:00:00"
    assert (
        hashlib.sha256((evidence_copy / "DCIM/IMG_1000.JPG").read_bytes()).hexdigest()
        == item.sha256
    )
    # renamed.dat is detected as JPEG by content, not by extension
    renamed = next(o for o in data["occurrences"] if o[0] == b"Downloads/renamed.dat")
    assert renamed[1] in {i[0] for i in data["items"] if i[4] == "jpeg"}
    # video metadata
    video = next(i for i in data["items"] if i[5] == "video")
    assert (video[6], video[7]) == (96, 64)
    # bad input became warnings, the job went on
    warning_codes = {(w[0], w[1]) for w in data["warnings"]}
    assert (b"bad/bomb.zip!/zeros.bin", "zip_bomb") in warning_codes
    assert (b"bad/truncated.jpg", "corrupt_image") in warning_codes
    assert (b"bad/traversal.zip!/../../escaped.jpg", "unsafe_path") in warning_codes
    assert (b"bad/loop_a", "symlink_loop") in warning_codes
    assert (b"bad/caf\xe9_latin1_name.jpg", "non_utf8_name") in warning_codes
    truncated = next(
        i
        for i in data["items"]
        if i[0] == next(o[1] for o in data["occurrences"] if o[0] == b"bad/truncated.jpg")
    )
    assert truncated[-1] == "damaged"
    # the disk image's files were read through The Sleuth Kit
    if shutil.which("mke2fs"):
        assert b"usb_stick.dd!/Pictures/disk0.jpg" in paths
        dup = paths[b"usb_stick.dd!/Pictures/dup_of_IMG_1003.jpg"]
        assert dup[1] == paths[b"DCIM/IMG_1003.JPG"][1]
    # nothing was written outside the data folder, and the spool was emptied
    assert not any(settings.spool_dir.rglob("*")) if settings.spool_dir.exists() else True
    with db.read() as s:
        assert audit.verify(s).entries >= 4


def test_rerun_records_nothing_new(
    settings: Settings, db: Database, evidence_copy: Path, dump: Dump
) -> None:
    ingest(settings, db, evidence_copy, "c", "tester", workers=0)
    first = dump(db)
    again = ingest(settings, db, evidence_copy, "c", "tester", workers=0)
    assert again.files == 0
    assert dump(db) == first


def test_parallel_and_inline_ingest_agree(tmp_path: Path, evidence_copy: Path, dump: Dump) -> None:
    results = []
    for workers in (0, 2):
        s = Settings.load(tmp_path / f"home{workers}", workers=workers)
        s.data_dir.mkdir(parents=True)
        d = Database(s.database_url)
        ingest(s, d, evidence_copy, "c", "tester")
        results.append(dump(d))
        d.dispose()
    assert results[0] == results[1]


def test_same_content_in_a_second_case_is_not_processed_again(
    settings: Settings, db: Database, evidence_copy: Path
) -> None:
    ingest(settings, db, evidence_copy / "DCIM", "one", "tester", workers=0)
    report = ingest(settings, db, evidence_copy / "DCIM", "two", "tester", workers=0)
    assert report.new_items == 0
    assert report.duplicates == report.files
    with db.read() as s:
        one, two = repo.get_case(s, "one"), repo.get_case(s, "two")
        assert [i.id for i in repo.case_items(s, one.id)] == [
            i.id for i in repo.case_items(s, two.id)
        ]


def test_bad_paths_are_refused_clearly(settings: Settings, db: Database, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        ingest(settings, db, tmp_path / "nope", "c", "tester")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with pytest.raises(InvalidInput, match="data folder"):
        ingest(settings, db, settings.data_dir, "c", "tester")
    (tmp_path / "ok").mkdir()
    with pytest.raises(InvalidInput, match="case name"):
        ingest(settings, db, tmp_path / "ok", "   ", "tester")


@pytest.mark.skipif(
    not shutil.which("ewfacquire") or not shutil.which("mke2fs"),
    reason="ewf-tools / e2fsprogs not installed",
)
def test_e01_disk_image(settings: Settings, db: Database, tmp_path: Path) -> None:
    import numpy as np

    from vigil.demo import jpeg_bytes, synthetic_picture

    staging = tmp_path / "staging"
    staging.mkdir()
    pic = jpeg_bytes(synthetic_picture(np.random.default_rng(1), 64, 48))
    (staging / "photo.jpg").write_bytes(pic)
    raw = tmp_path / "disk.raw"
    subprocess.run(
        ["mke2fs", "-q", "-F", "-t", "ext4", "-d", str(staging), str(raw), "2M"], check=True
    )
    ev = tmp_path / "ev"
    ev.mkdir()
    subprocess.run(
        [
            "ewfacquire",
            "-u",
            "-q",
            "-t",
            str(ev / "disk"),
            "-f",
            "encase6",
            "-c",
            "deflate:fast",
            "-S",
            "0",
            str(raw),
        ],
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    assert (ev / "disk.E01").exists()
    ingest(settings, db, ev / "disk.E01", "e01", "tester", workers=0)
    with db.read() as s:
        occ = s.execute(
            select(Occurrence).where(Occurrence.raw_path == b"disk.E01!/photo.jpg")
        ).scalar_one()
        item = s.get(MediaItem, occ.item_id)
        source = repo.case_sources(s, repo.get_case(s, "e01").id)[0]
    assert item is not None and item.sha256 == hashlib.sha256(pic).hexdigest()
    assert source.kind == "disk_image"
    assert source.sha256 == hashlib.sha256((ev / "disk.E01").read_bytes()).hexdigest()


@pytest.mark.postgres
def test_postgresql_backend_gives_the_same_result(
    settings: Settings, db: Database, evidence_copy: Path, dump: Dump, pg_url: str
) -> None:
    ingest(settings, db, evidence_copy, "pg", "tester")
    pg = Database(pg_url)
    try:
        pg_settings = Settings.load(settings.data_dir, database_url=pg_url)
        ingest(pg_settings, pg, evidence_copy, "pg", "tester")
        assert dump(pg) == dump(db)
        again = ingest(pg_settings, pg, evidence_copy, "pg", "tester")
        assert again.files == 0
        with pg.read() as s:
            assert audit.verify(s).entries >= 4
    finally:
        pg.dispose()
