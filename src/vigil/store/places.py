"""Tables and repository functions of location identification (scenes, places, cameras).

* ``scene_features``: the ``VSF1`` local-feature record (capped RootSIFT, see
  :mod:`vigil.places.features`) of a photo, of a sampled video frame (``frame`` > 0 numbers the
  sample) or of a reference-collection image. A row with ``n_keypoints = 0`` records that the
  image was analysed and had nothing to match (a blank wall), so back-fills do not repeat it.
* ``places``: a place record (hotel room, residence ...), with a stable ``key``, address,
  coordinates, type and owning agency.
* ``place_collections`` / ``place_reference_images``: reference photos of places (for example
  hotel rooms) imported from a folder and a CSV file, each image attached to a place.
* ``place_links``: an item attached to a place: ``candidate`` (a search result someone chose to
  record), ``confirmed`` or ``rejected`` by a person, with the evidence (inliers, the matched
  image) that led to it. Nothing is attached automatically.
* ``camera_fingerprints``: registered PRNU fingerprints (the ``VPF1`` file path and digest).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
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

PLACE_TYPES = ("hotel_room", "residence", "vehicle", "outdoor", "institution", "other", "unknown")
LINK_STATUSES = ("candidate", "confirmed", "rejected")


class SceneFeature(Base):
    """Local features of one image (item photo, video frame or reference image)."""

    __tablename__ = "scene_features"
    __table_args__ = (
        UniqueConstraint("item_id", "frame", "extractor"),
        Index("ix_scene_features_reference", "reference_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("media_items.id", ondelete="CASCADE"), index=True
    )
    reference_id: Mapped[int | None] = mapped_column(
        ForeignKey("place_reference_images.id", ondelete="CASCADE")
    )
    frame: Mapped[int] = mapped_column(Integer, default=0)
    """0 for a photo; 1, 2 ... for the sampled frames of a video."""
    time_s: Mapped[float | None] = mapped_column(Float)
    """Position of a video frame, seconds."""
    extractor: Mapped[str] = mapped_column(String(40))
    width: Mapped[int] = mapped_column(Integer)
    """Width of the original image (pixels) the keypoints refer to after their scale."""
    height: Mapped[int] = mapped_column(Integer)
    n_keypoints: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Place(Base):
    """A physical place (room, residence ...) that images can be attached to."""

    __tablename__ = "places"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    """Stable identifier (given, or taken from a reference collection's place id)."""
    name: Mapped[str] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    place_type: Mapped[str] = mapped_column(String(40), default="unknown")
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PlaceCollection(Base):
    """A reference collection of place photos (e.g. hotel rooms) with its provenance."""

    __tablename__ = "place_collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    source_path: Mapped[str] = mapped_column(Text)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    provenance: Mapped[str | None] = mapped_column(Text)
    imported_by: Mapped[str] = mapped_column(String(120))
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    stats: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class PlaceReferenceImage(Base):
    """One image of a reference collection, attached to a place."""

    __tablename__ = "place_reference_images"
    __table_args__ = (UniqueConstraint("collection_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("place_collections.id", ondelete="CASCADE"), index=True
    )
    place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id"), index=True)
    path: Mapped[str] = mapped_column(Text)
    """Absolute path of the image as imported (read again for drawings)."""
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class PlaceLink(Base):
    """An item attached to a place by a person (candidate / confirmed / rejected)."""

    __tablename__ = "place_links"
    __table_args__ = (UniqueConstraint("place_id", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    place_id: Mapped[int] = mapped_column(ForeignKey("places.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("media_items.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="candidate")
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[dt.datetime | None]


class CameraFingerprint(Base):
    """A registered PRNU fingerprint (the file lives in the data folder)."""

    __tablename__ = "camera_fingerprints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    make: Mapped[str | None] = mapped_column(String(120))
    model: Mapped[str | None] = mapped_column(String(120))
    serial: Mapped[str | None] = mapped_column(String(120))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    n_images: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- scene features -----------------------------------------------------------------------------
def replace_item_features(session: Session, item_id: int, extractor: str | None) -> int:
    """Delete the item's feature rows of ``extractor`` (every extractor's with ``None``: new
    features replace those of an earlier extractor version too) before storing new ones; how
    many.

    Nothing else refers to feature row ids: the shortlist index drops the missing ids at its
    next refresh."""
    where = [SceneFeature.item_id == item_id]
    if extractor is not None:
        where.append(SceneFeature.extractor == extractor)
    result = session.execute(delete(SceneFeature).where(*where))
    return int(getattr(result, "rowcount", 0) or 0)


def add_scene_feature(
    session: Session,
    *,
    data: bytes,
    n_keypoints: int,
    width: int,
    height: int,
    extractor: str,
    item_id: int | None = None,
    reference_id: int | None = None,
    frame: int = 0,
    time_s: float | None = None,
) -> SceneFeature:
    if (item_id is None) == (reference_id is None):
        raise InvalidInput("scene features belong to exactly one item or reference image")
    row = SceneFeature(
        item_id=item_id,
        reference_id=reference_id,
        frame=frame,
        time_s=time_s,
        extractor=extractor,
        width=width,
        height=height,
        n_keypoints=n_keypoints,
        data=data,
    )
    session.add(row)
    session.flush()
    return row


def feature_ids(session: Session, extractor: str) -> set[int]:
    """Ids of every non-empty feature row (what the global index should contain)."""
    rows = session.scalars(
        select(SceneFeature.id).where(
            SceneFeature.extractor == extractor, SceneFeature.n_keypoints > 0
        )
    )
    return set(rows)


def other_extractor_counts(session: Session, extractor: str) -> dict[str, int]:
    """Non-empty feature rows of every extractor but ``extractor`` (features an earlier
    extractor version stored: never searched with the current one's)."""
    rows = session.execute(
        select(SceneFeature.extractor, func.count())
        .where(SceneFeature.extractor != extractor, SceneFeature.n_keypoints > 0)
        .group_by(SceneFeature.extractor)
    )
    return {str(name): int(n) for name, n in rows}


def reference_paths_with_features(session: Session, collection_id: int, extractor: str) -> set[str]:
    """Paths of the collection's reference images that have features of ``extractor``."""
    rows = session.scalars(
        select(PlaceReferenceImage.path)
        .join(SceneFeature, SceneFeature.reference_id == PlaceReferenceImage.id)
        .where(
            PlaceReferenceImage.collection_id == collection_id,
            SceneFeature.extractor == extractor,
        )
    )
    return set(rows)


def feature_data(session: Session, ids: Iterable[int]) -> dict[int, bytes]:
    wanted = list(ids)
    out: dict[int, bytes] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for fid, data in session.execute(
            select(SceneFeature.id, SceneFeature.data).where(SceneFeature.id.in_(chunk))
        ):
            out[int(fid)] = bytes(data)
    return out


def features_of_item(session: Session, item_id: int, extractor: str) -> list[SceneFeature]:
    return list(
        session.scalars(
            select(SceneFeature)
            .where(SceneFeature.item_id == item_id, SceneFeature.extractor == extractor)
            .order_by(SceneFeature.frame)
        )
    )


def describe_features(session: Session, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """What each feature row belongs to: item (with its cases and a path) or reference image."""
    if not ids:
        return {}
    rows = session.execute(
        select(SceneFeature.id, SceneFeature.item_id, SceneFeature.reference_id,
               SceneFeature.frame, SceneFeature.time_s).where(SceneFeature.id.in_(list(ids)))
    ).all()  # fmt: skip
    out: dict[int, dict[str, Any]] = {}
    item_ids = {int(r.item_id) for r in rows if r.item_id is not None}
    ref_ids = {int(r.reference_id) for r in rows if r.reference_id is not None}
    items: dict[int, dict[str, Any]] = {}
    if item_ids:
        from vigil.store.models import Case

        q = (
            select(Occurrence.item_id, Occurrence.path, Case.name, MediaItem.sha256)
            .join(EvidenceSource, EvidenceSource.id == Occurrence.source_id)
            .join(Case, Case.id == EvidenceSource.case_id)
            .join(MediaItem, MediaItem.id == Occurrence.item_id)
            .where(Occurrence.item_id.in_(item_ids))
        )
        for item_id, path, case_name, sha in session.execute(q):
            if item_id is None:
                continue
            info = items.setdefault(int(item_id), {"cases": [], "path": path, "sha256": sha})
            if case_name not in info["cases"]:
                info["cases"].append(case_name)
    refs: dict[int, dict[str, Any]] = {}
    if ref_ids:
        q2 = (
            select(PlaceReferenceImage, PlaceCollection.name, Place.key, Place.name)
            .join(PlaceCollection, PlaceCollection.id == PlaceReferenceImage.collection_id)
            .outerjoin(Place, Place.id == PlaceReferenceImage.place_id)
            .where(PlaceReferenceImage.id.in_(ref_ids))
        )
        for ref, coll, pkey, pname in session.execute(q2):
            refs[ref.id] = {
                "collection": coll,
                "path": ref.path,
                "sha256": ref.sha256,
                "place_id": ref.place_id,
                "place_key": pkey,
                "place_name": pname,
            }
    for r in rows:
        if r.item_id is not None:
            d = {"kind": "item", "item_id": int(r.item_id), **items.get(int(r.item_id), {})}
        else:
            d = {"kind": "reference", "reference_id": int(r.reference_id),
                 **refs.get(int(r.reference_id), {})}  # fmt: skip
        d["frame"] = int(r.frame)
        d["time_s"] = r.time_s
        out[int(r.id)] = d
    return out


def case_feature_ids(session: Session, case_id: int, extractor: str) -> dict[int, int]:
    """Feature row id -> item id for the non-empty features of a case's items."""
    q = (
        select(SceneFeature.id, SceneFeature.item_id)
        .join(Occurrence, Occurrence.item_id == SceneFeature.item_id)
        .join(EvidenceSource, EvidenceSource.id == Occurrence.source_id)
        .where(
            EvidenceSource.case_id == case_id,
            SceneFeature.extractor == extractor,
            SceneFeature.n_keypoints > 0,
        )
        .distinct()
    )
    return {int(f): int(i) for f, i in session.execute(q) if i is not None}


def scene_counts(session: Session, case_id: int) -> dict[str, int]:
    q = (
        select(func.count(func.distinct(SceneFeature.item_id)))
        .join(Occurrence, Occurrence.item_id == SceneFeature.item_id)
        .join(EvidenceSource, EvidenceSource.id == Occurrence.source_id)
        .where(EvidenceSource.case_id == case_id)
    )
    analysed = int(session.scalar(q) or 0)
    links = session.execute(
        select(PlaceLink.status, func.count(func.distinct(PlaceLink.id)))
        .join(Occurrence, Occurrence.item_id == PlaceLink.item_id)
        .join(EvidenceSource, EvidenceSource.id == Occurrence.source_id)
        .where(EvidenceSource.case_id == case_id)
        .group_by(PlaceLink.status)
    ).all()
    out = {"items_with_scene_features": analysed}
    for status, n in links:
        out[f"place_links_{status}"] = int(n)
    return out


# --- places -------------------------------------------------------------------------------------
def _agency_id(session: Session, agency: str | None) -> int | None:
    if not agency:
        return None
    row = session.scalar(select(Agency).where(Agency.name == agency))
    if row is None:
        row = Agency(name=agency)
        session.add(row)
        session.flush()
    return row.id


def add_place(
    session: Session,
    *,
    name: str,
    created_by: str,
    key: str | None = None,
    address: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    place_type: str = "unknown",
    agency: str | None = None,
    notes: str | None = None,
) -> Place:
    from vigil.places.geo import valid_position

    if not name.strip():
        raise InvalidInput("a place needs a name")
    if place_type not in PLACE_TYPES:
        raise InvalidInput(f"unknown place type {place_type!r} (known: {', '.join(PLACE_TYPES)})")
    if (lat is None) != (lon is None) or (lat is not None and not valid_position(lat, lon)):
        raise InvalidInput(f"invalid coordinates {lat!r}, {lon!r} (need both, in range, not 0,0)")
    if key is not None and session.scalar(select(Place.id).where(Place.key == key)) is not None:
        raise Conflict(f"a place with key {key!r} already exists")
    place = Place(
        key=key or f"tmp-{uuid.uuid4().hex}",
        name=name.strip(),
        address=address,
        lat=lat,
        lon=lon,
        place_type=place_type,
        agency_id=_agency_id(session, agency),
        notes=notes,
        created_by=created_by,
    )
    session.add(place)
    session.flush()
    if key is None:
        place.key = f"P{place.id:06d}"
        session.flush()
    return place


def get_place(session: Session, ref: str | int) -> Place:
    """A place by id (number) or key."""
    place: Place | None = None
    text = str(ref)
    if text.isdigit():
        place = session.get(Place, int(text))
    if place is None:
        place = session.scalar(select(Place).where(Place.key == text))
    if place is None:
        raise NotFound(f"no place {ref!r} (give its id or key; see `vigil places list`)")
    return place


def list_places(session: Session) -> list[Place]:
    return list(session.scalars(select(Place).order_by(Place.id)))


def place_dict(session: Session, place: Place) -> dict[str, Any]:
    agency = session.get(Agency, place.agency_id) if place.agency_id else None
    refs = session.scalar(select(func.count()).where(PlaceReferenceImage.place_id == place.id))
    links = dict(
        session.execute(
            select(PlaceLink.status, func.count())
            .where(PlaceLink.place_id == place.id)
            .group_by(PlaceLink.status)
        ).all()
    )
    return {
        "id": place.id,
        "key": place.key,
        "name": place.name,
        "address": place.address,
        "lat": place.lat,
        "lon": place.lon,
        "type": place.place_type,
        "agency": agency.name if agency else None,
        "notes": place.notes,
        "reference_images": int(refs or 0),
        "links": {k: int(v) for k, v in links.items()},
    }


# --- reference collections ----------------------------------------------------------------------
def get_collection(session: Session, name: str) -> PlaceCollection | None:
    return session.scalar(select(PlaceCollection).where(PlaceCollection.name == name))


def list_collections(session: Session) -> list[PlaceCollection]:
    return list(session.scalars(select(PlaceCollection).order_by(PlaceCollection.id)))


def reference_image(session: Session, ref_id: int) -> PlaceReferenceImage:
    row = session.get(PlaceReferenceImage, ref_id)
    if row is None:
        raise NotFound(f"no reference image #{ref_id}")
    return row


# --- links --------------------------------------------------------------------------------------
def set_link(
    session: Session,
    *,
    place_id: int,
    item_id: int,
    status: str,
    actor: str,
    evidence: dict[str, Any] | None = None,
    note: str | None = None,
) -> tuple[PlaceLink, str | None]:
    """Create or update the link of ``item_id`` to ``place_id``; returns (link, old status)."""
    if status not in LINK_STATUSES:
        raise InvalidInput(f"unknown link status {status!r} (known: {', '.join(LINK_STATUSES)})")
    if session.get(MediaItem, item_id) is None:
        raise NotFound(f"no item #{item_id}")
    link = session.scalar(
        select(PlaceLink).where(PlaceLink.place_id == place_id, PlaceLink.item_id == item_id)
    )
    old: str | None = None
    if link is None:
        link = PlaceLink(place_id=place_id, item_id=item_id, status=status, created_by=actor,
                         evidence=evidence, note=note)  # fmt: skip
        session.add(link)
    else:
        old = link.status
        link.status = status
        if evidence:
            link.evidence = evidence
        if note:
            link.note = note
    if status != "candidate":
        link.decided_by = actor
        link.decided_at = utcnow()
    session.flush()
    return link, old


def links(
    session: Session, *, place_id: int | None = None, item_ids: Iterable[int] | None = None
) -> list[PlaceLink]:
    q = select(PlaceLink).order_by(PlaceLink.id)
    if place_id is not None:
        q = q.where(PlaceLink.place_id == place_id)
    if item_ids is not None:
        q = q.where(PlaceLink.item_id.in_(list(item_ids)))
    return list(session.scalars(q))


# --- camera fingerprints ------------------------------------------------------------------------
def get_fingerprint(session: Session, name: str) -> CameraFingerprint:
    row = session.scalar(select(CameraFingerprint).where(CameraFingerprint.name == name))
    if row is None:
        raise NotFound(f"no registered camera fingerprint {name!r} (see `vigil camera list`)")
    return row


def list_fingerprints(session: Session) -> list[CameraFingerprint]:
    return list(session.scalars(select(CameraFingerprint).order_by(CameraFingerprint.id)))
