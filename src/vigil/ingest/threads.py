"""Per-file work in threads of the writer process, for an ingest without analyzers (issue 16)
where its workers cannot be forked (another thread runs in the process, or not Linux: see
``pipeline._fork_safe``; a single-threaded process, as the command line is, forks them).

Without analyzers a file costs reading, three digests, a sniff and a header probe. Reading and
hashing release the GIL (``hashlib`` does for buffers over 2 KiB), so threads of the writer
process run them in parallel on several cores without what worker processes cost on top:
starting each one (an interpreter and its imports, ~0.17 CPU-s) and sending every task and result
through a pipe. The photo header and EXIF reading holds the GIL, but it is a small part.

A disk image's file (``Task.member`` an ``ImageMember``) is still read by a worker process,
started on the first such chunk: The Sleuth Kit's image handles are per process and not made for
concurrent threads. An archive's member is read in the threads (each thread keeps its own open
archive, ``vigil.evidence.archive``).
Analyzers (models, decoders, OpenCV) always run in worker processes; this pool is never used
for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

from vigil.evidence.walk import ImageMember
from vigil.ingest.worker import Task, close_worker


class ThreadedWork(Executor):
    """``n`` threads of this process run :func:`~vigil.ingest.worker.process_many` chunks; a chunk
    holding a disk image's file goes to worker processes made by ``processes`` (on first use).

    The caller initialises the in-process worker state (:func:`~vigil.ingest.worker.init_worker`
    without ``parent_pid``); :meth:`shutdown` closes it.
    """

    def __init__(self, n: int, processes: Callable[[], Executor]) -> None:
        self._threads = ThreadPoolExecutor(max(1, n), thread_name_prefix="vigil-digest")
        self._make_processes = processes
        self._processes: Executor | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if _has_image_member(args):
            with self._lock:
                if self._processes is None:
                    self._processes = self._make_processes()
                processes = self._processes
            return processes.submit(fn, *args, **kwargs)
        return self._threads.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._threads.shutdown(wait=wait, cancel_futures=cancel_futures)
        with self._lock:
            processes, self._processes = self._processes, None
        if processes is not None:
            processes.shutdown(wait=wait, cancel_futures=cancel_futures)
        close_worker()  # a thread still running (wait=False) then finds nothing known


def _has_image_member(args: tuple[Any, ...]) -> bool:
    return any(
        isinstance(tasks, list)
        and any(isinstance(t, Task) and isinstance(t.member, ImageMember) for t in tasks)
        for tasks in args
    )
