"""Run ``vigil serve`` (one worker) under cProfile on every thread; write the stats at exit.

    python benchmarks/profile_serve.py OUT.pstats serve --host 127.0.0.1 --port 8470
    python benchmarks/web.py --profile OUT.pstats ...     # the benchmark starts it this way

Each thread (the event loop with uvicorn's HTTP parsing, routing and middleware, and the
handler threads with the guard, SQL and templates) gets its own profiler timed by that
thread's CPU clock, so the figures are CPU seconds, not time spent waiting for a core or for
PostgreSQL. The stats of all threads are merged into ``OUT`` (``python -m pstats OUT``).
"""

from __future__ import annotations

import atexit
import cProfile
import pstats
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

_PROFILES: list[cProfile.Profile] = []
_LOCK = threading.Lock()


def _new_profile() -> cProfile.Profile:
    profile = cProfile.Profile(time.thread_time)
    with _LOCK:
        _PROFILES.append(profile)
    return profile


def _start_in_thread(_frame: FrameType, _event: str, _arg: Any) -> None:
    # the first profiling event of a new thread: replace this hook by a profiler of its own
    _new_profile().enable()


def _dump(out: str) -> None:
    with _LOCK:
        profiles = list(_PROFILES)
    stats: pstats.Stats | None = None
    for profile in profiles:
        try:
            if stats is None:
                stats = pstats.Stats(profile)
            else:
                stats.add(profile)
        except TypeError:  # a thread that never recorded anything
            continue
    if stats is not None:
        stats.dump_stats(out)
        print(f"profile of {len(profiles)} threads written to {out}", file=sys.stderr)


def main() -> None:
    out, argv = sys.argv[1], sys.argv[2:]
    atexit.register(_dump, out)
    # uvicorn re-raises the SIGTERM it handled once it has shut down: exit through Python then,
    # so that the stats are written (the default action would end the process at once)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    threading.setprofile(_start_in_thread)
    _new_profile().enable()
    from vigil.cli.main import main as vigil_main

    sys.exit(vigil_main(argv))


if __name__ == "__main__":
    main()
