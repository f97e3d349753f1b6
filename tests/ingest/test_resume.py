"""Kill -9 in the middle of an ingest, re-run it, and get exactly what an uninterrupted run gets."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vigil.demo import jpeg_bytes, synthetic_picture
from vigil.settings import Settings
from vigil.store.db import Database

Dump = Callable[..., dict[str, Any]]


@pytest.fixture(scope="module")
def big_evidence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(3)
    root = tmp_path_factory.mktemp("big") / "ev"
    (root / "a").mkdir(parents=True)
    pics = [jpeg_bytes(synthetic_picture(rng, 480, 360), quality=80) for _ in range(60)]
    for i in range(360):
        # many distinct files (a few bytes of trailer make each unique) and some exact duplicates
        data = pics[i % 60] + (b"" if i % 7 == 0 else i.to_bytes(4, "big"))
        (root / "a" / f"p{i:04d}.jpg").write_bytes(data)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(240):
            zf.writestr(f"z/m{i:04d}.jpg", pics[i % 60] + b"zip" + i.to_bytes(4, "big"))
    (root / "b.zip").write_bytes(buf.getvalue())
    (root / "bad.jpg").write_bytes(pics[0][:500])
    return root


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "VIGIL_HOME": str(home), "VIGIL_USER": "tester"}


def _run(home: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "vigil.cli.main", *args],
        env=_env(home),
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()


def _children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (Linux /proc)."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        kids += [int(k) for k in text]
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def _count(db_file: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("select count(*) from occurrences").fetchone()[0])
    except sqlite3.Error:
        return 0


def _start_and_kill(home: Path, args: tuple[str, ...], at_least: int) -> tuple[list[int], int]:
    """Start the ingest, SIGKILL it once ``at_least`` occurrences are committed; its child
    processes at the kill and how many occurrences it had recorded."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "vigil.cli.main", *args],
        env=_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db_file = home / "vigil.db"
    deadline = time.monotonic() + 120
    while _count(db_file) < at_least and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    children = _children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return children, _count(db_file)


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted(
    big_evidence: Path, tmp_path: Path, dump: Dump
) -> None:
    # the pipeline is under test, not the analyzers: PDQ and scene features as before faces
    # joined the default profile (600 photos through face detection would take minutes)
    args = ("ingest", str(big_evidence), "--case", "kill", "--workers", "1", "--deep", "--quiet",
            "--profile", "fast", "--analyzer", "scene")  # fmt: skip
    # the reference: one uninterrupted run
    ref_home = tmp_path / "ref"
    _run(ref_home, *args)
    ref_db = Database(Settings.load(ref_home).database_url)
    expected = dump(ref_db)
    total = len(expected["occurrences"])
    assert total > 600

    # the interrupted run: SIGKILL once some batches are committed
    home = tmp_path / "killed"
    workers, at_kill = _start_and_kill(home, args, 50)
    # its worker processes notice and exit instead of lingering as orphans
    deadline = time.monotonic() + 15
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert workers, "the killed ingest should have had worker processes"
    assert not [w for w in workers if _alive(w)], "orphaned ingest workers survived the kill"
    assert 0 < at_kill < total, f"the kill must land mid-ingest (recorded {at_kill} of {total})"

    _run(home, *args)
    db = Database(Settings.load(home).database_url)
    got = dump(db)
    assert got == expected
    # and the job history tells the truth: one job, two attempts, finished
    with db.read() as s:
        from sqlalchemy import select

        from vigil.store.models import Job

        jobs = list(s.execute(select(Job)).scalars())
    assert len(jobs) == 1
    assert (jobs[0].status, jobs[0].attempts) == ("done", 2)
    ref_db.dispose()
    db.dispose()


@pytest.mark.slow
def test_sigkill_then_resume_without_analyzers_forked(
    big_evidence: Path, tmp_path: Path, dump: Dump
) -> None:
    """Without analyzers the command forks its workers from the ingest process: after a kill
    they exit instead of lingering as orphans, and the re-run still completes the job exactly."""
    args = ("ingest", str(big_evidence), "--case", "kill", "--workers", "2", "--deep", "--quiet",
            "--no-analyzers")  # fmt: skip
    ref_home = tmp_path / "ref"
    _run(ref_home, *args)
    ref_db = Database(Settings.load(ref_home).database_url)
    expected = dump(ref_db, warnings_by_item=True)
    total = len(expected["occurrences"])
    assert total > 600

    home = tmp_path / "killed"
    workers, at_kill = _start_and_kill(home, args, 1)
    assert len(workers) == 2, "the command forks one worker per --workers"
    deadline = time.monotonic() + 15
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)], "orphaned ingest workers survived the kill"
    assert 0 < at_kill < total, f"the kill must land mid-ingest (recorded {at_kill} of {total})"

    _run(home, *args)
    db = Database(Settings.load(home).database_url)
    assert dump(db, warnings_by_item=True) == expected
    ref_db.dispose()
    db.dispose()
