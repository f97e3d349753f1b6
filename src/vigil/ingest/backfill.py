"""Run an analyzer over items ingested before it existed (or with an older version of it).

The per-item work (re-reading the content from the evidence, read-only and checked against its
SHA-256, then analysing it) runs in this process, in local worker processes (``workers > 0``) or
as Ray tasks (``executor="ray"``, the same :class:`~vigil.jobs.ray_executor.RayExecutor` seam as
ingest). This process stays the single writer and writes the results in item order, each item
with its analysis record in one transaction, so an interrupted back-fill is resumed by running it
again (items already recorded at the analyzer's version are not pending any more) and every
executor leaves the same rows.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from vigil.errors import InvalidInput, VigilError
from vigil.evidence.locate import open_item
from vigil.ingest.analyzers import ANALYZERS, AnalyzerOutput, run_analyzer
from vigil.ingest.pipeline import worker_context
from vigil.ingest.worker import native_threads_per_worker
from vigil.settings import Settings
from vigil.store import audit, repo
from vigil.store.db import Database

EXECUTORS = frozenset({"local", "ray"})

CHUNK_ITEMS = 4
"""Items per task: analysers cost 10 ms - 1 s an item, so a few amortise a task's overhead."""


@dataclass
class BackfillReport:
    """Counts of one back-fill run."""

    analyzer: str
    version: str
    pending: int = 0
    done: int = 0
    failed: int = 0


@dataclass
class _Worker:
    db: Database | None = None
    analyzer: str = ""
    spool_dir: Path | None = None


_WORKER = _Worker()


def init_backfill_worker(
    db_url: str,
    analyzer_name: str,
    spool_dir: str,
    parent_pid: int | None = None,
    native_threads: int | None = None,
) -> None:
    """Worker initializer: plug-ins, a read-only use of the store (to find each item's evidence).

    ``parent_pid``: a local pool worker exits when that process dies (as ingest workers do).
    ``native_threads``: OpenCV threads this worker may use (as for ingest workers).
    """
    from vigil.ingest.worker import _exit_with_parent, limit_native_threads
    from vigil.plugins import load_defaults

    if parent_pid is not None:
        _exit_with_parent(parent_pid)
    load_defaults()
    if native_threads is not None:
        limit_native_threads(native_threads)
    close_backfill_worker()
    _WORKER.db = Database(db_url, create=False)
    _WORKER.analyzer = analyzer_name
    _WORKER.spool_dir = Path(spool_dir)


def close_backfill_worker() -> None:
    """Close the worker's store connections (in-process use)."""
    if _WORKER.db is not None:
        _WORKER.db.dispose()
        _WORKER.db = None


def analyse_items(item_ids: list[int]) -> list[AnalyzerOutput]:
    """Re-read and analyse each item (in a worker); failures become ``<name>_failed`` outputs."""
    if _WORKER.db is None:
        raise RuntimeError("init_backfill_worker() was not called in this process")
    analyzer = ANALYZERS.get(_WORKER.analyzer)
    out = []
    for item_id in item_ids:
        try:
            with open_item(_WORKER.db, item_id, spool_dir=_WORKER.spool_dir) as blob:
                out.append(run_analyzer(analyzer, blob))
        except VigilError as exc:
            out.append(AnalyzerOutput(None, [(f"{analyzer.name}_failed", str(exc))]))
    return out


def pending_items(db: Database, case_name: str, analyzer_name: str) -> tuple[int, list[int]]:
    """(case id, ids of the case's items the analyzer has not processed at its current version)."""
    analyzer = ANALYZERS.get(analyzer_name)
    with db.read() as s:
        case = repo.get_case(s, case_name)
        items = repo.case_items(s, case.id, kinds=analyzer.kinds)
        done = repo.analysed_item_ids(s, analyzer.name, analyzer.version)
    return case.id, [i.id for i in items if i.id not in done and i.status == "ok"]


Progress = Callable[["BackfillReport"], None]
"""Called with the running counts before the first item and after each one."""


def backfill(
    settings: Settings,
    db: Database,
    case_name: str,
    analyzer_name: str,
    actor: str,
    *,
    workers: int = 0,
    executor: str = "local",
    ray_address: str | None = None,
    progress: Progress | None = None,
) -> BackfillReport:
    """Analyse every pending item of the case, re-reading its content from the evidence.

    ``progress`` (optional) is called with the running counts before the first item and after
    each one. ``workers``: 0 analyses in this process; N > 0 in N local worker processes, or with
    ``executor="ray"`` as Ray tasks on a private local instance of N CPUs (0: all of them) or
    on the cluster at ``ray_address`` (the evidence must be readable at the same path on
    every node, and the store reachable from them: PostgreSQL, or SQLite on shared storage).

    Raises:
        InvalidInput: unknown executor, analyzer or case.
    """
    if executor not in EXECUTORS:
        raise InvalidInput(f"unknown executor {executor!r}: use local or ray")
    analyzer = ANALYZERS.get(analyzer_name)
    case_id, pending = pending_items(db, case_name, analyzer_name)
    report = BackfillReport(analyzer.name, analyzer.version, pending=len(pending))
    if progress is not None:
        progress(report)
    initargs = (db.url, analyzer.name, str(settings.spool_dir))
    pool: Executor | None = None
    slots = max(1, workers)
    if executor == "ray" and pending:
        from vigil.jobs.ray_executor import RayExecutor

        ray_pool = RayExecutor(
            ray_address,
            num_cpus=workers if workers > 0 else None,
            initializer=init_backfill_worker,
            initargs=initargs,
        )
        pool, slots = ray_pool, ray_pool.max_workers
    elif workers > 0 and pending:
        # forks of the fork server that ingest's analyzer workers come from (code loaded once)
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=worker_context([analyzer.name]),
            initializer=init_backfill_worker,
            initargs=(*initargs, os.getpid(), native_threads_per_worker(workers)),
        )
    else:
        init_backfill_worker(*initargs)
    finished = False
    try:
        for item_id, output in _results(pool, slots, pending, analyzer.name):
            with db.write() as s:
                ok = output.payload is not None
                if ok:
                    analyzer.persist(s, item_id, output)
                for code, message in output.warnings:
                    repo.add_item_warning(s, case_id, item_id, code, message)
                repo.record_analysis(s, item_id, analyzer.name, analyzer.version, ok=ok)
            report.done += ok
            report.failed += not ok
            if progress is not None:
                progress(report)
        finished = True
    finally:
        if pool is not None:
            pool.shutdown(wait=finished, cancel_futures=True)
        else:
            close_backfill_worker()
    with db.write() as s:
        audit.append(s, actor, "analyze.backfill", case_id=case_id, details=report.__dict__)
    return report


def _results(
    pool: Executor | None, slots: int, pending: Sequence[int], name: str
) -> Iterator[tuple[int, AnalyzerOutput]]:
    """(item id, output) in item order, from this process or from a bounded window of tasks."""
    chunks = [list(pending[i : i + CHUNK_ITEMS]) for i in range(0, len(pending), CHUNK_ITEMS)]
    if pool is None:
        for chunk in chunks:
            yield from zip(chunk, analyse_items(chunk), strict=True)
        return
    window = 2 * slots
    run = pool

    def submit(chunk: list[int]) -> Future[list[AnalyzerOutput]]:
        return run.submit(analyse_items, chunk)

    todo = iter(chunks)
    inflight: deque[tuple[list[int], Future[list[AnalyzerOutput]]]] = deque()
    for chunk in todo:
        inflight.append((chunk, submit(chunk)))
        if len(inflight) >= max(2, window):
            break
    while inflight:
        chunk, future = inflight.popleft()
        try:
            outputs = future.result()
        except Exception as exc:  # noqa: BLE001 - a crashed worker fails its items, not the run
            failure = (f"{name}_failed", f"worker failed: {type(exc).__name__}: {exc}")
            outputs = [AnalyzerOutput(None, [failure]) for _ in chunk]
        nxt = next(todo, None)
        if nxt is not None:
            inflight.append((nxt, submit(nxt)))
        yield from zip(chunk, outputs, strict=True)
