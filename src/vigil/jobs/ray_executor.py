"""A ``concurrent.futures.Executor`` whose tasks run as Ray remote tasks.

Why an Executor and not a Ray-specific pipeline: the ingest pipeline already streams chunks to a
``ProcessPoolExecutor`` and gets results back through futures into its single writer. Keeping that
interface means the writer, resumability (skip what is recorded) and batching are exactly the
same code with either executor; only *where* ``process_many`` runs changes.

Each Ray worker process runs the pool-style ``initializer`` once (per executor, keyed by a token),
so analyzers and the read-only database connection are set up once per process, as with the
local pool. Without an address a private local Ray instance is started on 127.0.0.1 and stopped
by :meth:`RayExecutor.shutdown`; with an address (``ray start --head`` elsewhere) the executor
joins that cluster and leaves it running.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import CancelledError, Executor, Future
from typing import Any, TypeVar

from vigil.errors import BackendError, NotReady

T = TypeVar("T")

OBJECT_STORE_BYTES = 256 * 1024 * 1024
"""Object store of a private local instance: chunks are <= 48 MiB and a few are in flight, so
Ray's default (30 % of RAM) would only reserve memory the analyzers need."""

_initialised: str | None = None
"""Token of the executor whose initializer last ran in this (Ray worker) process."""


def _run(
    token: str,
    initializer: Callable[..., object] | None,
    initargs: tuple[Any, ...],
    fn: Callable[..., T],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> T:
    """Body of every Ray task: initialise this worker process once, then call ``fn``."""
    global _initialised
    if _initialised != token:
        if initializer is not None:
            initializer(*initargs)
        _initialised = token
    return fn(*args, **kwargs)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise NotReady(
            "the Ray executor needs Ray: pip install 'vigil[ray]' (on every node of the cluster)"
        ) from exc
    return ray


class RayExecutor(Executor):
    """Run submitted callables as Ray tasks (one CPU each) and hand back ordinary futures.

    Args:
        address: a running cluster (``"auto"``, ``"10.0.0.5:6379"``, ``"ray://host:10001"``);
            ``None`` starts a private local instance with ``num_cpus`` CPUs on 127.0.0.1.
        num_cpus: CPUs of the private local instance (default: all of this machine's).
        initializer, initargs: as for ``ProcessPoolExecutor``; run once in each Ray worker
            process before its first task of this executor.
        max_retries: how often Ray re-runs a task whose worker process or node died.

    Raises:
        NotReady: Ray is not installed.
        BackendError: the cluster at ``address`` cannot be reached.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        max_retries: int = 2,
    ) -> None:
        ray = _import_ray()
        self._ray = ray
        self._owns = False
        if not ray.is_initialized():
            # no usage reports leave an evidence room
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            try:
                if address:
                    ray.init(address=address, log_to_driver=False)
                else:
                    ray.init(
                        num_cpus=num_cpus,
                        include_dashboard=False,
                        log_to_driver=False,
                        object_store_memory=OBJECT_STORE_BYTES,
                        _node_ip_address="127.0.0.1",
                    )
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise BackendError(
                    f"cannot start or join Ray at {address or 'a local instance'}: {exc}"
                ) from exc
            self._owns = True
        self.max_workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        """CPUs of the cluster: how many tasks can run at once."""
        self._token = uuid.uuid4().hex
        self._initializer = initializer
        self._initargs = initargs
        self._remote = ray.remote(num_cpus=1, max_retries=max_retries)(_run)
        self._pending: dict[Any, None] = {}
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Start ``fn(*args, **kwargs)`` as a Ray task; its future completes with the result or
        with the exception the task raised (unwrapped from Ray's ``RayTaskError``)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit to a RayExecutor after shutdown")
            ref = self._remote.remote(
                self._token, self._initializer, self._initargs, fn, args, kwargs
            )
            self._pending[ref] = None
        out: Future[T] = Future()
        out.set_running_or_notify_cancel()

        def relay(done: Future[T]) -> None:
            with self._lock:
                self._pending.pop(ref, None)
            if done.cancelled():
                out.set_exception(CancelledError())
                return
            exc = done.exception()
            if exc is None:
                out.set_result(done.result())
            else:
                out.set_exception(_unwrap(exc))

        ref.future().add_done_callback(relay)
        return out

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting work; optionally cancel what has not finished; stop the private local
        instance (a cluster given by address is left running)."""
        with self._lock:
            self._closed = True
            pending = list(self._pending)
        if cancel_futures:
            for ref in pending:
                # a task that already finished or whose worker is gone has nothing to cancel
                with contextlib.suppress(Exception):
                    self._ray.cancel(ref, force=True)
        elif wait and pending:
            self._ray.wait(pending, num_returns=len(pending))
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
            self._owns = False


def _unwrap(exc: BaseException) -> BaseException:
    """The task's own exception where Ray can rebuild it (``RayTaskError.cause``)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc
