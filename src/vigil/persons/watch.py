"""Re-offending watch: score a newly arrived batch against every person already known
(Splink's incremental ``predict_between`` with the latest trained model) and raise an alert when
a new record matches a person with convictions: linked to a conviction or register entry, or
recorded as convicted in an earlier operation. The Ore pattern: convicted men came back using
the same cards.

An alert is a lead with its evidence (match weight per comparison), not a finding; a match
vetoed by a hard conflict (different first name or date of birth) never alerts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from vigil.errors import NotFound, NotReady
from vigil.persons import linkage
from vigil.persons.linkage import LinkParams
from vigil.persons.resolve import latest_model, linked_records_table, records_table
from vigil.store import audit
from vigil.store.db import Database
from vigil.store.persons import (
    Person,
    PersonAlert,
    PersonBatch,
    PersonLink,
    PersonRef,
    PersonRefLink,
)

DEFAULT_ALERT_WEIGHT = 10.0


@dataclass
class WatchReport:
    batch_id: int
    new_records: int
    matched_records: int
    alerts: int
    persons_alerted: list[int]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def watch_batch(
    db: Database,
    batch_id: int,
    actor: str,
    *,
    alert_weight: float = DEFAULT_ALERT_WEIGHT,
    params: LinkParams | None = None,
) -> WatchReport:
    """Score batch ``batch_id`` against all known persons and store re-offending alerts."""
    params = params or LinkParams()
    with db.read() as s:
        batch = s.get(PersonBatch, batch_id)
        if batch is None or batch.kind != "records":
            raise NotFound(f"no records batch {batch_id}")
        found = latest_model(s)
        if found is None:
            raise NotReady("no trained linkage model yet: link an operation first")
        _run, model = found
        new = records_table(s, batch_id=batch_id)
        existing = linked_records_table(s, exclude_batch=batch_id)
        rec_person: dict[int, int] = {
            int(r): int(p)
            for r, p in s.execute(select(PersonLink.record_id, PersonLink.person_id)).all()
        }
        convicted: dict[int, list[str]] = {}
        for pid, kind, cat, detail in s.execute(
            select(PersonRefLink.person_id, PersonRef.kind, PersonRef.category, PersonRef.detail)
            .join(PersonRef, PersonRef.id == PersonRefLink.ref_id)
            .where(PersonRef.kind.in_(("convictions", "register")))
        ).all():
            text = (
                "on the sex-offender register"
                if kind == "register"
                else (f"prior conviction ({cat}): {detail or ''}".strip())
            )
            convicted.setdefault(pid, []).append(text)
        for (pid,) in s.execute(select(Person.id).where(Person.stage == "convicted")).all():
            convicted.setdefault(pid, []).append("convicted in an earlier operation")
        done = {
            r
            for (r,) in s.execute(
                select(PersonAlert.record_id).where(PersonAlert.batch_id == batch_id)
            ).all()
        }
    alerts: list[dict[str, Any]] = []
    matched: set[int] = set()
    if new.num_rows and existing.num_rows:
        edges = linkage.predict_between(
            new,
            existing,
            model,
            dataclasses.replace(params, link_weight=alert_weight),
        )
        veto = edges.vetoed(model)
        best: dict[tuple[int, int], int] = {}
        for i in range(len(edges)):
            if veto[i] or edges.weight[i] < alert_weight:
                continue
            old_rec, new_rec = int(edges.left[i]), int(edges.right[i])
            known = rec_person.get(old_rec)
            if known is None:
                continue
            matched.add(new_rec)
            if known not in convicted or new_rec in done:
                continue
            key = (known, new_rec)
            if key not in best or edges.weight[i] > edges.weight[best[key]]:
                best[key] = i
        for (pid, new_rec), i in best.items():
            ev = edges.explanation(i, model)
            ev["known_record"] = int(edges.left[i])
            alerts.append(
                {
                    "person_id": pid,
                    "record_id": new_rec,
                    "batch_id": batch_id,
                    "match_weight": float(edges.weight[i]),
                    "reasons": sorted(set(convicted[pid])),
                    "evidence": ev,
                    "status": "open",
                }
            )
    with db.write() as s:
        for a in alerts:
            s.add(PersonAlert(**a))
        audit.append(
            s,
            actor,
            "persons.watch",
            case_id=batch.case_id,
            details={
                "batch_id": batch_id,
                "new_records": new.num_rows,
                "matched": len(matched),
                "alerts": len(alerts),
                "alert_weight": alert_weight,
            },
        )
    return WatchReport(
        batch_id, new.num_rows, len(matched), len(alerts), sorted({a["person_id"] for a in alerts})
    )
