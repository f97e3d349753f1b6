"""Benchmark: the hub's PDQ overlap lookups at scale, and push-to-notification time.

1. ``pdq``: ``--agencies`` x ``--per-agency`` random PDQ hashes at the hub (default 20 x 500k =
   10M) in the hub's index (:class:`vigil.hub.pdqindex.PdqIndex`: multi-index hashing, exact),
   then a new push of ``--push`` hashes (default 100k) from one more agency, 1 % of them planted
   near-duplicates (0..31 bits flipped) of stored hashes. Reports lookups/s on one core
   (threshold 31, other agencies only) and, as the peer measured in the same run, the brute-force
   scan's lookups/s on a sample; recall of the index against that brute force on the sample
   (planted and random queries); and the NumPy-only candidate check's rate on a tenth of the
   push (the path used without Numba). Rates are CPU time (``lookups_per_s``) and wall time.
   Goal >= 4,000 lookups/s. Random hashes are uniform; real PDQ
   hashes cluster, which makes multi-index hashing somewhat slower than here.
2. ``e2e``: a hub and three agencies in-process over the signed HTTP API (SQLite): each pushes
   ``--e2e-signals`` digests + PDQ hashes, sharing a few photos; the time from the start of the
   last push until both agencies of an overlap have it in their notifications, wall and CPU
   (client and server run in this process, so CPU time covers both; on a shared machine the
   wall time mostly measures the queue for a core, hence the load average next to it).

    python benchmarks/hub.py [--quick]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import numpy.typing as npt

from vigil.hub.pdqindex import PdqIndex

W = npt.NDArray[np.uint64]


def _flip(rng: np.random.Generator, words: W, max_bits: int) -> W:
    out = words.copy()
    for row in out:
        for b in rng.choice(256, int(rng.integers(0, max_bits + 1)), replace=False):
            row[b // 64] ^= np.uint64(1) << np.uint64(b % 64)
    return out


def bench_pdq(
    agencies: int, per_agency: int, push: int, sample: int, seed: int = 0
) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    n = agencies * per_agency
    words = rng.integers(0, 2**63, size=(n, 4), dtype=np.uint64) ^ (
        rng.integers(0, 2, size=(n, 4), dtype=np.uint64) << np.uint64(63)
    )
    ids = np.arange(1, n + 1, dtype=np.int64)
    members = np.repeat(np.arange(1, agencies + 1, dtype=np.int64), per_agency)
    t0 = time.perf_counter()
    index = PdqIndex(words, ids, members, n)
    build_s = time.perf_counter() - t0
    newcomer = agencies + 1
    queries = rng.integers(0, 2**63, size=(push, 4), dtype=np.uint64)
    planted = rng.choice(push, max(1, push // 100), replace=False)
    queries[planted] = _flip(rng, words[rng.choice(n, len(planted))], 31)
    assert index.main is not None
    # Numba's import and the kernel's load from its on-disk cache (or its first compilation)
    t0 = time.perf_counter()
    index.search(queries[:8], 31, newcomer)
    warmup_s = time.perf_counter() - t0
    c0, t0 = time.process_time(), time.perf_counter()
    qi, got, _d = index.search(queries, 31, newcomer)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    # the previous, NumPy-only candidate check on part of the push, same index (a second peer)
    part = queries[: max(1, push // 10)]
    index.main.compiled = False
    c0 = time.process_time()
    qi_np, got_np, _ = index.search(part, 31, newcomer)
    numpy_cpu = time.process_time() - c0
    index.main.compiled = None
    same = {(int(a), int(b)) for a, b in zip(qi_np, got_np, strict=True)} == {
        (int(a), int(b)) for a, b in zip(qi, got, strict=True) if a < len(part)
    }
    # the oracle: brute force on a sample (half planted), timed as the peer
    pick = np.concatenate(
        [planted[: sample // 2], rng.choice(push, sample - min(sample // 2, len(planted)))]
    )
    c0 = time.process_time()
    want: set[tuple[int, int]] = set()
    for i in pick:
        d = np.bitwise_count(words ^ queries[i][None, :]).sum(axis=1)
        want |= {(int(i), int(ids[j])) for j in np.flatnonzero(d <= 31)}
    brute_cpu = time.process_time() - c0
    have = {(int(q), int(g)) for q, g in zip(qi, got, strict=True) if q in set(pick.tolist())}
    recall = len(want & have) / len(want) if want else 1.0
    return {
        "hashes_at_hub": n,
        "agencies": agencies,
        "push": push,
        "build_s": round(build_s, 1),
        "compiled": index.main._use_compiled(),
        "kernel_load_s": round(warmup_s, 2),
        "lookups_per_s": round(push / cpu),
        "lookups_per_s_wall": round(push / wall),
        "numpy_path_lookups_per_s": round(len(part) / numpy_cpu),
        "numpy_path_same_result": same,
        "matches": len(got),
        "planted": len(planted),
        "brute_force_lookups_per_s": round(len(pick) / brute_cpu, 1),
        "recall_vs_brute_force": round(recall, 4),
        "oracle_pairs": len(want),
        "index_mb": round(index.main.nbytes / 2**20),
        "load_average": os.getloadavg()[0],
    }


def bench_e2e(signals: int) -> dict[str, object]:
    from fastapi.testclient import TestClient

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.hub._world import make_world  # generated members, keys and one operation

    from vigil.hub.app import create_app
    from vigil.hub.client import HubClient

    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        world = make_world(Path(tmp))
        http = TestClient(create_app(world.hub), base_url="http://127.0.0.1")
        clients = {
            n: HubClient("http://127.0.0.1", a.key, http=http) for n, a in world.agencies.items()
        }
        shared = [hashlib.sha256(f"shared{i}".encode()).hexdigest() for i in range(5)]
        times, cpu = {}, {}
        for k, (name, agency) in enumerate(world.agencies.items()):
            per = signals // 2
            digests = [hashlib.sha256(f"{name}{i}".encode()).hexdigest() for i in range(per)]
            if k != 1:
                digests[:5] = shared
            pdqs = [rng.bytes(32).hex() for _ in range(per)]
            sigs = [
                {"kind": "sha256", "value": d, "local_ref": f"item:{i}", "meta": {}}
                for i, d in enumerate(digests)
            ]
            sigs += [
                {"kind": "pdq", "value": p, "local_ref": f"item:{i}", "meta": {}}
                for i, p in enumerate(pdqs)
            ]
            env = agency.envelope(sigs)
            t0, c0 = time.perf_counter(), time.process_time()
            res = clients[name].push(env)
            times[name] = time.perf_counter() - t0
            cpu[name] = time.process_time() - c0
        last = list(world.agencies)[-1]
        t0, c0 = time.perf_counter(), time.process_time()
        seen_a = clients[next(iter(world.agencies))].notifications()
        seen_c = clients[last].notifications()
        read, read_cpu = time.perf_counter() - t0, time.process_time() - c0
        http.close()
        world.hub.close()
    assert res["overlaps"] == 5, res
    assert len(seen_a) == 5
    assert len(seen_c) == 5
    return {
        "agencies": 3,
        "signals_per_push": signals,
        "push_s": {k: round(v, 3) for k, v in times.items()},
        "push_cpu_s": {k: round(v, 3) for k, v in cpu.items()},
        "push_to_notification_ms": round((times[last] + read) * 1000),
        "push_to_notification_cpu_ms": round((cpu[last] + read_cpu) * 1000),
        "load_average": os.getloadavg()[0],
        "overlaps": res["overlaps"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="20 x 25k hashes, 10k push, small e2e")
    ap.add_argument("--agencies", type=int, default=20)
    ap.add_argument("--per-agency", type=int, default=500_000)
    ap.add_argument("--push", type=int, default=100_000)
    ap.add_argument("--sample", type=int, default=200)
    ap.add_argument("--e2e-signals", type=int, default=10_000)
    args = ap.parse_args()
    if args.quick:
        args.per_agency, args.push, args.sample, args.e2e_signals = 25_000, 10_000, 100, 1_000
    pdq = bench_pdq(args.agencies, args.per_agency, args.push, args.sample)
    e2e = bench_e2e(args.e2e_signals)
    out = {
        "benchmark": "hub",
        "quick": args.quick,
        "pdq": pdq,
        "goal_lookups_per_s": 4000,
        "e2e": e2e,
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
