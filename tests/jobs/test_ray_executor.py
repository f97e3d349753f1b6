"""The Ray executor: same store as the local executor, and resumable after a SIGKILL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from vigil.plugins import load_defaults
from vigil.settings import Settings
from vigil.store.db import Database
from vigil.store.hashsets import ItemSignal
from vigil.store.models import ItemAnalysis, Job, MediaItem

ray = pytest.importorskip("ray")

from _shared import load_ingest_module, private_ray  # noqa: E402 - tests/jobs/_shared.py

from vigil.ingest.pipeline import ingest  # noqa: E402 - only with Ray present
from vigil.jobs.ray_executor import RayExecutor  # noqa: E402

_resume = load_ingest_module("test_resume")
_ingest_conftest = load_ingest_module("conftest")
_disk = load_ingest_module("test_disk_members")
_archive = load_ingest_module("test_archive_members")
big_evidence = _resume.big_evidence  # the module-scoped generated seizure (photos, zip, bad file)


@pytest.fixture(scope="module")
def disk_evidence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ext4 image of 400 generated photos (and a zip, a large file ...): its files are read
    by the Ray workers themselves."""
    if not shutil.which("mke2fs"):
        pytest.skip("e2fsprogs not installed")
    return Path(_disk.build_image(tmp_path_factory.mktemp("disk"), photos=400, side=(480, 360)))


@pytest.fixture(scope="module")
def archive_evidence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One zip of 400 generated photos: its members are read by the Ray workers themselves."""
    path = tmp_path_factory.mktemp("archive") / "card.zip"
    _archive.build_zip(path, _archive.photos(400, (480, 360)))
    return Path(path)


ARGS = ("--profile", "fast", "--quiet")
"""PDQ (and vPDQ) give every photo a signal to compare; the pipeline is under test."""


def dump(db: Database) -> dict[str, Any]:
    """Items (digests), occurrences, warnings, sources, signals and analyses, id-independent."""
    # two files with the same bytes (img0001.jpg and copy.jpg of the disk image) reach the
    # writer in the order their tasks finish: an item's warnings are compared by item
    out = _ingest_conftest.canonical(db, warnings_by_item=True)
    with db.read() as s:
        sha = {i.id: i.sha256 for i in s.execute(select(MediaItem)).scalars()}
        out["signals"] = sorted(
            (sha[g.item_id], g.signal_type, g.frame, g.value, g.quality, g.status, g.reason)
            for g in s.execute(select(ItemSignal)).scalars()
        )
        out["analyses"] = sorted(
            (sha[a.item_id], a.analyzer, a.version, a.status)
            for a in s.execute(select(ItemAnalysis)).scalars()
        )
    return out


@pytest.fixture
def local_ray() -> Iterator[None]:
    """A private two-CPU Ray instance on 127.0.0.1, shut down after the test."""
    with private_ray():
        yield


@pytest.mark.slow
def test_ray_executor_gives_the_local_executors_store(
    local_ray: None, big_evidence: Path, tmp_path: Path
) -> None:
    # the executor itself: results and the task's own exception come back through futures
    pool = RayExecutor()
    assert pool.max_workers == 2
    assert pool.submit(pow, 2, 10).result(timeout=120) == 1024
    assert pool.submit(os.getpid).result(timeout=120) != os.getpid()  # ran in a Ray worker
    with pytest.raises(ValueError, match="invalid literal"):
        pool.submit(int, "not a number").result(timeout=120)
    pool.shutdown()
    assert ray.is_initialized(), "an instance the executor did not start is left running"
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(pow, 2, 2)

    load_defaults()
    stores = {}
    for executor in ("local", "ray"):
        settings = Settings.load(tmp_path / executor, workers=2)
        db = Database(settings.database_url)
        report = ingest(
            settings, db, big_evidence, "same", "tester", ["pdq", "vpdq"], executor=executor
        )
        assert report.files == 602, report
        stores[executor] = dump(db)
        db.dispose()
    assert stores["ray"]["signals"], "PDQ ran on the Ray workers"
    assert len(stores["ray"]["occurrences"]) == 602
    assert stores["ray"] == stores["local"]


def _descendants(pid: int) -> list[int]:
    todo, found = [pid], []
    while todo:
        kids = _resume._children(todo.pop())
        found += kids
        todo += kids
    return found


@pytest.mark.slow
@pytest.mark.parametrize("source", ["big_evidence", "disk_evidence", "archive_evidence"])
def test_ray_ingest_resumes_after_sigkill(
    source: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    evidence: Path = request.getfixturevalue(source)
    ref_home = tmp_path / "ref"
    _resume._run(ref_home, "ingest", str(evidence), "--case", "kill", "--workers", "2", *ARGS)
    ref_db = Database(Settings.load(ref_home).database_url)
    expected = dump(ref_db)
    total = len(expected["occurrences"])

    args = ("ingest", str(evidence), "--case", "kill", "--executor", "ray", "-j", "2", *ARGS)
    home = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vigil.cli.main", *args],
        env=_resume._env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db_file = home / "vigil.db"
    deadline = time.monotonic() + 180
    while _resume._count(db_file) < 50 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    ray_processes = _descendants(proc.pid)  # the private instance: GCS, raylet, workers
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    at_kill = _resume._count(db_file)
    assert 0 < at_kill < total, f"the kill must land mid-ingest (recorded {at_kill} of {total})"
    assert ray_processes, "the killed ingest should have started Ray processes"

    _resume._run(home, *args)
    # the private Ray instance shares the ingest's fate instead of lingering (its node agents
    # notice the raylet is gone within about 40 s, while the resumed run works)
    deadline = time.monotonic() + 90
    while any(_resume._alive(p) for p in ray_processes) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not [p for p in ray_processes if _resume._alive(p)], "Ray outlived the killed ingest"
    db = Database(Settings.load(home).database_url)
    assert dump(db) == expected
    with db.read() as s:
        jobs = list(s.execute(select(Job)).scalars())
    assert [(j.status, j.attempts) for j in jobs] == [("done", 2)]
    ref_db.dispose()
    db.dispose()
