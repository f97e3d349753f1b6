"""Benchmark: long-video sampling (vPDQ, faces/places frames) next to a keyframe-only decode.

Generates a 1080p H.264 clip of synthetic moving content in a temporary directory (never
kept), with B-frames and a keyframe every ``--gop-s`` seconds, and times on it, in the same
run, each scaled to **seconds per hour of video** (wall time; decoders use threads):

* ``keyframes_only``: decoding only the keyframes (``skip_frame="NONKEY"``), the floor;
* ``decode_all``: decoding every frame, no conversion (what a decode-everything sampler pays);
* ``vpdq_old`` / ``vpdq_new``: :func:`vigil.signals.vpdq.hash_video` decoding every frame /
  skipping the decode of non-reference frames that cannot be sampled (same hashes, checked);
* ``frames_old`` / ``frames_new``: :func:`vigil.content.video.sample_frames` decoding every
  frame / as shipped (seeking for sparse intervals, skipping non-reference frames otherwise),
  at the faces interval for a short video (2 s) and at the interval a one-hour video gets
  (faces: 3600 s / 149 ≈ 24 s; places: 3600 s / 11 ≈ 327 s, capped to the clip).

    python benchmarks/video.py [--quick] [--seconds 60] [--gop-s 4]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np

import vigil.content.video as video_mod
from vigil.signals.vpdq import VideoHashes, hash_video


def make_clip(path: Path, seconds: float, fps: int, gop_s: float, size: tuple[int, int]) -> None:
    """Encode ``seconds`` of moving synthetic content (panning texture + moving blocks)."""
    width, height = size
    rng = np.random.default_rng(7)
    small = rng.integers(0, 256, (height // 8 + 2, width // 8 + 2, 3), dtype=np.uint8)
    texture = np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)
    with av.open(str(path), mode="w") as container:
        stream: Any = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "superfast", "g": str(int(gop_s * fps)), "bf": "3",
                          "keyint_min": str(int(gop_s * fps)), "sc_threshold": "0"}  # fmt: skip
        for i in range(int(seconds * fps)):
            dx, dy = (3 * i) % 16, (2 * i) % 16
            img = np.ascontiguousarray(texture[dy : dy + height, dx : dx + width])
            scene = i // (fps * 3)  # a new block layout every 3 s
            y0 = (37 * scene + 5 * i) % (height - 200)
            x0 = (91 * scene + 7 * i) % (width - 300)
            img[y0 : y0 + 200, x0 : x0 + 300] = (40 * scene % 256, 200, 90)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def decode_count(path: Path, skip: Any) -> int:
    """Decode the video (only keyframes with ``skip="NONKEY"``) and count frames."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.skip_frame = skip
        return sum(1 for _ in container.decode(stream))


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Best wall time of ``repeats`` runs and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def frames(path: Path, every_s: float, *, old: bool) -> list[tuple[float, int]]:
    """(time, checksum) of the faces/places sampler's frames; ``old`` decodes everything."""
    saved = (video_mod.SEEK_FROM_S, video_mod.SKIP_UNSAMPLED)
    if old:
        video_mod.SEEK_FROM_S, video_mod.SKIP_UNSAMPLED = float("inf"), False
    try:
        return [
            (round(t, 3), int(px[::7, ::7].astype(np.int64).sum()))
            for t, px in video_mod.sample_frames(path, every_s=every_s, max_frames=10_000)
        ]
    finally:
        video_mod.SEEK_FROM_S, video_mod.SKIP_UNSAMPLED = saved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="a 6 s clip, one pass")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--gop-s", type=float, default=4.0)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    seconds = 6.0 if args.quick else args.seconds
    repeats = 1 if args.quick else args.repeats
    per_hour = 3600.0 / seconds
    out: dict[str, Any] = {"video": f"1920x1080 H.264 {args.fps} fps, {seconds:g} s, "
                           f"keyframe every {args.gop_s:g} s, B-frames", "unit": "s per hour"}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        t0 = time.perf_counter()
        make_clip(path, seconds, args.fps, args.gop_s, (1920, 1080))
        out["encode_s"] = round(time.perf_counter() - t0, 1)
        out["mb"] = round(path.stat().st_size / 1e6, 1)
        t_key, n_key = timed(lambda: decode_count(path, "NONKEY"), repeats)
        t_all, n_all = timed(lambda: decode_count(path, "DEFAULT"), repeats)
        out["frames"], out["keyframes"] = n_all, n_key
        t_vold, v_old = timed(lambda: hash_video(path, skip_unsampled=False), repeats)
        t_vnew, v_new = timed(lambda: hash_video(path), repeats)
        assert isinstance(v_old, VideoHashes)
        assert isinstance(v_new, VideoHashes)
        same_vpdq = v_old.frames == v_new.frames
        timings = {"keyframes_only": t_key, "decode_all": t_all, "vpdq_old": t_vold,
                   "vpdq_new": t_vnew}  # fmt: skip
        same_frames = True
        intervals = {"2s": 2.0, "24s": min(24.0, seconds / 3), "327s": min(327.0, seconds / 2)}
        for name, every in intervals.items():
            t_old, f_old = timed(lambda e=every: frames(path, e, old=True), repeats)  # type: ignore[misc]
            t_new, f_new = timed(lambda e=every: frames(path, e, old=False), repeats)  # type: ignore[misc]
            same_frames = same_frames and f_old == f_new
            timings[f"frames_old_{name}"], timings[f"frames_new_{name}"] = t_old, t_new
        out["intervals_s"] = {k: round(v, 1) for k, v in intervals.items()}
    out.update({k: round(v * per_hour, 1) for k, v in timings.items()})
    out["vpdq_samples"] = v_new.sampled
    out["vpdq_identical"] = same_vpdq
    out["frames_identical"] = same_frames
    out["vpdq_new_vs_floor"] = round(t_vnew / t_key, 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
