"""Ingest benchmark: prints one JSON line.

Generates >= 5,000 JPEGs (mixed 0.3 / 2 / 12 MP), a few videos and archives, then measures
(a) the machine's raw limit in the same run: reading every byte and computing MD5 + SHA-1 +
SHA-256 with the same number of processes, and (b) `vigil ingest` of the same folder (digests,
type sniffing, EXIF, structural checks, single-writer SQLite), without and (optionally) with the
default analyzers. Goal: ingest wall time within 1.5x of the raw hashing limit.

    python benchmarks/ingest.py            # full size (5,000 photos, ~1.3 GB)
    python benchmarks/ingest.py --quick    # 600 photos, for a smoke run
    python benchmarks/ingest.py --quick --executor ray   # + Ray with 1 and 2 local workers
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import tempfile
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from vigil.demo import jpeg_bytes, synthetic_picture, synthetic_video
from vigil.ingest.pipeline import ingest
from vigil.plugins import load_defaults
from vigil.settings import Settings
from vigil.store.db import Database

SIZES = {"0.3MP": (640, 480), "2MP": (1632, 1224), "12MP": (4000, 3000)}
MIX = (("0.3MP", 0.70), ("2MP", 0.25), ("12MP", 0.05))


def unique_variant(jpeg: bytes, n: int) -> bytes:
    """Same pixels, different bytes: a COM segment right after SOI (keeps the file well formed)."""
    payload = f"vigil-bench-{n}".encode()
    return jpeg[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


def build(root: Path, photos: int) -> dict[str, int]:
    rng = np.random.default_rng(11)
    bases = {
        k: [
            jpeg_bytes(
                synthetic_picture(rng, *SIZES[k]),
                quality=90,
                camera=("Bench", k, "SN1"),
                taken="2024:01:01 12:00:00",
            )
            for _ in range(3)
        ]
        for k in SIZES
    }
    counts = {k: int(photos * share) for k, share in MIX}
    counts["0.3MP"] += photos - sum(counts.values())
    n = 0
    for k, count in counts.items():
        folder = root / "photos" / k
        folder.mkdir(parents=True)
        for i in range(count):
            (folder / f"{k}_{i:05d}.jpg").write_bytes(unique_variant(bases[k][i % 3], n))
            n += 1
    (root / "video").mkdir()
    for v in range(4):
        synthetic_video(root / "video" / f"clip{v}.mp4", seconds=4, fps=15, size=(320, 240), seed=v)
    (root / "archives").mkdir()
    for a in range(3):
        with zipfile.ZipFile(root / "archives" / f"a{a}.zip", "w", zipfile.ZIP_STORED) as zf:
            for i in range(100):
                zf.writestr(
                    f"in/{i}.jpg", unique_variant(bases["0.3MP"][i % 3], 10_000_000 + a * 1000 + i)
                )
    return counts


def _hash_file(path: str) -> int:
    md5, sha1, sha256 = (
        hashlib.md5(usedforsecurity=False),
        hashlib.sha1(usedforsecurity=False),
        hashlib.sha256(),
    )
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            md5.update(chunk)
            sha1.update(chunk)
            sha256.update(chunk)
            size += len(chunk)
    return size


def raw_limit(root: Path, workers: int) -> tuple[float, int, int]:
    files = [str(p) for p in root.rglob("*") if p.is_file()]
    start = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        total = sum(pool.map(_hash_file, files, chunksize=16))
    return time.perf_counter() - start, total, len(files)


def _vm_hwm_mb() -> float:
    """Peak resident set of this process (VmHWM; unlike ru_maxrss it is not inherited over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed_ingest(
    home: str, root: str, workers: int, analyzers: list[str] | None, executor: str = "local"
) -> dict[str, object]:
    """Runs in a fresh process so its peak RSS is the ingest's alone."""
    load_defaults()
    settings = Settings.load(home, workers=workers)
    Path(home).mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    warm, startup = None, 0.0
    if executor == "ray":  # start Ray first: its start-up (~10 s) is reported on its own
        from vigil.jobs.ray_executor import RayExecutor

        t0 = time.perf_counter()
        warm = RayExecutor(num_cpus=workers)
        startup = time.perf_counter() - t0
    start = time.perf_counter()
    report = ingest(settings, db, root, "bench", "bench", analyzers, executor=executor)
    wall = time.perf_counter() - start
    if warm is not None:
        warm.shutdown()
    db.dispose()
    return {
        "startup": startup,
        "wall": wall,
        "files": report.files,
        "analyzers": report.analyzers,
        "rss_writer_mb": _vm_hwm_mb(),
        "rss_worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="600 photos instead of 5,000")
    parser.add_argument("--photos", type=int, default=None)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--with-analyzers", action="store_true", help="also time ingest with the default analyzers"
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="reuse/keep the generated folder here"
    )
    parser.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="ray: also time each ingest on a private local Ray instance with 1 and 2 workers "
        "(Ray start-up included), next to the local executor",
    )
    args = parser.parse_args()
    photos = args.photos or (600 if args.quick else 5000)
    load_defaults()
    tmp = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    root = args.keep or tmp / "evidence"
    try:
        t0 = time.perf_counter()
        if not root.exists():
            build(root, photos)
        gen_s = time.perf_counter() - t0
        _hash_file(str(next(root.rglob("*.jpg"))))  # warm imports
        raw_s, total_bytes, n_files = raw_limit(root, args.workers)  # also warms the page cache
        raw_s, total_bytes, n_files = raw_limit(root, args.workers)
        runs = {}
        plan: list[tuple[str, list[str] | None, str, int]] = []
        for label, analyzers in (("no_analyzers", []), ("default_analyzers", None)):
            if label == "default_analyzers" and not args.with_analyzers:
                continue
            plan.append((label, analyzers, "local", args.workers))
            if args.executor == "ray":
                plan += [(f"{label}_ray_{n}w", analyzers, "ray", n) for n in (1, 2)]
        for label, analyzers, executor, workers in plan:
            with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                r = pool.submit(
                    _timed_ingest,
                    str(tmp / f"home-{label}"),
                    str(root),
                    workers,
                    analyzers,
                    executor,
                ).result()
            wall = float(r["wall"])  # type: ignore[arg-type]
            runs[label] = {
                "wall_s": round(wall, 2),
                "files": r["files"],
                "items_per_s": round(int(r["files"]) / wall, 1),  # type: ignore[call-overload]
                "mb_per_s": round(total_bytes / wall / 1e6, 1),
                "vs_raw_hashing": round(wall / raw_s, 2),
                "analyzers": r["analyzers"],
                "executor": executor,
                "workers": workers,
                "executor_startup_s": round(float(r["startup"]), 2),  # type: ignore[arg-type]
                "peak_rss_mb": {
                    "writer": round(float(r["rss_writer_mb"]), 1),
                    "worker": round(float(r["rss_worker_mb"]), 1),
                },  # type: ignore[arg-type]
            }
        print(
            json.dumps(
                {
                    "benchmark": "ingest",
                    "photos": photos,
                    "files": n_files,
                    "bytes": total_bytes,
                    "workers": args.workers,
                    "generate_s": round(gen_s, 1),
                    "raw_limit": {
                        "wall_s": round(raw_s, 2),
                        "mb_per_s": round(total_bytes / raw_s / 1e6, 1),
                        "items_per_s": round(n_files / raw_s, 1),
                        "what": "read + MD5 + SHA-1 + SHA-256, same process count, warm cache",
                    },
                    "ingest": runs,
                    "goal": "ingest wall time <= 1.5x raw hashing limit",
                }
            )
        )
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
