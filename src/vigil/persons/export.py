"""Export of an operation's linkage: record_ref → person, with the person's band, the flags
and the link evidence, as CSV or JSON, so that users and their own tools can read the results
(issue 15).

One row per record of the operation, in record order. No card number, token or ciphertext is
ever written; the evidence is the per-comparison levels and match weights already shown by
``vigil persons show``. CSV cells that a spreadsheet would run as a formula are prefixed with
an apostrophe.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any, TextIO

from sqlalchemy import select

from vigil.errors import InvalidInput
from vigil.store import audit, repo
from vigil.store.db import Database
from vigil.store.persons import (
    Person,
    PersonAssessment,
    PersonLink,
    PersonLinkFlag,
    PersonRecord,
    PersonRecordFlag,
)

FORMATS = ("csv", "json")
COLUMNS = (
    "record_id",
    "record_ref",
    "batch_id",
    "line",
    "person_id",
    "person_label",
    "person_records",
    "band",
    "score",
    "confidence",
    "record_flags",
    "review_flags",
    "match_weight",
    "linked_via_record",
    "evidence",
)
"""Columns of the export (CSV header, JSON keys). ``record_flags``: evidence-quality codes of the
record; ``review_flags``: open linkage flags touching it (``weak_link``, ``conflict``,
``ambiguous``, ``decision_blocked``); ``evidence``: the comparisons of the strongest link that
tied the record to its person."""


def rows(db: Database, case_name: str) -> Iterator[dict[str, Any]]:
    """The export rows of the operation ``case_name`` (one per record)."""
    with db.read() as s:
        case = repo.get_case(s, case_name)
        recs = s.execute(
            select(
                PersonRecord.id, PersonRecord.record_ref, PersonRecord.batch_id, PersonRecord.line
            )
            .where(PersonRecord.case_id == case.id)
            .order_by(PersonRecord.id)
        ).all()
        links = {
            int(r): (int(p), w, ev)
            for r, p, w, ev in s.execute(
                select(
                    PersonLink.record_id,
                    PersonLink.person_id,
                    PersonLink.match_weight,
                    PersonLink.evidence,
                )
                .join(Person, Person.id == PersonLink.person_id)
                .where(Person.case_id == case.id)
            ).all()
        }
        persons = {
            int(p.id): p
            for p in s.execute(select(Person).where(Person.case_id == case.id)).scalars()
        }
        assessed = {
            int(a.person_id): a
            for a in s.execute(
                select(PersonAssessment).where(
                    PersonAssessment.case_id == case.id, PersonAssessment.current.is_(True)
                )
            ).scalars()
        }
        rflags: dict[int, set[str]] = defaultdict(set)
        for rid, code in s.execute(
            select(PersonRecordFlag.record_id, PersonRecordFlag.code).where(
                PersonRecordFlag.case_id == case.id
            )
        ).all():
            rflags[int(rid)].add(str(code))
        lflags: dict[int, set[str]] = defaultdict(set)
        for ra, rb, kind in s.execute(
            select(PersonLinkFlag.record_a, PersonLinkFlag.record_b, PersonLinkFlag.kind).where(
                PersonLinkFlag.case_id == case.id, PersonLinkFlag.resolved.is_(False)
            )
        ).all():
            lflags[int(ra)].add(str(kind))
            lflags[int(rb)].add(str(kind))
    for rid, ref, batch, line in recs:
        link = links.get(int(rid))
        person = persons.get(link[0]) if link else None
        a = assessed.get(link[0]) if link else None
        evidence = link[2] if link else None
        yield {
            "record_id": int(rid),
            "record_ref": ref,
            "batch_id": int(batch),
            "line": int(line),
            "person_id": person.id if person else None,
            "person_label": person.label if person else None,
            "person_records": person.record_count if person else None,
            "band": (a.band if a else person.band) if person else None,
            "score": (a.score if a else person.score) if person else None,
            "confidence": a.confidence if a else None,
            "record_flags": sorted(rflags.get(int(rid), ())),
            "review_flags": sorted(lflags.get(int(rid), ())),
            "match_weight": link[1] if link else None,
            "linked_via_record": (evidence or {}).get("other_record"),
            "evidence": (evidence or {}).get("comparisons"),
        }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = ";".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = json.dumps(value, sort_keys=True)
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def write(db: Database, case_name: str, out: TextIO, fmt: str, actor: str) -> int:
    """Write the export of ``case_name`` to ``out`` as ``fmt`` (csv or json); audited.
    Returns the number of records written."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r} ({', '.join(FORMATS)})")
    n = 0
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for row in rows(db, case_name):
            writer.writerow([_cell(row[c]) for c in COLUMNS])
            n += 1
    else:
        out.write("[")
        for row in rows(db, case_name):
            out.write(("," if n else "") + "\n" + json.dumps(row, sort_keys=False))
            n += 1
        out.write("\n]\n")
    with db.write() as s:
        case = repo.get_case(s, case_name)
        audit.append(
            s, actor, "persons.export", case_id=case.id, details={"format": fmt, "records": n}
        )
    return n
