"""Reading triage results: groups (fresh first), per-item evidence, the summary section, and the
export of a case's fresh items as a VICS hash set (hashes and metadata only, never media)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from vigil.errors import NotReady
from vigil.hashsets import vics
from vigil.hashsets.categories import label
from vigil.hashsets.model import Entry
from vigil.hashsets.service import write_atomic
from vigil.store import audit, repo
from vigil.store.db import Database
from vigil.store.hashsets import HashSet, ItemSignal, TriageGroup, TriageOutcome
from vigil.store.models import Case, EvidenceSource, MediaItem, Occurrence
from vigil.triage.freshness import case_triage_status

TOP_FRESH = 10
"""Largest fresh groups named in the case summary."""
GROUP_ORDER = {"fresh": 0, "near_known": 1, "known": 2, "other": 3}


def _first_paths(s: Session, case_id: int, item_ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        stmt = (
            select(Occurrence.item_id, func.min(Occurrence.path))
            .join(EvidenceSource, Occurrence.source_id == EvidenceSource.id)
            .where(EvidenceSource.case_id == case_id, Occurrence.item_id.in_(chunk))
            .group_by(Occurrence.item_id)
        )
        out.update({int(i): str(p) for i, p in s.execute(stmt).all() if i is not None})
    return out


def _matched(s: Session, case_id: int) -> bool:
    """Whether matching has run for the case (it left an outcome row, even where no group came
    of it)."""
    stmt = select(TriageOutcome.id).where(TriageOutcome.case_id == case_id).limit(1)
    return s.execute(stmt).first() is not None


def list_groups(
    s: Session, case_id: int, *, outcomes: tuple[str, ...] | None = None, members: bool = True
) -> list[dict[str, Any]]:
    """Triage groups of a case, fresh first, then near-known, then known; biggest first.

    Raises:
        NotReady: matching has not run for this case (``vigil match CASE``).
    """
    groups = list(s.execute(select(TriageGroup).where(TriageGroup.case_id == case_id)).scalars())
    if not groups and not _matched(s, case_id):
        raise NotReady("no triage results for this case yet: run `vigil match CASE` first")
    if outcomes:
        groups = [g for g in groups if g.outcome in outcomes]
    groups.sort(key=lambda g: (GROUP_ORDER.get(g.outcome, 9), -g.occurrence_count, g.id))
    rows = list(
        s.execute(
            select(TriageOutcome, MediaItem)
            .join(MediaItem, TriageOutcome.item_id == MediaItem.id)
            .where(TriageOutcome.case_id == case_id)
        ).all()
    )
    by_group: dict[int, list[tuple[TriageOutcome, MediaItem]]] = {}
    for out, item in rows:
        if out.group_id is not None:
            by_group.setdefault(out.group_id, []).append((out, item))
    sets = {hs.id: hs for hs in s.execute(select(HashSet)).scalars()}
    paths = _first_paths(s, case_id, [item.id for _o, item in rows])
    return [_group_entry(g, by_group.get(g.id, []), sets, paths, members) for g in groups]


def _group_entry(
    g: TriageGroup,
    rows: list[tuple[TriageOutcome, MediaItem]],
    sets: dict[int, HashSet],
    paths: dict[int, str],
    members: bool,
) -> dict[str, Any]:
    """One group as :func:`list_groups` and :func:`group_page` return it."""
    member_rows = sorted(
        rows,
        key=lambda r: (r[1].id != g.representative_item_id, r[0].group_distance or 0, r[1].id),
    )
    strongest = max(
        member_rows,
        key=lambda r: (
            {"known": 3, "near_known": 2}.get(r[0].outcome, 0),
            -(r[0].distance or 0),
        ),
        default=None,
    )
    evidence = None
    if strongest is not None and strongest[0].best_set_id is not None:
        o = strongest[0]
        hs = sets.get(o.best_set_id or -1)
        evidence = {
            "item_id": o.item_id,
            "set": hs.name if hs else None,
            "scheme": hs.scheme if hs else None,
            "category": o.category,
            "category_label": label(hs.scheme, o.category) if hs else None,
            "grade": o.grade,
            "series": o.series,
            "distance": o.distance,
        }
    rep = next((r for r in member_rows if r[1].id == g.representative_item_id), None)
    entry: dict[str, Any] = {
        "group_id": g.id,
        "outcome": g.outcome,
        "members": g.member_count,
        "occurrences": g.occurrence_count,
        "representative": _item_json(rep, paths) if rep else None,
        "evidence": evidence,
    }
    if members:
        entry["items"] = [_item_json(r, paths) for r in member_rows]
    return entry


@dataclass(frozen=True)
class GroupPage:
    """One page of a case's triage groups, ordered and cut in SQL."""

    groups: list[dict[str, Any]]
    total: int
    """Groups listed over all pages (known ones only when shown)."""
    by_outcome: dict[str, int]
    """Every group of the case counted per outcome (known ones too)."""


def _order() -> Any:
    return case(*((TriageGroup.outcome == k, v) for k, v in GROUP_ORDER.items()), else_=9)


def group_rank(s: Session, case_id: int, group_id: int, *, include_known: bool) -> int | None:
    """How many groups come before ``group_id`` in :func:`group_page` order (None when the group
    is not in the case, or is known and known groups are not listed)."""
    g = s.get(TriageGroup, group_id)
    if g is None or g.case_id != case_id or (g.outcome == "known" and not include_known):
        return None
    order, mine = _order(), GROUP_ORDER.get(g.outcome, 9)
    stmt = (
        select(func.count())
        .select_from(TriageGroup)
        .where(
            TriageGroup.case_id == case_id,
            (order < mine)
            | ((order == mine) & (TriageGroup.occurrence_count > g.occurrence_count))
            | (
                (order == mine)
                & (TriageGroup.occurrence_count == g.occurrence_count)
                & (TriageGroup.id < g.id)
            ),
        )
    )
    if not include_known:
        stmt = stmt.where(TriageGroup.outcome != "known")
    return int(s.execute(stmt).scalar_one())


def group_page(
    s: Session, case_id: int, *, include_known: bool, offset: int, limit: int
) -> GroupPage:
    """The groups ``offset``..``offset+limit`` in :func:`list_groups` order (fresh first, then
    near-known, then known; most files first), reading only that page's members.

    Raises:
        NotReady: matching has not run for this case.
    """
    by_outcome = {
        str(o): int(n)
        for o, n in s.execute(
            select(TriageGroup.outcome, func.count())
            .where(TriageGroup.case_id == case_id)
            .group_by(TriageGroup.outcome)
        )
    }
    if not by_outcome and not _matched(s, case_id):
        raise NotReady("no triage results for this case yet: matching has not run")
    order = _order()
    stmt = select(TriageGroup).where(TriageGroup.case_id == case_id)
    if not include_known:
        stmt = stmt.where(TriageGroup.outcome != "known")
    stmt = stmt.order_by(order, TriageGroup.occurrence_count.desc(), TriageGroup.id)
    groups = list(s.execute(stmt.offset(offset).limit(limit)).scalars())
    rows = (
        list(
            s.execute(
                select(TriageOutcome, MediaItem)
                .join(MediaItem, TriageOutcome.item_id == MediaItem.id)
                .where(
                    TriageOutcome.case_id == case_id,
                    TriageOutcome.group_id.in_([g.id for g in groups]),
                )
            ).all()
        )
        if groups
        else []
    )
    by_group: dict[int, list[tuple[TriageOutcome, MediaItem]]] = {}
    for out, item in rows:
        if out.group_id is not None:
            by_group.setdefault(out.group_id, []).append((out, item))
    set_ids = {o.best_set_id for o, _ in rows if o.best_set_id is not None}
    sets = (
        {hs.id: hs for hs in s.execute(select(HashSet).where(HashSet.id.in_(set_ids))).scalars()}
        if set_ids
        else {}
    )
    paths = _first_paths(s, case_id, [g.representative_item_id for g in groups])
    total = sum(n for o, n in by_outcome.items() if include_known or o != "known")
    return GroupPage(
        [_group_entry(g, by_group.get(g.id, []), sets, paths, False) for g in groups],
        total,
        by_outcome,
    )


def _item_json(row: tuple[TriageOutcome, MediaItem], paths: dict[int, str]) -> dict[str, Any]:
    out, item = row
    return {
        "item_id": item.id,
        "kind": item.kind,
        "sha256": item.sha256,
        "size": item.size,
        "path": paths.get(item.id, ""),
        "outcome": out.outcome,
        "perceptual": out.perceptual,
        "distance_to_representative": out.group_distance,
        "distance_to_known": out.distance,
    }


def render_groups(groups: list[dict[str, Any]]) -> list[str]:
    """Text lines for ``vigil triage``."""
    if not groups:
        return ["no groups match"]
    lines: list[str] = []
    for g in groups:
        rep = g["representative"] or {}
        head = (
            f"[{g['outcome']:>10}] group {g['group_id']}: {g['members']} item(s), "
            f"{g['occurrences']} file(s); representative #{rep.get('item_id')} "
            f"{rep.get('path', '')}"
        )
        lines.append(head)
        ev = g.get("evidence")
        if ev:
            lines.append(
                f"             in set {ev['set']!r}: category {ev['category']} "
                f"({ev['category_label']}; scheme {ev['scheme']}), grade {ev['grade'] or '-'}, "
                f"series {ev['series'] or '-'}, distance {ev['distance']}"
            )
        for it in g.get("items", [])[1:]:
            lines.append(
                f"             + #{it['item_id']} {it['path']} "
                f"(distance {it['distance_to_representative']}, {it['outcome']})"
            )
    return lines


# --- summary section --------------------------------------------------------------------------


def summary_build(s: Session, case_id: int) -> dict[str, Any]:
    """Data of the ``known_vs_fresh`` section of ``vigil case summary``."""
    items = dict(
        s.execute(
            select(TriageOutcome.outcome, func.count(TriageOutcome.id))
            .where(TriageOutcome.case_id == case_id)
            .group_by(TriageOutcome.outcome)
        ).all()
    )
    groups = dict(
        s.execute(
            select(TriageGroup.outcome, func.count(TriageGroup.id))
            .where(TriageGroup.case_id == case_id)
            .group_by(TriageGroup.outcome)
        ).all()
    )
    unchecked = s.execute(
        select(func.count(TriageOutcome.id)).where(
            TriageOutcome.case_id == case_id,
            TriageOutcome.outcome == "fresh",
            TriageOutcome.perceptual != "checked",
        )
    ).scalar_one()
    sets = s.execute(select(func.count(HashSet.id))).scalar_one()
    top: list[dict[str, Any]] = []
    if items:
        for g in list_groups(s, case_id, outcomes=("fresh",), members=False)[:TOP_FRESH]:
            rep = g["representative"] or {}
            top.append(
                {
                    "group_id": g["group_id"],
                    "members": g["members"],
                    "occurrences": g["occurrences"],
                    "representative_item_id": rep.get("item_id"),
                    "path": rep.get("path"),
                }
            )
    case = s.get(Case, case_id)
    status = case_triage_status(s, case) if case is not None else None
    return {
        "matched": bool(items),
        "status": status.as_dict() if status is not None else None,
        "notice": status.notice() if status is not None else None,
        "top_fresh_groups": top,
        "hash_sets": int(sets),
        "items": {k: int(v) for k, v in items.items()},
        "groups": {k: int(v) for k, v in groups.items()},
        "fresh_not_perceptually_checked": int(unchecked),
    }


def summary_render(data: dict[str, Any]) -> list[str]:
    """Text of the section (fresh first)."""
    if not data.get("matched"):
        return [
            f"not matched yet ({data.get('hash_sets', 0)} hash set(s) loaded): "
            "run `vigil match CASE`"
        ]
    g, i = data["groups"], data["items"]
    lines = [data["notice"]] if data.get("notice") else []
    lines += [
        f"fresh:      {g.get('fresh', 0)} group(s), {i.get('fresh', 0)} item(s)"
        + (
            f" ({data['fresh_not_perceptually_checked']} could not be PDQ-checked)"
            if data["fresh_not_perceptually_checked"]
            else ""
        ),
        f"near-known: {g.get('near_known', 0)} group(s), {i.get('near_known', 0)} item(s)",
        f"known:      {g.get('known', 0)} group(s), {i.get('known', 0)} item(s)",
    ]
    for g in data.get("top_fresh_groups", []):
        lines.append(
            f"  fresh group {g['group_id']}: {g['members']} item(s), {g['occurrences']} file(s), "
            f"e.g. #{g['representative_item_id']} {g['path']}"
        )
    if i.get("other"):
        lines.append(f"other (not photo/video, no exact hit): {i['other']} item(s)")
    lines.append("list them with `vigil triage CASE --fresh`")
    return lines


def register_summary_section() -> None:
    """Add the ``known_vs_fresh`` section to ``vigil case summary`` (idempotent)."""
    from vigil.reports.summary import SECTIONS, SummarySection

    if "known_vs_fresh" not in SECTIONS:
        SECTIONS.register(
            SummarySection(
                "known_vs_fresh", "Known vs fresh", summary_build, summary_render, order=20
            )
        )


# --- fresh export -----------------------------------------------------------------------------


def fresh_entries(s: Session, case_id: int) -> list[Entry]:
    """Hash-set entries for the case's fresh photos and videos (hashes and sizes only)."""
    rows = s.execute(
        select(MediaItem)
        .join(TriageOutcome, TriageOutcome.item_id == MediaItem.id)
        .where(TriageOutcome.case_id == case_id, TriageOutcome.outcome == "fresh")
        .order_by(MediaItem.id)
    ).scalars()
    items = list(rows)
    pdq: dict[int, tuple[str, int | None]] = {}
    ids = [it.id for it in items]
    for start in range(0, len(ids), 500):
        for sig in s.execute(
            select(ItemSignal).where(
                ItemSignal.item_id.in_(ids[start : start + 500]),
                ItemSignal.signal_type == "pdq",
                ItemSignal.value.is_not(None),
            )
        ).scalars():
            if sig.value:
                pdq[sig.item_id] = (sig.value, sig.quality)
    entries = []
    for it in items:
        value, quality = pdq.get(it.id, (None, None))
        entries.append(
            Entry(
                media_id=str(it.id),
                md5=it.md5,
                sha1=it.sha1,
                sha256=it.sha256,
                pdq=value,
                pdq_quality=quality,
                media_size=it.size,
                is_precategorized=False,
            )
        )
    return entries


def export_fresh(
    db: Database, case_name: str, out: Path, *, actor: str, variant: str = "2.0/Default"
) -> int:
    """Write the case's fresh items as a VICS JSON hash set; returns how many were written.

    Raises:
        NotReady: matching has not run for the case.
    """
    with db.read() as s:
        case = repo.get_case(s, case_name)
        if (
            s.execute(
                select(TriageOutcome.id).where(TriageOutcome.case_id == case.id).limit(1)
            ).first()
            is None
        ):
            raise NotReady("no triage results for this case yet: run `vigil match CASE` first")
        entries = fresh_entries(s, case.id)
        case_id = case.id
    data = vics.write(entries, variant=variant)
    write_atomic(out, data)
    with db.write() as s:
        audit.append(
            s,
            actor,
            "triage.export_fresh",
            case_id=case_id,
            details={
                "path": str(out),
                "entries": len(entries),
                "variant": variant,
                "sha256": hashlib.sha256(data).hexdigest(),
            },
        )
    return len(entries)
