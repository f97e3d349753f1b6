"""Without analyzers, a single-threaded ingest process forks its workers (issue 16): the same
rows as in-process and threaded ingest, the files read by the forks (not by this process), and
threads instead wherever a fork would not be safe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import pytest

from vigil.ingest import pipeline, worker
from vigil.settings import Settings
from vigil.store.db import Database

Dump = Callable[..., dict[str, Any]]


def _ingest(dump: Dump, home: Path, evidence: Path, workers: int) -> tuple[dict[str, Any], Any]:
    s = Settings.load(home, workers=workers)
    s.data_dir.mkdir(parents=True)
    d = Database(s.database_url)
    try:
        report = pipeline.ingest(s, d, evidence, "c", "tester", [], workers=workers)
        return dump(d, warnings_by_item=True), report
    finally:
        d.dispose()


def _calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[tuple[Any, ...]]:
    """The positional arguments of every call of ``pipeline.<name>``, which still runs."""
    calls: list[tuple[Any, ...]] = []
    real = getattr(pipeline, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, name, spy)
    return calls


def test_forked_workers_give_what_threads_and_inline_give(
    tmp_path: Path, evidence_copy: Path, dump: Dump, monkeypatch: pytest.MonkeyPatch
) -> None:
    forked = _calls(monkeypatch, "_forked_workers")
    monkeypatch.setattr(pipeline, "_fork_safe", lambda: False)
    threaded, _r = _ingest(dump, tmp_path / "threads", evidence_copy, 2)
    inline, _r = _ingest(dump, tmp_path / "inline", evidence_copy, 0)
    assert forked == []
    monkeypatch.setattr(pipeline, "_fork_safe", lambda: True)
    forks, report = _ingest(dump, tmp_path / "forks", evidence_copy, 2)
    assert [args[0] for args in forked] == [2]  # two workers
    assert forks == threaded == inline
    # every file, the disk image's included, was read by a forked worker, none by this process
    assert report.files > 5 and report.image_member_workers >= 1
    assert 1 <= report.worker_processes <= 2
    assert worker._STATE.sqlite is None  # this process opened no lookup connection


def test_a_process_with_another_thread_is_not_forked() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        assert pipeline._fork_safe() is False
    finally:
        stop.set()
        other.join()


_CHILD = textwrap.dedent(
    """
    import json, os, sys
    from vigil.ingest import pipeline
    from vigil.settings import Settings
    from vigil.store.db import Database
    calls = []
    real = pipeline._forked_workers
    def counted(n, initargs):
        calls.append(n)
        return real(n, initargs)
    pipeline._forked_workers = counted
    s = Settings.load(sys.argv[1], workers=2)
    s.data_dir.mkdir(parents=True)
    d = Database(s.database_url)
    r = pipeline.ingest(s, d, sys.argv[2], "c", "tester", [])
    print(json.dumps({"forked": calls, "files": r.files, "workers": r.worker_processes,
                      "numpy": "numpy" in sys.modules}))
    """
)


def test_a_fresh_ingest_process_forks_its_workers(tmp_path: Path) -> None:
    """What ``vigil ingest --no-analyzers`` runs in: a process with one thread (nothing it
    imports starts one, NumPy's thread pool included: NumPy is not imported)."""
    evidence = tmp_path / "ev"
    evidence.mkdir()
    for i in range(60):
        (evidence / f"f{i:02d}.bin").write_bytes(os.urandom(3000 + i))
    src = str(Path(pipeline.__file__).resolve().parents[2])
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path / "home"), str(evidence)],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTHONPATH=src),
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["forked"] == [2] and got["files"] == 60 and got["workers"] >= 1
    assert got["numpy"] is False


@pytest.mark.postgres
def test_forked_workers_on_postgresql(
    tmp_path: Path, evidence_copy: Path, dump: Dump, monkeypatch: pytest.MonkeyPatch, pg_url: str
) -> None:
    """A server store: the forks get none of this process's pooled connections (the pool is
    emptied before the fork) and look items up through their own; this process's connection
    still works afterwards (the job is closed and the audit chain verifies)."""
    from vigil.store import audit

    inline, _r = _ingest(dump, tmp_path / "inline", evidence_copy, 0)
    monkeypatch.setattr(pipeline, "_fork_safe", lambda: True)
    s = Settings.load(tmp_path / "pg", database_url=pg_url, workers=2)
    s.data_dir.mkdir(parents=True)
    pg = Database(pg_url)
    try:
        report = pipeline.ingest(s, pg, evidence_copy, "c", "tester", [], workers=2)
        assert report.files > 5
        assert dump(pg, warnings_by_item=True) == inline
        assert pipeline.ingest(s, pg, evidence_copy, "c", "tester", [], workers=2).files == 0
        with pg.read() as session:
            assert audit.verify(session).entries >= 4
    finally:
        pg.dispose()


def test_a_refused_fork_falls_back_to_threads(
    tmp_path: Path, evidence_copy: Path, dump: Dump, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The system refuses the second fork (a process limit): the worker forked before it is
    stopped and reaped, and the same ingest runs in threads, with the same rows."""
    inline, _r = _ingest(dump, tmp_path / "inline", evidence_copy, 0)
    real_fork, real_workers = os.fork, pipeline._forked_workers
    forked: list[int] = []
    limiting: list[bool] = []

    def limited() -> int:  # only while the pool forks (a disk image's probe forks too)
        if limiting and forked:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        pid = real_fork()
        if pid and limiting:
            forked.append(pid)
        return pid

    def workers(n: int, initargs: tuple[Any, ...]) -> Executor | None:
        limiting.append(True)
        try:
            return real_workers(n, initargs)
        finally:
            limiting.clear()

    monkeypatch.setattr(pipeline, "_fork_safe", lambda: True)
    monkeypatch.setattr(pipeline, "_forked_workers", workers)
    monkeypatch.setattr(os, "fork", limited)
    threaded = _calls(monkeypatch, "ThreadedWork")
    got, report = _ingest(dump, tmp_path / "refused", evidence_copy, 2)
    assert len(forked) == 1 and len(threaded) == 1
    assert got == inline and report.files > 5
    with pytest.raises(ChildProcessError):  # already reaped
        os.waitpid(forked[0], os.WNOHANG)
    assert not Path(f"/proc/{forked[0]}").exists()
