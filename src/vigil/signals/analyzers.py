"""PDQ and vPDQ as ingest analyzers: they run on new photo / video items in ingest workers."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from vigil.content.decode import Decoded
from vigil.ingest.analyzers import AnalyzerOutput, Blob, ImageNeeds
from vigil.settings import Settings
from vigil.signals import pdq, vpdq
from vigil.signals.base import Hashed, HashOutcome, Unhashable
from vigil.signals.synthetic import jpeg_bytes, scene
from vigil.store.db import Database
from vigil.store.hashsets import replace_item_signals


class PdqAnalyzer:
    """PDQ of every photo (reduced-scale decode within the documented bound)."""

    name = "pdq"
    version = pdq.HASHER_VERSION
    kinds = frozenset({"photo"})
    default_enabled = True
    image_needs = ImageNeeds(pdq.REDUCED_MIN_SIDE)

    def analyze(self, blob: Blob) -> AnalyzerOutput:
        return self._output(pdq.hash_image(blob.source(), reduced=True))

    def analyze_image(self, blob: Blob, image: Decoded) -> AnalyzerOutput:
        """PDQ of the worker's shared decode (the same pixels ``hash_image`` would decode)."""
        return self._output(pdq.hash_pixels(image.pixels))

    @staticmethod
    def _output(result: HashOutcome) -> AnalyzerOutput:
        if isinstance(result, Hashed):
            return AnalyzerOutput(payload={"value": result.value, "quality": result.quality})
        return AnalyzerOutput(
            payload={"code": result.code, "reason": result.reason, "quality": result.quality},
            warnings=[(result.code, result.reason)],
        )

    def persist(self, session: Session, item_id: int, output: AnalyzerOutput) -> None:
        p: dict[str, Any] = output.payload or {}
        row = {
            "frame": -1,
            "value": p.get("value"),
            "quality": p.get("quality"),
            "status": "ok" if p.get("value") else str(p.get("code") or "pdq_unhashable"),
            "reason": p.get("reason"),
            "hasher_version": self.version,
        }
        replace_item_signals(session, item_id, "pdq", [row])

    def after_case(self, settings: Settings, db: Database, case_name: str, actor: str) -> None:
        """After an ingest: check the case against every loaded hash set and rebuild its
        known / near-known / fresh groups, so triage is ready without another command."""
        from vigil.hashsets.categories import CategoryMap
        from vigil.triage.matching import run_matching

        run_matching(
            db,
            case_name,
            actor,
            category_map=CategoryMap.load(settings.data_dir / "category-map.json"),
            index_dir=settings.index_dir,
        )

    def examples(self) -> Sequence[Blob]:
        import hashlib

        data = jpeg_bytes(scene(7, 800, 600))
        flat = jpeg_bytes(scene(7, 64, 64) * 0 + 128)
        return [
            Blob(hashlib.sha256(d).hexdigest(), len(d), "jpeg", "photo", data=d)
            for d in (data, flat)
        ]


class VpdqAnalyzer:
    """A PDQ per sampled video frame (keyframes plus one per second)."""

    name = "vpdq"
    version = vpdq.HASHER_VERSION
    kinds = frozenset({"video"})
    default_enabled = True

    def analyze(self, blob: Blob) -> AnalyzerOutput:
        result = vpdq.hash_video(blob.source())
        if isinstance(result, Unhashable):
            return AnalyzerOutput(
                payload={"code": result.code, "reason": result.reason},
                warnings=[(result.code, result.reason)],
            )
        frames = [(f.frame, f.timestamp_s, f.value, f.quality) for f in result.frames]
        warnings: list[tuple[str, str]] = []
        if result.damaged:
            warnings.append(("vpdq_damaged", f"video partly hashed: {result.damaged}"))
        if result.low_quality:
            warnings.append(
                (
                    "vpdq_low_quality_frames",
                    f"{result.low_quality} of {result.sampled} sampled frames were below the "
                    f"PDQ quality floor and are not used for matching",
                )
            )
        return AnalyzerOutput(
            payload={"frames": frames, "sampled": result.sampled}, warnings=warnings
        )

    def persist(self, session: Session, item_id: int, output: AnalyzerOutput) -> None:
        p: dict[str, Any] = output.payload or {}
        rows: list[dict[str, Any]]
        if "frames" in p:
            rows = [
                {
                    "frame": int(n),
                    "timestamp_s": float(t),
                    "value": v,
                    "quality": int(q),
                    "status": "ok",
                    "hasher_version": self.version,
                }
                for n, t, v, q in p["frames"]
            ]
        else:
            rows = [
                {
                    "frame": -1,
                    "value": None,
                    "status": str(p.get("code") or "vpdq_unhashable"),
                    "reason": p.get("reason"),
                    "hasher_version": self.version,
                }
            ]
        replace_item_signals(session, item_id, "vpdq", rows)

    def examples(self) -> Sequence[Blob]:
        import hashlib

        data = make_video([scene(s, 160, 120) for s in (1, 2, 3)], fps=2, seconds_per_image=1.0)
        return [Blob(hashlib.sha256(data).hexdigest(), len(data), "mp4", "video", data=data)]


def make_video(
    images: Sequence[Any],
    *,
    fps: int = 4,
    seconds_per_image: float = 1.0,
    codec: str = "mpeg4",
    container_format: str = "mp4",
    options: dict[str, str] | None = None,
) -> bytes:
    """Encode generated RGB frames as a small MP4 (for tests, examples and benchmarks).

    ``options`` are encoder options, e.g. ``{"bf": "3", "g": "16"}`` for libx264 B-frames and a
    keyframe every 16 frames.
    """
    import av
    import numpy as np

    buf = io.BytesIO()
    height, width = images[0].shape[:2]
    with av.open(buf, mode="w", format=container_format) as container:
        stream: Any = container.add_stream(codec, rate=fps)
        stream.width = width - width % 2
        stream.height = height - height % 2
        stream.pix_fmt = "yuv420p"
        if options:
            stream.options = options
        per = max(1, round(fps * seconds_per_image))
        for img in images:
            arr = np.ascontiguousarray(img[: stream.height, : stream.width])
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            for _ in range(per):
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()
