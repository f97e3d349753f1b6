"""Case-level face operations: back-fill scans, cluster with constraints, search, link, calibrate.

Every function that changes state writes its audit entry in the same transaction. Nothing here
merges identities automatically: search produces *candidate* links with distance and rank, and a
person confirms or rejects each one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from vigil.errors import Conflict, InvalidInput, NotFound, NotReady, VigilError
from vigil.faces.calibrate import Calibration, calibrate, pair_distances
from vigil.faces.cluster import Constraint, check_constraints, cluster
from vigil.faces.index import FaceIndex, Hit
from vigil.faces.pipeline import FacePipeline
from vigil.settings import Settings
from vigil.store import audit
from vigil.store import faces as store
from vigil.store.db import Database
from vigil.store.repo import get_case

if TYPE_CHECKING:
    from vigil.ingest.backfill import Progress

DEFAULT_THRESHOLD = 0.5
"""Distance used for linking and clustering when no calibration is stored for the model.

dlib's own threshold is 0.6 (LFW); measured on public adult photos (docs/faces.md) 0.6 gives a
false-match rate of ~0.2%, so the uncalibrated default is stricter. Calibrate on your own data.
"""

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"}


@dataclass(frozen=True)
class Threshold:
    """The operating distance threshold of a model and where it came from."""

    value: float
    source: str
    """``calibrated`` (with the calibration id) or ``default``."""
    calibration_id: int | None = None
    tmr: float | None = None
    fmr: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "value": self.value,
            "source": self.source,
            "calibration_id": self.calibration_id,
            "true_match_rate": self.tmr,
            "false_match_rate": self.fmr,
        }


def embedder_model(session: Session, pipeline: FacePipeline) -> store.FaceModel:
    """The stored card of the pipeline's embedder (created if new)."""
    card = pipeline.embedder.card
    return store.ensure_model(session, "embedder", card.name, card.version, card.sha256, card.dim)


def find_embedder(session: Session, pipeline: FacePipeline) -> store.FaceModel:
    """The stored card of the pipeline's embedder; NotReady when no face was ever stored."""
    card = pipeline.embedder.card
    row = store.find_model(session, "embedder", card.name, card.version, card.sha256)
    if row is None:
        raise NotReady(
            "no faces have been stored with the current face model yet: run "
            "`vigil faces scan CASE` (or ingest with --analyzer faces) first"
        )
    require_usable(session, row)
    return row


def require_usable(session: Session, model: store.FaceModel) -> None:
    """Refuse a model a unit brought until it has its own calibration (its distances mean
    nothing on the default model's scale)."""
    reg = store.model_file_for(session, model.id)
    if reg is not None and store.latest_calibration(session, model.id) is None:
        raise NotReady(
            f"face model {reg.name!r} is not calibrated yet: run "
            f"`vigil faces calibrate FOLDER --model {reg.name}` on a labelled set first"
        )


# --- models a unit brings -----------------------------------------------------------------------


def register_model(db: Database, path: Path, name: str, licence: str, actor: str) -> dict[str, Any]:
    """Register an ArcFace-class ONNX file (checked by loading and running it once)."""
    from vigil.faces.onnx_embedder import OnnxEmbedder

    name = name.strip()
    if not name or len(name) > 80 or any(c.isspace() for c in name):
        raise InvalidInput(f"model name must be 1-80 characters without spaces, got {name!r}")
    if not licence.strip():
        raise InvalidInput("--licence is required: say under which licence the unit holds it")
    emb = OnnxEmbedder(path.resolve(), name)
    card = emb.card
    with db.write() as session:
        model = store.ensure_model(session, "embedder", card.name, card.version, card.sha256,
                                   card.dim)  # fmt: skip
        reg = store.add_model_file(session, name, model.id, str(path.resolve()), licence, actor)
        audit.append(session, actor, "faces.model_add",
                     details={"name": name, "path": reg.path, "licence": licence,
                              "card": card.as_dict()})  # fmt: skip
        return model_dict(session, reg)


def model_dict(session: Session, reg: store.FaceModelFile) -> dict[str, Any]:
    """A registered model as JSON-friendly data (with its calibration state)."""
    model = store.get_model(session, reg.model_id)
    cal = store.latest_calibration(session, model.id)
    return {
        "name": reg.name,
        "path": reg.path,
        "licence": reg.licence,
        "model_id": model.id,
        "card": {
            "name": model.name,
            "version": model.version,
            "sha256": model.sha256,
            "dim": model.dim,
        },
        "calibrated": cal is not None,
        "threshold": cal.threshold if cal is not None else None,
        "registered_by": reg.registered_by,
    }


def model_pipeline(db: Database, name: str) -> FacePipeline:
    """The default detector and age model with a registered model as the embedder; refused
    when the file changed since it was registered."""
    from vigil.faces.onnx_embedder import OnnxEmbedder
    from vigil.faces.pipeline import default_pipeline

    with db.read() as session:
        reg = store.get_model_file(session, name)
        model = store.get_model(session, reg.model_id)
        path, sha = Path(reg.path), model.sha256
    emb = OnnxEmbedder(path, name)
    if emb.card.sha256 != sha:
        raise InvalidInput(
            f"face model {name!r}: {path} changed since it was registered (SHA-256 differs); "
            "register the new file under a new name"
        )
    base = default_pipeline()
    return FacePipeline(base.detector, emb, rotation_detector=base.rotation_detector,
                        age_estimator=base.age_estimator)  # fmt: skip


def scan_case_with(
    settings: Settings, db: Database, case_name: str, actor: str, *, pipeline: FacePipeline
) -> ScanReport:
    """Find and embed the case's faces with another model, beside the default one (its own
    scans, vectors and index); items already scanned with that embedder are skipped."""
    from vigil.evidence.locate import open_item
    from vigil.faces.analyzer import FaceAnalyzer, store_payload
    from vigil.store.repo import add_item_warning

    analyzer = FaceAnalyzer()
    analyzer._pipeline = pipeline
    with db.write() as session:
        case_id = get_case(session, case_name).id
        model = embedder_model(session, pipeline)
        items = store.case_item_ids(session, case_id, kinds=("photo", "video"))
        done = store.scanned_item_ids(session, items, model.id)
    pending = [i for i in items if i not in done]
    report = ScanReport(pending=len(pending))
    for item_id in pending:
        payload: Any = None
        try:
            with open_item(db, item_id, spool_dir=settings.spool_dir) as blob:
                output = analyzer.analyze(blob)
            payload, warnings = output.payload, list(output.warnings)
        except VigilError as exc:
            warnings = [("faces_failed", str(exc))]
        with db.write() as session:
            if payload is not None:
                report.faces += store_payload(session, item_id, payload)
                report.scanned += 1
            else:
                report.failed += 1
            for code, message in warnings:
                add_item_warning(session, case_id, item_id, code, message)
    with db.write() as session:
        audit.append(session, actor, "faces.scan_model", case_id=case_id,
                     details={"model": pipeline.embedder.card.as_dict(), **report.__dict__})  # fmt: skip
    return report


def operating_threshold(session: Session, model_id: int) -> Threshold:
    """The newest calibrated threshold of the model, else :data:`DEFAULT_THRESHOLD`."""
    cal = store.latest_calibration(session, model_id)
    if cal is None:
        return Threshold(DEFAULT_THRESHOLD, "default")
    return Threshold(cal.threshold, "calibrated", cal.id, cal.tmr, cal.fmr)


# --- scanning ---------------------------------------------------------------------------------


@dataclass
class ScanReport:
    """Outcome of a back-fill scan."""

    pending: int = 0
    scanned: int = 0
    failed: int = 0
    faces: int = 0


def scan_case(
    settings: Settings,
    db: Database,
    case_name: str,
    actor: str,
    *,
    workers: int = 0,
    executor: str = "local",
    ray_address: str | None = None,
    progress: Progress | None = None,
) -> ScanReport:
    """Find faces in the case's photos and videos that the ``faces`` analyzer has not seen.

    This is the generic analyzer back-fill (:func:`vigil.ingest.backfill.backfill`): content is
    re-read read-only from the evidence, an item that cannot be read or decoded becomes a
    warning on the case, and the scan goes on. ``workers`` / ``executor`` / ``ray_address``:
    where the per-item work runs, as for the back-fill.
    """
    from vigil.ingest.backfill import backfill
    from vigil.plugins import load_defaults

    load_defaults()
    with db.read() as session:
        case_id = get_case(session, case_name).id
        before = store.count_case_faces(session, case_id)
    result = backfill(
        settings,
        db,
        case_name,
        "faces",
        actor,
        workers=workers,
        executor=executor,
        ray_address=ray_address,
        progress=progress,
    )
    with db.read() as session:
        after = store.count_case_faces(session, case_id)
    return ScanReport(result.pending, result.done, result.failed, after - before)


# --- clustering -------------------------------------------------------------------------------


@dataclass
class ClusterReport:
    """Outcome of clustering a case."""

    case: str
    faces: int
    clusters: list[dict[str, Any]]
    threshold: Threshold
    constraints: int
    links: list[dict[str, Any]] = field(default_factory=list)


def _constraints_for(
    rows: Sequence[store.FaceConstraint], index_of: dict[int, int]
) -> list[Constraint]:
    out = []
    for c in rows:
        if c.face_a in index_of and c.face_b in index_of:
            out.append(Constraint(index_of[c.face_a], index_of[c.face_b], c.kind))
    return out


def cluster_case(
    db: Database,
    case_name: str,
    actor: str,
    *,
    pipeline: FacePipeline,
    threshold: float | None = None,
) -> ClusterReport:
    """(Re-)cluster the faces of a case, respecting every stored constraint."""
    with db.write() as session:
        case = get_case(session, case_name)
        model = find_embedder(session, pipeline)
        thr = (
            Threshold(threshold, "given")
            if threshold is not None
            else operating_threshold(session, model.id)
        )
        rows = store.case_faces(session, case.id, model.id)
        face_ids = [f.id for f, _e in rows]
        index_of = {fid: i for i, fid in enumerate(face_ids)}
        vectors = (
            np.vstack([e.array() for _f, e in rows])
            if rows
            else np.zeros((0, model.dim or 1), dtype=np.float32)
        )
        constraints = _constraints_for(store.case_constraints(session, case.id), index_of)
        result = cluster(
            vectors,
            threshold=thr.value,
            constraints=constraints,
            quality=[f.quality for f, _e in rows],
        )
        groups: list[tuple[int, list[int]]] = []
        for label, rep in enumerate(result.representatives):
            members = [face_ids[i] for i in np.flatnonzero(result.labels == label)]
            groups.append((face_ids[rep], members))
        stored = store.replace_clusters(session, case.id, model.id, thr.value, groups)
        audit.append(
            session,
            actor,
            "faces.cluster",
            case_id=case.id,
            details={
                "faces": len(face_ids),
                "clusters": len(groups),
                "threshold": thr.value,
                "threshold_source": thr.source,
                "constraints": len(constraints),
            },
        )
        clusters = [
            {
                "cluster": cl.label,
                "size": cl.size,
                "representative_face": cl.representative_face_id,
                "faces": members,
            }
            for cl, (_rep, members) in zip(stored, groups, strict=True)
        ]
        return ClusterReport(case.name, len(face_ids), clusters, thr, len(constraints))


def add_feedback(
    db: Database, case_name: str, face_a: int, face_b: int, kind: str, actor: str, note: str | None
) -> dict[str, Any]:
    """Store "same person" / "not the same person" feedback; refuses contradictions."""
    with db.write() as session:
        case = get_case(session, case_name)
        for fid in (face_a, face_b):
            if not store.face_in_case(session, case.id, fid):
                raise NotFound(f"face #{fid} is not in case {case.name!r}")
        existing = store.case_constraints(session, case.id)
        pairs = {(c.face_a, c.face_b): c.kind for c in existing}
        pairs[tuple(sorted((face_a, face_b)))] = kind  # type: ignore[index]
        ids = sorted({f for pair in pairs for f in pair})
        index_of = {fid: i for i, fid in enumerate(ids)}
        try:
            check_constraints(
                len(ids), [Constraint(index_of[a], index_of[b], k) for (a, b), k in pairs.items()]
            )
        except Conflict as exc:
            raise Conflict(
                f"feedback contradicts earlier feedback in case {case.name!r}: faces {face_a} and "
                f"{face_b} would be both the same and different people ({exc})"
            ) from exc
        row = store.add_constraint(session, case.id, face_a, face_b, kind, actor, note)
        audit.append(
            session,
            actor,
            "faces.feedback",
            case_id=case.id,
            details={"face_a": row.face_a, "face_b": row.face_b, "kind": kind, "note": note},
        )
        return {"case": case.name, "face_a": row.face_a, "face_b": row.face_b, "kind": kind}


def remove_feedback(db: Database, case_name: str, face_a: int, face_b: int, actor: str) -> bool:
    """Withdraw feedback on a pair of faces."""
    with db.write() as session:
        case = get_case(session, case_name)
        removed = store.remove_constraint(session, case.id, face_a, face_b)
        if removed:
            audit.append(
                session,
                actor,
                "faces.feedback_remove",
                case_id=case.id,
                details={"face_a": min(face_a, face_b), "face_b": max(face_a, face_b)},
            )
        return removed


# --- index and search -------------------------------------------------------------------------


def index_path(settings: Settings, model_id: int) -> Path:
    """Where the faiss index of one embedder model is cached."""
    return settings.index_dir / f"faces-model{model_id}.faiss"


def open_index(session: Session, settings: Settings, model_id: int) -> FaceIndex:
    """The up-to-date index of a model: the cached file plus newer vectors, else rebuilt."""
    path = index_path(settings, model_id)
    index: FaceIndex | None = None
    if path.exists():
        try:
            index = FaceIndex.load(path, model_id=model_id)
        except VigilError:
            index = None
    if index is None:
        ids, vecs = store.embeddings_for_model(session, model_id)
        if len(ids) == 0:
            return FaceIndex(store.get_model(session, model_id).dim or 128)
        index = FaceIndex.build(ids, vecs)
        index.save(path, model_id=model_id)
        return index
    ids, vecs = store.embeddings_for_model(session, model_id, after_id=index.max_id)
    if len(ids):
        index.add(ids, vecs)
        index.save(path, model_id=model_id)
    return index


@dataclass(frozen=True)
class Candidate:
    """One candidate for a query face: an identity, or a face in another case."""

    kind: str
    """``identity`` or ``face``."""
    distance: float
    identity_id: int | None = None
    face_id: int | None = None
    item_id: int | None = None
    case_ids: tuple[int, ...] = ()
    rank: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "kind": self.kind,
            "rank": self.rank,
            "distance": round(self.distance, 4),
            "identity_id": self.identity_id,
            "face_id": self.face_id,
            "item_id": self.item_id,
            "case_ids": list(self.case_ids),
        }


def prefetch(
    session: Session, hit_lists: Sequence[Sequence[Hit]], threshold: float
) -> tuple[dict[int, dict[str, Any]], dict[int, set[int]]]:
    """Embedding descriptions and item → cases for every hit within the threshold."""
    ids = {h.embedding_id for hits in hit_lists for h in hits if h.distance <= threshold}
    info = store.describe_embeddings(session, ids)
    cases = store.item_case_ids(
        session, [d["item_id"] for d in info.values() if d["item_id"] is not None]
    )
    return info, cases


def candidates_for(
    session: Session,
    hits: Sequence[Hit],
    threshold: float,
    *,
    exclude_case_id: int | None = None,
    exclude_face_ids: Iterable[int] = (),
    limit: int = 10,
    lookup: tuple[dict[int, dict[str, Any]], dict[int, set[int]]] | None = None,
) -> list[Candidate]:
    """Turn index hits into ranked candidates within ``threshold`` (identities and faces).

    ``lookup`` is what :func:`prefetch` returns for many hit lists at once (saves queries).
    """
    close = [h for h in hits if h.distance <= threshold]
    if not close:
        return []
    info, cases = lookup if lookup is not None else prefetch(session, [close], threshold)
    skip_faces = set(exclude_face_ids)
    best_identity: dict[int, float] = {}
    faces: list[Candidate] = []
    for h in close:
        d = info.get(h.embedding_id)
        if d is None:  # vector deleted since the index was written
            continue
        for identity_id in d["identities"]:
            if h.distance < best_identity.get(identity_id, float("inf")):
                best_identity[identity_id] = h.distance
        face_id = d["face_id"]
        if face_id is None or face_id in skip_faces:
            continue
        # a face counts for the *other* cases its photo occurs in (the same file may be in
        # the query's case and in an earlier one: that earlier case is a link too)
        item_cases = tuple(sorted(cases.get(d["item_id"], set()) - {exclude_case_id}))
        if not item_cases:
            continue
        faces.append(Candidate("face", h.distance, None, face_id, d["item_id"], item_cases))
    found = [Candidate("identity", dist, identity_id=i) for i, dist in best_identity.items()]
    found.extend(faces)
    found.sort(key=lambda c: (c.distance, c.kind != "identity", c.identity_id or 0, c.face_id or 0))
    return [
        Candidate(c.kind, c.distance, c.identity_id, c.face_id, c.item_id, c.case_ids, rank)
        for rank, c in enumerate(found[:limit], start=1)
    ]


def link_case(
    db: Database,
    settings: Settings,
    case_name: str,
    actor: str,
    *,
    pipeline: FacePipeline,
    k: int = 50,
    per_cluster: int = 10,
) -> list[dict[str, Any]]:
    """Search every face of the case against all other cases and the library.

    Results are grouped by the case's current clusters (each face on its own if the case was
    never clustered): per cluster and target the closest face is kept, ranked by distance, and
    stored as a *candidate* link (existing links keep their decisions).
    """
    # searching (and building the index if needed) happens in a read session, so a long
    # index build never holds the store's write lock
    with db.read() as session:
        case = get_case(session, case_name)
        case_id = case.id
        model = find_embedder(session, pipeline)
        model_id = model.id
        thr = operating_threshold(session, model.id)
        rows = store.case_faces(session, case.id, model.id)
        if not rows:
            return []
        index = open_index(session, settings, model.id)
        vectors = np.vstack([e.array() for _f, e in rows])
        all_hits = index.search(vectors, k)
        group_of: dict[int, int] = {}
        for cl, members in store.case_clusters(session, case.id):
            for fid in members:
                group_of[fid] = cl.label
        best: dict[tuple[object, str], tuple[Candidate, int]] = {}
        lookup = prefetch(session, all_hits, thr.value)
        for (face, _e), hits in zip(rows, all_hits, strict=True):
            group: object = group_of.get(face.id, f"face{face.id}")
            for cand in candidates_for(
                session,
                hits,
                thr.value,
                exclude_case_id=case.id,
                limit=per_cluster,
                lookup=lookup,
            ):
                key = (group, f"{cand.kind}:{cand.identity_id or cand.face_id}")
                if key not in best or cand.distance < best[key][0].distance:
                    best[key] = (cand, face.id)
        n_faces = len(rows)
    by_group: dict[object, list[tuple[Candidate, int]]] = {}
    for (group, _t), value in best.items():
        by_group.setdefault(group, []).append(value)
    with db.write() as session:
        out: list[dict[str, Any]] = []
        created = 0
        for group, values in by_group.items():
            values.sort(key=lambda v: (v[0].distance, v[0].kind != "identity"))
            for rank, (cand, face_id) in enumerate(values[:per_cluster], start=1):
                link, new = store.upsert_link(
                    session,
                    case_id=case_id,
                    face_id=face_id,
                    identity_id=cand.identity_id,
                    matched_face_id=cand.face_id if cand.kind == "face" else None,
                    matched_case_id=cand.case_ids[0] if cand.case_ids else None,
                    distance=round(cand.distance, 6),
                    rank=rank,
                    threshold=thr.value,
                    model_id=model_id,
                )
                created += int(new)
                out.append(
                    link_dict(session, link, cluster=group if isinstance(group, int) else None)
                )
        audit.append(
            session,
            actor,
            "faces.search_case",
            case_id=case_id,
            details={
                "faces": n_faces,
                "links": len(out),
                "new_links": created,
                "threshold": thr.value,
                "threshold_source": thr.source,
            },
        )
        return out


def refresh_case(
    settings: Settings,
    db: Database,
    case_name: str,
    actor: str,
    *,
    pipeline: FacePipeline | None = None,
) -> ClusterReport | None:
    """Re-cluster a case and search it against other cases and the library (after an ingest).

    Returns None when the case has no faces from the current model (nothing to do). This is
    what ``vigil faces cluster`` runs; an ingest that ran the ``faces`` analyzer can call it so
    that a new case is searched without anyone asking.
    """
    from vigil.faces.pipeline import default_pipeline

    pipe = pipeline or default_pipeline()
    try:
        report = cluster_case(db, case_name, actor, pipeline=pipe)
    except NotReady:
        return None
    if report.faces == 0:
        return report
    report.links = link_case(db, settings, case_name, actor, pipeline=pipe)
    return report


def link_dict(session: Session, link: store.FaceLink, cluster: int | None = None) -> dict[str, Any]:
    """A link as JSON-friendly data (with the identity code or the other case's name)."""
    from vigil.store.models import Case

    identity = None
    if link.identity_id is not None:
        ident = session.get(store.Identity, link.identity_id)
        identity = ident.code if ident else None
    other_case = None
    if link.matched_case_id is not None:
        c = session.get(Case, link.matched_case_id)
        other_case = c.name if c else None
    face = session.get(store.FaceRow, link.face_id)
    return {
        "link": link.id,
        "face": link.face_id,
        "cluster": cluster,
        "target": link.target,
        "identity": identity,
        "matched_face": link.matched_face_id,
        "matched_case": other_case,
        "distance": round(link.distance, 4),
        "rank": link.rank,
        "threshold": link.threshold,
        "face_quality": face.quality if face else None,
        "status": link.status,
    }


def search_image(
    db: Database,
    settings: Settings,
    image: Path,
    actor: str,
    *,
    pipeline: FacePipeline,
    k: int = 50,
    limit: int = 10,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Who is this face? Every face in ``image`` searched against all cases and the library.

    A file that cannot be read or decoded raises (one query: nothing else to report)."""
    (answer,) = search_images(
        db, settings, [image], actor, pipeline=pipeline, k=k, limit=limit, threshold=threshold
    )
    if "error" in answer:
        raise InvalidInput(f"{image}: {answer['error']}")
    return answer


def search_images(
    db: Database,
    settings: Settings,
    images: Sequence[Path],
    actor: str,
    *,
    pipeline: FacePipeline,
    k: int = 50,
    limit: int = 10,
    threshold: float | None = None,
    advance: Callable[[], None] | None = None,
) -> list[dict[str, Any]]:
    """Search every face of many photos in one process (the index is opened once).

    ``threshold`` overrides the operating threshold (a calibrated or the default one). For each
    face the candidates within the threshold are listed, closest first, and the closest
    candidate *beyond* it is shown separately as ``nearest_beyond_threshold`` (so a reviewer
    sees how far the next one was; it is never a candidate link). A file that cannot be read or
    decoded gives an ``error`` entry and the others go on.
    """
    import hashlib

    if threshold is not None and not 0.0 < threshold < 4.0:
        raise InvalidInput(f"--threshold must be a distance between 0 and 4, got {threshold}")
    answers: list[dict[str, Any]] = []
    digests: list[str] = []
    with db.read() as session:
        model = find_embedder(session, pipeline)
        thr = operating_threshold(session, model.id)
        if threshold is not None:
            thr = Threshold(threshold, "command line")
        index = open_index(session, settings, model.id)
        for image in images:
            try:
                data = image.read_bytes()
                result = pipeline.process_photo(data)
            except (OSError, VigilError) as exc:
                answers.append({"image": str(image), "error": str(exc)})
                if advance is not None:
                    advance()
                continue
            digest = hashlib.sha256(data).hexdigest()
            digests.append(digest)
            faces_out = []
            if result.faces:
                vectors = np.vstack([f.vector for f in result.faces])
                for face, hits in zip(result.faces, index.search(vectors, k), strict=True):
                    cands = candidates_for(session, hits, thr.value, limit=limit)
                    beyond = [h for h in hits if h.distance > thr.value]
                    nearest = candidates_for(session, beyond, float("inf"), limit=1)
                    faces_out.append(
                        {
                            "box": list(face.box),
                            "score": round(face.score, 3),
                            "quality": face.quality,
                            "age": face.age.as_dict() if face.age is not None else None,
                            "candidates": [_describe_candidate(session, c) for c in cands],
                            "nearest_beyond_threshold": (
                                dict(_describe_candidate(session, nearest[0]), rank=None)
                                if nearest
                                else None
                            ),
                        }
                    )
            answers.append(
                {
                    "image": str(image),
                    "sha256": digest,
                    "threshold": thr.as_dict(),
                    "model": result.embedder.as_dict(),
                    "indexed_vectors": len(index),
                    "faces": faces_out,
                }
            )
            if advance is not None:
                advance()
    with db.write() as session:
        audit.append(
            session,
            actor,
            "faces.search_image",
            details={
                "sha256": digests if len(images) > 1 else (digests[0] if digests else None),
                "images": len(images),
                "unreadable": len(images) - len(digests),
                "faces": sum(len(a.get("faces", [])) for a in answers),
                "threshold": thr.value,
                "threshold_source": thr.source,
            },
        )
    return answers


def _describe_candidate(session: Session, cand: Candidate) -> dict[str, Any]:
    from vigil.store.models import Case

    out = cand.as_dict()
    if cand.identity_id is not None:
        ident = session.get(store.Identity, cand.identity_id)
        if ident is not None:
            out["identity"] = ident.code
            out["status"] = ident.status
            out["series"] = list(ident.series or [])
    if cand.case_ids:
        out["cases"] = [c.name for cid in cand.case_ids if (c := session.get(Case, cid))]
    return out


# --- victim library -----------------------------------------------------------------------------


def identity_dict(session: Session, ident: store.Identity) -> dict[str, Any]:
    """An identity as JSON-friendly data."""
    return {
        "id": ident.id,
        "code": ident.code,
        "kind": ident.kind,
        "status": ident.status,
        "series": list(ident.series or []),
        "agency": store.agency_name(session, ident.agency_id),
        "references": store.identity_reference_count(session, ident.id),
        "notes": ident.notes,
    }


def add_identity(
    db: Database,
    code: str,
    actor: str,
    *,
    kind: str = "victim",
    status: str = "unidentified",
    series: Sequence[str] = (),
    agency: str | None = None,
    notes: str | None = None,
    photos: Sequence[Path] = (),
    pipeline: FacePipeline | None = None,
) -> dict[str, Any]:
    """Create a library identity, optionally with reference photos (exactly one face each)."""
    vectors: list[tuple[str, npt.NDArray[np.float32]]] = []
    if photos:
        if pipeline is None:
            raise InvalidInput("reference photos need a face pipeline")
        for photo in photos:
            import hashlib

            data = photo.read_bytes()
            found = pipeline.process_photo(data).faces
            if len(found) != 1:
                raise InvalidInput(
                    f"{photo}: a reference photo must show exactly one face, found {len(found)}"
                )
            vectors.append((f"photo sha256:{hashlib.sha256(data).hexdigest()}", found[0].vector))
    with db.write() as session:
        ident = store.add_identity(
            session,
            code,
            kind=kind,
            status=status,
            series=series,
            agency=agency,
            notes=notes,
            actor=actor,
        )
        if vectors and pipeline is not None:
            model = embedder_model(session, pipeline)
            for source, vec in vectors:
                store.add_reference(
                    session, ident.id, actor=actor, vector=vec, model_id=model.id, source=source
                )
        audit.append(
            session,
            actor,
            "victims.add",
            details={
                "identity_id": ident.id,
                "code": ident.code,
                "kind": kind,
                "status": status,
                "series": list(ident.series or []),
                "agency": agency,
                "references": [s for s, _v in vectors],
            },
        )
        return identity_dict(session, ident)


def link_identity(
    db: Database,
    identity_ref: str,
    actor: str,
    *,
    face_ids: Sequence[int] = (),
    case_name: str | None = None,
    cluster_label: int | None = None,
    link_id: int | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """A person confirms that faces (one face, a cluster, or a candidate link) show an identity.

    The faces' vectors become references of the identity (so later searches find it) and the
    matching candidate links are marked confirmed. This is the only way faces join an identity.
    """
    with db.write() as session:
        ident = store.get_identity(session, identity_ref)
        faces = list(face_ids)
        case_id: int | None = None
        if link_id is not None:
            link = store.get_link(session, link_id)
            if link.identity_id not in (None, ident.id):
                raise Conflict(
                    f"link #{link_id} proposes identity #{link.identity_id}, not {ident.code!r}"
                )
            faces.append(link.face_id)
            case_id = link.case_id
            store.decide_link(session, link, "confirmed", actor, note)
        if cluster_label is not None:
            if case_name is None:
                raise InvalidInput("--cluster needs --case")
            case = get_case(session, case_name)
            case_id = case.id
            _cl, members = store.get_cluster(session, case.id, cluster_label)
            faces.extend(members)
        if not faces:
            raise InvalidInput("say which faces to link: --face, --case with --cluster, or --link")
        added = 0
        for fid in dict.fromkeys(faces):
            store.get_face(session, fid)
            emb = store.face_embedding(session, fid)
            before = store.identity_reference_count(session, ident.id)
            store.add_reference(
                session,
                ident.id,
                actor=actor,
                embedding_id=emb.id,
                face_id=fid,
                source=f"face #{fid}",
            )
            added += store.identity_reference_count(session, ident.id) - before
        audit.append(
            session,
            actor,
            "victims.link",
            case_id=case_id,
            details={
                "identity_id": ident.id,
                "code": ident.code,
                "faces": list(dict.fromkeys(faces)),
                "link_id": link_id,
                "note": note,
            },
        )
        return {
            "identity": identity_dict(session, ident),
            "faces": list(dict.fromkeys(faces)),
            "references_added": added,
        }


def decide_link(
    db: Database, link_id: int, status: str, actor: str, note: str | None = None
) -> dict[str, Any]:
    """Confirm or reject a candidate link (confirming an identity link adds a reference)."""
    if status not in ("confirmed", "rejected", "candidate"):
        raise InvalidInput("decision must be confirmed, rejected or candidate")
    with db.write() as session:
        link = store.get_link(session, link_id)
        store.decide_link(session, link, status, actor, note)
        if status == "confirmed" and link.identity_id is not None:
            emb = store.face_embedding(session, link.face_id)
            store.add_reference(
                session,
                link.identity_id,
                actor=actor,
                embedding_id=emb.id,
                face_id=link.face_id,
                source=f"face #{link.face_id} (link #{link.id})",
            )
        audit.append(
            session,
            actor,
            "faces.link_decide",
            case_id=link.case_id,
            details={"link_id": link.id, "status": status, "target": link.target, "note": note},
        )
        return link_dict(session, link)


# --- calibration --------------------------------------------------------------------------------


def labelled_folder(folder: Path) -> list[tuple[str, Path]]:
    """(label, image path) for ``folder/<person>/<image>`` (one sub-folder per person)."""
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a folder of per-person sub-folders")
    out = []
    for person in sorted(p for p in folder.iterdir() if p.is_dir()):
        for image in sorted(person.iterdir()):
            if image.is_file() and image.suffix.lower() in IMAGE_SUFFIXES:
                out.append((person.name, image))
    if len({label for label, _p in out}) < 2:
        raise InvalidInput(f"{folder}: need sub-folders for at least two people")
    return out


def calibrate_folder(
    db: Database,
    folder: Path,
    actor: str,
    *,
    pipeline: FacePipeline,
    target_fmr: float = 0.001,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Embed a labelled folder, choose the threshold for ``target_fmr`` and store it.

    Images with no face or several faces are skipped and reported (the label would be ambiguous).
    """
    entries = labelled_folder(folder)
    labels: list[str] = []
    vectors: list[npt.NDArray[np.float32]] = []
    skipped: list[dict[str, Any]] = []
    for n, (label, path) in enumerate(entries, start=1):
        try:
            found = pipeline.process_photo(path.read_bytes()).faces
        except VigilError as exc:
            skipped.append({"path": str(path), "reason": str(exc)})
            continue
        if len(found) != 1:
            skipped.append({"path": str(path), "reason": f"{len(found)} faces found, need 1"})
        else:
            labels.append(label)
            vectors.append(found[0].vector)
        if progress:
            progress(n, len(entries))
    if len(vectors) < 3:
        raise InvalidInput("fewer than 3 usable images: cannot calibrate")
    genuine, impostor = pair_distances(np.vstack(vectors), labels)
    cal: Calibration = calibrate(genuine, impostor, target_fmr=target_fmr)
    with db.write() as session:
        model = embedder_model(session, pipeline)
        figures = cal.as_dict()
        figures.pop("fmr_resolvable")
        row = store.add_calibration(
            session,
            model.id,
            actor,
            f"{folder} ({len(set(labels))} people, {len(vectors)} images)",
            **figures,
        )
        audit.append(
            session,
            actor,
            "faces.calibrate",
            details={"calibration_id": row.id, "dataset": row.dataset, **cal.as_dict()},
        )
        return {
            "calibration_id": row.id,
            "model": pipeline.embedder.card.as_dict(),
            "people": len(set(labels)),
            "images": len(vectors),
            "skipped": skipped,
            **cal.as_dict(),
        }
