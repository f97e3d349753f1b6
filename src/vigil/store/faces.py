"""Tables and repository functions of victim identification (faces, clusters, identities, links).

* ``face_models``: model cards (detector / embedder name, version, SHA-256 of the weights).
* ``face_scans``: that an item was scanned for faces by a given detector+embedder (even with
  zero faces), so back-fills do not repeat work.
* ``faces``: one detected face of an item (photo, or a video frame at ``frame_time``) with box,
  detector score, landmarks, rotation, blur/size quality. Faces belong to *items*, which are
  unique content across the installation; a case's faces are those of its items.
* ``face_embeddings``: float32 vectors, each naming its embedder model. A vector without a face
  is a reference taken from a photo outside any case (victim library).
* ``face_clusters`` / ``face_cluster_members``: the latest within-case clustering (derived data,
  replaced by each re-clustering).
* ``face_constraints``: investigator feedback ("same person" / "not the same person") that every
  re-clustering respects.
* ``identities`` / ``identity_references``: the victim library (victims and unknown persons of
  interest) with status, series, owning agency and reference vectors.
* ``face_links``: candidate links from a case's face to an identity or to a face in another
  case, with distance and rank; only a person confirms or rejects them (never merged
  automatically).
* ``face_calibrations``: operating thresholds chosen on labelled pair sets.
* ``face_model_files``: face models a unit brought (ONNX files registered by path, with their
  licence); their embedder card is in ``face_models``; they are refused for search and
  clustering until calibrated.
* ``face_ages``: a face's apparent age from an age model (``face_models`` role ``age``): range,
  P(minor), the "likely minor" flag, or an abstention with its reason. The flag raises faces and
  their items in the review order; it never hides anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    delete,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from vigil.errors import Conflict, InvalidInput, NotFound
from vigil.store.base import Base, utcnow
from vigil.store.models import Agency, EvidenceSource, MediaItem, Occurrence

IDENTITY_STATUSES = ("unidentified", "identified", "safeguarded")
IDENTITY_KINDS = ("victim", "person_of_interest")
LINK_STATUSES = ("candidate", "confirmed", "rejected")


class FaceModel(Base):
    """A detector's or embedder's model card."""

    __tablename__ = "face_models"
    __table_args__ = (UniqueConstraint("role", "name", "version", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    """``detector`` or ``embedder``."""
    name: Mapped[str] = mapped_column(String(120))
    version: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    dim: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FaceScan(Base):
    """An item scanned for faces by one detector + embedder (zero faces is a result too)."""

    __tablename__ = "face_scans"
    __table_args__ = (UniqueConstraint("item_id", "detector_id", "embedder_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("media_items.id", ondelete="CASCADE"))
    detector_id: Mapped[int] = mapped_column(ForeignKey("face_models.id"))
    embedder_id: Mapped[int] = mapped_column(ForeignKey("face_models.id"))
    analyzer_version: Mapped[str] = mapped_column(String(40))
    n_faces: Mapped[int] = mapped_column(Integer, default=0)
    frames: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="ok")
    scanned_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FaceRow(Base):
    """One detected face."""

    __tablename__ = "faces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("media_items.id", ondelete="CASCADE"), index=True
    )
    scan_id: Mapped[int] = mapped_column(ForeignKey("face_scans.id", ondelete="CASCADE"))
    frame_time: Mapped[float | None] = mapped_column(Float)
    """Seconds from the start of a video; None for photos."""
    left: Mapped[int] = mapped_column(Integer)
    top: Mapped[int] = mapped_column(Integer)
    right: Mapped[int] = mapped_column(Integer)
    bottom: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    landmarks: Mapped[list[Any]] = mapped_column(JSON)
    rotation: Mapped[int] = mapped_column(Integer, default=0)
    blur: Mapped[float] = mapped_column(Float)
    size: Mapped[int] = mapped_column(Integer)
    quality: Mapped[float] = mapped_column(Float)
    detector_id: Mapped[int] = mapped_column(ForeignKey("face_models.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom)."""
        return (self.left, self.top, self.right, self.bottom)


class FaceModelFile(Base):
    """A unit's own face model, registered from a local file (never downloaded or copied)."""

    __tablename__ = "face_model_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("face_models.id"))
    path: Mapped[str] = mapped_column(Text)
    licence: Mapped[str] = mapped_column(Text)
    registered_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def add_model_file(
    session: Session, name: str, model_id: int, path: str, licence: str, actor: str
) -> FaceModelFile:
    """Register a model file under a unique name."""
    if session.execute(select(FaceModelFile).where(FaceModelFile.name == name)).first():
        raise Conflict(f"a face model named {name!r} is already registered")
    row = FaceModelFile(name=name, model_id=model_id, path=path, licence=licence,
                        registered_by=actor)  # fmt: skip
    session.add(row)
    session.flush()
    return row


def get_model_file(session: Session, name: str) -> FaceModelFile:
    """A registered model file by name."""
    row = session.execute(
        select(FaceModelFile).where(FaceModelFile.name == name)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no face model named {name!r} (see `vigil faces models list`)")
    return row


def model_file_for(session: Session, model_id: int) -> FaceModelFile | None:
    """The registration of an embedder model, if a unit brought it."""
    return session.execute(
        select(FaceModelFile).where(FaceModelFile.model_id == model_id)
    ).scalar_one_or_none()


def list_model_files(session: Session) -> list[FaceModelFile]:
    """Registered model files, by name."""
    return list(session.execute(select(FaceModelFile).order_by(FaceModelFile.name)).scalars())


class FaceAge(Base):
    """A face's apparent age (one row per face and age model)."""

    __tablename__ = "face_ages"
    __table_args__ = (UniqueConstraint("face_id", "model_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    face_id: Mapped[int] = mapped_column(ForeignKey("faces.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("face_models.id"))
    status: Mapped[str] = mapped_column(String(20))
    """``estimate`` or ``abstain``."""
    reason: Mapped[str | None] = mapped_column(String(200))
    age_low: Mapped[float] = mapped_column(Float)
    age_median: Mapped[float] = mapped_column(Float)
    age_high: Mapped[float] = mapped_column(Float)
    p_minor: Mapped[float] = mapped_column(Float)
    likely_minor: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (CLI, web)."""
        return {
            "status": self.status,
            "low": self.age_low,
            "median": self.age_median,
            "high": self.age_high,
            "p_minor": self.p_minor,
            "likely_minor": self.likely_minor,
            "reason": self.reason,
            "model_id": self.model_id,
        }


class FaceEmbedding(Base):
    """A face vector (float32 bytes) and the embedder model that produced it."""

    __tablename__ = "face_embeddings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    face_id: Mapped[int | None] = mapped_column(
        ForeignKey("faces.id", ondelete="CASCADE"), unique=True
    )
    model_id: Mapped[int] = mapped_column(ForeignKey("face_models.id"), index=True)
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)

    def array(self) -> npt.NDArray[np.float32]:
        """The vector as a float32 array."""
        return np.frombuffer(self.vector, dtype=np.float32).reshape(self.dim)


class FaceCluster(Base):
    """One cluster of the latest clustering of a case."""

    __tablename__ = "face_clusters"
    __table_args__ = (UniqueConstraint("case_id", "label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    label: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    representative_face_id: Mapped[int] = mapped_column(ForeignKey("faces.id"))
    model_id: Mapped[int] = mapped_column(ForeignKey("face_models.id"))
    threshold: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FaceClusterMember(Base):
    """Membership of a face in a case's cluster."""

    __tablename__ = "face_cluster_members"

    cluster_id: Mapped[int] = mapped_column(
        ForeignKey("face_clusters.id", ondelete="CASCADE"), primary_key=True
    )
    face_id: Mapped[int] = mapped_column(
        ForeignKey("faces.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class FaceConstraint(Base):
    """Investigator feedback on two faces of a case: ``same`` or ``different`` person."""

    __tablename__ = "face_constraints"
    __table_args__ = (UniqueConstraint("case_id", "face_a", "face_b"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    face_a: Mapped[int] = mapped_column(ForeignKey("faces.id", ondelete="CASCADE"))
    face_b: Mapped[int] = mapped_column(ForeignKey("faces.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Identity(Base):
    """A victim or an unknown person of interest in the library."""

    __tablename__ = "identities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(120), unique=True)
    """The reference the owning agency uses (e.g. ``V-2024-0012``); never a child's name by
    default."""
    kind: Mapped[str] = mapped_column(String(30), default="victim")
    status: Mapped[str] = mapped_column(String(20), default="unidentified")
    series: Mapped[list[Any]] = mapped_column(JSON, default=list)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class IdentityReference(Base):
    """A reference vector of an identity (from a case face or from an outside photo)."""

    __tablename__ = "identity_references"
    __table_args__ = (UniqueConstraint("identity_id", "embedding_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity_id: Mapped[int] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), index=True
    )
    embedding_id: Mapped[int] = mapped_column(
        ForeignKey("face_embeddings.id", ondelete="CASCADE"), index=True
    )
    face_id: Mapped[int | None] = mapped_column(ForeignKey("faces.id"))
    source: Mapped[str] = mapped_column(Text, default="")
    """Where the reference came from (``face #12 in case X`` or a photo's SHA-256)."""
    added_by: Mapped[str] = mapped_column(String(120))
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FaceLink(Base):
    """A candidate link from a case's face to an identity or to a face in another case."""

    __tablename__ = "face_links"
    __table_args__ = (UniqueConstraint("case_id", "face_id", "target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    face_id: Mapped[int] = mapped_column(ForeignKey("faces.id", ondelete="CASCADE"), index=True)
    target: Mapped[str] = mapped_column(String(60))
    """``identity:<id>`` or ``face:<id>`` (unique per query face)."""
    identity_id: Mapped[int | None] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), index=True
    )
    matched_face_id: Mapped[int | None] = mapped_column(ForeignKey("faces.id", ondelete="CASCADE"))
    matched_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    distance: Mapped[float] = mapped_column(Float)
    rank: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[float] = mapped_column(Float)
    model_id: Mapped[int] = mapped_column(ForeignKey("face_models.id"))
    status: Mapped[str] = mapped_column(String(20), default="candidate")
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[dt.datetime | None]


class FaceCalibration(Base):
    """An operating threshold chosen for a target false-match rate on a labelled pair set."""

    __tablename__ = "face_calibrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("face_models.id"), index=True)
    threshold: Mapped[float] = mapped_column(Float)
    target_fmr: Mapped[float] = mapped_column(Float)
    fmr: Mapped[float] = mapped_column(Float)
    tmr: Mapped[float] = mapped_column(Float)
    auc: Mapped[float] = mapped_column(Float)
    eer: Mapped[float] = mapped_column(Float)
    n_genuine: Mapped[int] = mapped_column(Integer)
    n_impostor: Mapped[int] = mapped_column(Integer)
    dataset: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- repository functions ---------------------------------------------------------------------


def ensure_model(
    session: Session, role: str, name: str, version: str, sha256: str, dim: int = 0
) -> FaceModel:
    """The stored model card, created if new."""
    row = session.execute(
        select(FaceModel).where(
            FaceModel.role == role,
            FaceModel.name == name,
            FaceModel.version == version,
            FaceModel.sha256 == sha256,
        )
    ).scalar_one_or_none()
    if row is None:
        row = FaceModel(role=role, name=name, version=version, sha256=sha256, dim=dim)
        session.add(row)
        session.flush()
    return row


def get_model(session: Session, model_id: int) -> FaceModel:
    """A model card by id."""
    row = session.get(FaceModel, model_id)
    if row is None:
        raise NotFound(f"no face model #{model_id}")
    return row


def find_model(
    session: Session, role: str, name: str, version: str, sha256: str
) -> FaceModel | None:
    """The stored model card, or None if never used."""
    return session.execute(
        select(FaceModel).where(
            FaceModel.role == role,
            FaceModel.name == name,
            FaceModel.version == version,
            FaceModel.sha256 == sha256,
        )
    ).scalar_one_or_none()


def embedder_model_ids(session: Session) -> list[int]:
    """Ids of every embedder model that has been stored."""
    stmt = select(FaceModel.id).where(FaceModel.role == "embedder").order_by(FaceModel.id)
    return list(session.execute(stmt).scalars())


def get_scan(session: Session, item_id: int, detector_id: int, embedder_id: int) -> FaceScan | None:
    """The scan of an item by these models, if any."""
    return session.execute(
        select(FaceScan).where(
            FaceScan.item_id == item_id,
            FaceScan.detector_id == detector_id,
            FaceScan.embedder_id == embedder_id,
        )
    ).scalar_one_or_none()


def scanned_item_ids(session: Session, item_ids: Sequence[int], embedder_id: int) -> set[int]:
    """Those of ``item_ids`` already scanned with this embedder (any detector)."""
    found: set[int] = set()
    for start in range(0, len(item_ids), 500):
        chunk = list(item_ids[start : start + 500])
        stmt = select(FaceScan.item_id).where(
            FaceScan.item_id.in_(chunk), FaceScan.embedder_id == embedder_id
        )
        found.update(session.execute(stmt).scalars())
    return found


def add_scan(
    session: Session,
    item_id: int,
    *,
    detector_id: int,
    embedder_id: int,
    analyzer_version: str,
    frames: int,
    status: str,
    faces: Sequence[dict[str, Any]],
    dim: int,
    age_model_id: int | None = None,
) -> FaceScan:
    """Store a scan and its faces with their vectors (``faces``: dicts from the analyzer) and,
    with ``age_model_id``, each face's ``age`` dict."""
    if get_scan(session, item_id, detector_id, embedder_id) is not None:
        raise Conflict(f"item #{item_id} was already scanned with these face models")
    scan = FaceScan(
        item_id=item_id,
        detector_id=detector_id,
        embedder_id=embedder_id,
        analyzer_version=analyzer_version,
        n_faces=len(faces),
        frames=frames,
        status=status,
    )
    session.add(scan)
    session.flush()
    for f in faces:
        vector = np.asarray(f["vector"], dtype=np.float32)
        if vector.shape != (dim,):
            raise InvalidInput(f"face vector has shape {vector.shape}, expected ({dim},)")
        left, top, right, bottom = (int(v) for v in f["box"])
        row = FaceRow(
            item_id=item_id,
            scan_id=scan.id,
            frame_time=f.get("frame_time"),
            left=left,
            top=top,
            right=right,
            bottom=bottom,
            score=float(f["score"]),
            landmarks=[list(p) for p in f["landmarks"]],
            rotation=int(f.get("rotation", 0)),
            blur=float(f["blur"]),
            size=int(f["size"]),
            quality=float(f["quality"]),
            detector_id=detector_id,
        )
        session.add(row)
        session.flush()
        session.add(
            FaceEmbedding(face_id=row.id, model_id=embedder_id, dim=dim, vector=vector.tobytes())
        )
        if age_model_id is not None and f.get("age"):
            add_age(session, row.id, age_model_id, f["age"])
    session.flush()
    return scan


def add_age(session: Session, face_id: int, model_id: int, age: dict[str, Any]) -> FaceAge:
    """Store (or replace) one face's age estimate from ``model_id``."""
    status = str(age["status"])
    if status not in ("estimate", "abstain"):
        raise InvalidInput(f"age status must be 'estimate' or 'abstain', got {status!r}")
    row = session.execute(
        select(FaceAge).where(FaceAge.face_id == face_id, FaceAge.model_id == model_id)
    ).scalar_one_or_none()
    if row is None:
        row = FaceAge(face_id=face_id, model_id=model_id)
        session.add(row)
    row.status = status
    row.reason = (str(age["reason"])[:200]) if age.get("reason") else None
    row.age_low = float(age["low"])
    row.age_median = float(age["median"])
    row.age_high = float(age["high"])
    row.p_minor = float(age["p_minor"])
    row.likely_minor = bool(age["likely_minor"]) and status == "estimate"
    session.flush()
    return row


def face_ages(session: Session, face_ids: Iterable[int]) -> dict[int, FaceAge]:
    """The newest age row of each face (by the age model stored last) that has one."""
    ids = sorted(set(face_ids))
    out: dict[int, FaceAge] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stmt = select(FaceAge).where(FaceAge.face_id.in_(chunk)).order_by(FaceAge.model_id)
        for row in session.execute(stmt).scalars():
            out[row.face_id] = row
    return out


def likely_minor_item_ids(session: Session, item_ids: Iterable[int] | None = None) -> set[int]:
    """Items with at least one face flagged "likely minor" (restricted to ``item_ids``)."""
    stmt = (
        select(FaceRow.item_id)
        .join(FaceAge, FaceAge.face_id == FaceRow.id)
        .where(FaceAge.likely_minor.is_(True))
        .distinct()
    )
    found = {int(i) for i in session.execute(stmt).scalars()}
    return found if item_ids is None else found & set(item_ids)


def case_likely_minor_item_ids(session: Session, case_id: int) -> set[int]:
    """Items of a case with at least one face flagged "likely minor" (one query)."""
    items = (
        select(Occurrence.item_id)
        .join(EvidenceSource, Occurrence.source_id == EvidenceSource.id)
        .where(EvidenceSource.case_id == case_id)
    )
    stmt = (
        select(FaceRow.item_id)
        .join(FaceAge, FaceAge.face_id == FaceRow.id)
        .where(FaceAge.likely_minor.is_(True), FaceRow.item_id.in_(items))
        .distinct()
    )
    return {int(i) for i in session.execute(stmt).scalars()}


def faces_without_age(session: Session, case_id: int, model_id: int) -> list[FaceRow]:
    """Faces of a case with no age row from ``model_id`` (for a back-fill), by item then id."""
    items = (
        select(Occurrence.item_id)
        .join(EvidenceSource, Occurrence.source_id == EvidenceSource.id)
        .where(EvidenceSource.case_id == case_id)
    )
    have = select(FaceAge.face_id).where(FaceAge.model_id == model_id)
    stmt = (
        select(FaceRow)
        .where(FaceRow.item_id.in_(items), FaceRow.id.not_in(have))
        .order_by(FaceRow.item_id, FaceRow.id)
    )
    return list(session.execute(stmt).scalars())


def case_item_ids(session: Session, case_id: int, kinds: Iterable[str] | None = None) -> list[int]:
    """Ids of the unique items of a case (optionally only some kinds)."""
    stmt = (
        select(MediaItem.id)
        .where(
            MediaItem.id.in_(
                select(Occurrence.item_id)
                .join(EvidenceSource, Occurrence.source_id == EvidenceSource.id)
                .where(EvidenceSource.case_id == case_id, Occurrence.item_id.is_not(None))
            )
        )
        .order_by(MediaItem.id)
    )
    if kinds is not None:
        stmt = stmt.where(MediaItem.kind.in_(list(kinds)))
    return list(session.execute(stmt).scalars())


def case_faces(
    session: Session, case_id: int, model_id: int
) -> list[tuple[FaceRow, FaceEmbedding]]:
    """Faces of a case's items that have a vector from ``model_id``, by face id."""
    items = (
        select(Occurrence.item_id)
        .join(EvidenceSource, Occurrence.source_id == EvidenceSource.id)
        .where(EvidenceSource.case_id == case_id)
    )
    stmt = (
        select(FaceRow, FaceEmbedding)
        .join(FaceEmbedding, FaceEmbedding.face_id == FaceRow.id)
        .where(FaceRow.item_id.in_(items), FaceEmbedding.model_id == model_id)
        .order_by(FaceRow.id)
    )
    return [(f, e) for f, e in session.execute(stmt).all()]


def count_case_faces(session: Session, case_id: int) -> int:
    """How many faces (any model) the case's items have."""
    items = (
        select(Occurrence.item_id)
        .join(EvidenceSource, Occurrence.source_id == EvidenceSource.id)
        .where(EvidenceSource.case_id == case_id)
    )
    stmt = select(func.count()).select_from(FaceRow).where(FaceRow.item_id.in_(items))
    return int(session.execute(stmt).scalar_one())


def get_face(session: Session, face_id: int) -> FaceRow:
    """A face by id."""
    row = session.get(FaceRow, face_id)
    if row is None:
        raise NotFound(f"no face #{face_id}")
    return row


def face_embedding(session: Session, face_id: int) -> FaceEmbedding:
    """The vector of a face."""
    row = session.execute(
        select(FaceEmbedding).where(FaceEmbedding.face_id == face_id)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"face #{face_id} has no vector")
    return row


def face_in_case(session: Session, case_id: int, face_id: int) -> bool:
    """Whether the face's item occurs in the case."""
    face = get_face(session, face_id)
    stmt = (
        select(Occurrence.id)
        .join(EvidenceSource, Occurrence.source_id == EvidenceSource.id)
        .where(EvidenceSource.case_id == case_id, Occurrence.item_id == face.item_id)
        .limit(1)
    )
    return session.execute(stmt).first() is not None


def item_case_ids(session: Session, item_ids: Iterable[int]) -> dict[int, set[int]]:
    """Map item id → ids of the cases it occurs in."""
    ids = sorted(set(item_ids))
    found: dict[int, set[int]] = {i: set() for i in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stmt = (
            select(Occurrence.item_id, EvidenceSource.case_id)
            .join(EvidenceSource, Occurrence.source_id == EvidenceSource.id)
            .where(Occurrence.item_id.in_(chunk))
            .distinct()
        )
        for item_id, case_id in session.execute(stmt).all():
            if item_id is not None:
                found[item_id].add(case_id)
    return found


def first_item_path(session: Session, item_ids: Iterable[int]) -> dict[int, str]:
    """One display path per item (its first occurrence), for reports."""
    ids = sorted(set(item_ids))
    found: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stmt = (
            select(Occurrence.item_id, Occurrence.path)
            .where(Occurrence.item_id.in_(chunk))
            .order_by(Occurrence.id.desc())
        )
        for item_id, path in session.execute(stmt).all():
            if item_id is not None:
                found[item_id] = path
    return found


def embeddings_for_model(
    session: Session, model_id: int, *, after_id: int = 0
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """(embedding ids, vectors) of one model with id > ``after_id``, by id."""
    stmt = (
        select(FaceEmbedding.id, FaceEmbedding.vector, FaceEmbedding.dim)
        .where(FaceEmbedding.model_id == model_id, FaceEmbedding.id > after_id)
        .order_by(FaceEmbedding.id)
    )
    ids: list[int] = []
    vecs: list[npt.NDArray[np.float32]] = []
    dim = 0
    for emb_id, blob, d in session.execute(stmt.execution_options(yield_per=10000)).all():
        ids.append(emb_id)
        vecs.append(np.frombuffer(blob, dtype=np.float32))
        dim = d
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    return np.asarray(ids, dtype=np.int64), np.vstack(vecs).reshape(len(ids), dim)


def describe_embeddings(
    session: Session, embedding_ids: Iterable[int]
) -> dict[int, dict[str, Any]]:
    """For each embedding id: its face id, item id, and the identities it is a reference of."""
    ids = sorted(set(int(i) for i in embedding_ids))
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.execute(
            select(FaceEmbedding.id, FaceEmbedding.face_id, FaceRow.item_id)
            .outerjoin(FaceRow, FaceRow.id == FaceEmbedding.face_id)
            .where(FaceEmbedding.id.in_(chunk))
        ).all()
        for emb_id, face_id, item_id in rows:
            out[emb_id] = {"face_id": face_id, "item_id": item_id, "identities": []}
        refs = session.execute(
            select(IdentityReference.embedding_id, IdentityReference.identity_id).where(
                IdentityReference.embedding_id.in_(chunk)
            )
        ).all()
        for emb_id, identity_id in refs:
            if emb_id in out:
                out[emb_id]["identities"].append(identity_id)
    return out


# constraints -------------------------------------------------------------------------------------


def add_constraint(
    session: Session,
    case_id: int,
    face_a: int,
    face_b: int,
    kind: str,
    actor: str,
    note: str | None,
) -> FaceConstraint:
    """Store (or replace) feedback on a pair of faces of a case."""
    if kind not in ("same", "different"):
        raise InvalidInput(f"constraint kind must be 'same' or 'different', got {kind!r}")
    if face_a == face_b:
        raise InvalidInput("a constraint needs two different faces")
    a, b = sorted((face_a, face_b))
    row = session.execute(
        select(FaceConstraint).where(
            FaceConstraint.case_id == case_id,
            FaceConstraint.face_a == a,
            FaceConstraint.face_b == b,
        )
    ).scalar_one_or_none()
    if row is None:
        row = FaceConstraint(
            case_id=case_id, face_a=a, face_b=b, kind=kind, note=note, created_by=actor
        )
        session.add(row)
    else:
        row.kind, row.note, row.created_by, row.created_at = kind, note, actor, utcnow()
    session.flush()
    return row


def remove_constraint(session: Session, case_id: int, face_a: int, face_b: int) -> bool:
    """Delete feedback on a pair; returns whether there was any."""
    a, b = sorted((face_a, face_b))
    result = session.execute(
        delete(FaceConstraint).where(
            FaceConstraint.case_id == case_id,
            FaceConstraint.face_a == a,
            FaceConstraint.face_b == b,
        )
    )
    return bool(getattr(result, "rowcount", 0))


def case_constraints(session: Session, case_id: int) -> list[FaceConstraint]:
    """All feedback of a case, oldest first."""
    stmt = (
        select(FaceConstraint).where(FaceConstraint.case_id == case_id).order_by(FaceConstraint.id)
    )
    return list(session.execute(stmt).scalars())


# clusters --------------------------------------------------------------------------------------


def replace_clusters(
    session: Session,
    case_id: int,
    model_id: int,
    threshold: float,
    groups: Sequence[tuple[int, Sequence[int]]],
) -> list[FaceCluster]:
    """Replace the case's clusters by ``groups`` = [(representative face id, member face ids)]."""
    old = select(FaceCluster.id).where(FaceCluster.case_id == case_id)
    session.execute(delete(FaceClusterMember).where(FaceClusterMember.cluster_id.in_(old)))
    session.execute(delete(FaceCluster).where(FaceCluster.case_id == case_id))
    rows = []
    for label, (rep, members) in enumerate(groups):
        cl = FaceCluster(
            case_id=case_id,
            label=label,
            size=len(members),
            representative_face_id=rep,
            model_id=model_id,
            threshold=threshold,
        )
        session.add(cl)
        session.flush()
        session.add_all(FaceClusterMember(cluster_id=cl.id, face_id=f) for f in members)
        rows.append(cl)
    session.flush()
    return rows


def case_clusters(session: Session, case_id: int) -> list[tuple[FaceCluster, list[int]]]:
    """The case's clusters with their member face ids, by label."""
    clusters = list(
        session.execute(
            select(FaceCluster).where(FaceCluster.case_id == case_id).order_by(FaceCluster.label)
        ).scalars()
    )
    members: dict[int, list[int]] = {c.id: [] for c in clusters}
    if clusters:
        stmt = (
            select(FaceClusterMember.cluster_id, FaceClusterMember.face_id)
            .where(FaceClusterMember.cluster_id.in_(list(members)))
            .order_by(FaceClusterMember.face_id)
        )
        for cid, fid in session.execute(stmt).all():
            members[cid].append(fid)
    return [(c, members[c.id]) for c in clusters]


def get_cluster(session: Session, case_id: int, label: int) -> tuple[FaceCluster, list[int]]:
    """One cluster of a case by label."""
    for cl, members in case_clusters(session, case_id):
        if cl.label == label:
            return cl, members
    raise NotFound(f"case has no face cluster {label} (run `vigil faces cluster` first)")


# identities ------------------------------------------------------------------------------------


def add_identity(
    session: Session,
    code: str,
    *,
    kind: str,
    status: str,
    series: Sequence[str],
    agency: str | None,
    notes: str | None,
    actor: str,
) -> Identity:
    """Create a library identity (``Conflict`` if the code is taken)."""
    code = code.strip()
    if not code or len(code) > 120 or not code.isprintable():
        raise InvalidInput(f"identity code {code!r} must be 1-120 printable characters")
    if kind not in IDENTITY_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(IDENTITY_KINDS)}, got {kind!r}")
    if status not in IDENTITY_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(IDENTITY_STATUSES)}, got {status!r}")
    if session.execute(select(Identity.id).where(Identity.code == code)).first() is not None:
        raise Conflict(f"an identity with code {code!r} already exists")
    agency_id = None
    if agency:
        from vigil.store.repo import ensure_agency

        agency_id = ensure_agency(session, agency).id
    row = Identity(
        code=code,
        kind=kind,
        status=status,
        series=sorted({s.strip() for s in series if s.strip()}),
        agency_id=agency_id,
        notes=notes,
        created_by=actor,
    )
    session.add(row)
    session.flush()
    return row


def get_identity(session: Session, ref: str | int) -> Identity:
    """An identity by id (int or digits) or code."""
    row: Identity | None = None
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        row = session.get(Identity, int(ref))
    if row is None and isinstance(ref, str):
        row = session.execute(select(Identity).where(Identity.code == ref)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no identity {ref!r} in the victim library")
    return row


def update_identity(
    session: Session,
    identity: Identity,
    *,
    status: str | None = None,
    add_series: Sequence[str] = (),
    notes: str | None = None,
) -> Identity:
    """Change status, add series names or replace notes."""
    if status is not None:
        if status not in IDENTITY_STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(IDENTITY_STATUSES)}")
        identity.status = status
    if add_series:
        identity.series = sorted(
            set(identity.series or []) | {s.strip() for s in add_series if s.strip()}
        )
    if notes is not None:
        identity.notes = notes
    identity.updated_at = utcnow()
    session.flush()
    return identity


def list_identities(
    session: Session, *, status: str | None = None, series: str | None = None
) -> list[Identity]:
    """Library identities (optionally filtered), by code."""
    stmt = select(Identity).order_by(Identity.code)
    if status:
        stmt = stmt.where(Identity.status == status)
    rows = list(session.execute(stmt).scalars())
    if series:
        rows = [r for r in rows if series in (r.series or [])]
    return rows


def identity_references(session: Session, identity_id: int) -> list[IdentityReference]:
    """An identity's references, oldest first."""
    stmt = (
        select(IdentityReference)
        .where(IdentityReference.identity_id == identity_id)
        .order_by(IdentityReference.id)
    )
    return list(session.execute(stmt).scalars())


def identity_links(session: Session, identity_id: int) -> list[FaceLink]:
    """Links (any status) that point at an identity, closest first."""
    stmt = (
        select(FaceLink)
        .where(FaceLink.identity_id == identity_id)
        .order_by(FaceLink.distance, FaceLink.id)
    )
    return list(session.execute(stmt).scalars())


def agency_name(session: Session, agency_id: int | None) -> str | None:
    """An agency's name (None for None)."""
    if agency_id is None:
        return None
    agency = session.get(Agency, agency_id)
    return agency.name if agency else None


def identity_reference_count(session: Session, identity_id: int) -> int:
    """How many reference vectors an identity has."""
    stmt = select(IdentityReference.id).where(IdentityReference.identity_id == identity_id)
    return len(session.execute(stmt).all())


def add_reference(
    session: Session,
    identity_id: int,
    *,
    actor: str,
    embedding_id: int | None = None,
    vector: npt.NDArray[np.float32] | None = None,
    model_id: int | None = None,
    face_id: int | None = None,
    source: str = "",
) -> IdentityReference:
    """Add a reference vector: an existing face's embedding, or a new outside vector."""
    if embedding_id is None:
        if vector is None or model_id is None:
            raise InvalidInput("a reference needs an embedding id or a vector with its model")
        vec = np.asarray(vector, dtype=np.float32).ravel()
        emb = FaceEmbedding(
            face_id=None, model_id=model_id, dim=int(vec.size), vector=vec.tobytes()
        )
        session.add(emb)
        session.flush()
        embedding_id = emb.id
    existing = session.execute(
        select(IdentityReference).where(
            IdentityReference.identity_id == identity_id,
            IdentityReference.embedding_id == embedding_id,
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    ref = IdentityReference(
        identity_id=identity_id,
        embedding_id=embedding_id,
        face_id=face_id,
        source=source,
        added_by=actor,
    )
    session.add(ref)
    session.flush()
    return ref


# links -----------------------------------------------------------------------------------------


def upsert_link(
    session: Session,
    *,
    case_id: int,
    face_id: int,
    identity_id: int | None,
    matched_face_id: int | None,
    matched_case_id: int | None,
    distance: float,
    rank: int,
    threshold: float,
    model_id: int,
) -> tuple[FaceLink, bool]:
    """Record a candidate link; an existing one keeps its decision. Returns (link, created)."""
    if (identity_id is None) == (matched_face_id is None):
        raise InvalidInput("a link targets exactly one identity or one face")
    target = f"identity:{identity_id}" if identity_id is not None else f"face:{matched_face_id}"
    row = session.execute(
        select(FaceLink).where(
            FaceLink.case_id == case_id, FaceLink.face_id == face_id, FaceLink.target == target
        )
    ).scalar_one_or_none()
    if row is not None:
        row.distance, row.rank, row.threshold = distance, rank, threshold
        return row, False
    row = FaceLink(
        case_id=case_id,
        face_id=face_id,
        target=target,
        identity_id=identity_id,
        matched_face_id=matched_face_id,
        matched_case_id=matched_case_id,
        distance=distance,
        rank=rank,
        threshold=threshold,
        model_id=model_id,
    )
    session.add(row)
    session.flush()
    return row, True


def case_links(session: Session, case_id: int, *, status: str | None = None) -> list[FaceLink]:
    """Candidate links of a case, closest first."""
    stmt = select(FaceLink).where(FaceLink.case_id == case_id)
    if status:
        stmt = stmt.where(FaceLink.status == status)
    return list(session.execute(stmt.order_by(FaceLink.distance, FaceLink.id)).scalars())


def get_link(session: Session, link_id: int) -> FaceLink:
    """A link by id."""
    row = session.get(FaceLink, link_id)
    if row is None:
        raise NotFound(f"no face link #{link_id}")
    return row


def decide_link(
    session: Session, link: FaceLink, status: str, actor: str, note: str | None
) -> FaceLink:
    """Record a person's decision on a link."""
    if status not in LINK_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(LINK_STATUSES)}")
    link.status = status
    link.decided_by = actor
    link.decided_at = utcnow()
    if note is not None:
        link.note = note
    session.flush()
    return link


# calibration -----------------------------------------------------------------------------------


def add_calibration(
    session: Session, model_id: int, actor: str, dataset: str, **figures: Any
) -> FaceCalibration:
    """Store a calibration result."""
    row = FaceCalibration(model_id=model_id, created_by=actor, dataset=dataset, **figures)
    session.add(row)
    session.flush()
    return row


def latest_calibration(session: Session, model_id: int) -> FaceCalibration | None:
    """The newest calibration of an embedder model."""
    stmt = (
        select(FaceCalibration)
        .where(FaceCalibration.model_id == model_id)
        .order_by(FaceCalibration.id.desc())
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()
