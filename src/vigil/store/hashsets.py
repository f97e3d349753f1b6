"""Tables of the known-vs-fresh capability: hash sets and their entries, signals computed per
item, matches of case items against hash-set entries, triage outcomes and groups, and grades.

Repository functions that only move rows live here; the logic (matching, grouping, vote
counting) lives in :mod:`vigil.hashsets` and :mod:`vigil.triage`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from vigil.store.base import Base, utcnow


class HashSet(Base):
    """A loaded list of known hashes, with its provenance and category scheme."""

    __tablename__ = "hash_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    format: Mapped[str] = mapped_column(String(40))
    """Importer name: ``vics_json``, ``icse_csv``, ``digest_list``, ``pdq_csv``."""
    format_variant: Mapped[str | None] = mapped_column(String(40))
    """E.g. VICS ``1.3`` / ``2.0``, for a faithful export."""
    scheme: Mapped[str] = mapped_column(String(40))
    """Category scheme of the entries' codes (``vics_us``, ``vics_uk``, ``dhs_legacy`` ...)."""
    source: Mapped[str] = mapped_column(Text)
    """Where the list came from (file name, agency, exchange)."""
    licence: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    imported_by: Mapped[str] = mapped_column(String(120))
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    entry_count: Mapped[int] = mapped_column(Integer, default=0)
    warning_count: Mapped[int] = mapped_column(Integer, default=0)
    meta: Mapped[dict[str, Any] | None]
    """Format-level fields kept for round trips (odata context, case-level VICS fields)."""


class HashSetEntry(Base):
    """One known media record of a hash set (hashes plus case-work metadata, never media)."""

    __tablename__ = "hash_set_entries"
    __table_args__ = (
        Index("ix_hash_set_entries_md5", "md5"),
        Index("ix_hash_set_entries_sha1", "sha1"),
        Index("ix_hash_set_entries_sha256", "sha256"),
        Index("ix_hash_set_entries_pdq", "pdq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("hash_sets.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    """Order in the source file (exports keep it)."""
    media_id: Mapped[str | None] = mapped_column(String(120))
    md5: Mapped[str | None] = mapped_column(String(32))
    sha1: Mapped[str | None] = mapped_column(String(40))
    sha256: Mapped[str | None] = mapped_column(String(64))
    pdq: Mapped[str | None] = mapped_column(String(64))
    pdq_quality: Mapped[int | None] = mapped_column(Integer)
    photodna: Mapped[str | None] = mapped_column(Text)
    """Stored and exported as given; never matched (licence-gated algorithm)."""
    category: Mapped[str | None] = mapped_column(String(40))
    """The code exactly as in the source, interpreted through the set's scheme."""
    series: Mapped[str | None] = mapped_column(String(200))
    label: Mapped[str | None] = mapped_column(String(200))
    victim_identified: Mapped[bool | None] = mapped_column(Boolean)
    offender_identified: Mapped[bool | None] = mapped_column(Boolean)
    is_distributed: Mapped[bool | None] = mapped_column(Boolean)
    is_precategorized: Mapped[bool | None] = mapped_column(Boolean)
    media_size: Mapped[int | None] = mapped_column(BigInteger)
    record: Mapped[dict[str, Any] | None]
    """The full normalised record (all other fields) so that an export round-trips."""


class ItemSignal(Base):
    """A signal computed for a media item (one row per photo, one per sampled video frame)."""

    __tablename__ = "item_signals"
    __table_args__ = (
        UniqueConstraint("item_id", "signal_type", "frame"),
        Index("ix_item_signals_value", "signal_type", "value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("media_items.id", ondelete="CASCADE"), index=True
    )
    signal_type: Mapped[str] = mapped_column(String(40))
    """``pdq`` for photos, ``vpdq`` for video frames."""
    frame: Mapped[int] = mapped_column(Integer, default=-1)
    """Frame number for video frames, -1 for a photo."""
    timestamp_s: Mapped[float | None] = mapped_column(Float)
    value: Mapped[str | None] = mapped_column(String(64))
    """None only when ``status`` says why the signal could not be computed."""
    quality: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(60), default="ok")
    """``ok`` or the unhashable code (``pdq_low_quality``, ``pdq_decode_error`` ...)."""
    reason: Mapped[str | None] = mapped_column(Text)
    hasher_version: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ItemMatch(Base):
    """A case item found in a hash set: a candidate lead with its evidence (signal, distance)."""

    __tablename__ = "item_matches"
    __table_args__ = (
        UniqueConstraint("case_id", "item_id", "entry_id", "signal_type"),
        Index("ix_item_matches_case_item", "case_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("media_items.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("hash_set_entries.id", ondelete="CASCADE"))
    set_id: Mapped[int] = mapped_column(ForeignKey("hash_sets.id", ondelete="CASCADE"))
    signal_type: Mapped[str] = mapped_column(String(40))
    distance: Mapped[int] = mapped_column(Integer, default=0)
    frames_matched: Mapped[int | None] = mapped_column(Integer)
    """Videos: how many sampled frames matched this entry."""
    matched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TriageGroup(Base):
    """Items of a case stacked together: binary duplicates and visual duplicates."""

    __tablename__ = "triage_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    representative_item_id: Mapped[int] = mapped_column(ForeignKey("media_items.id"))
    outcome: Mapped[str] = mapped_column(String(20))
    """``known`` / ``near_known`` / ``fresh``: the strongest outcome of any member."""
    member_count: Mapped[int] = mapped_column(Integer)
    occurrence_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TriageOutcome(Base):
    """Known / near-known / fresh for one item of one case, with the evidence for it."""

    __tablename__ = "triage_outcomes"
    __table_args__ = (UniqueConstraint("case_id", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("media_items.id", ondelete="CASCADE"))
    outcome: Mapped[str] = mapped_column(String(20))
    perceptual: Mapped[str] = mapped_column(String(60))
    """``checked``, ``not_applicable`` or the unhashable code: fresh-but-unchecked is visible."""
    best_set_id: Mapped[int | None] = mapped_column(ForeignKey("hash_sets.id", ondelete="SET NULL"))
    best_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("hash_set_entries.id", ondelete="SET NULL")
    )
    category: Mapped[str | None] = mapped_column(String(40))
    grade: Mapped[str | None] = mapped_column(String(20))
    series: Mapped[str | None] = mapped_column(String(200))
    distance: Mapped[int | None] = mapped_column(Integer)
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("triage_groups.id", ondelete="SET NULL")
    )
    group_distance: Mapped[int | None] = mapped_column(Integer)
    """PDQ distance to the group's representative (0 for the representative itself)."""
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TriageState(Base):
    """When a case's triage was last computed, and against which hash-set catalogue.

    The catalogue is summarised as a signature (set ids, entry count, highest entry id); any
    import or removal changes it, so a screen can say "as of ..., out of date" instead of
    showing outcomes that no longer hold (see :mod:`vigil.triage.freshness`).
    """

    __tablename__ = "triage_states"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    matched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    catalogue: Mapped[dict[str, Any]] = mapped_column(JSON)
    threshold: Mapped[int] = mapped_column(Integer)
    items: Mapped[int] = mapped_column(Integer)
    """Items of the case when it was matched (more items since then: new evidence unmatched)."""


class Grade(Base):
    """One reviewer's grade of one item in a case (the latest vote of that reviewer counts)."""

    __tablename__ = "grades"
    __table_args__ = (UniqueConstraint("case_id", "item_id", "reviewer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("media_items.id", ondelete="CASCADE"))
    reviewer: Mapped[str] = mapped_column(String(120))
    scheme: Mapped[str] = mapped_column(String(40))
    grade: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    graded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- repository functions -------------------------------------------------------------------


def replace_item_signals(
    session: Session, item_id: int, signal_type: str, rows: list[dict[str, Any]]
) -> None:
    """Store the signals of one item and type, replacing earlier ones (re-analysis)."""
    session.execute(
        delete(ItemSignal).where(
            ItemSignal.item_id == item_id, ItemSignal.signal_type == signal_type
        )
    )
    for row in rows:
        session.add(ItemSignal(item_id=item_id, signal_type=signal_type, **row))
    session.flush()


def item_signals(session: Session, item_ids: list[int], signal_type: str) -> list[ItemSignal]:
    """Signals of the given items and type, by item then frame."""
    out: list[ItemSignal] = []
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        stmt = (
            select(ItemSignal)
            .where(ItemSignal.item_id.in_(chunk), ItemSignal.signal_type == signal_type)
            .order_by(ItemSignal.item_id, ItemSignal.frame)
        )
        out.extend(session.execute(stmt).scalars())
    return out


def get_hash_set(session: Session, name: str) -> HashSet | None:
    """The hash set called ``name`` or None."""
    return session.execute(select(HashSet).where(HashSet.name == name)).scalar_one_or_none()


def list_hash_sets(session: Session) -> list[HashSet]:
    """All hash sets by name."""
    return list(session.execute(select(HashSet).order_by(HashSet.name)).scalars())


def set_entries(session: Session, set_id: int) -> list[HashSetEntry]:
    """The entries of one set in file order."""
    stmt = select(HashSetEntry).where(HashSetEntry.set_id == set_id).order_by(HashSetEntry.position)
    return list(session.execute(stmt).scalars())
