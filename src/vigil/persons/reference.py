"""Enrichment: link an operation's persons to police reference data (sex-offender register,
prior convictions, roles with access to children) with the same Splink model that resolved the
records, scoring reference rows against records with incremental prediction.

A reference link is a lead with its evidence (match weight per comparison), made only above
``ref_weight`` and never across a hard conflict (different first name or date of birth).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from vigil.errors import NotReady
from vigil.persons import linkage
from vigil.persons.linkage import LinkParams
from vigil.persons.resolve import case_records_table, latest_model
from vigil.store import audit, repo
from vigil.store.db import Database
from vigil.store.persons import Person, PersonLink, PersonRef, PersonRefLink

PERSON_REF_KINDS = ("register", "convictions", "roles")
REF_ID_OFFSET = 10**12
"""Reference rows enter the linkage table as ``unique_id = REF_ID_OFFSET + ref.id``."""
DEFAULT_REF_WEIGHT = 10.0


def refs_table(session: Session, kinds: tuple[str, ...] = PERSON_REF_KINDS) -> pa.Table:
    """Person-like reference rows as a linkage table."""
    rows = session.execute(select(PersonRef).where(PersonRef.kind.in_(kinds))).scalars().all()
    data: dict[str, list[Any]] = {c: [] for c in linkage.LINK_COLUMNS}
    for r in rows:
        data["unique_id"].append(REF_ID_OFFSET + r.id)
        data["first_name"].append(r.first_name_n)
        data["surname"].append(r.surname_n)
        data["dob"].append(r.dob.isoformat() if r.dob else None)
        data["postcode"].append(r.postcode)
        data["district"].append(r.district_n)
        data["address"].append(r.address_n)
        data["email"].append(r.email)
        data["phone"].append(r.phone)
        data["card_token"].append(r.card_token)
    schema = pa.schema(
        [("unique_id", pa.int64())] + [(c, pa.string()) for c in linkage.LINK_COLUMNS[1:]]
    )
    return pa.Table.from_pydict(data, schema=schema)


@dataclass
class EnrichReport:
    """Counts of an enrichment run."""

    refs: int
    links: int
    persons_linked: int
    by_kind: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def enrich_case(
    db: Database,
    case_name: str,
    actor: str,
    *,
    ref_weight: float = DEFAULT_REF_WEIGHT,
    params: LinkParams | None = None,
) -> EnrichReport:
    """Link the persons of ``case_name`` to all person-like reference rows (replacing the
    previous enrichment of this case)."""
    params = params or LinkParams()
    with db.read() as s:
        case = repo.get_case(s, case_name)
        found = latest_model(s, case.id) or latest_model(s)
        if found is None:
            raise NotReady(f"no linkage model yet: run `vigil persons link --case {case_name}`")
        _run, model = found
        records = case_records_table(s, case.id)
        refs = refs_table(s)
        rec_person = dict(
            s.execute(
                select(PersonLink.record_id, PersonLink.person_id)
                .join(Person, Person.id == PersonLink.person_id)
                .where(Person.case_id == case.id)
            ).all()
        )
        ref_kind = dict(s.execute(select(PersonRef.id, PersonRef.kind)).all())
    best: dict[tuple[int, int], tuple[float, int, dict[str, Any]]] = {}
    if refs.num_rows and records.num_rows:
        edges = linkage.predict_between(
            refs,
            records,
            model,
            dataclasses.replace(params, link_weight=ref_weight),
        )
        veto = edges.vetoed(model)
        for i in range(len(edges)):
            if veto[i] or edges.weight[i] < ref_weight:
                continue
            rec = int(edges.left[i])
            ref_id = int(edges.right[i]) - REF_ID_OFFSET
            pid = rec_person.get(rec)
            if pid is None:
                continue
            w = float(edges.weight[i])
            key = (pid, ref_id)
            if key not in best or w > best[key][0]:
                best[key] = (w, rec, edges.explanation(i, model))
    by_kind: dict[str, int] = {}
    with db.write() as s:
        person_ids = select(Person.id).where(Person.case_id == case.id)
        s.execute(delete(PersonRefLink).where(PersonRefLink.person_id.in_(person_ids)))
        rows = []
        for (pid, ref_id), (w, rec, ev) in best.items():
            rows.append(
                {
                    "person_id": pid,
                    "ref_id": ref_id,
                    "record_id": rec,
                    "match_weight": w,
                    "evidence": ev,
                }
            )
            k = ref_kind.get(ref_id, "?")
            by_kind[k] = by_kind.get(k, 0) + 1
        for i in range(0, len(rows), 20_000):
            s.execute(insert(PersonRefLink), rows[i : i + 20_000])
        report = EnrichReport(
            refs=refs.num_rows,
            links=len(rows),
            persons_linked=len({p for p, _ in best}),
            by_kind=by_kind,
        )
        audit.append(
            s,
            actor,
            "persons.enrich",
            case_id=case.id,
            details={**report.as_dict(), "ref_weight": ref_weight},
        )
    return report
