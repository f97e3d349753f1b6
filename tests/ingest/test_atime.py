"""Ingest leaves the evidence's access times alone (O_NOATIME, libraries included).

Pillow, PyAV, The Sleuth Kit and libewf would each open an evidence file by path themselves,
without ``O_NOATIME``, if handed the path; Vigil hands them its own read-only handle instead.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from vigil.ingest.pipeline import ingest
from vigil.settings import Settings
from vigil.store import repo
from vigil.store.db import Database
from vigil.store.models import Occurrence

OLD_NS = 1_000_000_000 * 10**9  # 2001-09-09: old enough that relatime updates it on a read


def _set_old_atime(path: Path) -> None:
    os.utime(path, ns=(OLD_NS, os.lstat(path).st_mtime_ns), follow_symlinks=False)


def _skip_unless_reads_move_atime(folder: Path) -> None:
    if not hasattr(os, "O_NOATIME"):
        pytest.skip("this OS has no O_NOATIME: reads cannot avoid moving access times")
    probe = folder / "atime-probe"
    probe.write_bytes(b"probe\n")
    _set_old_atime(probe)
    with open(probe, "rb") as fh:  # a plain read, as a library opening the path would do
        fh.read()
    moved = os.stat(probe).st_atime_ns != OLD_NS
    probe.unlink()
    if not moved:
        pytest.skip(f"the file system under {folder} never updates access times (noatime?)")


def _add_e01(ev: Path) -> bool:
    """An EnCase copy of the demo's raw disk image, next to it (when ewf-tools is installed)."""
    raw = ev / "usb_stick.dd"
    if not shutil.which("ewfacquire") or not raw.exists():
        return False
    (ev / "e01").mkdir()
    subprocess.run(
        [
            *("ewfacquire", "-u", "-q", "-t", str(ev / "e01" / "disk"), "-f", "encase6"),
            *("-c", "deflate:fast", "-S", "0", str(raw)),
        ],
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    return (ev / "e01" / "disk.E01").exists()


def test_ingest_keeps_access_times_of_every_evidence_file(
    settings: Settings, db: Database, evidence_copy: Path
) -> None:
    _skip_unless_reads_move_atime(evidence_copy)
    has_e01 = _add_e01(evidence_copy)
    paths = [evidence_copy]
    for dirpath, dirnames, filenames in os.walk(evidence_copy):
        paths += [Path(dirpath) / name for name in dirnames + filenames]
    paths = [p for p in paths if not p.is_symlink()]
    for p in paths:  # after the walk above, which itself reads the folders
        _set_old_atime(p)
    kinds = {p.suffix.lower() for p in paths}
    assert {".jpg", ".png", ".mp4", ".zip", ".dd"} <= kinds  # photo, PNG, video, archive, disk
    assert not has_e01 or ".e01" in kinds

    ingest(settings, db, evidence_copy, "first", "tester", workers=0)
    ingest(settings, db, evidence_copy, "second", "tester", workers=0)

    moved = sorted(
        str(p.relative_to(evidence_copy)) for p in paths if os.stat(p).st_atime_ns != OLD_NS
    )
    assert moved == [], f"ingest moved the access time of {moved}"
    old = dt.datetime.fromtimestamp(OLD_NS / 1e9, dt.UTC).replace(tzinfo=None)
    recorded: dict[str, dict[bytes, dt.datetime | None]] = {}
    with db.read() as s:
        for case in ("first", "second"):
            sources = [src.id for src in repo.case_sources(s, repo.get_case(s, case).id)]
            rows = s.execute(
                select(Occurrence.raw_path, Occurrence.atime).where(
                    Occurrence.source_id.in_(sources)
                )
            ).all()
            recorded[case] = {raw: atime for raw, atime in rows if b"!/" not in raw}
    # what the second ingest saw is what the first saw: the old time, set before either
    assert recorded["first"] == recorded["second"]
    for raw in (b"DCIM/VID_0001.mp4", b"Downloads/screen0.png", b"usb_stick.dd"):
        atime = recorded["first"][raw]
        assert atime is not None and atime.replace(tzinfo=None) == old, raw
