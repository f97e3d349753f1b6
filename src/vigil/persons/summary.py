"""The ``persons`` section of ``vigil case summary``: records, persons, bands, funnel, alerts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.persons.routing import funnel_for
from vigil.reports.summary import SummarySection
from vigil.store.models import Case
from vigil.store.persons import PersonAlert, PersonRecord


def build(session: Session, case_id: int) -> dict[str, Any]:
    """Funnel figures of the case's persons (empty when the case has no payment records)."""
    case = session.get(Case, case_id)
    data = funnel_for(session, case_id, case.name if case else str(case_id))
    if not data["records"]:
        return {}
    data["alerts"] = session.execute(
        select(func.count())
        .select_from(PersonAlert)
        .join(PersonRecord, PersonRecord.id == PersonAlert.record_id)
        .where(PersonRecord.case_id == case_id)
    ).scalar_one()
    return data


def render(data: dict[str, Any]) -> list[str]:
    """Text lines for the terminal."""
    if not data:
        return ["no payment records (vigil persons import)"]
    reached = " -> ".join(f"{k} {v}" for k, v in data["reached"].items())
    return [
        f"{data['records']} payment records -> {data['persons']} persons",
        f"bands: {data['bands'] or 'not prioritised yet'}",
        f"funnel: {reached}; children safeguarded {data['children_safeguarded']}",
        f"re-offending alerts on this case's records: {data['alerts']}",
    ]


SECTION = SummarySection(name="persons", title="Persons", build=build, render=render, order=60)
