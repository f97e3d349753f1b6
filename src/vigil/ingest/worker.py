"""What an ingest worker process does with one file: digests, type, metadata, analyzers.

Runs in a separate process (or inline with ``workers=0``). It never writes to the database; it
only *reads* it to learn whether the content is already known, so known content is not probed or
analysed a second time.

Start-up is part of every ingest's cost (issue 16: at 1k photos the workers' imports were most
of the CPU time of an ingest without analyzers), so this module imports only what digesting,
sniffing and probing need: no NumPy (decoding is imported by the photos that need it), no
SQLAlchemy or Alembic for a SQLite store (the lookup uses the standard ``sqlite3`` module), and
analyzer plug-ins only when analyzers run.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vigil.content.jpeghead import FIRST_READ, TAIL_BYTES
from vigil.content.probe import MediaMeta, mark_decode, probe
from vigil.content.types import HEAD_SIZE, ContentType, sniff
from vigil.errors import DamagedInput, TooLarge
from vigil.evidence.archive import ArchiveMember, close_archives
from vigil.evidence.hashing import Digests, digest_bytes, digest_fd_ends
from vigil.evidence.readonly import open_readonly_fd
from vigil.evidence.walk import ImageMember
from vigil.ingest.analyzers import (
    ANALYZERS,
    Analyzer,
    AnalyzerOutput,
    Blob,
    ImageAnalyzer,
    ImageNeeds,
    PhotoPixels,
    run_analyzer,
)
from vigil.settings import IngestLimits

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine


@dataclass
class Task:
    """One readable file to process (exactly one of fs_path / spool / data / member is set)."""

    seq: int
    raw_path: bytes
    fs_path: str | None = None
    spool: str | None = None
    data: bytes | None = None
    member: ImageMember | ArchiveMember | None = None
    """A disk image's file or an archive's member, read by the worker itself."""


@dataclass
class Result:
    """What a worker learnt about one file."""

    seq: int
    raw_path: bytes
    digests: Digests | None = None
    content_type: str = "unknown"
    kind: str = "other"
    mime: str | None = None
    known: bool = False
    meta: MediaMeta | None = None
    analyses: dict[str, tuple[str, AnalyzerOutput]] = field(default_factory=dict)
    """analyzer name → (version, output)."""
    warnings: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None
    refused: tuple[str, str] | None = None
    """An archive member the worker found damaged: (code, message), recorded as ``skipped``
    with that warning, as when the walker reads the member itself."""
    worker: str = ""
    """Which worker process read the file (``host:pid``), for the job's statistics."""


@dataclass
class _State:
    engine: Engine | None = None
    conn: Connection | None = None
    sqlite: sqlite3.Connection | None = None
    """The lookup connection when the store is a SQLite file (no SQLAlchemy in the worker)."""
    analyzers: tuple[str, ...] = ()
    deep: bool = False
    spool_dir: Path | None = None
    spool_in_memory: int = IngestLimits().spool_in_memory


_STATE = _State()
_LOOKUP_LOCK = threading.Lock()
"""Serialises lookups and closing: threads of the writer process share one connection
(:mod:`vigil.ingest.threads`)."""
_WORKER = f"{socket.gethostname()}:{os.getpid()}"


def _exit_with_parent(parent_pid: int) -> None:
    """Stop this worker soon after the ingest process is gone (even after ``kill -9``), so an
    interrupted ingest leaves no orphaned workers holding memory and evidence files open."""

    def watch() -> None:
        # a fork-server worker's parent is the fork server, so watch the ingest process itself
        while _alive(parent_pid):
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="vigil-parent-watch").start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def init_worker(
    db_url: str | None,
    analyzers: tuple[str, ...],
    deep: bool,
    parent_pid: int | None = None,
    spool_dir: str | None = None,
    spool_in_memory: int = IngestLimits().spool_in_memory,
    native_threads: int | None = None,
) -> None:
    """Process initializer: plug-ins, a read-only use of the database, options.

    ``parent_pid`` is given for pool workers (not for in-process use): the worker exits when
    that process dies. ``spool_dir`` / ``spool_in_memory``: where a disk image's file larger
    than ``spool_in_memory`` bytes is spooled while it is analysed (deleted right after).
    ``native_threads``: threads each native library (OpenCV) may use in this worker, given
    for pool workers that run analyzers (see :func:`limit_native_threads`).
    """
    global _WORKER
    _WORKER = f"{socket.gethostname()}:{os.getpid()}"
    if parent_pid is not None:
        _exit_with_parent(parent_pid)
    if analyzers:  # plug-in modules can be heavy (models); load them only when needed
        from vigil.plugins import load_defaults

        load_defaults()
        if native_threads is not None:
            limit_native_threads(native_threads)
    close_worker()  # an in-process run before this one (workers=0) kept its connection
    sqlite_file = sqlite_path(db_url) if db_url else None
    if sqlite_file is not None:
        # autocommit: every lookup is its own read, no snapshot is held between chunks
        _STATE.sqlite = sqlite3.connect(
            sqlite_file, timeout=60, isolation_level=None, check_same_thread=False
        )
        _STATE.sqlite.execute("PRAGMA busy_timeout=60000")
    elif db_url:
        from vigil.store.db import make_engine

        _STATE.engine = make_engine(db_url)
        _STATE.conn = _STATE.engine.connect()
    _STATE.analyzers = analyzers
    _STATE.deep = deep
    _STATE.spool_dir = Path(spool_dir) if spool_dir else None
    _STATE.spool_in_memory = spool_in_memory


def limit_native_threads(n: int) -> None:
    """Let OpenCV (SIFT, resizing) use at most ``n`` threads in this process.

    Ingest starts one worker per core, so OpenCV's own thread pool (one thread per core in every
    worker) only oversubscribes the cores: its threads wait actively for work and the workers
    took ~15 % more CPU time for the same photos (issue 16; docs/ingest.md). Features do not
    depend on the thread count (tested).
    """
    try:
        import cv2
    except ImportError:  # pragma: no cover - OpenCV is a dependency; nothing to limit without it
        return
    cv2.setNumThreads(max(1, n))


def native_threads_per_worker(workers: int) -> int:
    """Threads a native library may use in each of ``workers`` worker processes: the cores this
    process may run on, shared out (at least 1)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, workers))


def close_worker() -> None:
    """Close the kept-open lookup connection (in-process use; pool workers exit instead). A
    server database counts connections: one left open per in-process ingest is a leak."""
    with _LOOKUP_LOCK:
        _close_lookup()
    if "vigil.evidence.disk" in sys.modules:  # imported only once an image member was read
        sys.modules["vigil.evidence.disk"].close_images()
    close_archives()


def _close_lookup() -> None:
    if _STATE.sqlite is not None:
        _STATE.sqlite.close()
        _STATE.sqlite = None
    if _STATE.conn is not None:
        _STATE.conn.close()
        _STATE.conn = None
    if _STATE.engine is not None:
        _STATE.engine.dispose()
        _STATE.engine = None


def sqlite_path(db_url: str) -> str | None:
    """The file of a plain ``sqlite:///PATH`` URL (None for any other URL, which the worker
    reads through SQLAlchemy as the writer does)."""
    if not db_url.startswith("sqlite:///") or "?" in db_url or "%" in db_url:
        return None
    path = db_url.removeprefix("sqlite:///")
    return path if path and path != ":memory:" else None


_LOOKUP_CHUNK = 500
"""Digests per ``IN (...)`` query (under SQLite's bound-parameter limit)."""


def _known(sha256s: list[str]) -> set[str]:
    """Which of these contents are already stored (one query on a kept-open connection)."""
    if not sha256s:
        return set()
    with _LOOKUP_LOCK:
        return _known_locked(sha256s)


def _known_locked(sha256s: list[str]) -> set[str]:
    if _STATE.sqlite is not None:
        found: set[str] = set()
        for i in range(0, len(sha256s), _LOOKUP_CHUNK):
            part = sha256s[i : i + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(part))
            rows = _STATE.sqlite.execute(
                f"SELECT sha256 FROM media_items WHERE sha256 IN ({marks})",  # noqa: S608 - marks only
                part,
            )
            found.update(row[0] for row in rows)
        return found
    if _STATE.conn is None:
        return set()
    from vigil.store import repo

    return repo.known_sha256s(_STATE.conn, sha256s)


def _fetch_member(task: Task, member: ImageMember | ArchiveMember) -> None:
    """Read a disk image's file or an archive's member into ``task.data`` (or a spool file).

    Raises:
        OSError: the image or the file cannot be read.
        DamagedInput: the archive member cannot be read.
    """
    if isinstance(member, ArchiveMember):
        from vigil.evidence.archive import read_member as read_archive_member

        chunks = read_archive_member(member)
    else:
        from vigil.evidence.disk import read_member

        chunks = read_member(member)
    parts: list[bytes] = []  # a member of one chunk is kept as that chunk (no copy)
    held = 0
    spool: Any = None
    try:
        for chunk in chunks:
            if spool is None and held + len(chunk) > _STATE.spool_in_memory:
                folder = _STATE.spool_dir or Path(tempfile.gettempdir())
                folder.mkdir(parents=True, exist_ok=True)
                fd, name = tempfile.mkstemp(prefix=f"w{os.getpid()}-", dir=folder)
                spool = os.fdopen(fd, "wb")
                task.spool = name
                spool.writelines(parts)
                parts, held = [], 0
            if spool is not None:
                spool.write(chunk)
            else:
                parts.append(chunk)
                held += len(chunk)
    except BaseException:
        if spool is not None:
            spool.close()
            Path(spool.name).unlink(missing_ok=True)
            task.spool = None
        raise
    if spool is not None:
        spool.close()
    else:
        task.data = parts[0] if len(parts) == 1 else b"".join(parts)


_Ends = tuple[bytes, bytes] | None
"""A file's first and last bytes, read while digesting it (for the photo header probe)."""


def _digest(task: Task) -> tuple[Result, Path | bytes | None, ContentType | None, _Ends]:
    """Read and digest one file; the content type comes from its first bytes."""
    result = Result(task.seq, task.raw_path, worker=_WORKER)
    if task.member is not None:
        try:
            _fetch_member(task, task.member)
        except DamagedInput as exc:
            result.refused = (exc.code, str(exc))
            return result, None, None, None
        except OSError as exc:
            result.error = f"file content could not be read from the image: {exc}"
            return result, None, None, None
    ends: _Ends = None
    try:
        if task.data is not None:
            digests, head = digest_bytes(task.data), task.data[:HEAD_SIZE]
            source: Path | bytes = task.data
        else:
            path = Path(task.fs_path or task.spool or "")
            fd = open_readonly_fd(path)
            try:
                digests, first, last = digest_fd_ends(
                    fd, keep=max(HEAD_SIZE, FIRST_READ), tail=TAIL_BYTES
                )
            finally:
                os.close(fd)
            head, ends, source = first[:HEAD_SIZE], (first[:FIRST_READ], last), path
    except OSError as exc:
        result.error = f"file could not be read: {exc.strerror or exc}"
        return result, None, None, None
    result.digests = digests
    ctype = sniff(head)
    result.content_type, result.kind, result.mime = ctype.name, ctype.kind, ctype.mime
    return result, source, ctype, ends


def _describe(result: Result, source: Path | bytes, ctype: ContentType, ends: _Ends = None) -> None:
    """Probe metadata and run the analyzers for content not stored before.

    A photo is decoded once for the probe's damage check and every analyzer that needs the
    same scale (:class:`~vigil.ingest.analyzers.PhotoPixels`); a photo over the decode budget
    gets one ``image_too_large`` warning naming the file and no analysis of its pixels.
    """
    digests = result.digests
    if digests is None:
        return
    try:
        result.meta = probe(
            source, ctype.kind, ctype.name, deep=_STATE.deep, decode_check=False, ends=ends
        )
    except Exception as exc:  # noqa: BLE001 - a decoder crash on one file must not stop the job
        result.warnings.append(
            ("probe_failed", f"metadata extraction failed: {type(exc).__name__}: {exc}")
        )
    if not _STATE.analyzers and (result.meta is None or not result.meta.needs_decode):
        return  # no analyzer and no check decode: nothing below would run (issue 16)
    blob = Blob(
        sha256=digests.sha256,
        size=digests.size,
        content_type=ctype.name,
        kind=ctype.kind,
        path=source if isinstance(source, Path) else None,
        data=source if isinstance(source, bytes) else None,
        display_path=result.raw_path.decode("utf-8", "backslashreplace"),
    )
    chosen = [ANALYZERS.get(n) for n in _STATE.analyzers]
    chosen = [a for a in chosen if ctype.kind in a.kinds]
    pixels = PhotoPixels(blob) if ctype.kind == "photo" else None
    # the most demanding scale first: smaller ones of non-JPEG photos are derived from it
    chosen.sort(key=_demand)
    if pixels is not None and result.meta is not None and result.meta.needs_decode:
        needs = [a.image_needs for a in chosen if isinstance(a, ImageAnalyzer)]
        try:  # the check decode at the first analyzer's scale is the one it will reuse
            pixels.at(needs[0] if needs else ImageNeeds(256))
        except Exception as exc:  # noqa: BLE001 - any decoder failure is the file's damage
            mark_decode(result.meta, exc)
    if pixels is not None:
        refusal = _too_large(pixels, chosen)
        if refusal is not None:
            result.warnings.append(("image_too_large", f"{blob.display_path}: {refusal}"))
            chosen = [a for a in chosen if not isinstance(a, ImageAnalyzer)]
    damaged = result.meta is not None and result.meta.damaged
    for analyzer in chosen:
        if damaged:
            continue
        result.analyses[analyzer.name] = (analyzer.version, run_analyzer(analyzer, blob, pixels))


def _demand(analyzer: Analyzer) -> tuple[int, int]:
    """Sort key: full-scale image analyzers first, then by decreasing ``min_side``, then the
    rest (analyzer results do not depend on the order they run in)."""
    if not isinstance(analyzer, ImageAnalyzer):
        return (2, 0)
    side = analyzer.image_needs.min_side
    return (0, 0) if side is None else (1, -side)


def _too_large(pixels: PhotoPixels, chosen: list[Analyzer]) -> TooLarge | None:
    """The decode budget's refusal of this photo, if any image analyzer's scale is refused."""
    for analyzer in chosen:
        if not isinstance(analyzer, ImageAnalyzer):
            continue
        try:
            pixels.at(analyzer.image_needs)
        except TooLarge as exc:
            return exc
        except Exception:  # noqa: BLE001, S110 - damage is reported by the analyzer itself
            pass
    return None


def process(task: Task) -> Result:
    """Digest, sniff, probe and analyse one file. Failures become warnings, never exceptions."""
    return process_many([task])[0]


def process_many(tasks: list[Task]) -> list[Result]:
    """Process a chunk of files: digest all, ask the store once which are known, describe the rest.

    A disk image's files (``Task.member``) are read here from the image; what this reads it
    also frees (the bytes, or the spool file of a large one) once the chunk is done.
    """
    try:
        digested = [_digest(task) for task in tasks]
        shas = [r.digests.sha256 for r, _s, _c, _e in digested if r.digests is not None]
        known = _known(shas)
        for result, source, ctype, ends in digested:
            if result.digests is None or source is None or ctype is None:
                continue
            result.known = result.digests.sha256 in known
            if not result.known:
                _describe(result, source, ctype, ends)
        return [r for r, _s, _c, _e in digested]
    finally:
        for task in tasks:
            if task.member is not None:
                task.data = None
                if task.spool is not None:
                    Path(task.spool).unlink(missing_ok=True)
                    task.spool = None


def meta_fields(meta: MediaMeta | None) -> dict[str, Any]:
    """MediaItem columns filled from probe metadata."""
    if meta is None:
        return {}
    fields: dict[str, Any] = {
        "width": meta.width,
        "height": meta.height,
        "duration_s": meta.duration_s,
        "frame_rate": meta.frame_rate,
        "status": "damaged" if meta.damaged else "ok",
    }
    if meta.exif is not None:
        exif = meta.exif
        fields.update(
            camera_make=exif.make,
            camera_model=exif.model,
            camera_serial=exif.serial,
            captured_at=exif.captured_at,
            gps_lat=exif.gps_lat,
            gps_lon=exif.gps_lon,
            gps_alt=exif.gps_alt,
            orientation=exif.orientation,
            exif=exif.tags or None,
        )
    return fields
