"""A store-wide cache of derived per-case data that the review app's worker processes share.

The review screens keep each case's item order and counts (and the overview's capability
summaries) in memory per process (:mod:`vigil.web.caseindex`). With ``vigil serve --workers N``
each process used to build them itself, so every worker's first look at a large case cost a
reviewer a cold build. A built snapshot is now also stored here, keyed by the fingerprint the
cache revalidates against: a worker that finds a row with the current fingerprint loads it (a
decompress and a JSON parse) instead of re-running the case-wide queries.

Rows are derived data only: deleting them (or the whole table) is always safe, a row whose
fingerprint differs from the store's current one is never used, and the payload is JSON (never
pickle), so a tampered row can at worst show wrong counts, not run code.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from sqlalchemy import Float, ForeignKey, LargeBinary, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from vigil.store.base import Base

MAX_PAYLOAD = 64 * 1024 * 1024
"""Largest decompressed payload accepted (a damaged row must not exhaust memory)."""


class CaseCache(Base):
    """One cached snapshot (``kind``: ``view`` or ``sections``) of one case."""

    __tablename__ = "web_case_cache"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    signature: Mapped[str] = mapped_column(String(200))
    built_at: Mapped[float] = mapped_column(Float)
    """Wall-clock time (epoch seconds) of the build."""
    payload: Mapped[bytes] = mapped_column(LargeBinary)


def signature_text(signature: tuple[int, ...]) -> str:
    """The stored form of a fingerprint."""
    return ",".join(str(int(x)) for x in signature)


def encode(data: Any) -> bytes:
    """JSON, compressed."""
    return zlib.compress(json.dumps(data, separators=(",", ":")).encode("utf-8"), 1)


def decode(payload: bytes) -> Any:
    """The inverse of :func:`encode` (ValueError / zlib.error on a damaged payload)."""
    raw = zlib.decompressobj().decompress(payload, MAX_PAYLOAD)
    return json.loads(raw)


def load(
    session: Session, case_id: int, kind: str, signature: tuple[int, ...]
) -> tuple[float, bytes] | None:
    """(build time, payload) of the row for this case and kind if it was built for exactly this
    fingerprint; None otherwise."""
    row = session.execute(
        select(CaseCache.signature, CaseCache.built_at, CaseCache.payload).where(
            CaseCache.case_id == case_id, CaseCache.kind == kind
        )
    ).first()
    if row is None or row[0] != signature_text(signature):
        return None
    return float(row[1]), bytes(row[2])


def save(
    session: Session,
    case_id: int,
    kind: str,
    signature: tuple[int, ...],
    built_at: float,
    payload: bytes,
) -> None:
    """Store (replace) the row for this case and kind, inside the caller's write transaction.

    A row built later than this one is kept: two workers finishing builds at once must not put
    the older snapshot back."""
    current = session.execute(
        select(CaseCache.built_at)
        .where(CaseCache.case_id == case_id, CaseCache.kind == kind)
        .with_for_update()
    ).scalar_one_or_none()
    if current is not None and current > built_at:
        return
    if current is not None:
        session.execute(
            delete(CaseCache).where(CaseCache.case_id == case_id, CaseCache.kind == kind)
        )
    session.add(
        CaseCache(
            case_id=case_id,
            kind=kind,
            signature=signature_text(signature),
            built_at=built_at,
            payload=payload,
        )
    )
    session.flush()


def forget(session: Session, case_id: int | None = None) -> int:
    """Delete the cached rows of one case (or all); returns how many."""
    stmt = delete(CaseCache)
    if case_id is not None:
        stmt = stmt.where(CaseCache.case_id == case_id)
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]
