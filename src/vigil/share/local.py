"""The local side of overlaps: fetch the hub's notifications, tie each to a local case, decide.

The hub only knows opaque references (``item:12``, ``person:3``); this unit resolves them to
the cases it shared with that operation. Every pull and decision is audited locally; a decision
is sent to the hub first and stored only once the hub accepted it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.errors import InvalidInput, NotFound, PermissionDenied, VigilError
from vigil.store import audit
from vigil.store import share as sstore
from vigil.store.db import Database
from vigil.store.models import CaseMember, EvidenceSource, Occurrence, User

DECISIONS = ("confirm", "reject")


class Hub(Protocol):
    """What the local side needs from :class:`vigil.hub.client.HubClient`."""

    def notifications(self, *, include_rejected: bool = False) -> list[dict[str, Any]]: ...

    def decide(self, overlap_id: int, decision: str) -> dict[str, Any]: ...


def _item_cases(session: Session, item_id: int) -> set[int]:
    rows = session.execute(
        select(EvidenceSource.case_id)
        .join(Occurrence, Occurrence.source_id == EvidenceSource.id)
        .where(Occurrence.item_id == item_id)
    ).scalars()
    return {int(r) for r in rows}


def ref_cases(session: Session, local_ref: str) -> set[int]:
    """The cases a local reference belongs to (empty when it no longer resolves)."""
    prefix, _, raw = local_ref.partition(":")
    if not raw.isdigit():
        return set()
    rid = int(raw)
    if prefix == "item":
        return _item_cases(session, rid)
    if prefix == "face":
        from vigil.store.faces import FaceRow

        face = session.get(FaceRow, rid)
        return _item_cases(session, face.item_id) if face else set()
    if prefix == "person":
        from vigil.store.persons import Person

        person = session.get(Person, rid)
        return {person.case_id} if person else set()
    if prefix == "record":
        from vigil.store.persons import PersonRecord

        rec = session.get(PersonRecord, rid)
        return {rec.case_id} if rec else set()
    if prefix == "camera":
        from vigil.store.places import CameraFingerprint

        cam = session.get(CameraFingerprint, rid)
        return {cam.case_id} if cam and cam.case_id is not None else set()
    return set()


def resolve_case(session: Session, operation: str, local_ref: str) -> int | None:
    """The case shared with ``operation`` that ``local_ref`` belongs to (lowest id if several)."""
    shared = set(sstore.pushed_cases(session, operation))
    hits = sorted(ref_cases(session, local_ref) & shared)
    return hits[0] if hits else None


def pull(db: Database, hub: Hub, hub_url: str, *, actor: str) -> dict[str, Any]:
    """Fetch this agency's notifications and store them; counts of new and updated overlaps."""
    notes = hub.notifications(include_rejected=True)
    new = updated = 0
    with db.write() as s:
        for n in notes:
            ov = n.get("overlap")
            if not isinstance(ov, dict):
                continue
            operation = str(ov.get("operation", ""))
            local_ref = str(ov.get("your_ref", ""))
            evidence = dict(ov.get("evidence") or {})
            if n.get("type") == "deconfliction" and n.get("your_target"):
                evidence["deconfliction_target"] = n["your_target"]
            _, created = sstore.upsert_overlap(
                s,
                hub_url,
                int(ov["id"]),
                case_id=resolve_case(s, operation, local_ref),
                operation=operation,
                category=str(ov.get("category", "")),
                score=float(ov["score"]) if ov.get("score") is not None else None,
                evidence=evidence,
                local_ref=local_ref,
                other_agency=ov.get("other_agency"),
                status=str(ov.get("status", "open")),
                my_decision=ov.get("your_decision"),
                their_decision=ov.get("their_decision"),
            )
            new += created
            updated += not created
        audit.append(
            s, actor, "share.pull", details={"hub": hub_url, "new": new, "updated": updated}
        )
    return {"hub": hub_url, "notifications": len(notes), "new": new, "updated": updated}


def is_member(session: Session, case_id: int, username: str) -> bool:
    """Whether ``username`` is a member of the case."""
    row = session.execute(
        select(CaseMember.id)
        .join(User, User.id == CaseMember.user_id)
        .where(CaseMember.case_id == case_id, User.username == username)
    ).first()
    return row is not None


def decide(
    db: Database,
    hub: Hub,
    overlap_id: int,
    decision: str,
    *,
    actor: str,
    require_membership: bool = False,
) -> dict[str, Any]:
    """Confirm or reject a stored overlap at the hub, then store and audit the decision.

    ``require_membership`` (the web pages) refuses users who are not members of the case.
    """
    if decision not in DECISIONS:
        raise InvalidInput(f"decision must be one of {DECISIONS}")
    with db.read() as s:
        row = sstore.get_overlap(s, overlap_id)
        remote_id, case_id = row.remote_id, row.case_id
        if require_membership and (case_id is None or not is_member(s, case_id, actor)):
            raise PermissionDenied("only members of the case may decide on its overlaps")
    answer = hub.decide(remote_id, decision)
    with db.write() as s:
        row = sstore.get_overlap(s, overlap_id)
        row.my_decision = decision
        row.decided_by = actor
        row.decided_at = dt.datetime.now(dt.UTC)
        if isinstance(answer, dict) and answer.get("status"):
            row.status = str(answer["status"])
        audit.append(
            s,
            actor,
            f"share.overlap_{decision}",
            case_id=case_id,
            details={"overlap": overlap_id, "remote_id": remote_id, "category": row.category},
        )
        return overlap_dict(row)


def overlap_dict(row: sstore.ShareOverlap) -> dict[str, Any]:
    """A stored overlap as plain data (CLI JSON, web pages)."""
    return {
        "id": row.id,
        "remote_id": row.remote_id,
        "hub": row.hub,
        "case_id": row.case_id,
        "operation": row.operation,
        "category": row.category,
        "score": row.score,
        "evidence": row.evidence,
        "local_ref": row.local_ref,
        "other_agency": row.other_agency,
        "status": row.status,
        "my_decision": row.my_decision,
        "their_decision": row.their_decision,
        "decided_by": row.decided_by,
    }


def overlaps(db: Database, case_id: int | None = None) -> list[dict[str, Any]]:
    """Stored overlaps of one case (or all)."""
    with db.read() as s:
        rows: Iterable[sstore.ShareOverlap] = (
            sstore.case_overlaps(s, case_id) if case_id is not None else sstore.all_overlaps(s)
        )
        return [overlap_dict(r) for r in rows]


class ProofHub(Hub, Protocol):
    """What :func:`prove` needs from :class:`vigil.hub.client.HubClient`."""

    def proof_send(self, overlap_id: int, sealed: str) -> dict[str, Any]: ...

    def proof_features(self, overlap_id: int) -> dict[str, Any]: ...

    def proof_result(self, overlap_id: int, result: dict[str, Any]) -> dict[str, Any]: ...


def _item_features(session: Session, operation: str, local_ref: str) -> bytes:
    """The stored scene features of a shared item (``item:N`` of a case pushed to ``operation``)."""
    from vigil.places.analyzer import EXTRACTOR
    from vigil.store import places as pstore

    prefix, _, raw = local_ref.partition(":")
    if prefix != "item" or not raw.isdigit():
        raise InvalidInput(f"{local_ref}: a room proof needs an item reference")
    if resolve_case(session, operation, local_ref) is None:
        raise PermissionDenied(f"{local_ref} is not in a case shared with {operation}")
    rows = pstore.features_of_item(session, int(raw), EXTRACTOR)
    if not rows:
        raise NotFound(f"{local_ref} has no stored scene features (run the scene analyzer)")
    return bytes(rows[0].data)


def prove(
    db: Database,
    hub: ProofHub,
    secret: Any,
    operation: str,
    *,
    actor: str,
    overlap_ids: Iterable[int] | None = None,
) -> dict[str, Any]:
    """Do this agency's part of the geometric proofs the hub requested for ``operation``.

    As the *sender* (side a) of a same-room overlap: seal the scene features of its own item under
    the operation secret and lend them through the hub. As the *verifier* (side b): open the
    features lent, verify them against its own item's (:func:`vigil.places.verify.verify`, with
    the layout verdict) and report only the verdict, counts and inlier coordinate pairs.
    A proof that cannot be done here is listed with its reason; the others go on. Each step is
    audited locally (``share.proof_sent`` / ``share.proof_verified``).
    """
    from vigil.places.features import SceneFeatures
    from vigil.places.verify import verify
    from vigil.share import proof

    wanted = set(overlap_ids) if overlap_ids is not None else None
    done: dict[str, Any] = {"sent": [], "verified": [], "waiting": [], "failed": []}
    seen: set[int] = set()
    for note in hub.notifications():
        ov = note.get("overlap")
        if not isinstance(ov, dict) or ov.get("operation") != operation:
            continue
        oid = int(ov["id"])
        state = ov.get("proof")
        if oid in seen or not isinstance(state, dict) or (wanted and oid not in wanted):
            continue
        seen.add(oid)
        ref = str(ov.get("your_ref", ""))
        role, status = state.get("role"), state.get("status")
        try:
            if role == "send" and status == "requested":
                with db.read() as s:
                    data = _item_features(s, operation, ref)
                hub.proof_send(oid, proof.seal(data, secret, operation, oid))
                with db.write() as s:
                    audit.append(
                        s,
                        actor,
                        "share.proof_sent",
                        case_id=resolve_case(s, operation, ref),
                        details={"overlap": oid, "local_ref": ref, "operation": operation},
                    )
                done["sent"].append(oid)
            elif role == "verify" and status == "features_sent":
                with db.read() as s:
                    mine = SceneFeatures.from_bytes(_item_features(s, operation, ref))
                theirs = proof.open_sealed(
                    str(hub.proof_features(oid)["sealed"]), secret, operation, oid
                )
                result = proof.result_of(verify(theirs, mine, layout=True))
                hub.proof_result(oid, result)
                with db.write() as s:
                    audit.append(
                        s,
                        actor,
                        "share.proof_verified",
                        case_id=resolve_case(s, operation, ref),
                        details={
                            "overlap": oid,
                            "local_ref": ref,
                            "operation": operation,
                            "verdict": result["verdict"],
                            "inliers": result["inliers"],
                        },
                    )
                done["verified"].append({"overlap": oid, "verdict": result["verdict"]})
            elif status != "proved":
                done["waiting"].append(oid)
        except VigilError as exc:
            done["failed"].append({"overlap": oid, "error": exc.code, "message": str(exc)})
    return done
