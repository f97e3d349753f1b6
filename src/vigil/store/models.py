"""Foundation tables: agencies, users, cases, evidence sources, media items and their
occurrences, warnings, jobs and the audit chain."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vigil.store.base import Base, utcnow


class Agency(Base):
    """A police force or other organisation that owns cases and records."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    country: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class User(Base):
    """A person (or the local CLI account) who acts on the store. Every audit entry names one."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    role: Mapped[str] = mapped_column(String(40), default="investigator")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    agency: Mapped[Agency | None] = relationship()


class Case(Base):
    """An investigation. Evidence sources belong to exactly one case."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    sources: Mapped[list[EvidenceSource]] = relationship(back_populates="case")


class CaseMember(Base):
    """A user's membership of a case (access is granted per case)."""

    __tablename__ = "case_members"
    __table_args__ = (UniqueConstraint("case_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class EvidenceSource(Base):
    """A seized folder, archive or disk image added to a case (opened read-only)."""

    __tablename__ = "evidence_sources"
    __table_args__ = (UniqueConstraint("case_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(40))
    label: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    """Digest of the source file itself (archives and disk images); None for folders."""
    status: Mapped[str] = mapped_column(String(20), default="pending")
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[dt.datetime | None]

    case: Mapped[Case] = relationship(back_populates="sources")


class MediaItem(Base):
    """One unique content (by SHA-256) across the installation, with what was learnt from it."""

    __tablename__ = "media_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    sha1: Mapped[str] = mapped_column(String(40), index=True)
    md5: Mapped[str] = mapped_column(String(32), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(40), index=True)
    """Registry name of the detected type (``jpeg``, ``png``, ``mp4`` ...), by content."""
    kind: Mapped[str] = mapped_column(String(20), index=True)
    """Broad class: ``photo``, ``video``, ``archive``, ``document``, ``other``."""
    mime: Mapped[str | None] = mapped_column(String(100))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float)
    frame_rate: Mapped[float | None] = mapped_column(Float)
    camera_make: Mapped[str | None] = mapped_column(String(120))
    camera_model: Mapped[str | None] = mapped_column(String(120))
    camera_serial: Mapped[str | None] = mapped_column(String(120), index=True)
    captured_at: Mapped[str | None] = mapped_column(String(40))
    """Capture time as written by the camera (EXIF has no reliable zone), ISO-8601 text."""
    gps_lat: Mapped[float | None] = mapped_column(Float)
    gps_lon: Mapped[float | None] = mapped_column(Float)
    gps_alt: Mapped[float | None] = mapped_column(Float)
    orientation: Mapped[int | None] = mapped_column(Integer)
    exif: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(String(20), default="ok")
    """``ok`` or ``damaged`` (the content could not be decoded fully; see warnings)."""
    extractor_version: Mapped[str] = mapped_column(String(40))
    first_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Occurrence(Base):
    """One place where a file was found: source + logical path (archive members use ``!/``)."""

    __tablename__ = "occurrences"
    __table_args__ = (
        UniqueConstraint("source_id", "raw_path"),
        Index("ix_occurrences_item_source", "item_id", "source_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("evidence_sources.id", ondelete="CASCADE"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("media_items.id"))
    """None when the file could not be read at all (the warnings say why)."""
    path: Mapped[str] = mapped_column(Text)
    """Display path; undecodable bytes are shown as ``\\xNN`` escapes."""
    raw_path: Mapped[bytes] = mapped_column(LargeBinary)
    """The exact path bytes, for names that are not valid UTF-8."""
    size: Mapped[int | None] = mapped_column(BigInteger)
    mtime: Mapped[dt.datetime | None]
    ctime: Mapped[dt.datetime | None]
    atime: Mapped[dt.datetime | None]
    depth: Mapped[int] = mapped_column(Integer, default=0)
    """Archive nesting depth (0 = directly in the source)."""
    status: Mapped[str] = mapped_column(String(20), default="ok")
    seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    item: Mapped[MediaItem | None] = relationship()
    source: Mapped[EvidenceSource] = relationship()


class ItemWarning(Base):
    """Something that went wrong with one file, archive entry or source, stored as data."""

    __tablename__ = "warnings"
    __table_args__ = (UniqueConstraint("source_id", "raw_path", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("evidence_sources.id", ondelete="CASCADE")
    )
    item_id: Mapped[int | None] = mapped_column(ForeignKey("media_items.id"), index=True)
    path: Mapped[str] = mapped_column(Text, default="")
    raw_path: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    code: Mapped[str] = mapped_column(String(60))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Job(Base):
    """A long-running piece of work (ingest, hashing, clustering) that can be resumed."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_sources.id"))
    status: Mapped[str] = mapped_column(String(20), default="running")
    """``running``, ``done``, ``failed``; a ``running`` job whose process died is resumable."""
    params: Mapped[dict[str, Any] | None]
    stats: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=1)


class AuditEntryColumns:
    """The columns of one link of a hash chain (shared by the case store's and the hub's logs)."""

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    ts: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(80), index=True)
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    item_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[str] = mapped_column(Text)
    """Canonical JSON (sorted keys, no spaces) exactly as hashed."""
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditAnchorColumns:
    """The head of a hash chain (one row), so that cutting entries off the end is detected."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditEntry(AuditEntryColumns, Base):
    """One link of the hash chain. Rows are only ever inserted (see :mod:`vigil.store.audit`)."""

    __tablename__ = "audit_log"


class AuditAnchor(AuditAnchorColumns, Base):
    """The head of the audit chain (one row), so that cutting entries off the end is detected."""

    __tablename__ = "audit_anchor"


class ItemAnalysis(Base):
    """That analyzer NAME (at VERSION) has processed an item: drives back-fills and re-runs."""

    __tablename__ = "item_analyses"
    __table_args__ = (UniqueConstraint("item_id", "analyzer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("media_items.id", ondelete="CASCADE"))
    analyzer: Mapped[str] = mapped_column(String(40), index=True)
    version: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="ok")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
