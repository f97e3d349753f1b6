"""Without analyzers, where workers cannot be forked (:mod:`test_forked`), the per-file work runs
in threads of the writer process (issue 16): the same rows as in-process and worker-process
ingest, no worker process started for plain files, and a disk image's files still read by worker
processes (started on the first such chunk)."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import pytest

from vigil.ingest import pipeline, threads, worker
from vigil.ingest.worker import Task
from vigil.settings import Settings
from vigil.store.db import Database

Dump = Callable[[Database], dict[str, Any]]


def test_threads_give_what_processes_and_inline_give(
    tmp_path: Path, evidence_copy: Path, dump: Dump, monkeypatch: pytest.MonkeyPatch
) -> None:
    pools: list[int] = []
    real = pipeline._WorkerPool

    def counted(*args: Any, **kwargs: Any) -> Executor:
        pools.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_WorkerPool", counted)
    monkeypatch.setattr(pipeline, "_fork_safe", lambda: False)  # threads, even in a fresh process
    stores = {}
    for label, workers in (("inline", 0), ("threads", 2)):
        s = Settings.load(tmp_path / label, workers=workers)
        s.data_dir.mkdir(parents=True)
        d = Database(s.database_url)
        report = pipeline.ingest(s, d, evidence_copy, "c", "tester", [], workers=workers)
        stores[label] = dump(d)
        d.dispose()
        assert report.files > 5
        if label == "threads":
            # the demo evidence holds a disk image: its files, and only those, went to a worker
            # process started for them; every other file was read by this process
            assert report.image_member_workers == 1
            assert report.worker_processes == 2
            assert pools == [1]
    s = Settings.load(tmp_path / "photos", workers=2)
    s.data_dir.mkdir(parents=True)
    d = Database(s.database_url)
    report = pipeline.ingest(s, d, evidence_copy / "DCIM", "c", "tester", [])
    d.dispose()
    assert report.files > 3 and report.worker_processes == 1
    assert pools == [1]  # no worker process for a folder of photos
    assert stores["threads"] == stores["inline"]
    assert worker._STATE.sqlite is None  # the lookup connection is closed afterwards


def test_a_chunk_with_a_disk_image_file_goes_to_processes(tmp_path: Path) -> None:
    made: list[str] = []

    class Recorder(Executor):
        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
            made.append("process")
            return super().submit(fn, *args, **kwargs)

    def factory() -> Executor:
        made.append("started")
        return Recorder()

    plain = tmp_path / "a.bin"
    plain.write_bytes(b"x" * 5000)
    pool = threads.ThreadedWork(2, factory)
    worker.init_worker(None, (), False)
    try:
        got = pool.submit(worker.process_many, [Task(1, b"a.bin", fs_path=str(plain))]).result()
        assert got[0].worker == f"{socket.gethostname()}:{os.getpid()}"
        assert got[0].digests is not None and got[0].digests.size == 5000
        assert made == []
        member = worker.ImageMember("img.raw", "raw_disk", 0, 12, 10)
        with pytest.raises(NotImplementedError):  # Executor.submit of the recorder
            pool.submit(worker.process_many, [Task(2, b"img.raw!/f", member=member)])
        assert made == ["started", "process"]
    finally:
        pool.shutdown()
    assert worker._STATE.sqlite is None


def test_objects_older_than_the_ingest_are_frozen_only_while_it_runs(
    tmp_path: Path, evidence_copy: Path, dump: Dump, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cyclic GC skips what existed before the ingest while it runs (issue 16: a full
    collection of a fresh process's import-time objects was ~10 % of a small ingest), and gets
    it back afterwards; a caller that froze objects itself keeps exactly its own freeze."""
    import gc

    during: list[int] = []
    real = pipeline._write_batch

    def noted(*args: Any, **kwargs: Any) -> None:
        during.append(gc.get_freeze_count())
        real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_write_batch", noted)
    stores = []
    for label in ("plain", "caller_froze"):
        s = Settings.load(tmp_path / label, workers=2)
        s.data_dir.mkdir(parents=True)
        d = Database(s.database_url)
        gc.unfreeze()
        if label == "caller_froze":
            gc.freeze()
        before = gc.get_freeze_count()
        try:
            pipeline.ingest(s, d, evidence_copy, "c", "tester", [])
            after = gc.get_freeze_count()
        finally:
            gc.unfreeze()
        stores.append(dump(d))
        d.dispose()
        assert during
        if label == "plain":  # frozen while it ran, nothing left frozen
            assert before == 0 and after == 0 and all(n > 1000 for n in during)
        else:  # the caller's freeze (frozen objects may still be freed) and nothing more
            assert all(n <= before for n in during) and before // 2 < after <= before
        during.clear()
    assert stores[0] == stores[1]
