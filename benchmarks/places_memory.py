"""Peak memory of the places shortlist index: build (train, add, save) and search.

Synthetic scene features (random RootSIFT-like uint8 descriptors around a few thousand
centres, random positions) stand in for photos: memory depends on the counts, not the pixels.
Each phase runs with the peak-RSS counter reset (``/proc/self/clear_refs``), so the JSON line
names where the peak is. The 4 GB goal at 100k images (issue 18) is printed with a projection
from the per-image figures of this run.

    python benchmarks/places_memory.py --images 10000 --keypoints 2000
    python benchmarks/places_memory.py --quick
    python benchmarks/places_memory.py --fake-encode --images 10000   # memory of the postings only

``--fake-encode`` skips the vocabulary (random centroids) and the assignment (random words,
skewed like real ones, and random signatures): the memory of adding, writing, loading and
searching the postings at scale, in seconds instead of the assignment's hours on two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vigil.places import ivf
from vigil.places.features import SceneFeatures
from vigil.places.ivf import HammingIndex, HammingVocabulary, train_hamming_vocabulary

GOAL_BYTES = 4 * 1024**3
TRAIN_IMAGES = 2000


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def synthetic(n: int, keypoints: int, seed: int = 0) -> Iterator[tuple[int, SceneFeatures]]:
    """``n`` images of ``keypoints`` descriptors drawn around 4096 shared centres."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 200, size=(4096, 128)).astype(np.int16)
    for key in range(n):
        pick = rng.integers(0, len(centres), keypoints)
        noise = rng.integers(-25, 26, size=(keypoints, 128), dtype=np.int16)
        desc = np.clip(centres[pick] + noise, 0, 255).astype(np.uint8)
        xy = rng.uniform(0, 640, size=(keypoints, 2)).astype(np.float32)
        yield key, SceneFeatures(xy, desc, 640, 480, 1.0)


def _fake_encode(vocab: HammingVocabulary, desc: np.ndarray, multiple: int) -> object:
    """Random words (a skewed draw: real visual words are far from uniform) and signatures."""
    rng = np.random.default_rng(int((desc[0, :8] * 1000).astype(np.int64).sum()))
    n = len(desc)
    words = np.minimum((rng.pareto(1.2, (n, multiple)) * 800).astype(np.int64), vocab.k - 1)
    sigs = rng.integers(0, 2**63, (n, multiple), dtype=np.int64).astype(np.uint64)
    return ivf._Encoded(words, sigs)


def _random_vocab(seed: int = 0) -> HammingVocabulary:
    rng = np.random.default_rng(seed)
    k1, k2 = ivf.DEFAULT_COARSE, ivf.DEFAULT_FINE
    return HammingVocabulary(
        rng.random((k1, 128), np.float32), rng.random((k1 * k2, 128), np.float32),
        rng.random((ivf.BITS, 128), np.float32), rng.random((k1 * k2, ivf.BITS), np.float32),
    )  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--keypoints", type=int, default=2000, help="per image (the stored cap)")
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="300 images of 300 keypoints")
    ap.add_argument("--fake-encode", action="store_true", help="skip training and assignment")
    args = ap.parse_args()
    if args.quick:
        args.images, args.keypoints, args.queries = 300, 300, 5
    out: dict[str, object] = {"images": args.images, "keypoints": args.keypoints,
                              "fake_encode": args.fake_encode}  # fmt: skip
    if args.fake_encode:
        ivf._encode_unit = _fake_encode  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenes.vhe"
        _reset_peak()
        t0, c0 = time.time(), time.process_time()
        rng = np.random.default_rng(17)
        chosen = set(
            rng.choice(args.images, min(TRAIN_IMAGES, args.images), replace=False).tolist()
        )
        vocab = (
            _random_vocab()
            if args.fake_encode
            else train_hamming_vocabulary(
                f for key, f in synthetic(args.images, args.keypoints) if key in chosen
            )
        )
        out["train_s"] = round(time.time() - t0, 1)
        out["train_cpu_s"] = round(time.process_time() - c0, 1)
        out["train_peak_rss_mb"] = _status("VmHWM") >> 20
        print(json.dumps(out), file=sys.stderr, flush=True)  # progress of a long run
        _reset_peak()
        t0, c0 = time.time(), time.process_time()
        index = HammingIndex(vocab, trained_on=len(chosen), spill_dir=Path(tmp) / "spill")
        index.add_many(synthetic(args.images, args.keypoints))
        out["add_peak_rss_mb"] = _status("VmHWM") >> 20
        out["add_s"] = round(time.time() - t0, 1)
        out["add_cpu_s"] = round(time.process_time() - c0, 1)
        print(json.dumps(out), file=sys.stderr, flush=True)  # progress of a long run
        _reset_peak()
        index.save(path)
        out["build_s"] = round(time.time() - t0, 1)
        out["build_cpu_s"] = round(time.process_time() - c0, 1)
        out["save_peak_rss_mb"] = _status("VmHWM") >> 20
        out["file_mb"] = path.stat().st_size >> 20
        print(json.dumps(out), file=sys.stderr, flush=True)  # progress of a long run
        del index
        _reset_peak()
        t0 = time.time()
        loaded = HammingIndex.load(path)
        out["load_peak_rss_mb"] = _status("VmHWM") >> 20
        out["load_s"] = round(time.time() - t0, 2)
        queries = [f for _, f in synthetic(args.queries, args.keypoints // 2, seed=1)]
        t0, c0 = time.time(), time.process_time()
        for q in queries:
            loaded.search(q, top=50)
        out["ms_per_query"] = round(1000 * (time.time() - t0) / max(1, len(queries)), 1)
        out["cpu_ms_per_query"] = round(1000 * (time.process_time() - c0) / max(1, len(queries)), 1)
        out["search_peak_rss_mb"] = _status("VmHWM") >> 20
        out["search_rss_anon_mb"] = _status("RssAnon") >> 20
        out["search_rss_file_mb"] = _status("RssFile") >> 20
    peak = max(int(str(out[k])) for k in out if str(k).endswith("peak_rss_mb"))
    out["peak_rss_mb"] = peak
    out["goal_mb_at_100k"] = GOAL_BYTES >> 20
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
