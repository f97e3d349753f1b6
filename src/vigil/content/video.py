"""Video frame sampling with PyAV: one RGB frame per interval, spread over the whole video.

Used by the face and scene (places) analyzers. vPDQ hashing has its own sampler
(:func:`vigil.signals.vpdq.sample_frames`), whose output must match Meta's reference hashes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.errors import DamagedInput, WrongFormat
from vigil.evidence.readonly import readonly_stream

RGBImage = npt.NDArray[np.uint8]

SEEK_FROM_S = 8.0
"""From this sampling interval on, frames are reached by seeking (decoding at most one group of
pictures per sample) instead of decoding the whole video."""
SKIP_UNSAMPLED = True
"""Ask the decoder to drop non-reference frames (``skip_frame="NONREF"``, e.g. most B-frames)
that lie before the next sample time: no other frame is decoded from them and none of them
could be sampled, so the samples are unchanged and only their decode time is saved."""


def sample_frames(
    src: Path | bytes,
    *,
    every_s: float = 2.0,
    max_frames: int = 150,
    info: dict[str, float] | None = None,
) -> Iterator[tuple[float, RGBImage]]:
    """(time in seconds, RGB frame) of the first frame at or after each multiple of the interval.

    The interval is ``every_s``, widened to ``duration / max_frames`` for long videos so the
    samples cover the whole video. Sparse intervals seek instead of decoding every frame.
    ``info`` (if given) receives ``every_s`` (the interval used), ``duration`` (0 if unknown)
    and ``truncated`` (1 when ``max_frames`` stopped sampling before the end).

    Raises :class:`WrongFormat` when there is no video stream and :class:`DamagedInput` when
    decoding fails part-way (frames already yielded stay valid).
    """
    import av

    if every_s <= 0:
        raise ValueError("every_s must be positive")
    try:
        fp = readonly_stream(src)  # our O_NOATIME handle: given the path, FFmpeg opens it itself
    except OSError as exc:
        raise DamagedInput(f"video could not be opened: {exc}") from exc
    try:
        container = av.open(fp, mode="r")
    except av.error.InvalidDataError as exc:
        fp.close()
        raise WrongFormat(f"not a decodable video: {exc}") from exc
    except (av.error.FFmpegError, OSError) as exc:
        fp.close()
        raise DamagedInput(f"video could not be opened: {exc}") from exc
    with fp, container:
        if not container.streams.video:
            raise WrongFormat("no video stream")
        stream = container.streams.video[0]
        duration = 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = float(container.duration) / 1_000_000
        if duration > 0 and duration / every_s > max_frames - 1:
            every_s = max(every_s, duration / max(1, max_frames - 1))
        out = info if info is not None else {}
        out.update(every_s=every_s, duration=duration, truncated=0.0)
        taken = 0
        try:
            if every_s >= SEEK_FROM_S and duration > 0 and stream.time_base is not None:
                for t, px in _seek_samples(container, stream, every_s, duration, max_frames):
                    taken += 1
                    yield t, px
                return
            next_t = 0.0
            due = [next_t]  # read by _decode while this loop advances it
            for frame in _decode(container, stream, due):
                if frame.pts is None or frame.time_base is None:
                    t = float(taken) * every_s
                else:
                    t = float(frame.pts * frame.time_base)
                if t + 1e-6 < next_t:
                    continue
                if taken >= max_frames:
                    out["truncated"] = 1.0
                    return
                yield t, np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
                taken += 1
                next_t = (int(t // every_s) + 1) * every_s
                due[0] = next_t
        except (av.error.FFmpegError, ValueError) as exc:
            raise DamagedInput(f"video decoding failed after {taken} frames: {exc}") from exc


def _seek_samples(
    container: Any, stream: Any, every_s: float, duration: float, max_frames: int
) -> Iterator[tuple[float, RGBImage]]:
    """Seek to each sample time (backwards to a keyframe) and decode up to it."""
    last = -1.0
    for n in range(max_frames):
        target = n * every_s
        if target >= duration:
            return
        container.seek(int(target / stream.time_base), stream=stream, backward=True)
        for frame in _decode(container, stream, [target]):
            if frame.pts is None:
                continue
            t = float(frame.pts * frame.time_base)
            if t + 1e-6 < target:
                continue
            if t > last + 1e-6:
                last = t
                yield t, np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
            break


def _decode(container: Any, stream: Any, due: list[float]) -> Iterator[Any]:
    """Decoded frames of ``stream``, skipping non-reference frames shown before ``due[0]``.

    ``due`` is a one-element list that the caller advances while consuming the frames.
    """
    ctx = stream.codec_context
    tb = stream.time_base
    for packet in container.demux(stream):
        if SKIP_UNSAMPLED and packet.pts is not None and tb is not None:
            early = float(packet.pts * tb) + 1e-6 < due[0]
            ctx.skip_frame = "NONREF" if early else "DEFAULT"
        yield from packet.decode()
