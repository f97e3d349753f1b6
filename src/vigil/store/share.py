"""Tables of the local side of sharing (``vigil share``): what was sent, what came back.

* ``share_pushes`` — every bundle built from a case (exported to a file or pushed to a hub):
  operation, destination, counts per signal kind, the bundle's SHA-256 and nonce. Never values.
* ``share_overlaps`` — overlaps the hub notified to this unit: the other agency, the category
  (same file, near-duplicate, face, room, camera, person, card ...), the evidence the hub sent
  (distances, scores, which signals), this unit's local reference, the case it resolves to, and
  the decisions of both sides.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from vigil.errors import NotFound
from vigil.store.base import Base, utcnow


class SharePush(Base):
    """A bundle built from a case for an operation (a file or a push to a hub)."""

    __tablename__ = "share_pushes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    operation: Mapped[str] = mapped_column(String(64), index=True)
    destination: Mapped[str] = mapped_column(String(500))
    """``file`` or the hub URL."""
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    bundle_sha256: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ShareOverlap(Base):
    """An overlap with another agency, as the hub notified it, and this unit's decision."""

    __tablename__ = "share_overlaps"
    __table_args__ = (UniqueConstraint("hub", "remote_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hub: Mapped[str] = mapped_column(String(500))
    remote_id: Mapped[int] = mapped_column(Integer)
    """The overlap's id at the hub (what a decision is sent for)."""
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    """The local case the reference resolves to (None when it no longer resolves)."""
    operation: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(40))
    score: Mapped[float | None] = mapped_column(Float)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    local_ref: Mapped[str] = mapped_column(String(100))
    other_agency: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="open")
    """The hub's status: ``open``, ``confirmed`` (both sides), ``rejected`` (either side)."""
    my_decision: Mapped[str | None] = mapped_column(String(10))
    their_decision: Mapped[str | None] = mapped_column(String(10))
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[dt.datetime | None]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)


def add_push(session: Session, **fields: Any) -> SharePush:
    """Record a bundle built from a case."""
    row = SharePush(**fields)
    session.add(row)
    session.flush()
    return row


def pushed_cases(session: Session, operation: str) -> list[int]:
    """Ids of the cases ever shared with ``operation``."""
    rows = session.execute(
        select(SharePush.case_id).where(SharePush.operation == operation).distinct()
    ).scalars()
    return sorted(int(r) for r in rows)


def upsert_overlap(
    session: Session, hub: str, remote_id: int, **fields: Any
) -> tuple[ShareOverlap, bool]:
    """Insert or refresh a notified overlap; returns (row, created)."""
    row = session.execute(
        select(ShareOverlap).where(ShareOverlap.hub == hub, ShareOverlap.remote_id == remote_id)
    ).scalar_one_or_none()
    created = row is None
    if row is None:
        row = ShareOverlap(hub=hub, remote_id=remote_id, **fields)
        session.add(row)
    else:
        for k, v in fields.items():
            setattr(row, k, v)
        row.updated_at = utcnow()
    session.flush()
    return row, created


def case_overlaps(session: Session, case_id: int) -> list[ShareOverlap]:
    """A case's overlaps, newest first."""
    return list(
        session.execute(
            select(ShareOverlap)
            .where(ShareOverlap.case_id == case_id)
            .order_by(ShareOverlap.id.desc())
        ).scalars()
    )


def all_overlaps(session: Session) -> list[ShareOverlap]:
    """Every stored overlap, newest first."""
    return list(session.execute(select(ShareOverlap).order_by(ShareOverlap.id.desc())).scalars())


def get_overlap(session: Session, overlap_id: int) -> ShareOverlap:
    """One stored overlap by its local id."""
    row = session.get(ShareOverlap, overlap_id)
    if row is None:
        raise NotFound(f"no overlap #{overlap_id} (run `vigil share pull` to fetch notifications)")
    return row
