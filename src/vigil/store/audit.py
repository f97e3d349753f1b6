"""Append-only, hash-chained audit log.

Each entry's hash covers its own fields and the previous entry's hash:

    entry_hash = SHA-256(prev_hash || canonical JSON of [seq, ts, actor, action, case, item, details])

so editing any field, deleting or reordering entries breaks the chain. The newest ``(seq, hash)``
is also kept in ``audit_anchor`` (updated in the same transaction), so cutting entries off the end
is detected too. There is deliberately no update or delete operation in this module.

The chain logic is written once for any pair of tables with the columns of
:class:`~vigil.store.models.AuditEntryColumns` and :class:`~vigil.store.models.AuditAnchorColumns`
(a :class:`Chain`): the case store's log is :data:`LOCAL`, the hub keeps its own chain in its own
database (``vigil.store.hub.HUB_CHAIN``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.errors import IntegrityError
from vigil.store.base import utcnow
from vigil.store.models import AuditAnchor, AuditEntry

GENESIS = "0" * 64


@dataclass(frozen=True)
class Chain:
    """The entry and anchor tables of one hash chain."""

    entry: type[Any]
    anchor: type[Any]


LOCAL = Chain(AuditEntry, AuditAnchor)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the exact bytes that get hashed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _ts_text(ts: dt.datetime) -> str:
    return ts.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def entry_digest(
    prev_hash: str,
    seq: int,
    ts: dt.datetime,
    actor: str,
    action: str,
    case_id: int | None,
    item_id: int | None,
    details: str,
) -> str:
    """The chained SHA-256 of one entry."""
    body = canonical_json([seq, _ts_text(ts), actor, action, case_id, item_id, details])
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of :func:`verify`: how many entries were checked and the head hash."""

    entries: int
    head_hash: str


def append(
    session: Session,
    actor: str,
    action: str,
    *,
    case_id: int | None = None,
    item_id: int | None = None,
    details: dict[str, Any] | None = None,
    chain: Chain = LOCAL,
) -> Any:
    """Append one entry inside the caller's write transaction.

    The anchor row is locked (``FOR UPDATE`` on PostgreSQL; SQLite write transactions are already
    exclusive), so concurrent writers cannot fork the chain.
    """
    anchor = session.execute(
        select(chain.anchor).where(chain.anchor.id == 1).with_for_update()
    ).scalar_one_or_none()
    if anchor is None:
        anchor = chain.anchor(id=1, seq=0, entry_hash=GENESIS)
        session.add(anchor)
        session.flush()
    seq = anchor.seq + 1
    ts = utcnow()
    body = canonical_json(details or {})
    digest = entry_digest(anchor.entry_hash, seq, ts, actor, action, case_id, item_id, body)
    entry = chain.entry(
        seq=seq,
        ts=ts,
        actor=actor,
        action=action,
        case_id=case_id,
        item_id=item_id,
        details=body,
        prev_hash=anchor.entry_hash,
        entry_hash=digest,
    )
    session.add(entry)
    anchor.seq = seq
    anchor.entry_hash = digest
    session.flush()
    return entry


def iter_entries(
    session: Session,
    *,
    case_id: int | None = None,
    batch: int = 5000,
    chain: Chain = LOCAL,
) -> Iterator[Any]:
    """Entries in chain order, optionally only those of one case."""
    stmt = select(chain.entry).order_by(chain.entry.seq)
    if case_id is not None:
        stmt = stmt.where(chain.entry.case_id == case_id)
    yield from session.execute(stmt.execution_options(yield_per=batch)).scalars()


def verify(session: Session, chain: Chain = LOCAL) -> VerifyReport:
    """Check the whole chain; raise :class:`IntegrityError` naming the first broken entry."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    for entry in iter_entries(session, chain=chain):
        if entry.seq != expected_seq:
            raise IntegrityError(
                f"audit entry #{expected_seq} is missing or out of order (found #{entry.seq} next)"
            )
        if entry.prev_hash != prev:
            raise IntegrityError(f"audit entry #{entry.seq} does not link to the entry before it")
        digest = entry_digest(
            prev,
            entry.seq,
            entry.ts,
            entry.actor,
            entry.action,
            entry.case_id,
            entry.item_id,
            entry.details,
        )
        if digest != entry.entry_hash:
            raise IntegrityError(f"audit entry #{entry.seq} was altered (hash mismatch)")
        prev = entry.entry_hash
        expected_seq += 1
        count += 1
    anchor = session.get(chain.anchor, 1)
    head_seq = anchor.seq if anchor else 0
    head_hash = anchor.entry_hash if anchor else GENESIS
    if head_seq != count or head_hash != prev:
        raise IntegrityError(
            f"audit log ends at #{count} but its anchor records #{head_seq}: "
            "entries were removed from the end or the anchor was altered"
        )
    return VerifyReport(entries=count, head_hash=prev)
