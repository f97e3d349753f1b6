"""Tables of the persons capability (offender identification and triage).

* ``person_batches`` — every imported file (payment records or reference data) with provenance
  (source, legal basis, received from/on), its SHA-256 and import counts; ``person_batch_warnings``
  holds the line-numbered warnings of rows that were not imported.
* ``person_records`` — one payment/subscription record: raw display fields, normalised fields
  used for linkage, the card as keyed token + AES-GCM ciphertext + BIN/last four (never the
  number in clear), and site-access/verification fields used by the evidence-quality flags.
* ``person_refs`` — reference rows (register, conviction, role, compromised card, breach).
* ``persons`` / ``person_links`` — resolved persons and record→person links with the match
  evidence; ``person_ref_links`` links persons to reference rows; ``person_link_runs`` keeps each
  trained model (Splink settings JSON) and run statistics; ``person_link_flags`` keeps weak links
  and refused merges for review; ``person_decisions`` are investigators' same / not-same calls.
* ``person_record_flags`` — evidence-quality indicators per record.
* ``person_assessments`` — priority band, score, factors and flags per person and policy.
* ``person_referrals``, ``person_outcomes``, ``person_alerts`` — routing, outcome tracking and
  re-offending alerts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from vigil.store.base import Base, utcnow


class PersonBatch(Base):
    """An imported file of records or reference data, with its provenance."""

    __tablename__ = "person_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    """The operation (case) of a records batch; None for installation-wide reference data."""
    kind: Mapped[str] = mapped_column(String(30))
    """``records`` or a reference kind: ``register``, ``convictions``, ``roles``,
    ``compromised_cards``, ``breaches``."""
    file_name: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(String(300))
    received_from: Mapped[str] = mapped_column(String(200))
    received_on: Mapped[dt.date | None] = mapped_column(Date)
    mapping: Mapped[dict[str, Any] | None]
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_imported: Mapped[int] = mapped_column(Integer, default=0)
    warning_count: Mapped[int] = mapped_column(Integer, default=0)
    card_key_id: Mapped[str | None] = mapped_column(String(32))
    imported_by: Mapped[str] = mapped_column(String(120))
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PersonBatchWarning(Base):
    """A row (or the file) that could not be imported, with its line number and reason."""

    __tablename__ = "person_batch_warnings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("person_batches.id"), index=True)
    line: Mapped[int | None] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(60))
    message: Mapped[str] = mapped_column(Text)


class PersonRecord(Base):
    """One payment or subscription record (a row of a records batch)."""

    __tablename__ = "person_records"
    __table_args__ = (
        Index("ix_person_records_case_card", "case_id", "card_token"),
        Index("ix_person_records_card", "card_token"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("person_batches.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    record_ref: Mapped[str | None] = mapped_column(String(120))
    name: Mapped[str | None] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(Text)
    postcode: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(2))
    dob: Mapped[dt.date | None] = mapped_column(Date)
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    first_name_n: Mapped[str | None] = mapped_column(String(100))
    surname_n: Mapped[str | None] = mapped_column(String(100))
    address_n: Mapped[str | None] = mapped_column(Text)
    district_n: Mapped[str | None] = mapped_column(String(10))
    card_token: Mapped[str | None] = mapped_column(String(32))
    card_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    card_bin: Mapped[str | None] = mapped_column(String(6))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    card_country: Mapped[str | None] = mapped_column(String(2))
    card_expiry: Mapped[str | None] = mapped_column(String(10))
    ip: Mapped[str | None] = mapped_column(String(64))
    ip_country: Mapped[str | None] = mapped_column(String(2))
    user_agent: Mapped[str | None] = mapped_column(Text)
    ts: Mapped[dt.datetime | None]
    amount: Mapped[float | None] = mapped_column(Float)
    site: Mapped[str | None] = mapped_column(String(300), index=True)
    access_count: Mapped[int | None] = mapped_column(Integer)
    """Site logins/visits recorded for this subscription; None when the batch has no access log."""
    last_access: Mapped[dt.datetime | None]
    verification_failed: Mapped[bool | None] = mapped_column(Boolean)
    chargeback: Mapped[bool | None] = mapped_column(Boolean)
    extra: Mapped[dict[str, Any] | None]


class PersonRef(Base):
    """A reference row: register entry, conviction, role, compromised card or known breach."""

    __tablename__ = "person_refs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("person_batches.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    line: Mapped[int] = mapped_column(Integer)
    ref: Mapped[str | None] = mapped_column(String(120))
    name: Mapped[str | None] = mapped_column(String(300))
    first_name_n: Mapped[str | None] = mapped_column(String(100))
    surname_n: Mapped[str | None] = mapped_column(String(100))
    dob: Mapped[dt.date | None] = mapped_column(Date)
    address_n: Mapped[str | None] = mapped_column(Text)
    postcode: Mapped[str | None] = mapped_column(String(20))
    district_n: Mapped[str | None] = mapped_column(String(10))
    country: Mapped[str | None] = mapped_column(String(2))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    card_token: Mapped[str | None] = mapped_column(String(32), index=True)
    category: Mapped[str | None] = mapped_column(String(60))
    """Conviction category (contact / images / non_contact / other), role name, card status."""
    detail: Mapped[str | None] = mapped_column(Text)
    """Offence text, breach name, role source."""
    start: Mapped[dt.datetime | None]
    end: Mapped[dt.datetime | None]
    site: Mapped[str | None] = mapped_column(String(300))
    extra: Mapped[dict[str, Any] | None]


class PersonLinkRun(Base):
    """One linkage run of an operation: the trained model and statistics."""

    __tablename__ = "person_link_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    backend: Mapped[str] = mapped_column(String(20))
    model_json: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]]
    stats: Mapped[dict[str, Any]]
    splink_version: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Person(Base):
    """A resolved person: a candidate identity built from records (a lead, not a verdict)."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    label: Mapped[str] = mapped_column(String(300))
    """Most common normalised name among the records (for display)."""
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    """False once a re-link left the person without records (kept for its history)."""
    stage: Mapped[str] = mapped_column(String(30), default="identified")
    children_safeguarded: Mapped[int] = mapped_column(Integer, default=0)
    agency: Mapped[str | None] = mapped_column(String(200))
    agency_ambiguous: Mapped[bool] = mapped_column(Boolean, default=False)
    band: Mapped[str | None] = mapped_column(String(40))
    score: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PersonLink(Base):
    """Record → person, with the strongest match evidence that tied the record in."""

    __tablename__ = "person_links"

    record_id: Mapped[int] = mapped_column(ForeignKey("person_records.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("person_link_runs.id"))
    match_weight: Mapped[float | None] = mapped_column(Float)
    """Weight of the best edge to another record of the person (None for a lone record)."""
    evidence: Mapped[dict[str, Any] | None]
    """``{"other_record": id, "match_weight": w, "comparisons": {name: {level, match_weight}}}``."""


class PersonLinkFlag(Base):
    """A link the clustering did not make on its own: a cut weak link or a refused merge."""

    __tablename__ = "person_link_flags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("person_link_runs.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    """``weak_link`` (a bridge cut), ``decision_blocked`` (not-same decision), ``conflict``,
    ``ambiguous`` (an initial-only or nameless record tied by a shareable card alone)."""
    record_a: Mapped[int] = mapped_column(ForeignKey("person_records.id"))
    record_b: Mapped[int] = mapped_column(ForeignKey("person_records.id"))
    person_a: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    person_b: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    match_weight: Mapped[float] = mapped_column(Float)
    evidence: Mapped[dict[str, Any] | None]
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)


class PersonDecision(Base):
    """An investigator's call that two records are / are not the same person."""

    __tablename__ = "person_decisions"
    __table_args__ = (UniqueConstraint("record_a", "record_b"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_a: Mapped[int] = mapped_column(ForeignKey("person_records.id"))
    record_b: Mapped[int] = mapped_column(ForeignKey("person_records.id"))
    same: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(120))
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PersonRefLink(Base):
    """Person ↔ reference row (register, conviction, role), with the linkage evidence."""

    __tablename__ = "person_ref_links"
    __table_args__ = (UniqueConstraint("person_id", "ref_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    ref_id: Mapped[int] = mapped_column(ForeignKey("person_refs.id"), index=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("person_records.id"))
    match_weight: Mapped[float] = mapped_column(Float)
    evidence: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PersonRecordFlag(Base):
    """An evidence-quality indicator on one record (lowers confidence; never raises risk)."""

    __tablename__ = "person_record_flags"
    __table_args__ = (UniqueConstraint("record_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("person_records.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any] | None]


class PersonAssessment(Base):
    """The latest prioritisation of a person under a policy: band, score, factors, flags."""

    __tablename__ = "person_assessments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    policy_name: Mapped[str] = mapped_column(String(120))
    policy_sha256: Mapped[str] = mapped_column(String(64))
    band: Mapped[str] = mapped_column(String(40))
    score: Mapped[float] = mapped_column(Float)
    confidence: Mapped[str] = mapped_column(String(80))
    factors: Mapped[list[dict[str, Any]]] = mapped_column(type_=JSON)
    flags: Mapped[list[dict[str, Any]]] = mapped_column(type_=JSON)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PersonReferral(Base):
    """A referral package sent to an agency."""

    __tablename__ = "person_referrals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    agency: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(Text)
    person_ids: Mapped[list[int]] = mapped_column(type_=JSON)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PersonOutcome(Base):
    """One step of a person's outcome history (the person row holds the current stage)."""

    __tablename__ = "person_outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    stage: Mapped[str] = mapped_column(String(30))
    children_safeguarded: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(120))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PersonAlert(Base):
    """A re-offending alert: a new record matches a person with convictions."""

    __tablename__ = "person_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("person_records.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("person_batches.id"), index=True)
    match_weight: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[str]] = mapped_column(type_=JSON)
    evidence: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
