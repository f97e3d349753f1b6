"""Ingest orchestration: one producer thread walks the source, worker processes digest and analyse,
and this process is the single writer.

Workers: with analyzers, forks of a fork server that preloaded them; without, forks of this
process when it runs a single thread (the command line), else threads of this process
(:mod:`vigil.ingest.threads`); Ray tasks with ``executor="ray"``.

Resumability: every file's occurrence, its item (if new), its warnings and its analyzer results
are written in one transaction, in batches. A rerun of the same command on the same case and path
skips every path already recorded for that source, so an interrupted ingest (even by SIGKILL)
finishes with exactly the rows an uninterrupted run writes: no file lost, none recorded twice.
"""

from __future__ import annotations

import gc
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from vigil.content.types import sniff
from vigil.errors import InvalidInput, NotFound
from vigil.evidence.archive import ArchiveMember
from vigil.evidence.readonly import open_readonly
from vigil.evidence.walk import Entry, Walker, display_path
from vigil.ingest.analyzers import ANALYZERS
from vigil.ingest.threads import ThreadedWork
from vigil.ingest.worker import (
    Result,
    Task,
    close_worker,
    init_worker,
    meta_fields,
    native_threads_per_worker,
    process_many,
)
from vigil.settings import Settings
from vigil.store import audit, ingest_rows, repo
from vigil.store.base import utcnow
from vigil.store.db import Database

EXTRACTOR_VERSION = "ingest-1"
EXECUTORS = frozenset({"local", "ray"})
"""Where per-file work can run: local worker processes, or Ray tasks (``vigil.jobs``)."""


@dataclass
class IngestReport:
    """What one ingest run did (cumulative over resumed attempts for files/items)."""

    case: str
    source_id: int
    job_id: int
    path: str
    files: int = 0
    new_items: int = 0
    duplicates: int = 0
    bytes: int = 0
    not_read: int = 0
    warnings: int = 0
    already_recorded: int = 0
    resumed: bool = False
    elapsed_s: float = 0.0
    worker_processes: int = 0
    """Distinct worker processes (over every node) that read files in this run."""
    image_member_workers: int = 0
    """Of these, how many read files out of a disk image (> 1: one image spread over workers)."""
    archive_member_workers: int = 0
    """Of these, how many read members out of a zip or tar archive themselves (see
    :mod:`vigil.evidence.archive`)."""
    analyzers: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def select_analyzers(names: Sequence[str] | None) -> tuple[str, ...]:
    """Analyzer names to run: those given (validated) or every ``default_enabled`` one."""
    if names is None:
        return tuple(a.name for a in ANALYZERS if a.default_enabled)
    return tuple(ANALYZERS.get(n).name for n in names)


def source_kind(path: Path) -> str:
    """``folder``, or the detected kind of a single file (archive, disk_image, photo ...)."""
    if path.is_dir():
        return "folder"
    with open_readonly(path) as fh:
        return sniff(fh.read(4096)).kind


_END = object()


@contextmanager
def _older_objects_frozen() -> Iterator[None]:
    """The objects that exist before the ingest are left out of the cyclic garbage collector's
    passes while it runs (``gc.freeze``), and handed back to it afterwards (``gc.unfreeze``).

    An ingest allocates many short-lived objects; once enough of them survive a young
    collection, the collector walks every object of the process (a fresh ``vigil`` process:
    ~100,000 from its imports), ~0.06-0.08 CPU-s at a time, ~10 % of an ingest of 1,000 photos
    without analyzers (issue 16). Nothing is lost: garbage among the older objects is collected
    at the first full collection after the ingest. A process that froze objects itself (a
    pre-forking server) is left as it is.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


_MAIN_LOCK = threading.Lock()
_MAIN_KEYS = "__file__", "__spec__"


@contextmanager
def _main_not_reimported() -> Iterator[None]:
    """Processes spawned inside this block do not re-run the parent's ``__main__``.

    A spawned child normally re-imports the parent's main script (the ``vigil`` console script
    and its CLI, a benchmark, pytest), which the ingest workers never need: everything they run
    lives in :mod:`vigil.ingest.worker`. Hiding the main module's file and spec while the child's
    start-up data is taken keeps each worker's start-up to the worker's own imports (issue 16).
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    with _MAIN_LOCK:
        saved: dict[str, Any] = {k: main.__dict__[k] for k in _MAIN_KEYS if k in main.__dict__}
        main.__dict__.pop("__file__", None)
        main.__dict__["__spec__"] = None
        try:
            yield
        finally:
            main.__dict__.pop("__spec__", None)
            main.__dict__.update(saved)


class _WorkerPool(ProcessPoolExecutor):
    """Spawned ingest workers; a worker is started (on demand, by ``submit``) without the
    parent's main module (see :func:`_main_not_reimported`)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with _main_not_reimported():
            return super().submit(fn, *args, **kwargs)


CHUNK_FILES = 24
"""Files handed to a worker in one task (amortises process-pool overhead over small files)."""
CHUNK_BYTES = 48 * 1024 * 1024
"""A chunk is sent early once its files add up to this many bytes."""


class _Producer(threading.Thread):
    """Walks the source and feeds the pool in chunks; puts results (or content-less entries) on a
    queue for the writer."""

    def __init__(self, walker: Walker, pool: Executor | None, inflight: int) -> None:
        super().__init__(daemon=True, name="vigil-walker")
        self.walker = walker
        self.pool = pool
        self.out: queue.Queue[Any] = queue.Queue()
        self.inflight = inflight
        self.slots = threading.BoundedSemaphore(inflight)
        self.discovered_bytes = 0
        self.discovered_files = 0
        self.stop = threading.Event()

    def run(self) -> None:
        seq = 0
        chunk: list[tuple[Entry, Task]] = []
        chunk_bytes = 0
        try:
            for entry in self.walker:
                if self.stop.is_set():
                    break
                if entry.status == "done" or self.walker.skip(entry.raw_path):
                    continue  # recorded by an earlier (interrupted) run of this job
                seq += 1
                self.discovered_files += 1
                self.discovered_bytes += entry.size or 0
                if not entry.has_content:
                    self.out.put(("entry", entry))
                    continue
                task = Task(
                    seq,
                    entry.raw_path,
                    fs_path=str(entry.fs_path) if entry.fs_path else None,
                    spool=str(entry.spool) if entry.spool else None,
                    data=entry.data,
                    member=entry.member,
                )
                entry.data = None  # the task owns the bytes now
                chunk.append((entry, task))
                chunk_bytes += entry.size or 0
                if self.pool is None or len(chunk) >= CHUNK_FILES or chunk_bytes >= CHUNK_BYTES:
                    self._submit(chunk)
                    chunk, chunk_bytes = [], 0
            if chunk and not self.stop.is_set():
                self._submit(chunk)
        except Exception as exc:  # noqa: BLE001 - reported to the writer, which re-raises
            self.out.put(("error", exc))
        finally:
            # Wait until every submitted chunk has come back before saying "end".
            for _ in range(self.inflight):
                self.slots.acquire()
            self.out.put(("end", None))

    def _submit(self, chunk: list[tuple[Entry, Task]]) -> None:
        self.slots.acquire()
        entries = [e for e, _t in chunk]
        tasks = [t for _e, t in chunk]
        if self.pool is None:
            self._done(entries, process_many(tasks))
        else:
            future = self.pool.submit(process_many, tasks)
            future.add_done_callback(partial(self._finished, entries))

    def _finished(self, entries: list[Entry], future: Future[list[Result]]) -> None:
        try:
            results = future.result()
        except Exception as exc:  # noqa: BLE001 - a crashed worker becomes a warning on its files
            error = f"worker failed: {type(exc).__name__}: {exc}"
            results = [Result(0, e.raw_path, error=error) for e in entries]
        self._done(entries, results)

    def _done(self, entries: list[Entry], results: list[Result]) -> None:
        # one message a chunk: the writer thread wakes once for its files, not once a file
        self.out.put(("results", list(zip(entries, results, strict=True))))
        self.slots.release()


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[files]} files"),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        yield bar


def _prescan_bytes(path: Path) -> int:
    """Bytes directly on disk, for the progress total (archive members are added as found)."""
    if not path.is_dir():
        return path.stat().st_size
    total = 0
    for root, _dirs, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


WORKER_PRELOAD = ("vigil.ingest.preload",)
"""Imported once by the fork server that analyzer workers are forked from."""


def worker_context(analyzers: Sequence[str]) -> BaseContext:
    """Where worker processes come from.

    With analyzers: forks of a fork server that has loaded the worker code, the plug-ins,
    OpenCV and the PDQ kernel once (:mod:`vigil.ingest.preload`), so each worker does not pay
    ~1.6 CPU-s to load them itself (issue 16). The fork server is started by the first such
    ingest and serves every later one of this process. Without analyzers (a disk image's files),
    and where there are no fork servers, workers are spawned: they need none of that.
    """
    if not analyzers or "forkserver" not in get_all_start_methods():
        return get_context("spawn")
    ctx = get_context("forkserver")
    ctx.set_forkserver_preload(list(WORKER_PRELOAD))
    return ctx


def _fork_safe() -> bool:
    """Whether worker processes may be forked from this process now (Linux, and this process
    runs a single thread: a fork copies every lock, and one held by another thread would stay
    held in the child forever)."""
    if not sys.platform.startswith("linux") or "fork" not in get_all_start_methods():
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def _forked_workers(n: int, initargs: tuple[Any, ...]) -> Executor | None:
    """``n`` worker processes forked from this one, for an ingest without analyzers (issue 16).

    A fork starts with everything this process has imported, so it costs none of a spawned
    worker's start-up (~0.17 CPU-s each), and each worker runs its files' Python (header
    probe, EXIF, lookups) under its own GIL: in threads of this process that work, the walker
    and the writer take turns on one GIL between the digests (docs/ingest.md has the figures).
    The workers are forked here, before the walker or the writer start a thread (the caller
    checked :func:`_fork_safe`); each opens its own read-only lookup connection and never uses
    this process's. A disk image's files go to them too.

    None when the system refuses a fork (a process or memory limit): the workers forked before
    it are stopped, and the caller uses threads instead.
    """
    pool = _WorkerPool(
        max_workers=n,
        mp_context=get_context("fork"),
        initializer=init_worker,
        initargs=initargs,
    )
    try:
        pool.submit(os.getpid)  # a "fork" pool forks all its workers in its first submit()
    except OSError:
        forked = list((getattr(pool, "_processes", None) or {}).values())
        for proc in forked:  # waiting for tasks that will never come
            proc.kill()
        for proc in forked:
            proc.join()
        pool.shutdown(wait=False, cancel_futures=True)
        return None
    return pool


@_older_objects_frozen()
def ingest(
    settings: Settings,
    db: Database,
    path: Path | str,
    case_name: str,
    actor: str,
    analyzers: Sequence[str] | None = None,
    *,
    progress: bool = False,
    workers: int | None = None,
    deep: bool = False,
    batch_size: int = 256,
    flush_seconds: float = 0.5,
    executor: str = "local",
    ray_address: str | None = None,
) -> IngestReport:
    """Ingest ``path`` (folder, archive, disk image or single file) into ``case_name``.

    Re-running with the same case and path resumes an interrupted ingest, or records nothing
    new for a finished one.

    ``executor="ray"`` runs the per-file work as Ray tasks (a private local instance with
    ``workers`` CPUs, or the cluster at ``ray_address``); this process stays the single writer.

    Raises:
        NotFound: ``path`` does not exist.
        InvalidInput: bad case name or analyzer name.
    """
    root = Path(path).expanduser()
    if not root.exists() and not root.is_symlink():
        raise NotFound(f"evidence path {str(root)!r} does not exist")
    root = root.resolve()
    if root == settings.data_dir or settings.data_dir in root.parents:
        raise InvalidInput(
            f"{root} is inside Vigil's own data folder; ingest evidence from elsewhere"
        )
    if executor not in EXECUTORS:
        raise InvalidInput(f"unknown executor {executor!r}: use local or ray")
    chosen = select_analyzers(analyzers)
    kind = source_kind(root)
    started = time.monotonic()
    # set-up and finish in table statements: no ORM, so no mapper configuration (issue 16)
    with db.write() as s:
        case_id = ingest_rows.ensure_case(s, case_name, actor)
        source_id, _created = ingest_rows.ensure_source(s, case_id, str(root), kind, actor)
        job_id, attempts = ingest_rows.open_job(
            s,
            "ingest",
            case_id=case_id,
            source_id=source_id,
            actor=actor,
            params={"path": str(root), "analyzers": list(chosen), "deep": deep},
        )
        resumed = attempts > 1
    with db.read() as s:
        recorded = ingest_rows.recorded_paths(s, source_id)
    report = IngestReport(
        case_name, source_id, job_id, str(root), resumed=resumed, analyzers=list(chosen)
    )
    report.already_recorded = len(recorded)
    top_raw = os.fsencode(root.name)
    spool_dir = settings.spool_dir / f"job-{job_id}"
    walker = Walker(
        root,
        settings.limits,
        spool_dir,
        skip=recorded.__contains__,
        locate_image_members=True,
        locate_archive_members=settings.limits.split_archives,
    )
    n_workers = settings.workers if workers is None else workers
    pool: Executor | None = None
    spool = (str(spool_dir), settings.limits.spool_in_memory)
    if executor == "ray":
        from vigil.jobs.ray_executor import RayExecutor

        ray_pool = RayExecutor(
            ray_address,
            num_cpus=n_workers if n_workers > 0 else None,
            initializer=init_worker,
            initargs=(db.url, chosen, deep, None, *spool),
        )
        pool, n_workers = ray_pool, ray_pool.max_workers
    elif n_workers > 0:
        processes = partial(
            _WorkerPool,
            max_workers=n_workers,
            mp_context=worker_context(chosen),
            initializer=init_worker,
            initargs=(
                db.url,
                chosen,
                deep,
                os.getpid(),
                *spool,
                native_threads_per_worker(n_workers),
            ),
        )
        if chosen:
            pool = processes()
        else:  # digests and headers only: forks of this process (issue 16), else its threads
            if _fork_safe():
                db.dispose()  # no pooled connection (a server's socket) is copied into the forks
                pool = _forked_workers(n_workers, (db.url, chosen, deep, os.getpid(), *spool, None))
            if pool is None:  # not safe to fork, or the system refused a fork
                init_worker(db.url, chosen, deep, None, *spool)
                pool = ThreadedWork(n_workers, processes)
    else:
        init_worker(db.url, chosen, deep, None, *spool)
    producer = _Producer(walker, pool, inflight=max(2, n_workers * 2))
    pre_bytes = _prescan_bytes(root) if progress else 0  # the bar's total only
    batch: list[tuple[Entry, Result | None]] = []
    workers_seen: set[str] = set()
    member_workers: set[str] = set()
    archive_workers: set[str] = set()
    last_flush = time.monotonic()
    status = "failed"
    error: str | None = None
    try:
        with _progress(progress) as bar:
            task_id = bar.add_task("ingest", total=pre_bytes, files=0) if bar else None
            producer.start()
            while True:
                try:
                    tag, payload = producer.out.get(timeout=flush_seconds)
                except queue.Empty:
                    tag, payload = "tick", None
                if tag == "end":
                    break
                if tag == "error":
                    raise payload
                arrived: list[tuple[Entry, Result | None]] = []
                if tag == "entry":
                    arrived.append((payload, None))
                elif tag == "results":
                    arrived = payload
                    for entry, result in payload:
                        workers_seen.add(result.worker)
                        if isinstance(entry.member, ArchiveMember):
                            archive_workers.add(result.worker)
                        elif entry.member is not None:
                            member_workers.add(result.worker)
                batch += arrived
                if bar is not None and task_id is not None and arrived:
                    bar.update(
                        task_id,
                        advance=sum(entry.size or 0 for entry, _r in arrived),
                        total=max(pre_bytes, producer.discovered_bytes),
                        files=report.files + len(batch),
                    )
                if batch and (
                    len(batch) >= batch_size or time.monotonic() - last_flush >= flush_seconds
                ):
                    _write_batch(db, batch, case_id, source_id, top_raw, report, actor)
                    batch = []
                    last_flush = time.monotonic()
            if batch:
                _write_batch(db, batch, case_id, source_id, top_raw, report, actor)
                batch = []
        status = "done"
    except KeyboardInterrupt:
        status = "interrupted"
        producer.stop.set()
        raise
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
        producer.stop.set()
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=status == "done", cancel_futures=True)
        else:
            close_worker()
        report.elapsed_s = round(time.monotonic() - started, 3)
        report.worker_processes = len(workers_seen - {""})
        report.image_member_workers = len(member_workers - {""})
        report.archive_member_workers = len(archive_workers - {""})
        # An interrupted or failed job stays open: re-running the command resumes it.
        job_status = "done" if status == "done" else ("failed" if error else "running")
        with db.write() as s:
            ingest_rows.mark_source(s, source_id, status="complete" if status == "done" else status)
            ingest_rows.finish_job(
                s,
                job_id,
                status=job_status,
                actor=actor,
                error=error,
                stats={
                    k: v for k, v in report.as_dict().items() if isinstance(v, int | float | bool)
                },
            )
        _cleanup_spool(spool_dir)
    if status == "done":
        _follow_up(settings, db, case_name, actor, chosen, case_id, source_id, report)
    return report


def _follow_up(
    settings: Settings,
    db: Database,
    case_name: str,
    actor: str,
    chosen: Sequence[str],
    case_id: int,
    source_id: int,
    report: IngestReport,
) -> None:
    """Run the case-level follow-up of analyzers that have one (see ``CaseFollowUp``)."""
    for name in chosen:
        hook = getattr(ANALYZERS.get(name), "after_case", None)
        if hook is None:
            continue
        try:
            hook(settings, db, case_name, actor)
        except Exception as exc:  # noqa: BLE001 - a follow-up failure must not undo the ingest
            with db.write() as s:
                repo.add_warning(
                    s,
                    case_id=case_id,
                    source_id=source_id,
                    code=f"{name}_follow_up_failed",
                    message=f"{type(exc).__name__}: {exc}",
                    raw_path=b"",
                )
            report.warnings += 1


def _cleanup_spool(spool_dir: Path) -> None:
    if not spool_dir.exists():
        return
    for leftover in spool_dir.iterdir():
        leftover.unlink(missing_ok=True)
    spool_dir.rmdir()


def _write_batch(
    db: Database,
    batch: list[tuple[Entry, Result | None]],
    case_id: int,
    source_id: int,
    top_raw: bytes,
    report: IngestReport,
    actor: str,
) -> None:
    """Record one batch of files in a single transaction (bulk statements)."""
    digests = [r.digests.sha256 for _e, r in batch if r is not None and r.digests is not None]
    with db.write() as s:
        known = ingest_rows.items_by_sha256(s, digests)
        new_rows: dict[str, dict[str, Any]] = {}
        for _entry, result in batch:
            if result is None or result.digests is None or result.error:
                continue
            d = result.digests
            if d.sha256 not in known and d.sha256 not in new_rows:
                new_rows[d.sha256] = {
                    **_item_defaults(),
                    **meta_fields(result.meta),
                    "sha256": d.sha256,
                    "sha1": d.sha1,
                    "md5": d.md5,
                    "size": d.size,
                    "content_type": result.content_type,
                    "kind": result.kind,
                    "mime": result.mime,
                    "extractor_version": EXTRACTOR_VERSION,
                    "first_seen_at": utcnow(),
                }
        created = repo.add_items_bulk(s, list(new_rows.values()))
        known.update(created)
        analysed: set[str] = set()
        occurrences: list[dict[str, Any]] = []
        warnings_rows: list[dict[str, Any]] = []
        for entry, result in batch:
            warnings = list(entry.warnings)
            item_id: int | None = None
            status = entry.status
            if result is not None:
                warnings += result.warnings
                if result.refused is not None:  # a damaged archive member, as the walker says it
                    status = "skipped"
                    warnings.append(result.refused)
                elif result.error or result.digests is None:
                    status = "unreadable"
                    warnings.append(("unreadable", result.error or "content could not be read"))
                else:
                    d = result.digests
                    item_id = known[d.sha256]
                    if d.sha256 in created and d.sha256 not in analysed:
                        analysed.add(d.sha256)
                        report.new_items += 1
                        if result.meta is not None:
                            warnings += result.meta.warnings
                        for name, (version, output) in result.analyses.items():
                            warnings += output.warnings
                            ok = output.payload is not None
                            if ok:
                                ANALYZERS.get(name).persist(s, item_id, output)
                            repo.record_analysis(s, item_id, name, version, ok=ok)
                    else:
                        report.duplicates += 1
                    report.bytes += d.size
                    if entry.raw_path == top_raw:
                        ingest_rows.mark_source(s, source_id, size=d.size, sha256=d.sha256)
            if entry.spool is not None:
                entry.spool.unlink(missing_ok=True)
            if status != "ok":
                report.not_read += 1
            occurrences.append(
                dict(
                    source_id=source_id,
                    item_id=item_id,
                    path=display_path(entry.raw_path),
                    raw_path=entry.raw_path,
                    # a disk image's file read by a worker: what it read, as when read here
                    size=result.digests.size
                    if result is not None
                    and result.digests is not None
                    and (entry.size is None or entry.member is not None)
                    else entry.size,
                    mtime=entry.mtime,
                    ctime=entry.ctime,
                    atime=entry.atime,
                    depth=entry.depth,
                    status=status,
                    seen_at=utcnow(),
                )
            )
            seen_codes: set[str] = set()
            for code, message in warnings:
                if code in seen_codes:
                    continue  # one row per (path, code); the first message is kept
                seen_codes.add(code)
                warnings_rows.append(
                    dict(
                        case_id=case_id,
                        source_id=source_id,
                        item_id=item_id,
                        raw_path=entry.raw_path,
                        code=code,
                        message=message,
                    )
                )
            report.warnings += len(seen_codes)
            report.files += 1
        repo.add_occurrences_bulk(s, occurrences)
        repo.add_source_warnings_bulk(s, warnings_rows)
        audit.append_row(
            s,
            actor,
            "ingest.batch",
            case_id=case_id,
            details={"source_id": source_id, "files": len(batch), "new_items": len(created)},
        )


def _item_defaults() -> dict[str, Any]:
    """Columns every bulk-inserted item row must name (bulk INSERT needs a uniform key set)."""
    return dict(
        width=None,
        height=None,
        duration_s=None,
        frame_rate=None,
        camera_make=None,
        camera_model=None,
        camera_serial=None,
        captured_at=None,
        gps_lat=None,
        gps_lon=None,
        gps_alt=None,
        orientation=None,
        exif=None,
        status="ok",
    )
