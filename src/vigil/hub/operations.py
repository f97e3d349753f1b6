"""Operations: participants, targets (owner-only updates), the action-day checklist, the funnel.

The funnel counts a target at every stage it has reached: a convicted target was also planned,
under warrant, arrested/searched and charged. ``no_further_action`` ends a target's path after
whatever stage it had reached, so it is counted separately and not in later stages.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from vigil.hub.members import log
from vigil.share.kinds import LOCAL_REF, TOKEN
from vigil.store.base import utcnow
from vigil.store.hub import (
    TARGET_STATUSES,
    HubChecklistItem,
    HubMember,
    HubOperation,
    HubParticipant,
    HubTarget,
)

STAGE = {
    "planned": 0,
    "warrant": 1,
    "arrested": 2,
    "searched": 2,
    "charged": 3,
    "convicted": 4,
}
FUNNEL = ("planned", "warrant", "arrested_or_searched", "charged", "convicted")
DEFAULT_CHECKLIST = (
    "warrants obtained",
    "search teams briefed",
    "victim safeguarding ready",
    "digital forensics on site",
    "press line agreed",
)


def create(
    session: Session, code: str, name: str, action_day: dt.date | None, *, actor: str = "admin"
) -> HubOperation:
    if not TOKEN.match(code):
        raise InvalidInput(f"operation code {code!r} must be a short token like 'op-2027-01'")
    if session.execute(select(HubOperation).where(HubOperation.code == code)).scalar_one_or_none():
        raise Conflict(f"operation {code!r} already exists")
    day = dt.datetime.combine(action_day, dt.time(), dt.UTC) if action_day else None
    op = HubOperation(code=code, name=name.strip()[:200], action_day=day)
    session.add(op)
    session.flush()
    log(session, actor, "hub.operation_created", op.id, code=code)
    return op


def get(session: Session, code: str) -> HubOperation:
    op = session.execute(select(HubOperation).where(HubOperation.code == code)).scalar_one_or_none()
    if op is None:
        raise NotFound(f"no operation {code!r}")
    return op


def get_by_id(session: Session, operation_id: int) -> HubOperation:
    op = session.get(HubOperation, operation_id)
    if op is None:
        raise NotFound(f"no operation #{operation_id}")
    return op


def join(session: Session, op: HubOperation, member: HubMember, *, actor: str = "admin") -> None:
    """Add a member to an operation (and its country's default checklist, once)."""
    if session.get(HubParticipant, (op.id, member.id)) is None:
        session.add(HubParticipant(operation_id=op.id, member_id=member.id))
        for item in DEFAULT_CHECKLIST:
            exists = session.execute(
                select(HubChecklistItem.id).where(
                    HubChecklistItem.operation_id == op.id,
                    HubChecklistItem.country == member.country,
                    HubChecklistItem.item == item,
                )
            ).first()
            if exists is None:
                session.add(HubChecklistItem(operation_id=op.id, country=member.country, item=item))
        session.flush()
        log(session, actor, "hub.member_joined", op.id, member=member.name)


def require_participant(session: Session, op: HubOperation, member: HubMember) -> None:
    if member.role != "admin" and session.get(HubParticipant, (op.id, member.id)) is None:
        raise PermissionDenied(f"{member.name} does not take part in operation {op.code}")


def participants(session: Session, op: HubOperation) -> list[HubMember]:
    stmt = (
        select(HubMember)
        .join(HubParticipant, HubParticipant.member_id == HubMember.id)
        .where(HubParticipant.operation_id == op.id)
        .order_by(HubMember.country, HubMember.name)
    )
    return list(session.execute(stmt).scalars())


def upsert_target(
    session: Session,
    op: HubOperation,
    member: HubMember,
    ref: str,
    *,
    status: str | None = None,
    children_safeguarded: int | None = None,
    subject_refs: list[str] | None = None,
) -> HubTarget:
    """Create or update one of ``member``'s own targets (nobody else's can be named)."""
    require_participant(session, op, member)
    if not LOCAL_REF.match(ref):
        raise InvalidInput(f"target ref {ref!r} must be an opaque reference like 'target:12'")
    if status is not None and status not in TARGET_STATUSES:
        raise InvalidInput(f"status {status!r} is not one of {', '.join(TARGET_STATUSES)}")
    if children_safeguarded is not None and not 0 <= children_safeguarded <= 10_000:
        raise InvalidInput("children_safeguarded must be within 0..10000")
    for r in subject_refs or []:
        if not LOCAL_REF.match(r):
            raise InvalidInput(f"subject ref {r!r} must look like 'person:9'")
    target = session.execute(
        select(HubTarget).where(
            HubTarget.operation_id == op.id, HubTarget.member_id == member.id, HubTarget.ref == ref
        )
    ).scalar_one_or_none()
    if target is None:
        target = HubTarget(operation_id=op.id, member_id=member.id, ref=ref, subject_refs=[])
        session.add(target)
    if status is not None:
        target.status = status
    if children_safeguarded is not None:
        target.children_safeguarded = children_safeguarded
    if subject_refs is not None:
        target.subject_refs = sorted(set(subject_refs))
    target.status = target.status or "planned"
    target.children_safeguarded = target.children_safeguarded or 0
    target.updated_at = utcnow()
    session.flush()
    log(session, member.name, "hub.target_updated", op.id, ref=ref, status=target.status)
    return target


def update_target(session: Session, target_id: int, member: HubMember, **changes: Any) -> HubTarget:
    """Update a target by id; only its owning agency may."""
    target = session.get(HubTarget, target_id)
    if target is None:
        raise NotFound(f"no target #{target_id}")
    if target.member_id != member.id:
        raise PermissionDenied(
            f"target #{target_id} belongs to another agency; only its owner updates it"
        )
    op = get_by_id(session, target.operation_id)
    return upsert_target(session, op, member, target.ref, **changes)


def set_checklist(
    session: Session, op: HubOperation, member: HubMember, item: str, done: bool
) -> HubChecklistItem:
    """Tick or untick a line of the member's own country's checklist (created when new)."""
    require_participant(session, op, member)
    item = item.strip()
    if not 1 <= len(item) <= 200:
        raise InvalidInput("a checklist item is 1..200 characters")
    row = session.execute(
        select(HubChecklistItem).where(
            HubChecklistItem.operation_id == op.id,
            HubChecklistItem.country == member.country,
            HubChecklistItem.item == item,
        )
    ).scalar_one_or_none()
    if row is None:
        row = HubChecklistItem(operation_id=op.id, country=member.country, item=item)
        session.add(row)
    row.done = done
    row.updated_by = member.id
    row.updated_at = utcnow()
    session.flush()
    log(session, member.name, "hub.checklist", op.id, country=member.country, item=item, done=done)
    return row


def _funnel_row() -> dict[str, int]:
    return {**dict.fromkeys(FUNNEL, 0), "no_further_action": 0, "children_safeguarded": 0}


def funnel(targets: list[tuple[HubTarget, str]]) -> dict[str, Any]:
    """Per-country and total counts of targets that reached each stage."""
    per: dict[str, dict[str, int]] = defaultdict(_funnel_row)
    total = _funnel_row()
    for target, country in targets:
        for row in (per[country], total):
            row["children_safeguarded"] += target.children_safeguarded
            if target.status == "no_further_action":
                row["no_further_action"] += 1
                row["planned"] += 1
                continue
            for stage in FUNNEL[: STAGE[target.status] + 1]:
                row[stage] += 1
    return {"countries": dict(sorted(per.items())), "total": total}


def board(session: Session, op: HubOperation) -> dict[str, Any]:
    """The operation board: participants, targets by country, checklist per country, funnel."""
    members = {m.id: m for m in participants(session, op)}
    rows = list(
        session.execute(
            select(HubTarget, HubMember.country, HubMember.name)
            .join(HubMember, HubMember.id == HubTarget.member_id)
            .where(HubTarget.operation_id == op.id)
            .order_by(HubMember.country, HubMember.name, HubTarget.ref)
        ).all()
    )
    targets: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t, country, agency in rows:
        targets[country].append(
            {
                "id": t.id,
                "agency": agency,
                "ref": t.ref,
                "status": t.status,
                "children_safeguarded": t.children_safeguarded,
            }
        )
    checklist: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in session.execute(
        select(HubChecklistItem)
        .where(HubChecklistItem.operation_id == op.id)
        .order_by(HubChecklistItem.country, HubChecklistItem.id)
    ).scalars():
        checklist[item.country].append({"item": item.item, "done": item.done})
    return {
        "operation": {
            "code": op.code,
            "name": op.name,
            "action_day": op.action_day.date().isoformat() if op.action_day else None,
        },
        "participants": [
            {"name": m.name, "country": m.country, "force": m.force, "contact": m.contact}
            for m in members.values()
        ],
        "targets": dict(targets),
        "checklist": dict(checklist),
        "funnel": funnel([(t, c) for t, c, _a in rows]),
    }
