"""Append-only, hash-chained audit log.

Each entry's hash covers its own fields and the previous entry's hash:

    entry_hash = SHA-256(prev_hash || canonical JSON of [seq, ts, actor, action, case, item, details])

so editing any field, deleting or reordering entries breaks the chain. The newest ``(seq, hash)``
is also kept in ``audit_anchor`` (updated in the same transaction), so cutting entries off the end
is detected too. There is deliberately no update or delete operation in this module.

Two attacks leave a chain that is consistent in itself, so :func:`verify` checks more than links:

* **a wiped log** (``audit_log`` and ``audit_anchor`` emptied): an empty chain next to cases,
  users, sources or items (none of which is ever written without an audit entry) fails;
* **a rewritten log** (every entry and the anchor recomputed by someone with write access):
  only something kept outside the database can tell. :func:`anchor_record` is the chain head
  written to a file the unit keeps (``vigil audit anchor``); :func:`verify` given those records
  fails when an anchored entry is not on the chain or the chain is shorter than anchored.

The chain logic is written once for any pair of tables with the columns of
:class:`~vigil.store.models.AuditEntryColumns` and :class:`~vigil.store.models.AuditAnchorColumns`
(a :class:`Chain`): the case store's log is :data:`LOCAL`, the hub keeps its own chain in its own
database (``vigil.store.hub.HUB_CHAIN``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from vigil.errors import IntegrityError, InvalidInput
from vigil.store.base import utcnow
from vigil.store.models import AuditAnchor, AuditEntry, Case, EvidenceSource, MediaItem, User


@dataclass(frozen=True)
class Chain:
    """The entry and anchor tables of one hash chain."""

    entry: type[Any]
    anchor: type[Any]


LOCAL = Chain(AuditEntry, AuditAnchor)

GENESIS = "0" * 64


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
    """Outcome of :func:`verify`: how many entries were checked, the head hash, and how many
    external anchors were matched."""

    entries: int
    head_hash: str
    anchors_checked: int = 0


ANCHOR_FORMAT = "vigil-audit-anchor/1"


@dataclass(frozen=True)
class ExternalAnchor:
    """A chain head recorded outside the database (one line of an anchor file)."""

    seq: int
    entry_hash: str
    at: str
    """When it was taken (UTC, ISO 8601), to name it in findings."""

    def line(self) -> str:
        """The JSON line written to the anchor file."""
        return canonical_json(
            {"format": ANCHOR_FORMAT, "seq": self.seq, "hash": self.entry_hash, "at": self.at}
        )


def parse_anchors(text: str, source: str) -> list[ExternalAnchor]:
    """The anchors of an anchor file (JSON lines); a bad line is an error naming it."""
    anchors = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
            if data.get("format") != ANCHOR_FORMAT:
                raise ValueError(f"not a {ANCHOR_FORMAT} record")
            seq, digest, at = int(data["seq"]), str(data["hash"]), str(data["at"])
            if seq < 1 or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError("bad sequence number or hash")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidInput(f"{source}, line {number}: not an audit anchor ({exc})") from exc
        anchors.append(ExternalAnchor(seq, digest, at))
    if not anchors:
        raise InvalidInput(f"{source}: no audit anchor in the file")
    return anchors


def anchor_record(entry: AuditEntry) -> ExternalAnchor:
    """The external anchor for ``entry`` (normally the newest)."""
    return ExternalAnchor(entry.seq, entry.entry_hash, _ts_text(entry.ts) + "Z")


def footprint(session: Session) -> dict[str, int]:
    """Rows that are never written without an audit entry (cases, accounts, evidence sources,
    items): if any exist, the chain cannot rightly be empty."""
    tables = {"cases": Case, "users": User, "evidence sources": EvidenceSource, "items": MediaItem}
    return {
        name: int(session.execute(select(func.count()).select_from(model)).scalar_one())
        for name, model in tables.items()
    }


def _next_entry(
    prev_seq: int,
    prev_hash: str,
    actor: str,
    action: str,
    case_id: int | None,
    item_id: int | None,
    details: dict[str, Any] | None,
) -> dict[str, Any]:
    """The columns of the entry that follows ``(prev_seq, prev_hash)``: written once for
    :func:`append` (ORM) and :func:`append_row` (plain statements)."""
    seq = prev_seq + 1
    ts = utcnow()
    body = canonical_json(details or {})
    return {
        "seq": seq,
        "ts": ts,
        "actor": actor,
        "action": action,
        "case_id": case_id,
        "item_id": item_id,
        "details": body,
        "prev_hash": prev_hash,
        "entry_hash": entry_digest(prev_hash, seq, ts, actor, action, case_id, item_id, body),
    }


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
        select(chain.anchor)
        .where(chain.anchor.id == 1)
        .with_for_update()
        # re-read even when loaded earlier in this session: append_row changes it without the ORM
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if anchor is None:
        anchor = chain.anchor(id=1, seq=0, entry_hash=GENESIS)
        session.add(anchor)
        session.flush()
    fields = _next_entry(anchor.seq, anchor.entry_hash, actor, action, case_id, item_id, details)
    entry = chain.entry(**fields)
    session.add(entry)
    anchor.seq = fields["seq"]
    anchor.entry_hash = fields["entry_hash"]
    session.flush()
    return entry


@functools.cache
def _row_statements(chain: Chain) -> tuple[Any, Any, Any, Any]:
    """:func:`append_row`'s statements for ``chain``, built once (bound parameters).
    Core tables, not the mapped classes: an ORM-enabled INSERT/UPDATE goes through the bulk
    persistence machinery, which costs more than the rest of the request's guard, and the
    first ORM statement of a process configures every mapper (an ingest without analyzers
    needs no ORM at all, issue 16)."""
    entries, anchors = chain.entry.__table__, chain.anchor.__table__
    lock_head = (
        select(anchors.c.seq, anchors.c.entry_hash).where(anchors.c.id == 1).with_for_update()
    )
    move_anchor = (
        update(anchors)
        .where(anchors.c.id == 1, anchors.c.seq == bindparam("prev_seq"))
        .values(seq=bindparam("new_seq"), entry_hash=bindparam("new_hash"))
    )
    create_anchor = insert(anchors).values(id=1, seq=0, entry_hash=GENESIS)
    return lock_head, insert(entries), move_anchor, create_anchor


def append_row(
    session: Session,
    actor: str,
    action: str,
    *,
    case_id: int | None = None,
    item_id: int | None = None,
    details: dict[str, Any] | None = None,
    chain: Chain = LOCAL,
) -> int:
    """:func:`append` in plain statements (no ORM objects: the review app writes one entry
    per page view, an ingest's set-up and batches one each). The same lock on the anchor row,
    the same entry and hashes; the very first entry creates the anchor row as :func:`append`
    does. Returns the entry's sequence number."""
    lock_head, insert_entry, move_anchor, create_anchor = _row_statements(chain)
    row = session.execute(lock_head).first()
    if row is None:  # the very first entry: the anchor row starts at the genesis hash
        session.execute(create_anchor)
        prev_seq, prev_hash = 0, GENESIS
    else:
        prev_seq, prev_hash = int(row[0]), str(row[1])
    fields = _next_entry(prev_seq, prev_hash, actor, action, case_id, item_id, details)
    session.execute(insert_entry, fields)
    moved = session.execute(
        move_anchor,
        {"new_seq": fields["seq"], "new_hash": fields["entry_hash"], "prev_seq": prev_seq},
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]  # cannot happen under the row lock
        raise IntegrityError(f"audit anchor moved past {prev_seq} while locked")
    return int(fields["seq"])


def iter_entries(
    session: Session,
    *,
    case_id: int | None = None,
    batch: int = 5000,
    chain: Chain = LOCAL,
) -> Generator[Any, None, None]:
    """Entries in chain order, optionally only those of one case."""
    stmt = select(chain.entry).order_by(chain.entry.seq)
    if case_id is not None:
        stmt = stmt.where(chain.entry.case_id == case_id)
    # yield_per is a server-side cursor on PostgreSQL: close it even when the caller stops early
    result = session.execute(stmt.execution_options(yield_per=batch))
    try:
        yield from result.scalars()
    finally:
        result.close()


def verify(
    session: Session, chain: Chain = LOCAL, *, anchors: Sequence[ExternalAnchor] = ()
) -> VerifyReport:
    """Check the whole chain (and any external ``anchors``); raise :class:`IntegrityError`
    naming the first finding."""
    expected = {a.seq: a for a in anchors}
    prev = GENESIS
    expected_seq = 1
    count = 0
    entries = iter_entries(session, chain=chain)
    try:
        for entry in entries:
            if entry.seq != expected_seq:
                raise IntegrityError(
                    f"audit entry #{expected_seq} is missing or out of order "
                    f"(found #{entry.seq} next)"
                )
            if entry.prev_hash != prev:
                raise IntegrityError(
                    f"audit entry #{entry.seq} does not link to the entry before it"
                )
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
            kept = expected.get(entry.seq)
            if kept is not None and kept.entry_hash != digest:
                raise IntegrityError(
                    f"audit entry #{entry.seq} is not the one anchored at {kept.at} "
                    f"(hash {digest[:16]}…, anchored {kept.entry_hash[:16]}…): "
                    "the chain was rewritten"
                )
            prev = entry.entry_hash
            expected_seq += 1
            count += 1
        anchor = session.get(chain.anchor, 1)
    except SQLAlchemyError as exc:
        raise IntegrityError(f"the audit log cannot be read (tables missing?): {exc}") from exc
    finally:
        entries.close()
    head_seq = anchor.seq if anchor else 0
    head_hash = anchor.entry_hash if anchor else GENESIS
    if head_seq != count or head_hash != prev:
        raise IntegrityError(
            f"audit log ends at #{count} but its anchor records #{head_seq}: "
            "entries were removed from the end or the anchor was altered"
        )
    beyond = [a for a in anchors if a.seq > count]
    if beyond:
        last = max(beyond, key=lambda a: a.seq)
        raise IntegrityError(
            f"the audit log has {count} entries but the anchor taken at {last.at} records "
            f"#{last.seq}: entries were removed or the chain was rewritten"
        )
    if count == 0 and chain is LOCAL:
        held = {name: n for name, n in footprint(session).items() if n}
        if held:
            listed = ", ".join(f"{n} {name}" for name, n in held.items())
            raise IntegrityError(
                f"the audit log is empty but the store holds {listed}: "
                "every change is audited, so the log was wiped"
            )
    return VerifyReport(entries=count, head_hash=prev, anchors_checked=len(anchors))
