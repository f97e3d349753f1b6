"""Benchmark: exact PDQ search at radius 31 over a large index (default 10 million hashes).

Builds :class:`vigil.index.hamming.MihIndex` over uniformly random 256-bit hashes, plants
near-duplicates (0-31 bits away from random entries) among the queries, and reports build
time, memory, queries per second on one core (CPU time, batched queries) and recall against
the brute-force oracle (:class:`LinearHammingIndex`) on a sample of the queries (must be 1.0).
``--clustered`` draws the indexed hashes around 1,000 centres instead (real hash sets are
clustered, which makes multi-index hashing work harder).

    python benchmarks/matching.py [--n 10000000] [--queries 2000] [--oracle 100] [--clustered]
    python benchmarks/matching.py --entries 30000000 --mapped /var/tmp/bench   # the .vmih file

``--mapped DIR`` also writes the index as a memory-mapped ``.vmih`` file and opens it in a fresh
process (as a web worker or a second CLI would): open time with and without the checksum pass,
that process's resident memory (file-backed pages are shared between processes, anonymous ones
are private) and its query rate; plus the bytes per hash, projected to 100 million hashes.
``--streamed`` (with ``--mapped``) builds the file directly, one chunk table at a time
(:func:`vigil.index.mapped.build_mapped`), and measures the index mapped from it in this process
too: the way to build 100M hashes without holding every table in memory.

    python benchmarks/matching.py --entries 100000000 --mapped /var/tmp/bench --streamed \
        --oracle 40 --batches 4096

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from vigil.index.hamming import LinearHammingIndex, MihIndex

_OPEN = r"""
import json, sys, time
from pathlib import Path
import numpy as np
from vigil.index.mapped import open_mapped
def status():
    out = {}
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            key = line.split(":")[0]
            if key in ("VmRSS", "RssAnon", "RssFile"):
                out[key] = int(line.split()[1]) // 1024
    return out
path, verify, radius = Path(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[3])
queries = np.load(sys.argv[4])
before = status()
t0 = time.perf_counter()
index, _ = open_mapped(path, verify=verify)
opened = time.perf_counter() - t0
index.search_arrays(queries[:2], radius)  # Numba import + cached kernel load, not timed
step = index.search_batch
c0, t0 = time.process_time(), time.perf_counter()
for start in range(0, len(queries), step):
    index.search_arrays(queries[start : start + step], radius)
cpu, wall = time.process_time() - c0, time.perf_counter() - t0
print(json.dumps({"open_s": round(opened, 2), "queries_per_s_cpu": round(len(queries) / cpu, 1),
                  "queries_per_s_wall": round(len(queries) / wall, 1),
                  "rss_mb_before": before, "rss_mb_after": status()}))
"""


def rss_parts() -> dict[str, int]:
    """This process's resident memory in MB: anonymous (private) and file-backed (shared)."""
    out = {}
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            key = line.split(":")[0]
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[key] = int(line.split()[1]) // 1024
    return out


def mapped_figures(
    index: MihIndex, queries: np.ndarray, radius: int, folder: Path, written: float | None = None
) -> dict:
    """Write the ``.vmih`` file (unless ``written``: the streamed build's seconds) and measure it
    from fresh processes."""
    from vigil.index.mapped import save_mapped

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bench.vmih"
    qfile = folder / "queries.npy"
    np.save(qfile, queries)
    if written is None:
        t0 = time.perf_counter()
        size = save_mapped(index, path)
        write_s = time.perf_counter() - t0
    else:
        size, write_s = path.stat().st_size, written
    runs = {}
    for verify in ("1", "0"):
        out = subprocess.run(
            [sys.executable, "-c", _OPEN, str(path), verify, str(radius), str(qfile)],
            capture_output=True,
            text=True,
            check=True,
        )
        runs["verified" if verify == "1" else "unverified"] = json.loads(out.stdout)
        _progress(verify=verify, **json.loads(out.stdout))
    per_hash = size / max(len(index), 1)
    path.unlink()
    qfile.unlink()
    return {
        "file_mb": round(size / 1e6),
        "write_s": round(write_s, 1),
        "bytes_per_hash": round(per_hash, 1),
        "projected_file_gb_at_100m": round(per_hash * 1e8 / 1e9, 1),
        "fresh_process": runs,
    }


def _progress(**figures: object) -> None:
    """A partial result on stderr (a long run that is stopped still leaves its figures)."""
    figures["load_average"] = os.getloadavg()[0]
    sys.stderr.write(json.dumps(figures, default=str) + "\n")
    sys.stderr.flush()


def rss_mb() -> float:
    """Current resident set size in MB (Linux)."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def flip(words: np.ndarray, rng: np.random.Generator, max_bits: int) -> np.ndarray:
    """Copies of ``words`` with 0..max_bits random bits flipped per row."""
    out = words.copy()
    for row in out:
        for b in rng.choice(256, int(rng.integers(0, max_bits + 1)), replace=False):
            row[b // 64] ^= np.uint64(1) << np.uint64(63 - b % 64)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", "--entries", dest="n", type=int, default=10_000_000)
    ap.add_argument("--mapped", type=Path, help="also measure the .vmih file in this folder")
    ap.add_argument("--quick", action="store_true", help="200k hashes, 500 queries")
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--oracle", type=int, default=100, help="queries checked by brute force")
    ap.add_argument("--streamed", action="store_true", help="build the --mapped file directly")
    ap.add_argument("--batches", default="1,16,4096", help="query batch sizes to time")
    ap.add_argument("--radius", type=int, default=31)
    ap.add_argument("--clustered", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.quick:
        args.n, args.queries, args.oracle = 200_000, 500, 50
    rng = np.random.default_rng(args.seed)
    base_rss = rss_mb()
    if args.clustered:
        centres = rng.integers(0, 2**64, size=(1000, 4), dtype=np.uint64)
        words = centres[rng.integers(0, 1000, args.n)]
        # each entry 20-60 bits from its centre: dense neighbourhoods, like families of edits
        noise = np.zeros_like(words)
        for _ in range(40):
            bit = rng.integers(0, 256, args.n)
            noise[np.arange(args.n), bit // 64] ^= np.uint64(1) << (63 - bit % 64).astype(np.uint64)
        words ^= noise
        del noise, centres
    else:
        words = rng.integers(0, 2**64, size=(args.n, 4), dtype=np.uint64)
    ids = np.arange(args.n, dtype=np.int64)
    data_rss = rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    if args.streamed:
        if args.mapped is None:
            ap.error("--streamed needs --mapped DIR")
        from vigil.index.mapped import build_mapped, open_mapped

        build_mapped(words, ids, args.mapped / "bench.vmih")
        build_wall, build_cpu = time.perf_counter() - t0, time.process_time() - c0
        index, _ = open_mapped(args.mapped / "bench.vmih", verify=False)
        # from here on the mapped (shared, file-backed) arrays stand in for the private copies
        words, ids = np.asarray(index.words), np.asarray(index.ids)
    else:
        index = MihIndex(words, ids)
        build_wall, build_cpu = time.perf_counter() - t0, time.process_time() - c0
    build_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    index_rss = rss_mb()
    _progress(build_s_wall=build_wall, build_s_cpu=build_cpu, build_peak_rss_mb=build_peak)
    half = args.queries // 2
    planted = flip(words[rng.integers(0, args.n, half)], rng, args.radius)
    randoms = rng.integers(0, 2**64, size=(args.queries - half, 4), dtype=np.uint64)
    queries = np.concatenate([planted, randoms])
    plan = index.plan(args.radius)
    t0 = time.perf_counter()
    index.search_arrays(queries[:2], args.radius)  # Numba import + cached kernel load
    kernel_load_s = time.perf_counter() - t0
    per_batch: dict[int, dict[str, float]] = {}
    found = 0
    for batch in (int(b) for b in args.batches.split(",")):
        found = 0
        c0, t0 = time.process_time(), time.perf_counter()
        for start in range(0, len(queries), batch):
            qi, _rows, _d = index.search_arrays(queries[start : start + batch], args.radius)
            found += len(qi)
        q_cpu, q_wall = time.process_time() - c0, time.perf_counter() - t0
        per_batch[batch] = {
            "queries_per_s_cpu": round(len(queries) / q_cpu, 1),
            "queries_per_s_wall": round(len(queries) / q_wall, 1),
        }
        _progress(batch=batch, **per_batch[batch], rss=rss_parts())
    best = max(per_batch, key=lambda b: per_batch[b]["queries_per_s_cpu"])
    # recall against brute force on a sample (planted and random queries)
    sample = np.concatenate([queries[: args.oracle // 2], queries[-(args.oracle // 2) :]])
    oracle = LinearHammingIndex(words, ids)
    c2 = time.process_time()
    expected = oracle.query_batch(sample, max_distance=args.radius)
    oracle_cpu = time.process_time() - c2
    _progress(oracle_ms_per_query_cpu=1000 * oracle_cpu / len(sample))
    got = index.query_batch(sample, max_distance=args.radius)
    true_total = sum(len(e) for e in expected)
    hit = sum(
        len({m.entry_id for m in g} & {m.entry_id for m in e})
        for g, e in zip(got, expected, strict=True)
    )
    exact = all(g == e for g, e in zip(got, expected, strict=True))
    rss_after_queries = rss_parts()
    mapped = (
        mapped_figures(
            index, queries, args.radius, args.mapped, build_wall if args.streamed else None
        )
        if args.mapped is not None
        else None
    )
    print(
        json.dumps(
            {
                "benchmark": "pdq_matching",
                "n": args.n,
                "clustered": args.clustered,
                "radius": args.radius,
                "chunks": len(index.chunk_spans),
                "plan": plan,
                "streamed": args.streamed,
                "compiled": index._use_compiled(),
                "kernel_load_s": round(kernel_load_s, 2),
                "build_s_wall": round(build_wall, 1),
                "build_s_cpu": round(build_cpu, 1),
                "build_peak_rss_mb": round(build_peak),
                "rss_mb_data": round(data_rss - base_rss),
                "rss_mb_total": round(index_rss),
                "rss_mb_after_queries": rss_after_queries,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "index_mb": round(index.nbytes / 1e6),
                "queries": len(queries),
                "best_batch": best,
                "queries_per_s_cpu": per_batch[best]["queries_per_s_cpu"],
                "queries_per_s_wall": per_batch[best]["queries_per_s_wall"],
                "by_batch": per_batch,
                "matches_found": found,
                "oracle_queries": len(sample),
                "oracle_ms_per_query_cpu": round(1000 * oracle_cpu / len(sample), 1),
                "recall_vs_bruteforce": (hit / true_total) if true_total else 1.0,
                "identical_to_bruteforce": exact,
                "mapped": mapped,
                "goal": {"queries_per_s": 1000, "rss_mb": 2048, "recall": 1.0},
                "load_average": os.getloadavg(),
            }
        )
    )


if __name__ == "__main__":
    main()
