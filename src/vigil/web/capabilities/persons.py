"""Persons: the prioritised queue (banded persons first, by score) with factors and
evidence-quality flags, one person's evidence, outcome updates, and the operation funnel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.errors import NotFound
from vigil.store import web as store
from vigil.web.auth import Ctx, Guard
from vigil.web.screens import Screen
from vigil.web.state import app_state, reading
from vigil.web.templating import render


def _person(session: Session, case_id: int, person_id: int) -> Any:
    from vigil.store.persons import Person

    person = session.get(Person, person_id)
    if person is None or person.case_id != case_id:
        raise NotFound(f"no person {person_id} in this case")
    return person


SORTS = {
    "score": "highest score first (corroborate-only last)",
    "band": "band",
    "records": "most records",
    "stage": "stage",
    "person": "person number",
}
"""Sort keys of the persons queue (``?sort=``) and what they mean."""

PAGE_SIZE = 50


def format_evidence(evidence: Any, limit: int = 400) -> str:
    """A factor's evidence (dict / list / scalar from the policy) as one readable line."""
    if isinstance(evidence, dict):
        text = "; ".join(
            f"{str(k).replace('_', ' ')}: {format_evidence(v, 120)}" for k, v in evidence.items()
        )
    elif isinstance(evidence, (list, tuple)):
        text = ", ".join(format_evidence(v, 80) for v in evidence[:20])
        if len(evidence) > 20:
            text += f" … (+{len(evidence) - 20})"
    else:
        text = str(evidence)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def case_bands(session: Session, case_id: int) -> list[str]:
    """The bands present among the case's active persons (for the band filter's choices)."""
    from vigil.store.persons import Person

    rows = session.execute(
        select(Person.band)
        .where(Person.case_id == case_id, Person.active.is_(True), Person.band.is_not(None))
        .distinct()
    ).scalars()
    return sorted(str(b) for b in rows)


def queue(
    session: Session,
    case_id: int,
    band: str | None,
    limit: int,
    *,
    sort: str = "score",
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """One page of active persons with their current assessment, and how many match in all.

    The default order puts banded persons first by score; ``sort`` picks another column."""
    from vigil.persons.policy import CORROBORATE
    from vigil.store.persons import Person, PersonAssessment

    q = select(Person).where(Person.case_id == case_id, Person.active.is_(True))
    if band == "(none)":
        q = q.where(Person.band.is_(None))
    elif band:
        q = q.where(Person.band == band)
    total = int(session.execute(select(func.count()).select_from(q.subquery())).scalar_one())
    orders: dict[str, list[Any]] = {
        "band": [Person.band.asc().nulls_last(), Person.score.desc().nulls_last()],
        "records": [Person.record_count.desc()],
        "stage": [Person.stage.asc(), Person.score.desc().nulls_last()],
        "person": [],
    }
    order = orders.get(sort, [(Person.band == CORROBORATE).asc(), Person.score.desc().nulls_last()])
    people = list(
        session.execute(q.order_by(*order, Person.id).offset(offset).limit(limit)).scalars()
    )
    ids = [p.id for p in people]
    assessments = (
        {
            a.person_id: a
            for a in session.execute(
                select(PersonAssessment).where(
                    PersonAssessment.person_id.in_(ids), PersonAssessment.current.is_(True)
                )
            ).scalars()
        }
        if ids
        else {}
    )
    rows = []
    for p in people:
        a = assessments.get(p.id)
        factors = [
            {**f, "evidence_text": format_evidence(f.get("evidence"))}
            for f in (a.factors if a else [])
        ]
        flags: dict[str, str] = {}
        for f in a.flags if a else []:
            flags.setdefault(f["code"], str(f.get("text") or f["code"]))
        rows.append(
            {
                "person": p,
                "confidence": a.confidence if a else None,
                "factors": factors,
                "flags": sorted(flags.items()),
            }
        )
    return rows, total


def _svg_funnel(data: dict[str, Any]) -> str:
    """A horizontal bar chart of the funnel as inline SVG (no script, CSP-safe)."""
    from xml.sax.saxutils import escape

    reached: dict[str, int] = data.get("reached", {})
    exits: dict[str, int] = data.get("exits", {})
    bars = [(k, int(v)) for k, v in reached.items()] + [
        (f"exit: {k}", int(v)) for k, v in exits.items()
    ]
    top = max([v for _k, v in bars] + [1])
    width, row = 640, 26
    parts = [
        f'<svg class="chart" role="img" aria-label="operation funnel" width="{width}" '
        f'height="{row * len(bars) + 10}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (label, value) in enumerate(bars):
        y = 5 + i * row
        w = int((width - 260) * value / top)
        colour = "#b2bec3" if label.startswith("exit") else "#0984e3"
        parts.append(
            f'<text x="5" y="{y + 16}" font-size="13">{escape(label)}</text>'
            f'<rect x="170" y="{y}" width="{w}" height="{row - 6}" fill="{colour}"></rect>'
            f'<text x="{175 + w}" y="{y + 16}" font-size="13">{value}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/cases/{case_id}/persons", response_class=HTMLResponse)
    def persons(
        request: Request,
        case_id: int,
        ctx: Annotated[Ctx, Depends(Guard("persons.view"))],
        band: str | None = None,
        sort: str = "score",
        page: int = 1,
    ) -> Response:
        st = app_state(request)
        sort = sort if sort in SORTS else "score"
        page = max(1, min(page, 1_000_000))
        with reading(st.db) as session:
            case = store.get_case_by_id(session, case_id)
            rows, total = queue(
                session,
                case_id,
                band or None,
                PAGE_SIZE,
                sort=sort,
                offset=(page - 1) * PAGE_SIZE,
            )
            bands = case_bands(session, case_id)
        return render(
            request,
            "cap/persons.html",
            ctx.user,
            case_id=case_id,
            case=case,
            rows=rows,
            band=band or "",
            bands=bands,
            sort=sort,
            sorts=SORTS,
            page=page,
            total=total,
            first=(page - 1) * PAGE_SIZE + 1,
            more=total > page * PAGE_SIZE,
        )

    @r.get("/cases/{case_id}/persons/{person_id}", response_class=HTMLResponse)
    def person(
        request: Request,
        case_id: int,
        person_id: int,
        ctx: Annotated[Ctx, Depends(Guard("persons.view"))],
    ) -> Response:
        from vigil.persons.cards import mask_card
        from vigil.persons.resolve import person_records
        from vigil.persons.routing import EXITS, FUNNEL
        from vigil.store.persons import PersonAssessment, PersonLink

        st = app_state(request)
        with reading(st.db) as session:
            case = store.get_case_by_id(session, case_id)
            p = _person(session, case_id, person_id)
            records = person_records(session, person_id)
            links = {
                lk.record_id: lk.evidence
                for lk in session.execute(
                    select(PersonLink).where(PersonLink.person_id == person_id)
                ).scalars()
            }
            a = session.execute(
                select(PersonAssessment)
                .where(PersonAssessment.person_id == person_id, PersonAssessment.current.is_(True))
                .order_by(PersonAssessment.id.desc())
                .limit(1)
            ).scalar_one_or_none()
        cards = {
            rec.id: mask_card(rec.card_last4, ctx.user.role, bin6=rec.card_bin) for rec in records
        }
        return render(
            request,
            "cap/person.html",
            ctx.user,
            case_id=case_id,
            case=case,
            p=p,
            records=records,
            links=links,
            a=a,
            cards=cards,
            stages=FUNNEL[1:] + EXITS,
        )

    @r.post("/cases/{case_id}/persons/{person_id}/outcome")
    def outcome(
        request: Request,
        case_id: int,
        person_id: int,
        ctx: Annotated[Ctx, Depends(Guard("persons.act"))],
        stage: Annotated[str, Form(max_length=40)] = "",
        children: Annotated[int, Form(ge=0, le=10_000)] = 0,
        note: Annotated[str, Form(max_length=5000)] = "",
    ) -> Response:
        from vigil.persons.routing import record_outcome

        st = app_state(request)
        with reading(st.db) as session:
            _person(session, case_id, person_id)
        record_outcome(
            st.db,
            person_id,
            stage.strip(),
            ctx.user.username,
            children=children,
            note=note.strip() or None,
        )
        return RedirectResponse(f"/cases/{case_id}/persons/{person_id}", status_code=303)

    @r.post("/cases/{case_id}/persons/prioritise")
    def prioritise(
        request: Request, case_id: int, ctx: Annotated[Ctx, Depends(Guard("persons.act"))]
    ) -> Response:
        from vigil.persons import flags, policy, routing

        st = app_state(request)
        with reading(st.db) as session:
            case = store.get_case_by_id(session, case_id)
        pol = policy.Policy.load(None)
        flags.compute_flags(st.db, case.name, ctx.user.username, pol.flag_params)
        policy.prioritise_case(st.db, case.name, ctx.user.username, policy=pol)
        routing.route_case(
            st.db, case.name, ctx.user.username, routing.Jurisdictions.load(st.settings.data_dir)
        )
        return RedirectResponse(f"/cases/{case_id}/persons", status_code=303)

    @r.get("/cases/{case_id}/funnel", response_class=HTMLResponse)
    def funnel(
        request: Request, case_id: int, ctx: Annotated[Ctx, Depends(Guard("case.view"))]
    ) -> Response:
        from vigil.persons.routing import funnel_for
        from vigil.store.persons import PersonRecord

        st = app_state(request)
        with reading(st.db) as session:
            case = store.get_case_by_id(session, case_id)
            data = funnel_for(session, case_id, case.name)
            records = session.execute(
                select(func.count())
                .select_from(PersonRecord)
                .where(PersonRecord.case_id == case_id)
            ).scalar_one()
        return render(
            request,
            "cap/funnel.html",
            ctx.user,
            case_id=case_id,
            case=case,
            data=data,
            chart=_svg_funnel(data),
            records=records,
        )

    return r


def screen() -> Screen:
    return Screen(
        name="persons",
        title="Persons",
        router=router,
        case_path="persons",
        permission="persons.view",
    )
