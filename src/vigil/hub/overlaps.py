"""From candidates to leads: flood guard, rejected-pair memory, notifications, deconfliction.

An overlap is keyed by (operation, category, agency A + local ref, agency B + local ref): the
same two items matched again by a later push (or by another digest of the same file) add
evidence to the existing lead instead of notifying again. A near-duplicate is not reported for
a pair already reported as the same file. A human's rejection on either side suppresses the pair
of items for good, in every category. Only the two agencies of an overlap are ever notified, and
each sees its own local reference only.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from vigil.errors import InvalidInput, NotFound, PermissionDenied
from vigil.hub.config import HubSettings
from vigil.hub.match import Candidate
from vigil.hub.members import log
from vigil.store.hub import (
    HubDeconfliction,
    HubMember,
    HubNotification,
    HubOperation,
    HubOverlap,
    HubProof,
    HubQuarantine,
    HubSignal,
    HubSuppression,
    HubTarget,
)

PRIORITY = (
    "same_file",
    "near_duplicate",
    "same_face",
    "same_room",
    "same_camera",
    "same_person",
    "same_card",
    "same_email",
)
IDENTITY = ("same_person", "same_card", "same_email")
_T = TypeVar("_T")


def _existing(
    session: Session, op_id: int, category: str, key: tuple[int, str, int, str]
) -> HubOverlap | None:
    ma, ra, mb, rb = key
    return session.execute(
        select(HubOverlap).where(
            HubOverlap.operation_id == op_id,
            HubOverlap.kind == category,
            HubOverlap.member_a == ma,
            HubOverlap.ref_a == ra,
            HubOverlap.member_b == mb,
            HubOverlap.ref_b == rb,
        )
    ).scalar_one_or_none()


def _quarantine(session: Session, signal: HubSignal, count: int, limit: int, actor: str) -> None:
    signal.quarantined = True
    reason = f"matched {count} items of other agencies (flood limit {limit})"
    session.add(HubQuarantine(signal_id=signal.id, matches=count, reason=reason))
    log(
        session,
        actor,
        "hub.signal_quarantined",
        signal.operation_id,
        signal=signal.id,
        kind=signal.kind,
        matches=count,
    )


def record(
    session: Session,
    op: HubOperation,
    member: HubMember,
    candidates: Sequence[Candidate],
    settings: HubSettings,
    now: dt.datetime,
) -> dict[str, int]:
    """Turn one push's candidates into overlaps and notifications; return counts."""
    per_signal: dict[int, list[Candidate]] = defaultdict(list)
    for c in candidates:
        per_signal[c.new_id].append(c)
    ids = {c.new_id for c in candidates} | {c.other_id for c in candidates}
    signals = (
        {s.id: s for s in session.execute(select(HubSignal).where(HubSignal.id.in_(ids))).scalars()}
        if ids
        else {}
    )
    quarantined = 0
    kept: list[Candidate] = []
    for sid, cands in per_signal.items():
        distinct = {c.other_id for c in cands if c.other_id in signals}
        if len(distinct) > settings.flood_limit:
            _quarantine(session, signals[sid], len(distinct), settings.flood_limit, member.name)
            quarantined += 1
        else:
            kept += [
                c for c in cands if c.other_id in signals and not signals[c.other_id].quarantined
            ]
    kept.sort(key=lambda c: (PRIORITY.index(c.category), c.new_id, c.other_id))
    created = updated = suppressed = 0
    for c in kept:
        new, other = signals[c.new_id], signals[c.other_id]
        a, b = (new, other) if new.member_id < other.member_id else (other, new)
        key = (a.member_id, a.local_ref, b.member_id, b.local_ref)
        if session.get(HubSuppression, key) is not None:
            suppressed += 1
            continue
        if c.category == "near_duplicate" and _existing(session, op.id, "same_file", key):
            continue
        item = {"kind": c.kind, **c.evidence}
        found = _existing(session, op.id, c.category, key)
        if found is not None:
            if item not in found.evidence["signals"]:
                found.evidence = {**found.evidence, "signals": [*found.evidence["signals"], item]}
                updated += 1
            continue
        ov = HubOverlap(
            operation_id=op.id,
            kind=c.category,
            member_a=a.member_id,
            member_b=b.member_id,
            ref_a=a.local_ref,
            ref_b=b.local_ref,
            signal_a=a.id,
            signal_b=b.id,
            score=c.score,
            evidence={"signals": [item]},
            status="open",
            proof_requested_at=now if c.category == "same_room" else None,
        )
        session.add(ov)
        session.flush()
        for mid in (a.member_id, b.member_id):
            session.add(HubNotification(member_id=mid, kind="overlap", overlap_id=ov.id))
        log(
            session,
            member.name,
            "hub.overlap",
            op.id,
            overlap=ov.id,
            category=c.category,
            members=[a.member_id, b.member_id],
        )
        if ov.proof_requested_at is not None:
            log(
                session,
                "hub",
                "hub.proof_requested",
                op.id,
                overlap=ov.id,
                members=[a.member_id, b.member_id],
            )
        if c.category in IDENTITY:
            deconflict(session, op, ov)
        created += 1
    session.flush()
    return {
        "overlaps": created,
        "updated": updated,
        "suppressed": suppressed,
        "quarantined": quarantined,
    }


def deconflict(session: Session, op: HubOperation, ov: HubOverlap) -> int:
    """Tell both agencies when each has a target on the two sides of an identity overlap."""
    if ov.status == "rejected" or ov.kind not in IDENTITY:
        return 0
    targets = list(
        session.execute(
            select(HubTarget).where(
                HubTarget.operation_id == op.id, HubTarget.member_id.in_([ov.member_a, ov.member_b])
            )
        ).scalars()
    )
    ta = [t for t in targets if t.member_id == ov.member_a and ov.ref_a in (t.subject_refs or [])]
    tb = [t for t in targets if t.member_id == ov.member_b and ov.ref_b in (t.subject_refs or [])]
    made = 0
    for x in ta:
        for y in tb:
            exists = session.execute(
                select(HubDeconfliction.id).where(
                    HubDeconfliction.target_a == x.id, HubDeconfliction.target_b == y.id
                )
            ).first()
            if exists:
                continue
            d = HubDeconfliction(operation_id=op.id, target_a=x.id, target_b=y.id, overlap_id=ov.id)
            session.add(d)
            session.flush()
            for mid in (ov.member_a, ov.member_b):
                session.add(
                    HubNotification(
                        member_id=mid, kind="deconfliction", deconfliction_id=d.id, overlap_id=ov.id
                    )
                )
            log(
                session, "hub", "hub.deconfliction", op.id, deconfliction=d.id, targets=[x.id, y.id]
            )
            made += 1
    return made


def deconflict_target(session: Session, op: HubOperation, target: HubTarget) -> int:
    """Re-check deconfliction after a target's subjects changed."""
    refs = list(target.subject_refs or [])
    if not refs:
        return 0
    rows = session.execute(
        select(HubOverlap).where(
            HubOverlap.operation_id == op.id,
            HubOverlap.kind.in_(IDENTITY),
            HubOverlap.status != "rejected",
            or_(
                (HubOverlap.member_a == target.member_id) & HubOverlap.ref_a.in_(refs),
                (HubOverlap.member_b == target.member_id) & HubOverlap.ref_b.in_(refs),
            ),
        )
    ).scalars()
    return sum(deconflict(session, op, ov) for ov in rows)


def decide(session: Session, overlap_id: int, member: HubMember, decision: str) -> HubOverlap:
    """Record one side's confirm/reject; a reject suppresses the pair for good."""
    if decision not in ("confirm", "reject"):
        raise InvalidInput(f"decision must be 'confirm' or 'reject', not {decision!r}")
    ov = session.get(HubOverlap, overlap_id)
    if ov is None or member.id not in (ov.member_a, ov.member_b):
        raise NotFound(f"no overlap #{overlap_id} of yours")
    if ov.status == "rejected":
        raise PermissionDenied(f"overlap #{overlap_id} was already rejected")
    if member.id == ov.member_a:
        ov.decision_a = decision
    else:
        ov.decision_b = decision
    if decision == "reject":
        ov.status = "rejected"
        key = (ov.member_a, ov.ref_a, ov.member_b, ov.ref_b)
        if session.get(HubSuppression, key) is None:
            session.add(
                HubSuppression(
                    member_a=key[0], ref_a=key[1], member_b=key[2], ref_b=key[3], overlap_id=ov.id
                )
            )
    elif ov.decision_a == "confirm" and ov.decision_b == "confirm":
        ov.status = "confirmed"
    session.flush()
    log(session, member.name, f"hub.overlap_{decision}", ov.operation_id, overlap=ov.id)
    return ov


def _get(session: Session, cls: type[_T], row_id: int) -> _T:
    row = session.get(cls, row_id)
    if row is None:
        raise NotFound(f"{cls.__name__} #{row_id} is missing")
    return row


def _agency(m: HubMember) -> dict[str, str]:
    return {"name": m.name, "country": m.country, "force": m.force, "contact": m.contact}


def view(session: Session, ov: HubOverlap, member: HubMember) -> dict[str, Any]:
    """An overlap as one of its two agencies may see it (its own local ref only)."""
    mine = member.id == ov.member_a
    other = _get(session, HubMember, ov.member_b if mine else ov.member_a)
    op = _get(session, HubOperation, ov.operation_id)
    return {
        "id": ov.id,
        "operation": op.code,
        "category": ov.kind,
        "score": ov.score,
        "evidence": ov.evidence,
        "status": ov.status,
        "your_ref": ov.ref_a if mine else ov.ref_b,
        "your_decision": ov.decision_a if mine else ov.decision_b,
        "their_decision": ov.decision_b if mine else ov.decision_a,
        "proof_requested": ov.proof_requested_at is not None,
        "proof": proof_state(session, ov, member),
        "other_agency": _agency(other),
    }


def proof_state(session: Session, ov: HubOverlap, member: HubMember) -> dict[str, str] | None:
    """Where a same-room overlap's geometric proof stands, and this member's part in it.

    ``requested`` (the sender, side a, has not lent its features yet), ``features_sent`` (the
    verifier, side b, has a sealed record to verify) or ``proved`` (the result is in the
    evidence). ``role``: ``send`` for side a, ``verify`` for side b.
    """
    if ov.proof_requested_at is None:
        return None
    row = session.get(HubProof, ov.id)
    if row is not None and row.result is not None:
        status = "proved"
    elif row is not None and row.sealed is not None:
        status = "features_sent"
    else:
        status = "requested"
    return {"status": status, "role": "send" if member.id == ov.member_a else "verify"}


def notifications(
    session: Session, member: HubMember, *, include_rejected: bool = False
) -> list[dict[str, Any]]:
    """The member's own notifications, oldest first."""
    out = []
    rows = session.execute(
        select(HubNotification)
        .where(HubNotification.member_id == member.id)
        .order_by(HubNotification.id)
    ).scalars()
    for n in rows:
        ov = session.get(HubOverlap, n.overlap_id) if n.overlap_id else None
        if ov is None or (ov.status == "rejected" and not include_rejected):
            continue
        item: dict[str, Any] = {
            "id": n.id,
            "type": n.kind,
            "created_at": n.created_at.isoformat(),
            "overlap": view(session, ov, member),
        }
        if n.kind == "deconfliction" and n.deconfliction_id:
            d = _get(session, HubDeconfliction, n.deconfliction_id)
            ta, tb = _get(session, HubTarget, d.target_a), _get(session, HubTarget, d.target_b)
            item["your_target"] = (ta if ta.member_id == member.id else tb).ref
        out.append(item)
    return out
