"""Video frame sampling (vigil.content.video): interval, long videos, seeking, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vigil.content.video import sample_frames
from vigil.errors import WrongFormat
from vigil.signals.analyzers import make_video


def _write_video(path: Path, frames: list[np.ndarray], fps: int) -> Path:
    """One encoded frame per array, at ``fps``."""
    path.write_bytes(make_video(frames, fps=fps, seconds_per_image=1 / fps))
    return path


def _numbered_frames(seconds: int, fps: int) -> list[np.ndarray]:
    """Frames whose grey level encodes their index (so a decoded frame can be identified)."""
    return [np.full((64, 64, 3), (i * 5) % 250, dtype=np.uint8) for i in range(seconds * fps)]


def test_first_frame_at_or_after_each_interval(tmp_path: Path) -> None:
    video = _write_video(tmp_path / "clip.mp4", _numbered_frames(4, 4), fps=4)
    samples = list(sample_frames(video, every_s=1.0))
    assert [t for t, _px in samples] == pytest.approx([0.0, 1.0, 2.0, 3.0])
    assert all(px.shape == (64, 64, 3) and px.dtype == np.uint8 for _t, px in samples)
    from_bytes = [t for t, _px in sample_frames(video.read_bytes(), every_s=1.0)]
    assert from_bytes == pytest.approx([0.0, 1.0, 2.0, 3.0])


def test_long_video_samples_are_spread_over_the_whole_video(tmp_path: Path) -> None:
    video = _write_video(tmp_path / "long.mp4", _numbered_frames(20, 2), fps=2)
    info: dict[str, float] = {}
    times = [t for t, _px in sample_frames(video, every_s=1.0, max_frames=5, info=info)]
    assert len(times) <= 5
    assert times[0] == 0.0
    assert times[-1] >= 15.0  # the end of the video is covered, not just its first 5 s
    assert info["truncated"] == 0.0
    assert info["every_s"] == pytest.approx(info["duration"] / 4)


def test_seeking_gives_the_same_frames_as_decoding_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vigil.content.video as video_mod

    video = _write_video(tmp_path / "sparse.mp4", _numbered_frames(30, 2), fps=2)
    seek = [(t, int(px.mean())) for t, px in sample_frames(video, every_s=8.0)]
    monkeypatch.setattr(video_mod, "SEEK_FROM_S", 1e9)
    sequential = [(t, int(px.mean())) for t, px in sample_frames(video, every_s=8.0)]
    assert [t for t, _m in seek] == pytest.approx([0.0, 8.0, 16.0, 24.0])
    assert seek == sequential


def test_not_a_video_and_bad_interval_are_refused() -> None:
    with pytest.raises(WrongFormat):
        list(sample_frames(b"this is plain text, not a video container at all"))
    with pytest.raises(ValueError, match="every_s"):
        list(sample_frames(b"", every_s=0))


def _b_frame_video(path: Path, seconds: int = 6, fps: int = 8) -> Path:
    """H.264 with B-frames and a keyframe every 2 s; the corner encodes the frame index."""
    ramp = np.tile((np.arange(96, dtype=np.uint8) * 2)[:, None, None], (1, 96, 3))
    frames = []
    for i in range(seconds * fps):
        img = np.roll(ramp, 3 * i, axis=0)
        img[:16, :16] = (i * 5) % 250
        frames.append(img)
    options = {"bf": "3", "g": str(2 * fps), "b_strategy": "0", "sc_threshold": "0"}
    data = make_video(frames, fps=fps, seconds_per_image=1 / fps, codec="libx264", options=options)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("every_s", [1.0, 2.5, 8.0])
def test_skipping_and_seeking_give_the_frames_of_decoding_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every_s: float
) -> None:
    import vigil.content.video as video_mod

    video = _b_frame_video(tmp_path / "b.mp4")
    decoded: list[int] = []
    real = video_mod._decode

    def counting(*args: object) -> object:
        for frame in real(*args):  # type: ignore[arg-type]
            decoded.append(1)
            yield frame

    monkeypatch.setattr(video_mod, "_decode", counting)
    fast = list(sample_frames(video, every_s=every_s))
    n_fast = len(decoded)
    monkeypatch.setattr(video_mod, "SEEK_FROM_S", 1e9)
    monkeypatch.setattr(video_mod, "SKIP_UNSAMPLED", False)
    decoded.clear()
    ref = list(sample_frames(video, every_s=every_s))
    assert len(decoded) == 48  # the reference decodes every frame
    assert n_fast < 40  # non-reference frames between samples (or whole GOPs) were not decoded
    assert [t for t, _ in fast] == [t for t, _ in ref]
    assert len(ref) == int(np.ceil(6 / every_s))
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(fast, ref, strict=True))
