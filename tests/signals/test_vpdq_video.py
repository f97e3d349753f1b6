"""vPDQ on generated videos: sampling, clip matching, damaged input."""

from __future__ import annotations

import io
import itertools

import av
import numpy as np
import pytest

from vigil.signals import vpdq
from vigil.signals.analyzers import VpdqAnalyzer, make_video
from vigil.signals.base import Unhashable
from vigil.signals.synthetic import scene
from vigil.signals.vpdq import VideoHashes, clips_match, hash_video


def _values(v: VideoHashes | Unhashable) -> list[str]:
    assert isinstance(v, VideoHashes)
    return [f.value for f in v.frames]


def test_samples_one_frame_per_second_plus_keyframes() -> None:
    video = make_video([scene(s, 320, 240) for s in range(6)], fps=4, seconds_per_image=1.0)
    got = hash_video(video, every_s=1.0)
    assert isinstance(got, VideoHashes)
    times = [f.timestamp_s for f in got.frames]
    assert times[0] == 0.0
    # 6 seconds of video: at least one sample per second, never every frame (24)
    assert 6 <= got.sampled < 24
    assert all(b > a for a, b in itertools.pairwise(times))


def test_reencoded_clip_matches_and_other_video_does_not() -> None:
    images = [scene(s, 320, 240) for s in range(8)]
    original = _values(hash_video(make_video(images, fps=4)))
    smaller = _values(hash_video(make_video([i[::2, ::2] for i in images], fps=6)))
    clip = _values(hash_video(make_video(images[2:6], fps=4)))
    other = _values(hash_video(make_video([scene(s, 320, 240) for s in range(50, 58)], fps=4)))
    assert clips_match(smaller, original, both_ways=True)[0]
    ok, share_clip, _ = clips_match(original, clip)
    assert ok
    assert share_clip == 1.0
    ok, share, _ = clips_match(other, original)
    assert not ok
    assert share < 0.2


def test_garbage_video_is_unhashable() -> None:
    got = hash_video(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    assert isinstance(got, Unhashable)
    assert got.code.startswith("vpdq_")


def test_black_video_is_low_quality() -> None:
    black = [scene(1, 160, 120) * 0 for _ in range(3)]
    got = hash_video(make_video(black, fps=2))
    assert isinstance(got, Unhashable)
    assert got.code == "vpdq_low_quality"


def test_vpdq_analyzer_payload() -> None:
    analyzer = VpdqAnalyzer()
    (blob,) = analyzer.examples()
    out = analyzer.analyze(blob)
    assert len(out.payload["frames"]) >= 3
    bad = analyzer.analyze(type(blob)("0" * 64, 4, "mp4", "video", data=b"junk"))
    assert bad.warnings
    assert bad.warnings[0][0].startswith("vpdq_")


def test_truncated_stream_keeps_frames_before_the_cut() -> None:
    video = make_video([scene(s, 320, 240) for s in range(10)], fps=4, container_format="mpegts")
    full = hash_video(video)
    cut = hash_video(video[: int(len(video) * 0.6)])
    assert isinstance(full, VideoHashes)
    assert isinstance(cut, VideoHashes)
    assert 3 <= len(cut.frames) < len(full.frames)
    assert [f.value for f in cut.frames] == [f.value for f in full.frames][: len(cut.frames)]


def test_truncated_mp4_without_index_is_unhashable() -> None:
    video = make_video([scene(s, 320, 240) for s in range(6)], fps=4)
    got = hash_video(video[: len(video) // 2])  # the MP4 index (moov) is written last
    assert isinstance(got, Unhashable)
    assert got.code == "vpdq_decode_error"


def _b_frame_video() -> bytes:
    """H.264 with B-frames (most of them non-reference) and a keyframe every 2 s."""
    images = [scene(s, 160, 120) for s in range(6)]
    frames = [np.roll(images[i // 8], 2 * i, axis=1) for i in range(48)]
    options = {"bf": "3", "g": "16", "b_strategy": "0", "sc_threshold": "0"}
    return make_video(frames, fps=8, seconds_per_image=1 / 8, codec="libx264", options=options)


@pytest.mark.parametrize("every_s", [0.3, 1.0])
def test_skipping_unsampled_frames_is_bit_identical(every_s: float) -> None:
    video = _b_frame_video()
    ref = hash_video(video, every_s=every_s, skip_unsampled=False)
    fast = hash_video(io.BytesIO(video), every_s=every_s)
    assert isinstance(ref, VideoHashes)
    assert isinstance(fast, VideoHashes)
    assert fast.frames == ref.frames  # numbers, times, hashes and qualities
    assert fast.sampled == ref.sampled
    assert len(ref.frames) >= 6


def test_skipping_decodes_fewer_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    video = _b_frame_video()
    decoded = []
    real = av.packet.Packet.decode

    def counting(self: av.packet.Packet) -> list[av.frame.Frame]:
        frames = real(self)
        decoded.extend(frames)
        return frames

    monkeypatch.setattr(av.packet.Packet, "decode", counting)
    hash_video(video)
    assert 0 < len(decoded) < 40  # of 48 frames


def test_fallback_without_timestamps_continues_with_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    video = _b_frame_video()
    ref = list(vpdq.sample_frames(video, skip_unsampled=False))
    real = vpdq._sample_skipping

    def gives_up_after_two(src, every_s, max_frames, fallback):  # type: ignore[no-untyped-def]
        yield from itertools.islice(real(src, every_s, max_frames, fallback), 2)
        fallback.needed = True

    monkeypatch.setattr(vpdq, "_sample_skipping", gives_up_after_two)
    got = list(vpdq.sample_frames(io.BytesIO(video)))
    assert [(n, t) for n, t, _ in got] == [(n, t) for n, t, _ in ref]
    assert all(np.array_equal(a, b) for (_, _, a), (_, _, b) in zip(got, ref, strict=True))
