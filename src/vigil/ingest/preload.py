"""What the ingest workers' fork server loads once, so that every worker starts with it.

Ingest workers that run analyzers (and back-fill workers, ``vigil analyze``) are forked from a
fork server (see :func:`vigil.ingest.pipeline.worker_context`) that imports this module once:
the worker code, the registered plug-ins (:func:`vigil.plugins.load_defaults`), the decoder,
OpenCV and the PDQ kernel compiled by Numba (loading it from Numba's cache was ~0.7 CPU-s per
worker). A spawned worker paid all of that itself, ~1.6 CPU-s each with the default analyzers
(issue 16).

Importing this module has these effects on purpose (it exists for the fork server); nothing here
may start a thread or run a native library's parallel code (a forked child would inherit a
thread pool without its threads). A failure to load something is not reported here: the worker
loads what is missing on first use and reports a failure there, as a spawned worker does.
"""

from __future__ import annotations

import contextlib

from vigil import plugins
from vigil.ingest import backfill as _backfill  # noqa: F401 - `vigil analyze` workers
from vigil.ingest import worker as _worker  # noqa: F401 - loaded for the workers

# a failure is the worker's to report: its own load_defaults() tries again
with contextlib.suppress(Exception):
    plugins.load_defaults()

try:
    from vigil.content import decode as _decode  # noqa: F401
    from vigil.places import features as _features  # noqa: F401
    from vigil.signals.pdq import _kernel

    _kernel()
except Exception:  # noqa: BLE001, S110 - loaded on first use in the worker instead
    pass
