"""Keep triage true after a hash-set change: re-match the cases the change affects.

After an import only the *new* entries are checked, against the signals already stored for every
case (digests of items, PDQ of photos and video frames): a case with a hit is matched again in
full (its groups and outcomes change); a case without one keeps its outcomes, which are then
marked current against the new catalogue. After a removal, the cases holding matches of the
removed set are matched again. A case whose triage was already out of date (or never computed)
is matched in full, so nothing is left stale by the change.

The cost of an import is one exact lookup per digest kind and one PDQ query per stored signal
against an index of the new entries only, plus a full match of each affected case.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.hashsets.categories import CategoryMap
from vigil.index.hamming import MihIndex, hex_to_words
from vigil.store import repo
from vigil.store.db import Database
from vigil.store.hashsets import HashSetEntry, ItemMatch, ItemSignal, TriageState
from vigil.store.models import Case, EvidenceSource, MediaItem, Occurrence
from vigil.triage.freshness import catalogue_signature

_BATCH = 5000


@dataclass
class RematchReport:
    """What a hash-set change did to the cases' triage."""

    checked_cases: int = 0
    rematched: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    new_entries: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "checked_cases": self.checked_cases,
            "rematched": list(self.rematched),
            "unchanged": list(self.unchanged),
            "new_entries": self.new_entries,
        }

    def lines(self) -> list[str]:
        """Human-readable summary for the CLI."""
        if not self.checked_cases:
            return ["triage: no case has been matched yet, nothing to update"]
        out = [
            f"triage updated: {len(self.rematched)} case(s) matched again"
            + (f" ({', '.join(self.rematched)})" if self.rematched else "")
            + f", {len(self.unchanged)} unaffected and marked current"
        ]
        return out


def cases_matching_sets(db: Database, set_ids: Iterable[int]) -> set[int]:
    """Ids of cases holding a match of any of these sets (ask *before* removing them)."""
    ids = list(set_ids)
    if not ids:
        return set()
    with db.read() as s:
        return {
            int(c)
            for c in s.execute(
                select(ItemMatch.case_id).where(ItemMatch.set_id.in_(ids)).distinct()
            ).scalars()
        }


def rematch_after_change(
    db: Database,
    actor: str,
    *,
    before: dict[str, Any],
    affected_case_ids: Iterable[int] = (),
    category_map: CategoryMap | None = None,
    index_dir: Path | None = None,
    match: Callable[..., Any] | None = None,
) -> RematchReport:
    """Bring every matched case up to date after a hash-set import or removal.

    Args:
        before: :func:`catalogue_signature` taken just before the change.
        affected_case_ids: cases known to be affected (e.g. holding matches of a removed set).
        match: the full matcher (default :func:`vigil.triage.matching.run_matching`).
    """
    if match is None:
        from vigil.triage.matching import run_matching

        match = run_matching
    report = RematchReport()
    with db.read() as s:
        now = catalogue_signature(s)
        states = list(s.execute(select(TriageState)).scalars())
        names = {int(c.id): c.name for c in s.execute(select(Case)).scalars()}
        items_now = {st.case_id: repo.case_item_count(s, st.case_id) for st in states}
        floor = int(before.get("max_entry_id", 0))
        hits = _cases_hit_by_new_entries(
            s, floor, max((st.threshold for st in states), default=0), states
        )
        report.new_entries = int(now["entries"]) - int(before.get("entries", 0))
    forced = set(affected_case_ids)
    current_states: list[TriageState] = []
    for st in states:
        report.checked_cases += 1
        stale_before = st.catalogue != before or items_now.get(st.case_id) != st.items
        if stale_before or st.case_id in forced or st.case_id in hits:
            match(
                db,
                names[st.case_id],
                actor,
                threshold=st.threshold,
                category_map=category_map,
                index_dir=index_dir,
            )
            report.rematched.append(names[st.case_id])
        else:
            current_states.append(st)
    if current_states:
        with db.write() as s:
            for st in current_states:
                row = s.get(TriageState, st.case_id)
                if row is not None and row.catalogue == before:
                    row.catalogue = now
                    report.unchanged.append(names[st.case_id])
    return report


def _cases_hit_by_new_entries(
    s: Session, floor: int, threshold: int, states: list[TriageState]
) -> set[int]:
    """Cases with an item whose digest or PDQ matches an entry with id above ``floor``."""
    if not states:
        return set()
    hit_items: dict[int, int] = {}  # item id -> smallest distance found
    for kind in ("md5", "sha1", "sha256"):
        column = getattr(HashSetEntry, kind)
        stmt = (
            select(MediaItem.id)
            .join(HashSetEntry, getattr(MediaItem, kind) == column)
            .where(HashSetEntry.id > floor)
        )
        for item_id in s.execute(stmt).scalars():
            hit_items[int(item_id)] = 0
    rows = s.execute(
        select(HashSetEntry.pdq).where(HashSetEntry.id > floor, HashSetEntry.pdq.is_not(None))
    ).all()
    if rows:
        index = MihIndex(
            hex_to_words([str(r[0]) for r in rows]), np.arange(len(rows), dtype=np.int64)
        )
        last = 0
        while True:
            sigs = s.execute(
                select(ItemSignal.id, ItemSignal.item_id, ItemSignal.value)
                .where(
                    ItemSignal.id > last,
                    ItemSignal.signal_type.in_(("pdq", "vpdq")),
                    ItemSignal.value.is_not(None),
                )
                .order_by(ItemSignal.id)
                .limit(_BATCH)
            ).all()
            if not sigs:
                break
            last = int(sigs[-1][0])
            results = index.query_batch([str(v) for _i, _it, v in sigs], max_distance=threshold)
            for (_sid, item_id, _v), found in zip(sigs, results, strict=True):
                if found:
                    best = min(m.distance for m in found)
                    hit_items[int(item_id)] = min(best, hit_items.get(int(item_id), best))
    if not hit_items:
        return set()
    limit = {st.case_id: st.threshold for st in states}
    by_case: dict[int, set[int]] = defaultdict(set)
    ids = sorted(hit_items)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for case_id, found_item in s.execute(
            select(EvidenceSource.case_id, Occurrence.item_id)
            .join(EvidenceSource, Occurrence.source_id == EvidenceSource.id)
            .where(Occurrence.item_id.in_(chunk))
            .distinct()
        ).all():
            if found_item is not None:
                by_case[int(case_id)].add(int(found_item))
    return {
        case_id
        for case_id, items in by_case.items()
        if case_id in limit and any(hit_items[i] <= limit[case_id] for i in items)
    }
