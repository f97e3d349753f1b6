"""Resolve an operation's records into persons in the store (train → predict → cluster →
write persons, links with evidence, weak-link and refused-merge flags).

Person ids are stable across re-runs: each new cluster takes over the existing person that
holds most of its records, so referrals and outcomes stay attached; a person left without
records is kept, marked inactive, with its history.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from vigil.errors import InvalidInput, NotFound
from vigil.persons import linkage
from vigil.persons.linkage import Edges, LinkParams, Model
from vigil.store import audit, repo
from vigil.store.base import utcnow
from vigil.store.db import Database
from vigil.store.persons import (
    Person,
    PersonDecision,
    PersonLink,
    PersonLinkFlag,
    PersonLinkRun,
    PersonRecord,
)


def _records_table(session: Session, where: Any) -> pa.Table:
    cols = (
        PersonRecord.id,
        PersonRecord.first_name_n,
        PersonRecord.surname_n,
        PersonRecord.dob,
        PersonRecord.postcode,
        PersonRecord.district_n,
        PersonRecord.address_n,
        PersonRecord.email,
        PersonRecord.phone,
        PersonRecord.card_token,
    )
    rows = session.execute(select(*cols).where(where).order_by(PersonRecord.id)).all()
    data: dict[str, list[Any]] = {c: [] for c in linkage.LINK_COLUMNS}
    for r in rows:
        data["unique_id"].append(r[0])
        data["first_name"].append(r[1])
        data["surname"].append(r[2])
        data["dob"].append(r[3].isoformat() if r[3] else None)
        data["postcode"].append(r[4])
        data["district"].append(r[5])
        data["address"].append(r[6])
        data["email"].append(r[7])
        data["phone"].append(r[8])
        data["card_token"].append(r[9])
    schema = pa.schema(
        [("unique_id", pa.int64())] + [(c, pa.string()) for c in linkage.LINK_COLUMNS[1:]]
    )
    return pa.Table.from_pydict(data, schema=schema)


def case_records_table(session: Session, case_id: int) -> pa.Table:
    """The linkage table (see :data:`vigil.persons.linkage.LINK_COLUMNS`) of a case."""
    return _records_table(session, PersonRecord.case_id == case_id)


def records_table(
    session: Session, record_ids: list[int] | None = None, batch_id: int | None = None
) -> pa.Table:
    """The linkage table of given records or of one batch."""
    if batch_id is not None:
        return _records_table(session, PersonRecord.batch_id == batch_id)
    if record_ids is None:
        raise InvalidInput("records_table needs record ids or a batch id")
    return _records_table(session, PersonRecord.id.in_(record_ids))


def linked_records_table(session: Session, exclude_batch: int | None = None) -> pa.Table:
    """All records that belong to a person (any operation), optionally excluding one batch."""
    cond: Any = PersonRecord.id.in_(select(PersonLink.record_id))
    if exclude_batch is not None:
        cond = cond & (PersonRecord.batch_id != exclude_batch)
    return _records_table(session, cond)


def latest_model(session: Session, case_id: int | None = None) -> tuple[int, Model] | None:
    """The newest trained model (of a case, or of any case)."""
    stmt = select(PersonLinkRun).order_by(PersonLinkRun.id.desc()).limit(1)
    if case_id is not None:
        stmt = stmt.where(PersonLinkRun.case_id == case_id)
    run = session.execute(stmt).scalar_one_or_none()
    return (run.id, Model.from_json(run.model_json)) if run else None


def decisions(session: Session) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(same, not_same) record pairs decided by investigators."""
    same: list[tuple[int, int]] = []
    not_same: list[tuple[int, int]] = []
    for d in session.execute(select(PersonDecision)).scalars():
        (same if d.same else not_same).append((d.record_a, d.record_b))
    return same, not_same


@dataclass
class LinkReport:
    """Outcome of :func:`link_case`."""

    run_id: int
    records: int
    persons: int
    multi_record_persons: int
    edges: int
    weak_links: int
    blocked_by_decisions: int
    conflicts: int
    ambiguous: int = 0
    """Pairs kept apart because nothing but a card, surname and address tie them (review)."""
    training_notes: list[str] = field(default_factory=list)
    """What each training round did (trained on N pairs, or skipped and why)."""
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _best_edges(edges: Edges, kept: np.ndarray) -> dict[int, int]:
    """For every record, the index of its strongest kept edge."""
    best: dict[int, int] = {}
    if kept.size == 0:
        return best
    order = kept[np.argsort(-edges.weight[kept], kind="stable")]
    left = edges.left[order].tolist()
    right = edges.right[order].tolist()
    for e, a, b in zip(order.tolist(), left, right, strict=True):
        best.setdefault(a, e)
        best.setdefault(b, e)
    return best


def link_case(
    db: Database,
    case_name: str,
    actor: str,
    *,
    params: LinkParams | None = None,
    retrain: bool = True,
) -> LinkReport:
    """Link (or re-link) every record of the operation ``case_name`` into persons."""
    params = params or LinkParams()
    t0 = time.perf_counter()
    with db.read() as s:
        case = repo.get_case(s, case_name)
        table = case_records_table(s, case.id)
        same, not_same = decisions(s)
        prior = None if retrain else latest_model(s, case.id)
    if table.num_rows < 2:
        raise NotFound(f"case {case_name!r} has {table.num_rows} records: import a batch first")
    timings = {"load_s": time.perf_counter() - t0}
    out = linkage.link(
        table,
        params=params,
        model=prior[1] if prior else None,
        cannot_link=not_same,
        must_link=same,
    )
    timings.update(out.timings)
    t1 = time.perf_counter()
    report = _write_links(db, case.id, actor, out, params, same, not_same)
    timings["write_s"] = time.perf_counter() - t1
    report.timings = {k: round(v, 3) for k, v in timings.items()}
    return report


def link_new_records(
    db: Database, case_name: str, actor: str, *, params: LinkParams | None = None
) -> LinkReport:
    """Link the case's records that belong to no person yet into the existing persons, with
    the case's latest model and the decisions kept (:mod:`vigil.persons.incremental`): only
    the new records and the persons they reach are compared and clustered again."""
    from vigil.persons.incremental import link_incremental

    params = params or LinkParams()
    t0 = time.perf_counter()
    with db.read() as s:
        case = repo.get_case(s, case_name)
        latest = latest_model(s, case.id)
        if latest is None:
            raise NotFound(f"case {case_name!r} has no trained model: run a full link first")
        table = case_records_table(s, case.id)
        person_of = {
            int(r): int(p)
            for r, p in s.execute(
                select(PersonLink.record_id, PersonLink.person_id)
                .join(Person, Person.id == PersonLink.person_id)
                .where(Person.case_id == case.id)
            ).all()
        }
        same, not_same = decisions(s)
    ids = np.asarray(table.column("unique_id").to_numpy(), dtype=np.int64)
    is_old = np.fromiter((int(i) in person_of for i in ids), bool, ids.size)
    if is_old.all():
        raise NotFound(f"case {case_name!r} has no records without a person: nothing to link")
    existing = table.filter(pa.array(is_old))
    new = table.filter(pa.array(~is_old))
    timings = {"load_s": time.perf_counter() - t0}
    inc = link_incremental(
        existing, person_of, new, latest[1], params=params, cannot_link=not_same, must_link=same
    )
    timings.update(inc.timings)
    t1 = time.perf_counter()
    out = linkage.LinkOutcome(
        model=latest[1], edges=inc.edges, clusters=inc.clusters, timings=inc.timings
    )
    report = _write_links(db, case.id, actor, out, params, same, not_same, incremental=True)
    timings["write_s"] = time.perf_counter() - t1
    report.timings = {k: round(v, 3) for k, v in timings.items()}
    report.training_notes = [
        f"incremental: {new.num_rows} new records, {inc.seeds} seeds, "
        f"{inc.scope.size} records re-clustered in {inc.rounds} closure rounds; model of run "
        f"{latest[0]} kept"
    ]
    return report


def _write_links(
    db: Database,
    case_id: int,
    actor: str,
    out: linkage.LinkOutcome,
    params: LinkParams,
    same: list[tuple[int, int]],
    not_same: list[tuple[int, int]],
    *,
    incremental: bool = False,
) -> LinkReport:
    """Write persons, links and flags for the records of ``out.clusters`` (all records of the
    case, or with ``incremental`` only the re-clustered scope: persons, links and open flags
    outside it are left as they are)."""
    import splink

    clusters, edges, model = out.clusters, out.edges, out.model
    groups = clusters.groups()
    best = _best_edges(edges, clusters.kept_edges)
    codes = edges.conflicts(model, params.strong_weight)
    conflict_idx = np.nonzero((codes > 0) & (edges.weight >= params.link_weight))[0]
    with db.write() as s:
        run = PersonLinkRun(
            case_id=case_id,
            backend=params.backend,
            model_json=model.to_json(),
            params={
                "link_weight": params.link_weight,
                "strong_weight": params.strong_weight,
                "train_sample": params.train_sample,
                "incremental": incremental,
            },
            stats={},
            splink_version=splink.__version__,
            created_by=actor,
        )
        s.add(run)
        s.flush()
        # existing assignment, for stable person ids
        old = s.execute(
            select(PersonLink.record_id, PersonLink.person_id)
            .join(Person, Person.id == PersonLink.person_id)
            .where(Person.case_id == case_id)
        ).all()
        scope = set(clusters.ids.tolist())
        old_person = {r: p for r, p in old if not incremental or r in scope}
        candidates: list[tuple[int, int, int]] = []
        for label, recs in groups.items():
            counts = Counter(old_person[r] for r in recs if r in old_person)
            for pid, n in counts.items():
                candidates.append((n, label, pid))
        candidates.sort(key=lambda t: (-t[0], t[1], t[2]))
        label_to_pid: dict[int, int] = {}
        taken: set[int] = set()
        for _n, label, pid in candidates:
            if label in label_to_pid or pid in taken:
                continue
            label_to_pid[label] = pid
            taken.add(pid)
        # labels for display: most common full name per cluster
        names = dict(
            s.execute(
                select(
                    PersonRecord.id, PersonRecord.first_name_n + " " + PersonRecord.surname_n
                ).where(PersonRecord.case_id == case_id)
            ).all()
        )
        surnames = dict(
            s.execute(
                select(PersonRecord.id, PersonRecord.surname_n).where(
                    PersonRecord.case_id == case_id
                )
            ).all()
        )

        def label_for(recs: list[int]) -> str:
            c = Counter(names.get(r) or surnames.get(r) or "(no name)" for r in recs)
            return c.most_common(1)[0][0]

        now = utcnow()
        new_rows = []
        new_labels = []
        for label, recs in groups.items():
            if label in label_to_pid:
                continue
            new_rows.append(
                {
                    "case_id": case_id,
                    "label": label_for(recs),
                    "record_count": len(recs),
                    "created_at": now,
                    "updated_at": now,
                }
            )
            new_labels.append(label)
        # INSERT ... RETURNING in small chunks: SQLAlchemy matches returned rows to parameter
        # sets at a cost quadratic in the chunk size
        for i in range(0, len(new_rows), 500):
            ids = (
                s.execute(
                    insert(Person).returning(Person.id, sort_by_parameter_order=True),
                    new_rows[i : i + 500],
                )
                .scalars()
                .all()
            )
            for label, pid in zip(new_labels[i : i + 500], ids, strict=True):
                label_to_pid[label] = int(pid)
        fresh = set(new_labels)
        reused = [(label, pid) for label, pid in label_to_pid.items() if label not in fresh]
        for label, pid in reused:
            recs = groups[label]
            s.execute(
                update(Person)
                .where(Person.id == pid)
                .values(label=label_for(recs), record_count=len(recs), active=True, updated_at=now)
            )
        gone = set(old_person.values()) - set(label_to_pid.values())
        if gone:
            s.execute(
                update(Person)
                .where(Person.id.in_(gone))
                .values(active=False, record_count=0, updated_at=now)
            )
        # links
        record_ids = [int(r) for r in clusters.ids.tolist()]
        for i in range(0, len(record_ids), 20_000):
            chunk = record_ids[i : i + 20_000]
            s.execute(delete(PersonLink).where(PersonLink.record_id.in_(chunk)))
        link_rows: list[dict[str, Any]] = []
        for label, recs in groups.items():
            pid = label_to_pid[label]
            for r in recs:
                e = best.get(r)
                if e is None:
                    link_rows.append(
                        {
                            "record_id": r,
                            "person_id": pid,
                            "run_id": run.id,
                            "match_weight": None,
                            "evidence": None,
                        }
                    )
                    continue
                other = int(edges.right[e]) if int(edges.left[e]) == r else int(edges.left[e])
                ev = edges.explanation(e, model)
                ev["other_record"] = other
                link_rows.append(
                    {
                        "record_id": r,
                        "person_id": pid,
                        "run_id": run.id,
                        "match_weight": ev["match_weight"],
                        "evidence": ev,
                    }
                )
        for i in range(0, len(link_rows), 20_000):
            s.execute(insert(PersonLink), link_rows[i : i + 20_000])
        # flags: replace the unresolved ones of earlier runs of this case (of the scope)
        if not incremental:
            s.execute(
                delete(PersonLinkFlag).where(
                    PersonLinkFlag.case_id == case_id, PersonLinkFlag.resolved.is_(False)
                )
            )
        else:
            ordered = sorted(scope)
            for i in range(0, len(ordered), 10_000):
                chunk = ordered[i : i + 10_000]
                s.execute(
                    delete(PersonLinkFlag).where(
                        PersonLinkFlag.case_id == case_id,
                        PersonLinkFlag.resolved.is_(False),
                        PersonLinkFlag.record_a.in_(chunk) | PersonLinkFlag.record_b.in_(chunk),
                    )
                )
        rec_pid = {
            r: label_to_pid[int(lab)]
            for r, lab in zip(record_ids, clusters.labels.tolist(), strict=True)
        }
        flag_rows = []
        for w in clusters.weak_links:
            flag_rows.append(
                _flag(
                    run.id,
                    case_id,
                    "weak_link",
                    w.left,
                    w.right,
                    w.weight,
                    edges.explanation(w.edge_index, model)
                    | {"left_size": w.left_size, "right_size": w.right_size},
                    rec_pid,
                )
            )
        for b in clusters.blocked:
            flag_rows.append(
                _flag(
                    run.id,
                    case_id,
                    "decision_blocked",
                    b.left,
                    b.right,
                    b.weight,
                    edges.explanation(b.edge_index, model),
                    rec_pid,
                )
            )
        for e in conflict_idx.tolist():
            a, b2 = int(edges.left[e]), int(edges.right[e])
            if rec_pid.get(a) == rec_pid.get(b2):
                continue
            flag_rows.append(
                _flag(
                    run.id,
                    case_id,
                    "ambiguous" if codes[e] == linkage.AMBIGUOUS else "conflict",
                    a,
                    b2,
                    float(edges.weight[e]),
                    edges.explanation(e, model),
                    rec_pid,
                )
            )
        for i in range(0, len(flag_rows), 20_000):
            s.execute(insert(PersonLinkFlag), flag_rows[i : i + 20_000])
        sizes = Counter(len(v) for v in groups.values())
        report = LinkReport(
            run_id=run.id,
            records=len(record_ids),
            persons=len(groups),
            multi_record_persons=sum(n for k, n in sizes.items() if k > 1),
            edges=len(edges),
            weak_links=len(clusters.weak_links),
            blocked_by_decisions=len(clusters.blocked),
            conflicts=sum(1 for f in flag_rows if f["kind"] == "conflict"),
            ambiguous=sum(1 for f in flag_rows if f["kind"] == "ambiguous"),
            training_notes=list(model.notes),
        )
        run.stats = {k: v for k, v in report.as_dict().items() if k != "timings"}
        audit.append(
            s,
            actor,
            "persons.link",
            case_id=case_id,
            details={
                "run_id": run.id,
                **run.stats,
                "decisions_same": len(same),
                "decisions_not_same": len(not_same),
            },
        )
    return report


def _flag(
    run_id: int,
    case_id: int,
    kind: str,
    a: int,
    b: int,
    weight: float,
    evidence: dict[str, Any],
    rec_pid: dict[int, int],
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "case_id": case_id,
        "kind": kind,
        "record_a": a,
        "record_b": b,
        "person_a": rec_pid.get(a),
        "person_b": rec_pid.get(b),
        "match_weight": weight,
        "evidence": evidence,
        "resolved": False,
    }


def decide(
    db: Database, record_a: int, record_b: int, *, same: bool, reason: str, actor: str
) -> PersonDecision:
    """Record an investigator's same / not-same decision on two records (applied at next link)."""
    if record_a == record_b:
        raise InvalidInput("a decision needs two different records")
    if not reason.strip():
        raise InvalidInput("a decision needs a reason")
    a, b = sorted((record_a, record_b))
    with db.write() as s:
        recs = s.execute(
            select(PersonRecord.id, PersonRecord.case_id).where(PersonRecord.id.in_((a, b)))
        ).all()
        if len(recs) != 2:
            raise NotFound(f"records {a} and {b} do not both exist")
        existing = s.execute(
            select(PersonDecision).where(PersonDecision.record_a == a, PersonDecision.record_b == b)
        ).scalar_one_or_none()
        if existing is None:
            existing = PersonDecision(
                record_a=a, record_b=b, same=same, reason=reason, decided_by=actor
            )
            s.add(existing)
        else:
            existing.same, existing.reason, existing.decided_by = same, reason, actor
            existing.decided_at = utcnow()
        s.execute(
            update(PersonLinkFlag)
            .where(
                ((PersonLinkFlag.record_a == a) & (PersonLinkFlag.record_b == b))
                | ((PersonLinkFlag.record_a == b) & (PersonLinkFlag.record_b == a))
            )
            .values(resolved=True)
        )
        s.flush()
        audit.append(
            s,
            actor,
            "persons.decide",
            case_id=int(recs[0][1]),
            details={"record_a": a, "record_b": b, "same": same, "reason": reason},
        )
    return existing


def person_records(session: Session, person_id: int) -> list[PersonRecord]:
    """Records linked to a person, oldest first."""
    return list(
        session.execute(
            select(PersonRecord)
            .join(PersonLink, PersonLink.record_id == PersonRecord.id)
            .where(PersonLink.person_id == person_id)
            .order_by(PersonRecord.ts, PersonRecord.id)
        ).scalars()
    )


def persons_by_record(session: Session, case_id: int) -> dict[int, list[int]]:
    """person id → record ids for the active persons of a case."""
    out: dict[int, list[int]] = defaultdict(list)
    for rid, pid in session.execute(
        select(PersonLink.record_id, PersonLink.person_id)
        .join(Person, Person.id == PersonLink.person_id)
        .where(Person.case_id == case_id)
    ).all():
        out[int(pid)].append(int(rid))
    return dict(out)
