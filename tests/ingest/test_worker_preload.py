"""Analyzer workers start from a fork server that loaded their code once (issue 16), use one
OpenCV thread per core they have, and record exactly what in-process analysis records."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from vigil.ingest import worker
from vigil.ingest.pipeline import ingest, worker_context
from vigil.settings import Settings
from vigil.signals.synthetic import jpeg_bytes, scene
from vigil.store.db import Database
from vigil.store.hashsets import ItemSignal
from vigil.store.models import MediaItem
from vigil.store.places import SceneFeature

LOADED = ("cv2", "vigil.signals._pdqkernel", "vigil.places.features", "vigil.content.decode")


def test_preload_loads_the_analyzers_code_and_starts_no_thread() -> None:
    code = textwrap.dedent(
        f"""
        import json, os, sys
        import cv2, numpy  # their BLAS pools start on import (and handle fork themselves)
        before = len(os.listdir("/proc/self/task"))
        import vigil.ingest.preload
        from vigil.ingest.analyzers import ANALYZERS
        print(json.dumps([[m for m in {LOADED!r} if m in sys.modules],
                          sorted(a.name for a in ANALYZERS),
                          before, len(os.listdir("/proc/self/task"))]))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded, analyzers, before, after = json.loads(out.stdout)
    assert loaded == list(LOADED)
    assert {"pdq", "vpdq", "scene"} <= set(analyzers)
    # a fork server that had started a thread pool (OpenCV's parallel code, Numba's) would fork
    # children holding that pool's state without its threads
    assert after == before


def test_only_analyzer_workers_come_from_the_fork_server() -> None:
    assert worker_context(["pdq"]).get_start_method() == "forkserver"
    assert worker_context([]).get_start_method() == "spawn"


def test_a_forked_worker_has_the_kernel_before_its_first_photo_and_one_opencv_thread() -> None:
    init = (None, ("pdq", "scene"), False, None, None, 1 << 20, 1)
    with ProcessPoolExecutor(
        1, mp_context=worker_context(["pdq"]), initializer=worker.init_worker, initargs=init
    ) as pool:
        kernel = pool.submit(eval, "'vigil.signals._pdqkernel' in __import__('sys').modules")
        threads = pool.submit(eval, "__import__('cv2').getNumThreads()")
        assert kernel.result() is True
        assert threads.result() == 1


@pytest.mark.parametrize(("cores", "workers", "expected"), [(8, 2, 4), (2, 2, 1), (2, 5, 1)])
def test_native_threads_share_out_the_cores(
    monkeypatch: pytest.MonkeyPatch, cores: int, workers: int, expected: int
) -> None:
    monkeypatch.setattr(worker.os, "sched_getaffinity", lambda _pid: set(range(cores)))
    assert worker.native_threads_per_worker(workers) == expected


def _analyses(db: Database, dump: Callable[[Database], dict[str, Any]]) -> dict[str, Any]:
    with db.read() as s:
        sha = {i.id: i.sha256 for i in s.execute(select(MediaItem)).scalars()}
        signals = sorted(
            (sha[r.item_id], r.signal_type, r.value, r.quality)
            for r in s.execute(select(ItemSignal)).scalars()
        )
        feats = sorted(
            (sha[r.item_id or 0], r.frame, r.n_keypoints, r.extractor, bytes(r.data))
            for r in s.execute(select(SceneFeature)).scalars()
        )
    return {"rows": dump(db), "signals": signals, "features": feats}


def test_forked_workers_record_what_in_process_analysis_records(
    tmp_path: Path, dump: Callable[[Database], dict[str, Any]]
) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    for i, (w, h) in enumerate([(1632, 1224), (900, 700), (2200, 1100), (640, 480)] * 2):
        (ev / f"p{i}.jpg").write_bytes(jpeg_bytes(scene(i, w, h)))
    got = {}
    for n in (0, 2):
        settings = Settings.load(tmp_path / f"home{n}", workers=n)
        settings.data_dir.mkdir(parents=True)
        db = Database(settings.database_url)
        report = ingest(settings, db, ev, "c", "tester", ["pdq", "vpdq", "scene"])
        assert report.files == 8
        got[n] = _analyses(db, dump)
        db.dispose()
    assert len(got[0]["signals"]) == 8
    assert len(got[0]["features"]) == 8
    assert sum(f[2] for f in got[0]["features"]) > 8 * 50  # textured scenes, real features
    assert got[2] == got[0]
