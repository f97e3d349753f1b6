"""Tables of the hub, a separate app with its own database (``vigil hub init``).

The hub never shares a database with a case store: :class:`HubBase` has its own metadata and
its own Alembic scripts (``vigil/store/hub_migrations``), so a hub database holds exactly these
tables and nothing of any agency's cases. What it stores per agency is what the agency chose to
push (signals under the policy of :mod:`vigil.share.kinds`) and the operation's coordination
data; no media, no names of suspects or victims.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from vigil.store.audit import Chain
from vigil.store.base import NAMING_CONVENTION, UTCDateTime, utcnow
from vigil.store.models import AuditAnchorColumns, AuditEntryColumns

TARGET_STATUSES = (
    "planned",
    "warrant",
    "arrested",
    "searched",
    "charged",
    "convicted",
    "no_further_action",
)
OVERLAP_STATUSES = ("open", "confirmed", "rejected")


class HubBase(DeclarativeBase):
    """Base of the hub's tables (own metadata: never mixed with a case store)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class HubMember(HubBase):
    """A participating agency (or the hub administrator), known by its Ed25519 public key."""

    __tablename__ = "hub_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    country: Mapped[str] = mapped_column(String(2))
    force: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    public_key: Mapped[str] = mapped_column(String(64))
    """Base64 of the 32 raw public key bytes."""
    role: Mapped[str] = mapped_column(String(10), default="member")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]


class HubNonce(HubBase):
    """A nonce already used by a key; rows older than the accepted window are pruned."""

    __tablename__ = "hub_nonces"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)


class HubOperation(HubBase):
    """A joint operation: the scope within which signals are compared and targets coordinated."""

    __tablename__ = "hub_operations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    action_day: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class HubParticipant(HubBase):
    """A member taking part in an operation."""

    __tablename__ = "hub_participants"

    operation_id: Mapped[int] = mapped_column(ForeignKey("hub_operations.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("hub_members.id"), primary_key=True)
    joined_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class HubTarget(HubBase):
    """A target of one agency in an operation, named only by the owner's opaque reference."""

    __tablename__ = "hub_targets"
    __table_args__ = (UniqueConstraint("operation_id", "member_id", "ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("hub_operations.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("hub_members.id"))
    ref: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="planned")
    children_safeguarded: Mapped[int] = mapped_column(Integer, default=0)
    subject_refs: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The owner's local refs of the pushed person/card/e-mail signals of this target."""
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class HubChecklistItem(HubBase):
    """One line of a country's action-day checklist."""

    __tablename__ = "hub_checklist"
    __table_args__ = (UniqueConstraint("operation_id", "country", "item"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("hub_operations.id"))
    country: Mapped[str] = mapped_column(String(2))
    item: Mapped[str] = mapped_column(String(200))
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("hub_members.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class HubBundle(HubBase):
    """One accepted bundle (pushed or imported from a file)."""

    __tablename__ = "hub_bundles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("hub_operations.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("hub_members.id"))
    nonce: Mapped[str] = mapped_column(String(32))
    case_ref: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    via: Mapped[str] = mapped_column(String(8))
    n_signals: Mapped[int] = mapped_column(Integer)
    envelope_sha256: Mapped[str] = mapped_column(String(64))


class HubSignal(HubBase):
    """One shared signal. ``value_key`` is the value itself when short, else its SHA-256."""

    __tablename__ = "hub_signals"
    __table_args__ = (Index("ix_hub_signals_lookup", "operation_id", "kind", "value_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bundle_id: Mapped[int] = mapped_column(ForeignKey("hub_bundles.id"))
    operation_id: Mapped[int] = mapped_column(ForeignKey("hub_operations.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("hub_members.id"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(Text)
    value_key: Mapped[str] = mapped_column(String(64))
    local_ref: Mapped[str] = mapped_column(String(100))
    meta: Mapped[dict[str, Any]]
    group: Mapped[str] = mapped_column(String(200))
    """Signals are compared only within a group (same face model, same scene codebook...)."""
    quarantined: Mapped[bool] = mapped_column(Boolean, default=False)


class HubOverlap(HubBase):
    """A lead: a signal of one agency matched a signal of another (side a has the lower id)."""

    __tablename__ = "hub_overlaps"
    __table_args__ = (
        UniqueConstraint("operation_id", "kind", "member_a", "ref_a", "member_b", "ref_b"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("hub_operations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    member_a: Mapped[int] = mapped_column(ForeignKey("hub_members.id"))
    member_b: Mapped[int] = mapped_column(ForeignKey("hub_members.id"))
    ref_a: Mapped[str] = mapped_column(String(100))
    ref_b: Mapped[str] = mapped_column(String(100))
    signal_a: Mapped[int] = mapped_column(ForeignKey("hub_signals.id"))
    signal_b: Mapped[int] = mapped_column(ForeignKey("hub_signals.id"))
    score: Mapped[float] = mapped_column(Float)
    evidence: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(10), default="open")
    decision_a: Mapped[str | None] = mapped_column(String(10))
    decision_b: Mapped[str | None] = mapped_column(String(10))
    proof_requested_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class HubProof(HubBase):
    """The geometric proof of a ``same_room`` overlap (:mod:`vigil.share.proof`).

    ``sealed`` is the sender's scene features, sealed under the operation secret (which the hub
    never holds): relayed to the verifier and deleted when its result arrives. ``result`` holds
    only the verdict, counts, coverage and inlier coordinate pairs.
    """

    __tablename__ = "hub_proofs"

    overlap_id: Mapped[int] = mapped_column(ForeignKey("hub_overlaps.id"), primary_key=True)
    sender_id: Mapped[int] = mapped_column(ForeignKey("hub_members.id"))
    verifier_id: Mapped[int] = mapped_column(ForeignKey("hub_members.id"))
    sealed: Mapped[str | None] = mapped_column(Text)
    sealed_sha256: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[dt.datetime | None]
    result: Mapped[dict[str, Any] | None]
    proved_at: Mapped[dt.datetime | None]


class HubSuppression(HubBase):
    """A pair of (agency, local ref) rejected by a human: never reported again, in any kind."""

    __tablename__ = "hub_suppressions"

    member_a: Mapped[int] = mapped_column(ForeignKey("hub_members.id"), primary_key=True)
    ref_a: Mapped[str] = mapped_column(String(100), primary_key=True)
    member_b: Mapped[int] = mapped_column(ForeignKey("hub_members.id"), primary_key=True)
    ref_b: Mapped[str] = mapped_column(String(100), primary_key=True)
    overlap_id: Mapped[int] = mapped_column(ForeignKey("hub_overlaps.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class HubDeconfliction(HubBase):
    """Two agencies' targets share a person, card or e-mail: both are told before action day."""

    __tablename__ = "hub_deconflictions"
    __table_args__ = (UniqueConstraint("target_a", "target_b"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("hub_operations.id"))
    target_a: Mapped[int] = mapped_column(ForeignKey("hub_targets.id"))
    target_b: Mapped[int] = mapped_column(ForeignKey("hub_targets.id"))
    overlap_id: Mapped[int] = mapped_column(ForeignKey("hub_overlaps.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class HubNotification(HubBase):
    """Something one member must see: a new overlap or a deconfliction notice."""

    __tablename__ = "hub_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("hub_members.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    overlap_id: Mapped[int | None] = mapped_column(ForeignKey("hub_overlaps.id"))
    deconfliction_id: Mapped[int | None] = mapped_column(ForeignKey("hub_deconflictions.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class HubQuarantine(HubBase):
    """A signal that matched too many items across agencies (flood guard): held for review."""

    __tablename__ = "hub_quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("hub_signals.id"), unique=True)
    matches: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    reviewed_at: Mapped[dt.datetime | None]


class HubAuditEntry(AuditEntryColumns, HubBase):
    """One link of the hub's own hash chain (``case_id`` holds the operation id, if any)."""

    __tablename__ = "hub_audit_log"


class HubAuditAnchor(AuditAnchorColumns, HubBase):
    """The head of the hub's audit chain."""

    __tablename__ = "hub_audit_anchor"


HUB_CHAIN = Chain(HubAuditEntry, HubAuditAnchor)
