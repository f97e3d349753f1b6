"""Grid review at speed: a dense grid of blurred tiles, filtered by triage status or grading
state and sorted by time, series, visual cluster or place; graded one at a time from the keyboard
(a key per grade of the unit's grading system, labels on screen) or in bulk after a multi-select;
tagged in bulk (a tag is an examiner note on each item). ``static/vigil-grid.js`` adds the
keyboard; without scripts the page is a plain form that does the same."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from vigil.errors import InvalidInput, PermissionDenied
from vigil.store import audit
from vigil.store import web as store
from vigil.web.auth import Ctx, Guard
from vigil.web.grading import unit_grading
from vigil.web.state import AppState, app_state, reading
from vigil.web.templating import render

router = APIRouter()

PAGE_SIZES = (60, 120, 240)
MAX_BULK = 500
"""Items one bulk request may grade or tag (a page holds at most 240)."""

STATUS_TEXT = {
    "all": "all (known hidden unless shown)",
    "fresh": "fresh",
    "near_known": "near-known",
    "known": "known",
    "ungraded": "ungraded",
    "conflict": "conflicting grades",
}
SORT_TEXT = {
    "triage": "fresh first",
    "time": "capture time",
    "series": "series",
    "cluster": "visual cluster",
    "place": "place (GPS)",
    "id": "item number",
}


def grading_keys(st: AppState) -> tuple[str, list[tuple[str, str, str]]]:
    """The unit's grading system and, per grade: (key, grade, label)."""
    grading = unit_grading(st.settings.data_dir)
    return grading.system, list(grading.keys)


def triage_freshness(session: Any, case: Any, item_count: int | None = None) -> Any:
    """The case's triage "as of" status for the notice (None when triage is not installed).

    ``item_count``: the case's items as the case view counted them (saves a count per page).
    """
    try:
        from vigil.triage.freshness import case_triage_status
    except ImportError:
        return None
    return case_triage_status(session, case, item_count=item_count)


def _status_line(votes: dict[str, str], me: str) -> dict[str, Any]:
    from vigil.triage.grades import status_of

    st = status_of(votes, 0)
    if st.trusted:
        text = f"trusted {st.leading}"
    elif st.conflict:
        text = "conflict: " + " / ".join(sorted(set(votes.values())))
    elif votes and votes.get(me) and len(votes) == 1:
        text = f"graded {st.leading} by you"
    elif votes:
        text = f"{st.leading} ({st.agreeing} vote{'s' if st.agreeing != 1 else ''})"
    else:
        text = "ungraded"
    return {
        "mine": votes.get(me),
        "text": text,
        "trusted": st.trusted,
        "conflict": st.conflict,
        "votes": len(votes),
    }


@router.get("/cases/{case_id}/review", response_class=HTMLResponse)
def review(
    request: Request,
    case_id: int,
    ctx: Annotated[Ctx, Depends(Guard("item.view"))],
    status: str = "all",
    sort: str = "triage",
    page: int = 1,
    size: int = 120,
    show_known: bool = False,
) -> Response:
    st = app_state(request)
    if (show_known or status == "known") and not ctx.user.can("media.known"):
        raise PermissionDenied("your role may not show known material")
    size = size if size in PAGE_SIZES else 120
    page = max(1, min(page, 1_000_000))
    with reading(st.db) as session:
        case = store.get_case_by_id(session, case_id)
        rows, total = store.review_page(
            session,
            case_id,
            status=status,
            sort=sort,
            include_known=show_known or status == "known",
            offset=(page - 1) * size,
            limit=size,
        )
        votes = store.item_votes(session, case_id, [r.item_id for r in rows])
        freshness = triage_freshness(session, case)
    system, keys = grading_keys(st)
    query = {"status": status, "sort": sort, "size": size}
    if show_known:
        query["show_known"] = "true"
    return render(
        request,
        "review.html",
        ctx.user,
        case_id=case_id,
        case=case,
        rows=rows,
        unavailable=st.unavailable(case_id, [r.item_id for r in rows]),
        freshness=freshness,
        statuses={r.item_id: _status_line(votes[r.item_id], ctx.user.username) for r in rows},
        total=total,
        page=page,
        size=size,
        sizes=PAGE_SIZES,
        first=(page - 1) * size + 1,
        more=total > page * size,
        status=status,
        sort=sort,
        show_known=show_known,
        status_text={
            k: v for k, v in STATUS_TEXT.items() if k != "known" or ctx.user.can("media.known")
        },
        sort_text=SORT_TEXT,
        system=system,
        keys=keys,
        query=urlencode(query),
        here=f"/cases/{case_id}/review?{urlencode({**query, 'page': page})}",
    )


def _back(case_id: int, target: str) -> str:
    """Where a form posted without scripts returns to: the review page it came from."""
    prefix = f"/cases/{case_id}/review"
    return target if target.startswith(prefix) and "\n" not in target else prefix


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _checked(item_ids: list[int]) -> list[int]:
    ids = list(dict.fromkeys(item_ids))
    if not ids:
        raise InvalidInput("choose at least one item")
    if len(ids) > MAX_BULK:
        raise InvalidInput(f"at most {MAX_BULK} items at once")
    return ids


@router.post("/cases/{case_id}/review/grade")
def grade_items(
    request: Request,
    case_id: int,
    ctx: Annotated[Ctx, Depends(Guard("review.write"))],
    item_id: Annotated[list[int] | None, Form()] = None,
    grade: Annotated[str, Form(max_length=20)] = "",
    system: Annotated[str, Form(max_length=10)] = "",
    back: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Grade one item (keyboard) or many (multi-select): one vote each, each audited."""
    from vigil.triage.grades import record_grade

    st = app_state(request)
    ids = _checked(item_id or [])
    system = system or grading_keys(st)[0]
    with reading(st.db) as session:
        case = store.get_case_by_id(session, case_id)
        for i in ids:
            store.item_in_case(session, case_id, i)
    out: dict[str, Any] = {}
    for i in ids:
        status = record_grade(st.db, case.name, i, ctx.user.username, grade, system=system)
        out[str(i)] = _status_line(status.votes, ctx.user.username)
    if _wants_json(request):
        return JSONResponse({"items": out})
    return RedirectResponse(_back(case_id, back), status_code=303)


@router.post("/cases/{case_id}/review/tag")
def tag_items(
    request: Request,
    case_id: int,
    ctx: Annotated[Ctx, Depends(Guard("notes.write"))],
    item_id: Annotated[list[int] | None, Form()] = None,
    tag: Annotated[str, Form(max_length=100)] = "",
    back: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Tag the selected items: an examiner note ``tag: …`` on each, audited like any note."""
    st = app_state(request)
    ids = _checked(item_id or [])
    text = " ".join(tag.split())
    if not text:
        raise InvalidInput("a tag needs some text")
    with st.writing() as session:
        for i in ids:
            store.item_in_case(session, case_id, i)
            note = store.add_note(session, case_id, ctx.user.user_id, f"tag: {text}", item_id=i)
            audit.append(
                session,
                ctx.user.username,
                "note.add",
                case_id=case_id,
                item_id=i,
                details={"note": note.id, "tag": text},
            )
    if _wants_json(request):
        return JSONResponse({"tagged": len(ids)})
    return RedirectResponse(_back(case_id, back), status_code=303)
