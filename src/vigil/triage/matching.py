"""Known vs fresh: match a case's items against every loaded hash set and stack duplicates.

Per item (all kinds are checked exactly; photos and videos also perceptually):

* **known**: an MD5, SHA-1 or SHA-256 of the item equals a hash-set entry's;
* **near_known**: no exact hit, but the item's PDQ (a photo) or a sampled frame's PDQ (a video)
  is within the threshold (default 31 bits) of an entry's PDQ. A candidate lead for a reviewer:
  a re-encoded known picture, or a new picture close to a known one;
* **fresh**: neither. ``perceptual`` says whether the PDQ check ran (``checked``) or why not
  (``pdq_low_quality``, ``pdq_decode_error``, ``not_hashed``), so that "fresh" never hides
  "could not be compared";
* **other**: items that are not photos or videos and have no exact hit (documents, archives).

Groups: binary duplicates are already one item (unique by SHA-256) with several occurrences.
Visual duplicates are stacked by *leader clustering*: items are taken best first (highest PDQ
quality, then largest), each unassigned item starts a group as its representative, and only
items within the threshold *of the representative* join it. There is no chaining through
intermediate items (A~B~C does not put A with C unless C is within reach of A): a missed link
is preferred to a wrong merge. Videos join a group when their sampled frames match the
representative's both ways (vPDQ, 80 % of distinct frames).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from vigil.errors import InvalidInput, VigilError
from vigil.hashsets.categories import CategoryMap
from vigil.index.hamming import MihIndex, hex_to_words
from vigil.index.mapped import open_mapped, read_header, save_mapped
from vigil.signals.pdq import DEFAULT_THRESHOLD
from vigil.signals.vpdq import MIN_FRACTION, clips_match
from vigil.store import audit, repo
from vigil.store.db import Database
from vigil.store.hashsets import (
    HashSet,
    HashSetEntry,
    ItemMatch,
    ItemSignal,
    TriageGroup,
    TriageOutcome,
)
from vigil.store.models import EvidenceSource, MediaItem, Occurrence
from vigil.triage.freshness import catalogue_signature, record_state

OUTCOMES = ("fresh", "near_known", "known", "other")
_RANK = {"known": 3, "near_known": 2, "fresh": 1, "other": 0}
VISUAL = ("photo", "video")


@dataclass
class TriageReport:
    """Counts of one matching run."""

    case: str
    items: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)
    matches: int = 0
    unchecked_fresh: int = 0
    sets: int = 0
    threshold: int = DEFAULT_THRESHOLD
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


@dataclass
class _Hit:
    entry_id: int
    set_id: int
    signal: str
    distance: int
    frames: int | None = None


def _exact_hits(s: Session, items: list[MediaItem]) -> dict[int, list[_Hit]]:
    hits: dict[int, list[_Hit]] = defaultdict(list)
    for kind in ("md5", "sha1", "sha256"):
        by_value: dict[str, list[int]] = defaultdict(list)
        for it in items:
            by_value[getattr(it, kind)].append(it.id)
        values = list(by_value)
        column = getattr(HashSetEntry, kind)
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            rows = s.execute(
                select(HashSetEntry.id, HashSetEntry.set_id, column).where(column.in_(chunk))
            ).all()
            for entry_id, set_id, value in rows:
                for item_id in by_value[value]:
                    hits[item_id].append(_Hit(entry_id, set_id, kind, 0))
    return hits


INDEX_FILE = "hashsets-pdq.vmih"


def hashset_pdq_index(s: Session, index_dir: Path | None = None) -> MihIndex | None:
    """An exact PDQ index over every loaded hash-set entry that has a PDQ (None if none).

    With ``index_dir`` the built index is cached in ``hashsets-pdq.vmih`` (the memory-mapped
    format of :mod:`vigil.index.mapped`, checksummed, never pickle) and mapped read-only while
    the loaded sets are unchanged: nothing is rebuilt, and every process shares one copy.
    """
    count, top = s.execute(
        select(func.count(HashSetEntry.id), func.max(HashSetEntry.id)).where(
            HashSetEntry.pdq.is_not(None)
        )
    ).one()
    if not count:
        return None
    set_ids = sorted(s.execute(select(HashSet.id)).scalars())
    signature = {"entries": int(count), "max_entry_id": int(top or 0), "sets": set_ids}
    path = index_dir / INDEX_FILE if index_dir is not None else None
    if path is not None and path.is_file():
        try:
            if read_header(path).get("meta", {}).get("signature") == signature:
                return open_mapped(path)[0]
        except VigilError:
            pass  # damaged or stale cache: rebuilt from the store below
    rows = s.execute(
        select(HashSetEntry.id, HashSetEntry.pdq).where(HashSetEntry.pdq.is_not(None))
    ).all()
    words = hex_to_words([str(r[1]) for r in rows])
    ids = np.asarray([r[0] for r in rows], dtype=np.int64)
    index = MihIndex(words, ids)
    if path is not None:
        save_mapped(index, path, meta={"signature": signature})
    return index


def _perceptual_hits(
    s: Session, index: MihIndex | None, signals: list[ItemSignal], t: int
) -> dict[int, list[_Hit]]:
    hits: dict[int, list[_Hit]] = defaultdict(list)
    usable = [sig for sig in signals if sig.value]
    if index is None or not usable:
        return hits
    results = index.query_batch([sig.value for sig in usable if sig.value], max_distance=t)
    per_item: dict[tuple[int, int], list[int]] = defaultdict(list)
    kinds: dict[int, str] = {}
    for sig, matches in zip(usable, results, strict=True):
        kinds[sig.item_id] = sig.signal_type
        for m in matches:
            per_item[(sig.item_id, m.entry_id)].append(m.distance)
    if not per_item:
        return hits
    entry_ids = sorted({e for _i, e in per_item})
    set_of: dict[int, int] = {}
    for start in range(0, len(entry_ids), 500):
        for eid, sid in s.execute(
            select(HashSetEntry.id, HashSetEntry.set_id).where(
                HashSetEntry.id.in_(entry_ids[start : start + 500])
            )
        ).all():
            set_of[eid] = sid
    for (item_id, entry_id), dists in per_item.items():
        video = kinds[item_id] == "vpdq"
        hits[item_id].append(
            _Hit(
                entry_id,
                set_of[entry_id],
                kinds[item_id],
                min(dists),
                len(dists) if video else None,
            )
        )
    return hits


def run_matching(
    db: Database,
    case_name: str,
    actor: str,
    *,
    threshold: int = DEFAULT_THRESHOLD,
    category_map: CategoryMap | None = None,
    index_dir: Path | None = None,
) -> TriageReport:
    """Match every item of the case against all loaded sets and rebuild its triage groups."""
    if not 0 <= threshold <= 64:
        raise InvalidInput(f"PDQ threshold must be within 0..64 bits, got {threshold}")
    cmap = category_map or CategoryMap()
    started = time.monotonic()
    with db.read() as s:
        case = repo.get_case(s, case_name)
        items = repo.case_items(s, case.id)
        item_ids = [it.id for it in items]
        signals = _signals(s, item_ids)
        exact = _exact_hits(s, items)
        index = hashset_pdq_index(s, index_dir)
        perceptual = _perceptual_hits(s, index, [x for v in signals.values() for x in v], threshold)
        sets = {hs.id: hs for hs in s.execute(select(HashSet)).scalars()}
        entries = _entries(
            s, {h.entry_id for v in (*exact.values(), *perceptual.values()) for h in v}
        )
        occurrences = _occurrence_counts(s, case.id)
        case_id = case.id
        catalogue = catalogue_signature(s)
    report = TriageReport(case_name, items=len(items), sets=len(sets), threshold=threshold)
    outcome_rows: dict[int, dict[str, Any]] = {}
    match_rows: list[dict[str, Any]] = []
    for it in items:
        ex = exact.get(it.id, [])
        pe = perceptual.get(it.id, []) if it.kind in VISUAL else []
        for h in ex + pe:
            match_rows.append(
                {
                    "case_id": case_id,
                    "item_id": it.id,
                    "entry_id": h.entry_id,
                    "set_id": h.set_id,
                    "signal_type": h.signal,
                    "distance": h.distance,
                    "frames_matched": h.frames,
                }
            )
        best: _Hit | None = None
        if ex:
            outcome = "known"
            best = min(ex, key=lambda h: (h.set_id, h.entry_id))
        elif pe:
            outcome = "near_known"
            best = min(pe, key=lambda h: (h.distance, -(h.frames or 0), h.entry_id))
        else:
            outcome = "fresh" if it.kind in VISUAL else "other"
        perceptual_status = _perceptual_status(it, signals.get(it.id, []))
        row: dict[str, Any] = {
            "case_id": case_id,
            "item_id": it.id,
            "outcome": outcome,
            "perceptual": perceptual_status,
            "best_set_id": None,
            "best_entry_id": None,
            "category": None,
            "grade": None,
            "series": None,
            "distance": None,
            "group_id": None,
            "group_distance": None,
        }
        if best is not None:
            entry = entries[best.entry_id]
            hs = sets[best.set_id]
            row.update(
                best_set_id=best.set_id,
                best_entry_id=best.entry_id,
                category=entry.category,
                grade=cmap.grade(hs.scheme, entry.category),
                series=entry.series,
                distance=best.distance,
            )
        outcome_rows[it.id] = row
        if outcome == "fresh" and perceptual_status != "checked":
            report.unchecked_fresh += 1
    groups = _groups(items, signals, outcome_rows, threshold)
    with db.write() as s:
        s.execute(delete(TriageOutcome).where(TriageOutcome.case_id == case_id))
        s.execute(delete(TriageGroup).where(TriageGroup.case_id == case_id))
        s.execute(delete(ItemMatch).where(ItemMatch.case_id == case_id))
        for start in range(0, len(match_rows), 5000):
            s.execute(insert(ItemMatch), match_rows[start : start + 5000])
        for members in groups:
            rep = members[0][0]
            outcome = max((outcome_rows[m]["outcome"] for m, _d in members), key=_RANK.__getitem__)
            group = TriageGroup(
                case_id=case_id,
                representative_item_id=rep,
                outcome=outcome,
                member_count=len(members),
                occurrence_count=sum(occurrences.get(m, 1) for m, _d in members),
            )
            s.add(group)
            s.flush()
            report.groups[outcome] = report.groups.get(outcome, 0) + 1
            for item_id, dist in members:
                outcome_rows[item_id]["group_id"] = group.id
                outcome_rows[item_id]["group_distance"] = dist
        rows = list(outcome_rows.values())
        for start in range(0, len(rows), 5000):
            s.execute(insert(TriageOutcome), rows[start : start + 5000])
        for r in rows:
            report.outcomes[r["outcome"]] = report.outcomes.get(r["outcome"], 0) + 1
        report.matches = len(match_rows)
        report.elapsed_s = round(time.monotonic() - started, 3)
        record_state(s, case_id, threshold=threshold, items=len(items), catalogue=catalogue)
        audit.append(
            s,
            actor,
            "triage.match",
            case_id=case_id,
            details={
                "threshold": threshold,
                "sets": sorted(hs.name for hs in sets.values()),
                "items": report.items,
                "outcomes": report.outcomes,
                "groups": report.groups,
                "matches": report.matches,
            },
        )
    return report


def _signals(s: Session, item_ids: list[int]) -> dict[int, list[ItemSignal]]:
    out: dict[int, list[ItemSignal]] = defaultdict(list)
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        stmt = (
            select(ItemSignal)
            .where(ItemSignal.item_id.in_(chunk), ItemSignal.signal_type.in_(("pdq", "vpdq")))
            .order_by(ItemSignal.item_id, ItemSignal.frame)
        )
        for sig in s.execute(stmt).scalars():
            out[sig.item_id].append(sig)
    return out


def _entries(s: Session, ids: set[int]) -> dict[int, HashSetEntry]:
    out: dict[int, HashSetEntry] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), 500):
        stmt = select(HashSetEntry).where(HashSetEntry.id.in_(ordered[start : start + 500]))
        out.update({e.id: e for e in s.execute(stmt).scalars()})
    return out


def _occurrence_counts(s: Session, case_id: int) -> dict[int, int]:
    stmt = (
        select(Occurrence.item_id, func.count(Occurrence.id))
        .join(EvidenceSource, Occurrence.source_id == EvidenceSource.id)
        .where(EvidenceSource.case_id == case_id, Occurrence.item_id.is_not(None))
        .group_by(Occurrence.item_id)
    )
    return {int(i): int(n) for i, n in s.execute(stmt).all() if i is not None}


def _perceptual_status(item: MediaItem, sigs: list[ItemSignal]) -> str:
    if item.kind not in VISUAL:
        return "not_applicable"
    if not sigs:
        return "not_hashed"
    if any(sig.value for sig in sigs):
        return "checked"
    return sigs[0].status


def _groups(
    items: list[MediaItem],
    signals: dict[int, list[ItemSignal]],
    outcomes: dict[int, dict[str, Any]],
    t: int,
) -> list[list[tuple[int, int | None]]]:
    """Leader clustering; each group is [(item id, distance to representative)], rep first."""
    groups: list[list[tuple[int, int | None]]] = []
    assigned: set[int] = set()
    photos = [
        (it, sig)
        for it in items
        if it.kind == "photo"
        for sig in signals.get(it.id, [])[:1]
        if sig.value
    ]
    photos.sort(
        key=lambda p: (-(p[1].quality or 0), -((p[0].width or 0) * (p[0].height or 0)), p[0].id)
    )
    if photos:
        values = [sig.value for _it, sig in photos if sig.value]
        index = MihIndex(hex_to_words(values), np.arange(len(values), dtype=np.int64))
        neighbours = index.query_batch(values, max_distance=t)
        for pos, (it, _sig) in enumerate(photos):
            if it.id in assigned:
                continue
            members: list[tuple[int, int | None]] = [(it.id, 0)]
            assigned.add(it.id)
            for m in neighbours[pos]:
                other = photos[m.entry_id][0].id
                if other not in assigned:
                    members.append((other, m.distance))
                    assigned.add(other)
            groups.append(members)
    videos = [
        (it, [sig.value for sig in signals.get(it.id, []) if sig.value])
        for it in items
        if it.kind == "video"
    ]
    videos = [v for v in videos if v[1]]
    videos.sort(key=lambda v: (-len(v[1]), v[0].id))
    for pos, (it, frames) in enumerate(videos):
        if it.id in assigned:
            continue
        members = [(it.id, 0)]
        assigned.add(it.id)
        for cand, cand_frames in videos[pos + 1 :]:
            if cand.id in assigned:
                continue
            ok, _share, _ = clips_match(
                cand_frames, frames, threshold=t, min_fraction=MIN_FRACTION, both_ways=True
            )
            if ok:
                members.append((cand.id, None))
                assigned.add(cand.id)
        groups.append(members)
    for it in items:
        if it.id not in assigned and outcomes[it.id]["outcome"] != "other":
            groups.append([(it.id, 0)])
            assigned.add(it.id)
    return groups
