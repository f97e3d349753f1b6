"""Fuzzing videos read from a file path: the probe (first the MP4/MOV box reader,
``vigil.content.mp4head``, which must give up on what it does not understand) and the frame
sampler open the evidence file through Vigil's read-only handle and hand it to PyAV (not the
path), so a damaged file must still
end in a Vigil error or a warning, within the time bound, with the handle closed (a leaked file
is a ``ResourceWarning``, a finding). Generated frames only."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from vigil.content.probe import MediaMeta, probe_video
from vigil.content.video import sample_frames
from vigil.signals.analyzers import make_video

from . import harness


def _seeds() -> list[bytes]:
    rng = np.random.default_rng(11)
    frames = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(3)]
    return [
        make_video(frames, fps=4, seconds_per_image=0.5),
        make_video(frames[:2], fps=2, seconds_per_image=1.0, container_format="matroska"),
    ]


def test_video_path_fuzz(tmp_path: Path) -> None:
    counter = itertools.count()

    def target(data: bytes) -> MediaMeta:
        path = tmp_path / f"case{next(counter)}.mp4"
        path.write_bytes(data)
        try:
            meta = probe_video(path)
            for _t, _pixels in sample_frames(path, every_s=0.5, max_frames=4):
                pass
            return meta
        finally:
            path.unlink()

    seeds = _seeds()
    first = target(seeds[0])
    assert first.width == 64 and first.height == 48, first
    report = harness.run("video_path", seeds, target, n=harness.cases(40), max_case_s=10)
    report.check()
