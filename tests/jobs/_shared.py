"""What the Ray tests share: reusing tests/ingest's builders and oracles, and a private Ray."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

INGEST_TESTS = Path(__file__).parents[1] / "ingest"


def load_ingest_module(name: str) -> ModuleType:
    """A module of tests/ingest (its builders, fixtures and oracles are reused, not copied)."""
    spec = importlib.util.spec_from_file_location(f"ingest_{name}", INGEST_TESTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def private_ray() -> Iterator[None]:
    """A private two-CPU Ray instance on 127.0.0.1 (as CI runs it), shut down afterwards."""
    import ray

    assert not ray.is_initialized()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=128 * 1024 * 1024,
        _node_ip_address="127.0.0.1",
    )
    try:
        yield
    finally:
        ray.shutdown()
    assert not ray.is_initialized()
