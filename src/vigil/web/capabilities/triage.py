"""Known vs fresh: groups (fresh first), grading votes with trusted grades and conflicts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from vigil.errors import NotReady, PermissionDenied
from vigil.store import web as store
from vigil.web.auth import Ctx, Guard
from vigil.web.screens import Screen
from vigil.web.state import app_state, reading
from vigil.web.templating import render

GROUPS_PER_PAGE = 100


class HashsetTriage:
    """The item list's known/fresh provider, backed by the triage outcomes."""

    name = "hashsets"

    def known_ids(self, case_id: int) -> Select[Any]:
        from vigil.store.hashsets import TriageOutcome

        return select(TriageOutcome.item_id).where(
            TriageOutcome.case_id == case_id, TriageOutcome.outcome == "known"
        )

    def fresh_ids(self, case_id: int) -> Select[Any]:
        from vigil.store.hashsets import TriageOutcome

        return select(TriageOutcome.item_id).where(
            TriageOutcome.case_id == case_id, TriageOutcome.outcome == "fresh"
        )

    def version(self, session: Session, case_id: int) -> int:
        """Changes whenever matching re-ran for the case (its audit entry's sequence number)."""
        seq = session.execute(self.version_query(case_id)).scalar_one_or_none()
        return int(seq or 0)

    def version_query(self, case_id: int) -> Select[Any]:
        """:meth:`version` as a one-value SELECT (the case cache sends it with its other
        fingerprint look-ups in one statement)."""
        from vigil.store.models import AuditEntry

        return select(func.max(AuditEntry.seq)).where(
            AuditEntry.action == "triage.match", AuditEntry.case_id == case_id
        )

    def labels(self, session: Session, case_id: int, item_ids: list[int]) -> dict[int, str]:
        from vigil.store.hashsets import TriageOutcome

        if not item_ids:
            return {}
        rows = session.execute(
            select(TriageOutcome.item_id, TriageOutcome.outcome, TriageOutcome.category).where(
                TriageOutcome.case_id == case_id, TriageOutcome.item_id.in_(item_ids)
            )
        )
        out: dict[int, str] = {}
        for item_id, outcome, category in rows:
            text = outcome.replace("_", "-")
            out[int(item_id)] = f"{text} {category}" if category else text
        return out


def grade_status(
    db: Any, case_name: str, item_id: int, session: Session | None = None
) -> Any | None:
    """The grade status of one item (None when nobody graded it): the item's own votes (one
    indexed look-up), not every grade of the case. ``session``: the request's read session
    (else one of its own)."""
    from vigil.store.hashsets import Grade
    from vigil.store.models import Case
    from vigil.triage.grades import status_of

    stmt = (
        select(Grade.reviewer, Grade.grade)
        .join(Case, Case.id == Grade.case_id)
        .where(Case.name == case_name, Grade.item_id == item_id)
    )
    if session is None:
        with db.read() as own:
            rows = list(own.execute(stmt))
    else:
        rows = list(session.execute(stmt))
    votes = {str(reviewer): str(grade) for reviewer, grade in rows}
    return status_of(votes, item_id) if votes else None


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/cases/{case_id}/triage", response_class=HTMLResponse)
    def triage(
        request: Request,
        case_id: int,
        ctx: Annotated[Ctx, Depends(Guard("item.view"))],
        show_known: bool = False,
        page: int = 1,
        group: int | None = None,
    ) -> Response:
        from vigil.triage.freshness import case_triage_status
        from vigil.triage.report import group_page, group_rank

        st = app_state(request)
        if show_known and not ctx.user.can("media.known"):
            raise PermissionDenied("your role may not show known material")
        page = max(1, min(page, 1_000_000))
        message = ""
        with reading(st.db) as session:
            case = store.get_case_by_id(session, case_id)
            freshness = case_triage_status(session, case)
            if group is not None:  # the page holding that group (links from the item page)
                rank = group_rank(session, case_id, group, include_known=show_known)
                page = 1 + (rank or 0) // GROUPS_PER_PAGE
            try:
                result = group_page(
                    session,
                    case_id,
                    include_known=show_known,
                    offset=(page - 1) * GROUPS_PER_PAGE,
                    limit=GROUPS_PER_PAGE,
                )
                groups, total, by_outcome, ready = (
                    result.groups,
                    result.total,
                    result.by_outcome,
                    True,
                )
            except NotReady as exc:
                groups, total, by_outcome, ready, message = [], 0, {}, False, str(exc)
        reps = [g["representative"]["item_id"] for g in groups if g["representative"]]
        return render(
            request,
            "cap/triage.html",
            ctx.user,
            case_id=case_id,
            case=case,
            groups=groups,
            unavailable=st.unavailable(case_id, reps),
            total_groups=total,
            page=page,
            first=(page - 1) * GROUPS_PER_PAGE + 1,
            more=total > page * GROUPS_PER_PAGE,
            ready=ready,
            message=message,
            known_hidden=0 if show_known else by_outcome.get("known", 0),
            show_known=show_known,
            freshness=freshness,
        )

    @r.get("/cases/{case_id}/grades", response_class=HTMLResponse)
    def grades(
        request: Request, case_id: int, ctx: Annotated[Ctx, Depends(Guard("item.view"))]
    ) -> Response:
        from vigil.triage.grades import TRUSTED_VOTES, case_grades

        st = app_state(request)
        with reading(st.db) as session:
            case = store.get_case_by_id(session, case_id)
        rows = case_grades(st.db, case.name)
        return render(
            request,
            "cap/grades.html",
            ctx.user,
            case_id=case_id,
            case=case,
            rows=rows,
            required=TRUSTED_VOTES,
        )

    @r.post("/cases/{case_id}/items/{item_id}/grade", response_class=HTMLResponse)
    def grade(
        request: Request,
        case_id: int,
        item_id: int,
        ctx: Annotated[Ctx, Depends(Guard("review.write"))],
        grade: Annotated[str, Form(max_length=20)] = "",
        system: Annotated[str, Form(max_length=10)] = "uk",
    ) -> Response:
        from vigil.triage.grades import record_grade

        st = app_state(request)
        with reading(st.db) as session:
            case = store.get_case_by_id(session, case_id)
            store.item_in_case(session, case_id, item_id)
        status = record_grade(st.db, case.name, item_id, ctx.user.username, grade, system=system)
        return render(
            request,
            "fragments/grade.html",
            ctx.user,
            case_id=case_id,
            item_id=item_id,
            status=status,
            system=system,
        )

    return r


def triage_provider() -> HashsetTriage:
    return HashsetTriage()


def screen() -> Screen:
    return Screen(
        name="triage",
        title="Known / fresh",
        router=router,
        case_path="triage",
        permission="item.view",
    )
