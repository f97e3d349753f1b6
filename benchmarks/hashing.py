"""Benchmark: PDQ photo hashing per core next to the JPEG decode limit measured in the same run.

For generated JPEGs of about 0.3, 2 and 12 megapixels it measures, in CPU seconds on one core
(median of ``--repeats`` passes):

* ``full_decode``: Pillow decoding every pixel;
* ``reduced_decode``: the reduced-scale decode Vigil uses (shorter side >= 512 px), i.e. the
  JPEG decode limit for the ingest path;
* ``hash_reduced``: Vigil's PDQ pipeline as ingest runs it (reduced decode + PDQ);
* ``hash_full``: full decode + PDQ (what python-threatexchange does);

and the bits by which the reduced-scale hash differs from the full-decode hash (the documented
bound). Goal: ``hash_reduced`` >= 0.8 x ``reduced_decode``.

The generated pictures carry sensor-like grain so that their JPEGs (q90) weigh about what
camera photos do (~0.1 / 0.6 / 3.5 MB); the output reports MB per image. They are drawn at
<= 1024 px and scaled up, so their fine detail differs from camera photos.

    python benchmarks/hashing.py [--repeats 3] [--count 0.3=40,2=12,12=4] [--quick]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

from vigil.content.decode import decode
from vigil.signals.base import Hashed
from vigil.signals.pdq import REDUCED_MIN_SIDE, distance, hash_image
from vigil.signals.synthetic import jpeg_bytes, scene

SIZES = {"0.3": (640, 480), "2": (1632, 1224), "12": (4000, 3000)}


def rate(fn: Callable[[bytes], object], images: list[bytes], repeats: int) -> float:
    """Images per CPU-second (median over repeats)."""
    times = []
    for _ in range(repeats):
        c0 = time.process_time()
        for data in images:
            fn(data)
        times.append(time.process_time() - c0)
    return len(images) / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--count", default="0.3=40,2=12,12=4")
    ap.add_argument("--quick", action="store_true", help="one pass over a few images per size")
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.count = 1, "0.3=4,2=2,12=1"
    counts = {k: int(v) for k, v in (p.split("=") for p in args.count.split(","))}
    results: dict[str, dict[str, float | int]] = {}
    for label, (w, h) in SIZES.items():
        n = counts.get(label, 0)
        if n <= 0:
            continue
        images = [jpeg_bytes(scene(9000 + i, w, h, grain=10), quality=90) for i in range(n)]
        dists = []
        for data in images:
            a = hash_image(data, reduced=False)
            b = hash_image(data, reduced=True)
            if isinstance(a, Hashed) and isinstance(b, Hashed):
                dists.append(distance(a.value, b.value))
        r_full_dec = rate(lambda d: decode(d), images, args.repeats)
        r_red_dec = rate(lambda d: decode(d, min_side=REDUCED_MIN_SIDE), images, args.repeats)
        r_hash_red = rate(lambda d: hash_image(d, reduced=True), images, args.repeats)
        r_hash_full = rate(lambda d: hash_image(d, reduced=False), images, max(1, args.repeats - 1))
        results[f"{label}MP"] = {
            "images": n,
            "mb_per_image": round(sum(map(len, images)) / n / 1e6, 2),
            "full_decode_per_s": round(r_full_dec, 1),
            "reduced_decode_per_s": round(r_red_dec, 1),
            "hash_reduced_per_s": round(r_hash_red, 1),
            "hash_full_per_s": round(r_hash_full, 1),
            "ratio_to_reduced_decode": round(r_hash_red / r_red_dec, 2),
            "speedup_vs_full_hash": round(r_hash_red / r_hash_full, 1),
            "bits_vs_full_median": statistics.median(dists) if dists else None,
            "bits_vs_full_max": max(dists) if dists else None,
        }
    print(
        json.dumps(
            {
                "benchmark": "pdq_hashing",
                "unit": "images per CPU-second, one core",
                "reduced_min_side": REDUCED_MIN_SIDE,
                "results": results,
                "goal": {"ratio_to_reduced_decode": 0.8},
            }
        )
    )


if __name__ == "__main__":
    main()
