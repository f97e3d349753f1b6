"""Is a case's triage still true? "As of" and "out of date" for every screen that shows it.

Known / near-known / fresh is computed against the hash sets loaded *at that moment*. When a set
is imported or removed afterwards, or evidence is added without matching, the stored outcomes
no longer hold: an item of a newly loaded set would still read "fresh". That is worse than no
answer, so each matching run records the catalogue it saw (:class:`TriageState`) and every
reader asks :func:`triage_status` before showing outcomes.

The catalogue is summarised by a signature (set ids, entry count, highest entry id) that any
import or removal changes; entry ids only grow, so an import is "entries above the old highest
id", which is what the incremental re-match checks (:mod:`vigil.triage.rematch`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.store import repo
from vigil.store.base import utcnow
from vigil.store.hashsets import HashSet, HashSetEntry, TriageOutcome, TriageState
from vigil.store.models import Case


def catalogue_signature(s: Session) -> dict[str, Any]:
    """A summary of the loaded hash sets that changes with every import or removal.

    Read on every screen that shows triage, so it touches only the sets' rows and the entries'
    primary-key index (the highest id), never a count over millions of entries: each set
    records its entry count at import.
    """
    top = s.execute(select(func.max(HashSetEntry.id))).scalar_one_or_none()
    rows = s.execute(select(HashSet.id, HashSet.entry_count)).all()
    sets = sorted(int(i) for i, _n in rows)
    entries = sum(int(n or 0) for _i, n in rows)
    return {"sets": sets, "entries": entries, "max_entry_id": int(top or 0)}


@dataclass
class TriageStatus:
    """Whether a case's stored triage still holds, and if not, why."""

    case: str
    matched: bool
    as_of: dt.datetime | None = None
    current: bool = False
    reasons: list[str] = field(default_factory=list)
    threshold: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "case": self.case,
            "matched": self.matched,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "current": self.current,
            "reasons": list(self.reasons),
            "threshold": self.threshold,
        }

    def notice(self) -> str:
        """One line for a screen: "as of ..." or what is out of date and what to run."""
        if not self.matched:
            return f"triage has not been computed for this case yet: run `vigil match {self.case}`"
        stamp = self.as_of.strftime("%Y-%m-%d %H:%M UTC") if self.as_of else "?"
        if self.current:
            return f"triage as of {stamp}, against every loaded hash set"
        return (
            f"OUT OF DATE: triage as of {stamp}; since then {'; '.join(self.reasons)}. "
            f"Items may show as fresh that are now known: run `vigil match {self.case}`"
        )


def triage_status(s: Session, case_name: str) -> TriageStatus:
    """The status of a case's triage against the hash sets and items loaded now."""
    return case_triage_status(s, repo.get_case(s, case_name))


def case_triage_status(s: Session, case: Case, *, item_count: int | None = None) -> TriageStatus:
    """:func:`triage_status` for a case row already at hand.

    ``item_count``: the case's number of items when the caller already knows it (the review
    app's case view does), which saves counting every occurrence of the case on each page.
    """
    state = s.get(TriageState, case.id)
    if state is None:
        last = s.execute(
            select(func.max(TriageOutcome.decided_at)).where(TriageOutcome.case_id == case.id)
        ).scalar_one_or_none()
        if last is None:
            return TriageStatus(case.name, matched=False, reasons=["never matched"])
        # outcomes written before matching runs recorded their catalogue: not provably current
        return TriageStatus(
            case.name,
            matched=True,
            as_of=last,
            reasons=["it was computed by a version that did not record the hash sets it saw"],
        )
    now = catalogue_signature(s)
    old = state.catalogue or {}
    reasons: list[str] = []
    old_sets, new_sets = set(old.get("sets", [])), set(now["sets"])
    if new_sets - old_sets:
        reasons.append(f"{len(new_sets - old_sets)} hash set(s) loaded")
    if old_sets - new_sets:
        reasons.append(f"{len(old_sets - new_sets)} hash set(s) removed")
    if not reasons and (
        old.get("entries") != now["entries"] or old.get("max_entry_id") != now["max_entry_id"]
    ):
        reasons.append("hash-set entries changed")
    items = repo.case_item_count(s, case.id) if item_count is None else item_count
    if items != state.items:
        reasons.append(f"{items - state.items:+d} item(s) in the case not matched")
    return TriageStatus(
        case.name,
        matched=True,
        as_of=state.matched_at,
        current=not reasons,
        reasons=reasons,
        threshold=state.threshold,
    )


def record_state(
    s: Session, case_id: int, *, threshold: int, items: int, catalogue: dict[str, Any]
) -> None:
    """Store (or replace) the catalogue a matching run of the case saw."""
    state = s.get(TriageState, case_id)
    if state is None:
        s.add(TriageState(case_id=case_id, catalogue=catalogue, threshold=threshold, items=items))
        return
    state.catalogue = catalogue
    state.threshold = threshold
    state.items = items
    state.matched_at = utcnow()
