"""Case list, case overview, examiner notes and chain of custody."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vigil.errors import Conflict, InvalidInput
from vigil.store import audit
from vigil.store import web as store
from vigil.store.models import Case
from vigil.web.auth import Ctx, Guard
from vigil.web.overview import CARDS_CODEC, case_section_cards
from vigil.web.routes.ingest import evidence_choices, ingest_running
from vigil.web.routes.scans import scan_states
from vigil.web.screens import TRIAGE
from vigil.web.state import app_state, reading
from vigil.web.templating import render

router = APIRouter()


def _case_id(ctx: Ctx) -> int:
    assert ctx.case_id is not None  # noqa: S101 - guaranteed by Guard on /cases/{case_id}
    return ctx.case_id


def summary_sections(session: Any, case_id: int) -> list[tuple[str, list[str]]]:
    """Capability summary sections (``vigil.reports.summary.SECTIONS``) as text lines."""
    try:
        from vigil.reports.summary import SECTIONS  # the lead's section registry
    except ImportError:
        return []
    out: list[tuple[str, list[str]]] = []
    for section in SECTIONS:
        try:
            lines = list(section.render(section.build(session, case_id)))
        except Exception as exc:  # noqa: BLE001 - one failing section must not hide the case
            lines = [f"(section unavailable: {type(exc).__name__}: {exc})"]
        out.append((str(getattr(section, "title", "") or section.name), lines))
    return out


@router.get("/", response_class=HTMLResponse)
def home(request: Request, ctx: Annotated[Ctx, Depends(Guard("case.list"))]) -> Response:
    st = app_state(request)
    with reading(st.db) as session:
        cases = store.member_cases(session, ctx.user.user_id)
    return render(request, "home.html", ctx.user, cases=cases)


@router.post("/cases")
def create_case(
    request: Request,
    ctx: Annotated[Ctx, Depends(Guard("case.create"))],
    name: Annotated[str, Form(max_length=200)] = "",
    description: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    st = app_state(request)
    name = name.strip()
    if not name:
        raise InvalidInput("a case needs a name")
    with st.writing() as session:
        if any(c.name == name for c in store.list_cases(session)):
            raise Conflict(f"case {name!r} already exists")
        case = Case(name=name, description=description.strip() or None)
        case.created_by_id = ctx.user.user_id
        session.add(case)
        session.flush()
        store.add_member(session, case.id, ctx.user.user_id)
        audit.append(
            session, ctx.user.username, "case.create", case_id=case.id, details={"name": name}
        )
        case_id = case.id
    if not ctx.user.can("case.view"):  # an administrator opens cases for others
        return RedirectResponse(f"/admin/members#case-{case_id}", status_code=303)
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def overview(
    request: Request, case_id: int, ctx: Annotated[Ctx, Depends(Guard("case.view"))]
) -> Response:
    st = app_state(request)
    with reading(st.db) as session:
        case = store.get_case_by_id(session, case_id)
        sources = store.case_sources(session, case_id)
        members = store.case_members(session, case_id)
        counts = st.case_index.view(st.db, case_id, next(iter(TRIAGE), None), session)
    return render(
        request,
        "case.html",
        ctx.user,
        case_id=case_id,
        case=case,
        counts=counts,
        sources=sources,
        members=members,
        ingest_running=ingest_running(st, case_id),
        choices=evidence_choices(st.config.evidence_roots) if ctx.user.can("ingest.run") else [],
    )


@router.get("/cases/{case_id}/sections", response_class=HTMLResponse)
def sections(
    request: Request, case_id: int, ctx: Annotated[Ctx, Depends(Guard("case.view"))]
) -> Response:
    """The capability summary sections, loaded after the overview (some are slow to build)."""
    st = app_state(request)
    with reading(st.db) as session:
        view = st.case_index.view(st.db, case_id, next(iter(TRIAGE), None), session)
        scans = scan_states(st, case_id, session)
    built, rows = st.case_index.sections(st.db, case_id, view, case_section_cards, CARDS_CODEC)
    return render(
        request,
        "fragments/sections.html",
        ctx.user,
        case_id=case_id,
        sections=rows,
        built=built,
        scans=scans,
    )


@router.get("/cases/{case_id}/notes", response_class=HTMLResponse)
def notes(
    request: Request, case_id: int, ctx: Annotated[Ctx, Depends(Guard("notes.view"))]
) -> Response:
    st = app_state(request)
    with reading(st.db) as session:
        case = store.get_case_by_id(session, case_id)
        rows = store.list_notes(session, case_id)
    return render(request, "notes.html", ctx.user, case_id=case_id, case=case, notes=rows)


@router.post("/cases/{case_id}/notes")
def add_note(
    request: Request,
    case_id: int,
    ctx: Annotated[Ctx, Depends(Guard("notes.write"))],
    text: Annotated[str, Form(max_length=20_000)] = "",
    item_id: Annotated[int | None, Form()] = None,
) -> Response:
    st = app_state(request)
    with st.writing() as session:
        if item_id is not None:
            store.item_in_case(session, case_id, item_id)
        note = store.add_note(session, case_id, ctx.user.user_id, text, item_id=item_id)
        audit.append(
            session,
            ctx.user.username,
            "note.add",
            case_id=case_id,
            item_id=item_id,
            details={"note": note.id, "chars": len(note.text)},
        )
    target = f"/cases/{case_id}/items/{item_id}" if item_id else f"/cases/{case_id}/notes"
    return RedirectResponse(target, status_code=303)


@router.get("/cases/{case_id}/custody", response_class=HTMLResponse)
def custody(
    request: Request,
    case_id: int,
    ctx: Annotated[Ctx, Depends(Guard("custody.view"))],
    before: int | None = None,
) -> Response:
    st = app_state(request)
    with reading(st.db) as session:
        case = store.get_case_by_id(session, case_id)
        entries, next_before = store.audit_page(
            session, case_id=case_id, before=before, limit=100, skip_views=True
        )
        views = store.count_views(session, case_id)
    return render(
        request,
        "custody.html",
        ctx.user,
        case_id=case_id,
        case=case,
        entries=entries,
        views=views,
        before=before,
        next_before=next_before,
    )
