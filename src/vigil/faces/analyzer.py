"""The ``faces`` ingest analyzer: faces of photos and of sampled video frames.

Part of the default ``full`` processing profile (``vigil.ingest.profiles``), so the victim
screens are filled without anyone having to know about a scan: on this class of CPU it costs
~0.4 s per 1 MP photo plus ~0.1-0.2 s per face. ``vigil ingest PATH --case NAME --profile fast``
leaves it out for first triage on scene; back-fill later with ``vigil faces scan NAME`` (or
``vigil analyze NAME --analyzer faces``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from vigil.content.decode import Decoded
from vigil.errors import VigilError
from vigil.faces.pipeline import FacePipeline, FaceResult, default_pipeline
from vigil.ingest.analyzers import AnalyzerOutput, Blob, ImageNeeds
from vigil.settings import Settings
from vigil.store.db import Database

ANALYZER_VERSION = "1"


@dataclass
class FacePayload:
    """Picklable analyzer result: model cards, frame count and faces as plain dicts."""

    detector: dict[str, Any]
    embedder: dict[str, Any]
    frames: int
    status: str
    faces: list[dict[str, Any]]
    age_model: dict[str, Any] | None = None
    """The age estimator's card (None without one); each face dict then has an ``age``."""


def payload_from(result: FaceResult, status: str = "ok") -> FacePayload:
    """Convert a pipeline result into the stored form."""
    faces = [
        {
            "box": list(f.box),
            "score": f.score,
            "landmarks": [list(p) for p in f.landmarks],
            "rotation": f.rotation,
            "blur": f.blur,
            "size": f.size,
            "quality": f.quality,
            "frame_time": f.frame_time,
            "vector": f.vector,
            "age": f.age.as_dict() if f.age is not None else None,
        }
        for f in result.faces
    ]
    age_model = result.age_model.as_dict() if result.age_model is not None else None
    return FacePayload(
        result.detector.as_dict(),
        result.embedder.as_dict(),
        result.frames,
        status,
        faces,
        age_model,
    )


class FaceAnalyzer:
    """Detect, align and embed faces in photos and video frames (dlib by default)."""

    name = "faces"
    version = ANALYZER_VERSION
    kinds = frozenset({"photo", "video"})
    default_enabled = True

    def __init__(self, *, every_s: float = 2.0, max_frames: int = 150) -> None:
        self.every_s = every_s
        self.max_frames = max_frames
        self._pipeline: FacePipeline | None = None

    @property
    def pipeline(self) -> FacePipeline:
        """Loaded on first use in each worker process."""
        if self._pipeline is None:
            self._pipeline = default_pipeline()
        return self._pipeline

    def __getstate__(self) -> dict[str, Any]:
        return {"every_s": self.every_s, "max_frames": self.max_frames, "_pipeline": None}

    image_needs = ImageNeeds(min_side=None)
    """Full scale (small faces need every pixel; above 48 MP the decode budget reduces it)."""

    def analyze_image(self, blob: Blob, image: Decoded) -> AnalyzerOutput:
        """Faces of a photo from the worker's shared decode (the pixels ``process_photo``
        would decode itself); boxes are in those decoded pixels, as with ``process_photo``."""
        pipeline = self.pipeline
        try:
            result = FaceResult(pipeline.detector_card, pipeline.embedder.card, pipeline.age_card)
            result.faces = pipeline.faces_in(image.pixels)
        except VigilError as exc:
            return AnalyzerOutput(None, [(f"faces_{exc.code}", str(exc))])
        return AnalyzerOutput(payload_from(result), list(result.warnings))

    def analyze(self, blob: Blob) -> AnalyzerOutput:
        """Faces of one photo or video (failures become warnings, never exceptions)."""
        try:
            if blob.kind == "video":
                result = self.pipeline.process_video(
                    blob.source(), every_s=self.every_s, max_frames=self.max_frames
                )
            else:
                result = self.pipeline.process_photo(blob.source())
        except VigilError as exc:
            return AnalyzerOutput(None, [(f"faces_{exc.code}", str(exc))])
        return AnalyzerOutput(payload_from(result), list(result.warnings))

    def persist(self, session: Session, item_id: int, output: AnalyzerOutput) -> None:
        """Store the scan, its faces and vectors (an item already scanned is left alone)."""
        payload = output.payload
        if not isinstance(payload, FacePayload):
            return
        store_payload(session, item_id, payload)

    def after_case(self, settings: Settings, db: Database, case_name: str, actor: str) -> None:
        """After an ingest that ran this analyzer: cluster the case and search it against
        earlier cases and the victim library (candidate links only, never merges)."""
        from vigil.faces.service import refresh_case

        refresh_case(settings, db, case_name, actor)

    def examples(self) -> Sequence[Blob]:
        """A generated photo without faces (a colour gradient) for the contract test."""
        import hashlib

        import numpy as np
        from PIL import Image

        ramp = np.linspace(0, 255, 96 * 128, dtype=np.float64).reshape(96, 128)
        pixels = np.stack([ramp, ramp[::-1], np.full_like(ramp, 128.0)], axis=2).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="PNG")
        data = buf.getvalue()
        return [
            Blob(
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                content_type="png",
                kind="photo",
                data=data,
                display_path="gradient.png",
            )
        ]


def store_payload(session: Session, item_id: int, payload: FacePayload) -> int:
    """Persist one analyzer payload; returns the number of faces stored (0 if already scanned)."""
    from vigil.store import faces as store

    det = payload.detector
    emb = payload.embedder
    det_row = store.ensure_model(session, "detector", det["name"], det["version"], det["sha256"])
    emb_row = store.ensure_model(
        session, "embedder", emb["name"], emb["version"], emb["sha256"], int(emb["dim"])
    )
    if store.get_scan(session, item_id, det_row.id, emb_row.id) is not None:
        return 0
    age_id = None
    if payload.age_model is not None:
        age = payload.age_model
        age_id = store.ensure_model(session, "age", age["name"], age["version"], age["sha256"]).id
    store.add_scan(
        session,
        item_id,
        detector_id=det_row.id,
        embedder_id=emb_row.id,
        analyzer_version=ANALYZER_VERSION,
        frames=payload.frames,
        status=payload.status,
        faces=payload.faces,
        dim=int(emb["dim"]),
        age_model_id=age_id,
    )
    return len(payload.faces)


def register_defaults() -> None:
    """Register the ``faces`` analyzer and its summary section (called by ``load_defaults``)."""
    from vigil.faces.report import register_summary_section
    from vigil.ingest.analyzers import ANALYZERS

    if "faces" not in ANALYZERS:
        ANALYZERS.register(FaceAnalyzer())
    register_summary_section()
