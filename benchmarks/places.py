"""Same-place search benchmark over the set made by ``benchmarks/gen_places.py``.

    python benchmarks/gen_places.py /tmp/places_bench --scenes 200 --distractors 9800
    python benchmarks/places.py /tmp/places_bench --distractors 1000     # "1k" (1,200 indexed)
    python benchmarks/places.py /tmp/places_bench --distractors 9800     # "10k" (10,000 indexed)
    python benchmarks/places.py --quick    # a small generated set (make bench), ~1 min

Indexes the scenes' base views plus the first N distractors, then runs every query through the
full pipeline (decode, RootSIFT extraction, VLAD shortlist, mutual-NN + MAGSAC verification) and
prints one JSON line: recall@1 / recall@10 (the query's room ranked first / in the top 10 by
verified inliers), the shortlist recall (room within the VLAD shortlist: the bound on recall),
time per query (mean and p95, extraction included and search only), bytes stored per image and
the inlier statistics of true and best false candidates. Features of indexed images are cached
in ``<data>/cache/`` (a ``VSF1`` record per image) so that re-runs only pay for the queries.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import struct
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from vigil.content.decode import decode
from vigil.places import search as search_mod
from vigil.places.defaults import (
    DEFAULT_MIN_COVERAGE,
    DEFAULT_MIN_INLIERS,
    DEFAULT_MIN_SEED,
    DEFAULT_THRESHOLD,
)
from vigil.places.features import (
    QUERY_PARAMS,
    RETRY_PARAMS,
    FeatureParams,
    SceneFeatures,
    extract,
)
from vigil.places.ivf import (
    DEFAULT_COARSE,
    DEFAULT_FINE,
    DEFAULT_HT,
    HammingIndex,
    train_hamming_vocabulary,
)
from vigil.places.search import SearchParams, search
from vigil.places.vlad import GlobalIndex, train_vocabulary

_PARAMS = FeatureParams()


def _extract_file(path: str) -> bytes:
    pixels = decode(Path(path), min_side=_PARAMS.max_side).pixels
    return extract(pixels, _PARAMS).to_bytes()


def _init(params: FeatureParams) -> None:
    global _PARAMS
    _PARAMS = params


def load_cache(path: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    if not path.exists():
        return out
    data = path.read_bytes()
    off = 0
    while off < len(data):
        (nlen,) = struct.unpack_from("<H", data, off)
        name = data[off + 2 : off + 2 + nlen].decode()
        off += 2 + nlen
        (rlen,) = struct.unpack_from("<I", data, off)
        out[name] = data[off + 4 : off + 4 + rlen]
        off += 4 + rlen
    return out


def append_cache(path: Path, items: Iterable[tuple[str, bytes]]) -> None:
    with path.open("ab") as fh:
        for name, rec in items:
            raw = name.encode()
            fh.write(struct.pack("<H", len(raw)) + raw + struct.pack("<I", len(rec)) + rec)


def _variant(params: FeatureParams) -> str:
    """Cache-name suffix of the detection settings ("" for the first extractor's settings)."""
    side = params.detect_side or params.max_side
    out = "" if side == params.max_side else f"_d{side}"
    return out + ("_sp" if params.single_pass else "")


def features_for(root: Path, names: list[str], params: FeatureParams, workers: int
                 ) -> dict[str, bytes]:  # fmt: skip
    cache_dir = root / "cache"
    cache_dir.mkdir(exist_ok=True)
    cache = (
        cache_dir / f"vsf1_{params.max_side}_{params.max_keypoints}_{params.contrast_threshold}"
        f"{_variant(params)}.bin"
    )
    have = load_cache(cache)
    missing = [n for n in names if n not in have]
    if missing:
        start = time.time()
        with ProcessPoolExecutor(workers, initializer=_init, initargs=(params,)) as pool:
            batch: list[tuple[str, bytes]] = []
            paths = [str(root / n) for n in missing]
            for i, rec in enumerate(pool.map(_extract_file, paths, chunksize=8)):
                batch.append((missing[i], rec))
                if len(batch) >= 200:
                    append_cache(cache, batch)
                    have.update(batch)
                    batch = []
                    print(f"features {i + 1}/{len(missing)} {time.time() - start:.0f}s",
                          file=sys.stderr)  # fmt: skip
            append_cache(cache, batch)
            have.update(batch)
    return have


QUICK_SCENES = 12
QUICK_DISTRACTORS = 12


def quick_set(out: Path) -> None:
    """The small set of ``--quick``: generated with ``gen_places.py`` (its JSON line goes to
    stderr, so that this benchmark still prints one line)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import gen_places

    with contextlib.redirect_stdout(sys.stderr):
        gen_places.main([str(out), "--scenes", str(QUICK_SCENES), "--distractors",
                         str(QUICK_DISTRACTORS), "--seed", "11", "--workers", "1"])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("data", type=Path, nargs="?",
                    help="a set made by gen_places.py (not needed with --quick)")  # fmt: skip
    ap.add_argument("--quick", action="store_true",
                    help="generate a small set (12 rooms in chains of four, 24 queries, 12 "
                         "distractors) in a temporary folder and run on it (~1 min)")  # fmt: skip
    ap.add_argument("--distractors", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=0, help="limit (0 = all)")
    ap.add_argument("--shortlist", type=int, default=SearchParams.shortlist)
    ap.add_argument("--max-keypoints", type=int, default=FeatureParams.max_keypoints,
                    help="keypoints kept per indexed image")  # fmt: skip
    ap.add_argument("--query-keypoints", type=int, default=QUERY_PARAMS.max_keypoints,
                    help="keypoints kept per query (0 = same as --max-keypoints)")  # fmt: skip
    ap.add_argument("--detect-side", type=int, default=FeatureParams.detect_side,
                    help="longer side SIFT runs on (640 = the feature image: rootsift/1's "
                         "features)")  # fmt: skip
    ap.add_argument("--contrast", type=float, default=FeatureParams.contrast_threshold,
                    help="SIFT contrast threshold")  # fmt: skip
    ap.add_argument("--two-pass", action="store_true",
                    help="detect, then compute (the first extractor) instead of one pass")  # fmt: skip
    ap.add_argument("--regions", action="store_true", help="also index 5 region vectors")
    ap.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2)))
    ap.add_argument("--early-stop", type=int, default=0)
    ap.add_argument("--details", type=Path, help="write every query's candidates here (JSONL)")
    ap.add_argument("--min-inliers", type=int, default=DEFAULT_MIN_INLIERS)
    ap.add_argument("--min-coverage", type=float, default=DEFAULT_MIN_COVERAGE)
    ap.add_argument("--min-seed", type=int, default=DEFAULT_MIN_SEED,
                    help="inliers of the first fit, before guided matching")  # fmt: skip
    ap.add_argument("--guided", action="store_true", help="verify with guided matching")
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="reprojection px")
    ap.add_argument("--threads", type=int, default=1, help="verification threads")
    ap.add_argument("--retry-below", type=int, default=SearchParams.retry_below,
                    help="weak-result retry with richer query features when no candidate has "
                         "this many verified inliers (0 = never, as before issue 18 point 4)")  # fmt: skip
    ap.add_argument("--retry-top", type=int, default=SearchParams.retry_top,
                    help="shortlisted candidates the retry verifies again")  # fmt: skip
    ap.add_argument("--one-surface-coverage", action="store_true",
                    help="the coverage rule counts the main surface only (before issue 18 point "
                         "4's two-surface coverage)")  # fmt: skip
    ap.add_argument("--peer-one-surface", action="store_true",
                    help="also search every query with --one-surface-coverage first and report "
                         "it as peer_one_surface_coverage, with the CPU time of each")  # fmt: skip
    ap.add_argument("--no-retry-guided", action="store_true",
                    help="no guided matching of the near misses when neither look verified "
                         "anything (SearchParams.retry_guided off)")  # fmt: skip
    ap.add_argument("--peer-plain-retry", action="store_true",
                    help="also search every query with --no-retry-guided first and report it as "
                         "peer_plain_retry, with the CPU time of each")  # fmt: skip
    ap.add_argument("--rank-by-inliers", action="store_true",
                    help="rank verified candidates by inliers alone (before issue 18 point 4: "
                         "'shared object only' evidence not ranked last)")  # fmt: skip
    ap.add_argument(
        "--layout-f-share",
        type=float,
        default=None,
        help="share of each surface's inliers one F must keep (layout verdict)",
    )
    ap.add_argument(
        "--layout-f-threshold",
        type=float,
        default=None,
        help="epipolar distance in px for the layout's F-inliers",
    )
    ap.add_argument(
        "--no-layout",
        action="store_true",
        help="skip the same-room / shared-object verdict (to time it)",
    )
    ap.add_argument("--vlad-only", action="store_true", help="measure the shortlist only")
    ap.add_argument("--shortlister", choices=("ivf", "vlad"), default="ivf",
                    help="ivf: inverted file with Hamming embedding (default); vlad: global VLAD")  # fmt: skip
    ap.add_argument("--k", type=int, default=128, help="VLAD visual words")
    ap.add_argument("--k1", type=int, default=DEFAULT_COARSE, help="coarse words (ivf only)")
    ap.add_argument("--k2", type=int, default=DEFAULT_FINE, help="fine words per coarse one (ivf)")
    ap.add_argument("--pca-dim", type=int, default=256, help="VLAD only")
    ap.add_argument("--ht", type=int, default=DEFAULT_HT, help="Hamming threshold (ivf only)")
    ap.add_argument("--ma", type=int, default=1, help="query multiple assignment (ivf only)")
    args = ap.parse_args(argv)
    if args.quick:
        with tempfile.TemporaryDirectory(prefix="places-quick-") as tmp:
            quick_set(Path(tmp))
            rest = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--quick"]
            if args.data is not None:
                rest.remove(str(args.data))
            return main([tmp, "--distractors", str(QUICK_DISTRACTORS), "--workers", "1", *rest])
    if args.data is None:
        ap.error("a data folder is needed (or --quick)")
    from vigil.places import layout as layout_mod

    if args.layout_f_share is not None:
        layout_mod.MIN_F_SHARE = args.layout_f_share
    if args.layout_f_threshold is not None:
        layout_mod.F_THRESHOLD = args.layout_f_threshold
    root: Path = args.data
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    scenes = manifest["scenes"]
    distractors = manifest["distractors"][: args.distractors]
    if len(distractors) < args.distractors:
        print(f"only {len(distractors)} distractors generated", file=sys.stderr)
    names = [s["file"] for s in scenes] + distractors
    detect = {"detect_side": args.detect_side, "single_pass": not args.two_pass,
              "contrast_threshold": args.contrast}  # fmt: skip
    params = FeatureParams(max_keypoints=args.max_keypoints, **detect)  # type: ignore[arg-type]
    qparams = FeatureParams(
        max_keypoints=args.query_keypoints or args.max_keypoints,
        **detect,  # type: ignore[arg-type]
    )
    recs = features_for(root, names, params, args.workers)
    feats = {i: SceneFeatures.from_bytes(recs[n]) for i, n in enumerate(names)}
    scene_key = {int(s["id"]): i for i, s in enumerate(scenes)}

    t0 = time.time()
    rng = np.random.default_rng(3)
    sample_keys = rng.choice(len(names), min(2000, len(names)), replace=False)
    sample = [feats[int(k)] for k in sample_keys]
    index: GlobalIndex | HammingIndex
    if args.shortlister == "vlad":
        vocab = train_vocabulary(sample, k=args.k, pca_dim=args.pca_dim)
        index = GlobalIndex(vocab, regions=args.regions)
    else:
        hvocab = train_hamming_vocabulary(sample, k1=args.k1, k2=args.k2)
        index = HammingIndex(hvocab, ht=args.ht, multiple_assignment=args.ma)
    if isinstance(index, HammingIndex):
        index.add_many(feats.items())
    else:
        for key, f in feats.items():
            index.add(key, f)
    index.search(feats[0], top=1)  # folds pending additions in (part of the build)
    build_s = time.time() - t0
    train_words = index.vocab.k

    def load(keys: Iterable[int]) -> Mapping[int, SceneFeatures]:
        return {k: feats[k] for k in keys}

    queries = manifest["queries"]
    if args.queries:
        queries = queries[: args.queries]
    sp = SearchParams(shortlist=args.shortlist, top=10, include_unverified=True,
                      early_stop=args.early_stop, threads=args.threads,
                      min_inliers=args.min_inliers, min_coverage=args.min_coverage,
                      min_seed=args.min_seed, guided=args.guided,
                      threshold=args.threshold, layout=not args.no_layout,
                      retry_below=args.retry_below, retry_top=args.retry_top,
                      rank_by_verdict=not args.rank_by_inliers,
                      two_surface_coverage=not args.one_surface_coverage,
                      retry_guided=not args.no_retry_guided)  # fmt: skip
    rparams = FeatureParams(
        max_keypoints=RETRY_PARAMS.max_keypoints,
        detect_side=RETRY_PARAMS.detect_side,
        single_pass=not args.two_pass,
        contrast_threshold=args.contrast,
    )
    retried_queries = 0
    other_first = 0
    retried_candidates = 0
    ranks: list[int] = []
    short_hits = 0
    short_ranks: list[int] = []
    total_ms: list[float] = []
    search_ms: list[float] = []
    shortlist_ms: list[float] = []
    true_inliers: list[int] = []
    false_inliers: list[int] = []
    unrelated_inliers: list[int] = []
    unrelated_links = 0
    chain_links = 0
    chain_of = {i: int(s["chain"]) for i, s in enumerate(scenes)}
    # layout verdicts of verified candidates by kind (true room, sibling of its chain, unrelated)
    verdicts: dict[str, dict[str, int]] = {
        k: dict.fromkeys(("same_room", "shared_object", "unsure"), 0)
        for k in ("true", "sibling", "unrelated")
    }
    # the peers, measured in the same run: the verdict of each pair alone (before the candidates
    # of a query are compared), and that verdict without the plane-vs-parallax test and the
    # second surface's size (the rule before issue 18)
    stages = ("pair_only", "previous_rule")
    staged = {st: {k: dict.fromkeys(("same_room", "shared_object", "unsure"), 0)
                   for k in ("true", "sibling", "unrelated")} for st in stages}  # fmt: skip
    staged_sib_queries = dict.fromkeys(stages, 0)
    before: dict[int, str] = {}
    original_compare = search_mod.compare_layouts

    def spy(cands: list[search_mod.Candidate], scale: float = 1.0) -> list[search_mod.Candidate]:
        for c in cands:
            if c.verification.layout is not None:
                before[c.key] = c.verification.layout.verdict
                if c.verification.layout.reason.startswith(
                    ("two consistent surfaces but little", "two consistent surfaces but a small")
                ):
                    before[-1 - c.key] = "same_room"
        return original_compare(cands, scale)

    search_mod.compare_layouts = spy  # type: ignore[assignment]
    # the peer "main" (before issue 18 point 4: no weak-result retry, ranked by inliers alone),
    # on the same first-pass verifications: the retry keeps them, and its own cost is timed
    original_retry = search_mod._retry
    first_pass: list[list[search_mod.Candidate]] = []
    retry_ms: list[float] = []

    def retry_spy(done: list[search_mod.Candidate], *rest: object) -> list[search_mod.Candidate]:
        first_pass.append(done)
        t = time.perf_counter()
        out = original_retry(done, *rest)  # type: ignore[arg-type]
        retry_ms.append(1000 * (time.perf_counter() - t))
        return out

    search_mod._retry = retry_spy  # type: ignore[assignment]
    peer = {"first": 0, "unrelated_links": 0, "sibling_links": 0,
            "verdicts": {k: dict.fromkeys(("same_room", "shared_object", "unsure"), 0)
                         for k in ("true", "sibling", "unrelated")}}  # fmt: skip
    same_room_ranks: list[int] = []
    queries_with_sibling_same_room = 0
    queries_with_sibling_verified = 0
    details = args.details.open("w", encoding="utf-8") if args.details else None
    # the peer "one surface" (main before the two-surface coverage rule), searched in the same
    # run on the same query features: its recall@1, "same room" verdicts and links, and the CPU
    # time of both searches
    one = {"first": 0, "unrelated_links": 0, "sibling_links": 0, "cpu_s": 0.0,
           "same_room": dict.fromkeys(("true", "sibling", "unrelated"), 0)}  # fmt: skip
    cpu_search = 0.0
    by_two_surfaces = dict.fromkeys(("true", "sibling", "unrelated"), 0)
    for q in queries:
        t_start = time.perf_counter()
        pixels = decode(root / q["file"], min_side=params.max_side).pixels
        qf = extract(pixels, qparams)
        t_mid = time.perf_counter()
        truth = scene_key[int(q["scene"])]
        if (args.peer_one_surface or args.peer_plain_retry) and not args.vlad_only:
            kept = len(retry_ms)  # the retry spy times the measured search only
            c0 = time.process_time()
            peer_sp = (replace(sp, two_surface_coverage=False) if args.peer_one_surface
                       else replace(sp, retry_guided=False))  # fmt: skip
            pc = search(qf, index, load, peer_sp,
                        rich=lambda px=pixels: extract(px, rparams))  # fmt: skip
            one["cpu_s"] += time.process_time() - c0  # type: ignore[operator]
            del retry_ms[kept:]
            pv1 = [c for c in pc if c.verified]
            one["first"] += bool(pv1) and pv1[0].key == truth
            for c in pv1:
                pk = "true" if c.key == truth else "sibling" if chain_of.get(c.key, -1) == chain_of[
                    truth] else "unrelated"  # fmt: skip
                one["unrelated_links"] += pk == "unrelated"
                one["sibling_links"] += pk == "sibling"
                if c.verification.layout is not None and c.verification.layout.verdict == (
                    "same_room"
                ):
                    one["same_room"][pk] += 1  # type: ignore[index]
        before.clear()
        first_pass.clear()
        c0 = time.process_time()
        cands = (
            []
            if args.vlad_only
            else search(qf, index, load, sp, rich=lambda px=pixels: extract(px, rparams))
        )
        cpu_search += time.process_time() - c0
        retried_queries += any(c.retried for c in cands)
        retried_candidates += sum(c.retried and c.verified for c in cands)
        t_end = time.perf_counter()
        total_ms.append(1000 * (t_end - t_start))
        search_ms.append(1000 * (t_end - t_mid))
        t_short = time.perf_counter()
        short = [k for k, _ in index.search(qf, top=max(args.shortlist, 100))]
        shortlist_ms.append(1000 * (time.perf_counter() - t_short))
        short_rank = short.index(truth) if truth in short else 10**6
        short_ranks.append(short_rank)
        short_hits += short_rank < args.shortlist
        verified = [c for c in cands if c.verified]
        if first_pass:  # retried: the peer's candidates are the first pass, compared alone
            saved = dict(before)
            pv = [c for c in original_compare(first_pass[0], qf.scale) if c.verified]
            before.clear()
            before.update(saved)
        else:
            pv = verified
        pv = search_mod.rank(pv, by_verdict=False)[: sp.top]
        peer["first"] += bool(pv) and pv[0].key == truth
        for c in pv:
            pk = "true" if c.key == truth else "sibling" if chain_of.get(c.key, -1) == chain_of[
                truth] else "unrelated"  # fmt: skip
            peer["unrelated_links"] += pk == "unrelated"
            peer["sibling_links"] += pk == "sibling"
            if c.verification.layout is not None:
                peer["verdicts"][pk][c.verification.layout.verdict] += 1
        for c in verified:
            if c.verification.coverage < sp.min_coverage:
                by_two_surfaces["true" if c.key == truth else "sibling" if chain_of.get(
                    c.key, -1) == chain_of[truth] else "unrelated"] += 1  # fmt: skip
        rank = next((i for i, c in enumerate(verified) if c.key == truth), -1)
        ranks.append(rank)
        # the other ranking (by verdict / by inliers alone) of the same candidates
        other = search_mod.rank(verified, not sp.rank_by_verdict)
        other_first += bool(other) and other[0].key == truth
        true_inliers += [c.inliers for c in cands if c.key == truth]
        false_inliers.append(max([c.inliers for c in cands if c.key != truth], default=0))
        # a wrong link to an unrelated image (not a room of the same chain, which genuinely
        # shares wallpaper, carpet and bedding with the query's room)
        unrelated = [c for c in cands if chain_of.get(c.key, -1) != chain_of[truth]]
        unrelated_inliers.append(max([c.inliers for c in unrelated], default=0))
        unrelated_links += sum(c.verified for c in unrelated)
        if details is not None:
            kinds = {c.key: "true" if c.key == truth else "unrelated" if c in unrelated else "chain"
                     for c in cands}  # fmt: skip
            details.write(json.dumps({"query": q["file"], "candidates": [
                {"key": c.key, "kind": kinds[c.key], "inliers": c.inliers, "verified": c.verified,
                 "first_fit": c.verification.first_fit_inliers, "retried": c.retried,
                 "coverage": round(c.verification.coverage, 4), "shortlist_rank": c.shortlist_rank,
                 "layout": None if c.verification.layout is None
                 else c.verification.layout.as_dict(),
                 "pair_verdict": before.get(c.key)}
                for c in cands], "truth_shortlist_rank": short_rank}) + "\n")  # fmt: skip
        chain_links += sum(c.verified for c in cands if c.key != truth and c not in unrelated)
        sibling_hit = sibling_verified = False
        for c in verified:
            lay = c.verification.layout
            kind = "true" if c.key == truth else "unrelated" if c in unrelated else "sibling"
            if lay is not None:
                verdicts[kind][lay.verdict] += 1
                sibling_hit |= kind == "sibling" and lay.verdict == "same_room"
            sibling_verified |= kind == "sibling"
        queries_with_sibling_same_room += sibling_hit
        for st in stages:
            hit = False
            for c in verified:
                if c.key not in before:
                    continue
                kind = "true" if c.key == truth else "unrelated" if c in unrelated else "sibling"
                v = before[c.key]
                if st == "previous_rule":
                    v = before.get(-1 - c.key, v)
                staged[st][kind][v] += 1
                hit |= kind == "sibling" and v == "same_room"
            staged_sib_queries[st] += hit
        queries_with_sibling_verified += sibling_verified
        same_room = [c for c in verified
                     if c.verification.layout is not None
                     and c.verification.layout.verdict == "same_room"]  # fmt: skip
        same_room_ranks.append(next((i for i, c in enumerate(same_room) if c.key == truth), -1))
    if details is not None:
        details.close()
    n = len(queries)
    ranks_a = np.array(ranks)
    feature_bytes = float(np.mean([len(recs[nm]) for nm in names]))
    if isinstance(index, GlobalIndex):
        global_bytes = index.vectors.shape[1] * 2 * len(index.keys) / len(names)
    else:
        global_bytes = 16 * index.postings / len(names)
    result = {
        "benchmark": "places",
        "indexed": len(names),
        "scenes": len(scenes),
        "distractors": len(distractors),
        "queries": n,
        "recall_at_1": round(float(np.mean(ranks_a == 0)), 4),
        "recall_at_10": round(float(np.mean((ranks_a >= 0) & (ranks_a < 10))), 4),
        "rank_by_verdict": sp.rank_by_verdict,
        "recall_at_1_other_ranking": round(other_first / max(1, len(queries)), 4),
        "shortlist": args.shortlist,
        "shortlist_recall": round(short_hits / max(1, n), 4),
        "vlad_recall_at": {
            str(k): round(float(np.mean(np.array(short_ranks) < k)), 4)
            for k in (1, 10, 20, 30, 50, 100)
        },
        "ms_per_query_mean": round(float(np.mean(total_ms)), 1),
        "ms_per_query_p95": round(float(np.percentile(total_ms, 95)), 1),
        "ms_search_only_mean": round(float(np.mean(search_ms)), 1),
        "ms_decode_extract_mean": round(float(np.mean(total_ms) - np.mean(search_ms)), 1),
        "detect_side": params.detect_side or params.max_side,
        "single_pass": params.single_pass,
        "contrast_threshold": params.contrast_threshold,
        "ms_shortlist_mean": round(float(np.mean(shortlist_ms)), 1),
        "bytes_per_image_features": round(feature_bytes),
        "bytes_per_image_global": round(global_bytes),
        "index_build_s": round(build_s, 1),
        "true_inliers_median": float(np.median(true_inliers)) if true_inliers else 0.0,
        "best_false_inliers_p95": float(np.percentile(false_inliers, 95)) if false_inliers else 0,
        "verified_unrelated_links": unrelated_links,
        "retry_below": sp.retry_below,
        "ms_retry_per_query_mean": round(float(np.sum(retry_ms)) / max(1, n), 1),
        "queries_retried": len(retry_ms),
        "peer_main_rule": {
            "recall_at_1": round(peer["first"] / max(1, n), 4),  # type: ignore[operator]
            "verified_unrelated_links": peer["unrelated_links"],
            "verified_sibling_links": peer["sibling_links"],
            "verdicts_of_verified": peer["verdicts"],
        },
        "two_surface_coverage": sp.two_surface_coverage,
        "verified_by_two_surfaces": by_two_surfaces,
        "cpu_ms_search_per_query": round(1000 * cpu_search / max(1, n), 1),
        "retry_guided": sp.retry_guided,
        ("peer_plain_retry" if args.peer_plain_retry else "peer_one_surface_coverage"): None
        if not (args.peer_one_surface or args.peer_plain_retry)
        else {
            "recall_at_1": round(one["first"] / max(1, n), 4),  # type: ignore[operator]
            "first": one["first"],
            "same_room_verdicts": one["same_room"],
            "verified_unrelated_links": one["unrelated_links"],
            "verified_sibling_links": one["sibling_links"],
            "cpu_ms_search_per_query": round(1000 * one["cpu_s"] / max(1, n), 1),  # type: ignore[operator]
        },
        "first": int(np.sum(ranks_a == 0)),
        "queries_with_a_retried_candidate": retried_queries,
        "verified_retried_candidates": retried_candidates,
        "verified_same_chain_links": chain_links,
        "best_unrelated_inliers_max": max(unrelated_inliers, default=0),
        "layout": None
        if args.no_layout
        else {
            "verdicts_of_verified": verdicts,
            "recall_at_1_same_room": round(float(np.mean(np.array(same_room_ranks) == 0)), 4),
            "sibling_share_of_same_room_verdicts": round(
                verdicts["sibling"]["same_room"]
                / max(1, sum(v["same_room"] for v in verdicts.values())),
                4,
            ),
            "queries_with_a_sibling_verified": round(queries_with_sibling_verified / max(1, n), 4),
            "f_share": layout_mod.MIN_F_SHARE,
            "f_threshold_px": layout_mod.F_THRESHOLD,
            "queries_with_a_sibling_called_same_room": round(
                queries_with_sibling_same_room / max(1, n), 4
            ),
            "min_parallax": layout_mod.MIN_PARALLAX,
            "min_parallax_regions": layout_mod.MIN_PARALLAX_REGIONS,
            "min_second_surface": layout_mod.MIN_SECOND_SURFACE,
            "cross_overlap": layout_mod.CROSS_OVERLAP,
            **{
                st: {
                    "verdicts_of_verified": staged[st],
                    "sibling_share_of_same_room_verdicts": round(
                        staged[st]["sibling"]["same_room"]
                        / max(1, sum(v["same_room"] for v in staged[st].values())),
                        4,
                    ),
                    "queries_with_a_sibling_called_same_room": round(
                        staged_sib_queries[st] / max(1, n), 4
                    ),
                }
                for st in stages
            },
        },
        "min_inliers": sp.min_inliers,
        "min_coverage": sp.min_coverage,
        "min_seed": sp.min_seed,
        "guided": sp.guided,
        "verify_threshold_px": args.threshold,
        "max_keypoints": params.max_keypoints,
        "query_keypoints": qparams.max_keypoints,
        "shortlister": args.shortlister,
        "words": train_words,
        "regions": args.regions,
        "threads": args.threads,
        "cpu_s_main_process": round(time.process_time(), 1),  # worker processes not included
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
