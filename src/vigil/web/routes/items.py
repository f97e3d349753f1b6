"""Item list and item detail, blurred thumbnails and the deliberate reveal."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from vigil.errors import PermissionDenied, VigilError
from vigil.store import audit
from vigil.store import web as store
from vigil.web import media
from vigil.web.auth import Ctx, Guard
from vigil.web.screens import SCREENS, TRIAGE
from vigil.web.state import AppState, app_state, reading
from vigil.web.templating import exposure, render

router = APIRouter()

NO_STORE = {"Cache-Control": "no-store"}


def _triage() -> Any:
    return next(iter(TRIAGE), None)


def item_hub(
    session: Any, ctx: Ctx, case_id: int, item_id: int, item_count: int | None = None
) -> dict[str, Any]:
    """What the case knows about one item, from every capability that is installed: triage
    status and visual duplicates, faces with clusters and candidate links, place links and the
    item's chain of custody (for roles that may read it). ``item_count``: the case's items as
    the case view counts them, for the triage notice (None: counted here)."""
    screens = SCREENS.names()
    triage = store.item_triage(session, case_id, item_id) if "triage" in screens else None
    freshness = None
    if triage is not None:
        from vigil.web.routes.review import triage_freshness

        case = store.get_case_by_id(session, case_id)
        freshness = triage_freshness(session, case, item_count)
    if triage and triage["category"] and triage["scheme"]:
        from vigil.hashsets.categories import label

        triage["category_label"] = label(triage["scheme"], triage["category"])
    known_ok = ctx.user.can("media.known")
    duplicates = [
        d
        for d in store.item_duplicates(
            session, case_id, triage["group_id"] if triage else None, item_id
        )
        if known_ok or d[2] != "known"
    ]
    return {
        "triage": triage,
        "freshness": freshness,
        "duplicates": duplicates,
        "faces": store.item_faces(session, case_id, item_id) if "faces" in screens else [],
        "place_links": store.item_place_links(session, item_id) if "places" in screens else [],
        "custody": (
            store.item_custody(session, case_id, item_id) if ctx.user.can("custody.view") else []
        ),
    }


@router.get("/cases/{case_id}/items", response_class=HTMLResponse)
def items(
    request: Request,
    case_id: int,
    ctx: Annotated[Ctx, Depends(Guard("item.view"))],
    page: int = 1,
    kind: str | None = None,
    show_known: bool = False,
) -> Response:
    st = app_state(request)
    if show_known and not ctx.user.can("media.known"):
        raise PermissionDenied("your role may not show known material")
    size = st.config.page_size
    page = max(1, min(page, 1_000_000))
    triage = _triage()
    with reading(st.db) as session:
        view = st.case_index.view(st.db, case_id, triage, session)
        ids = view.ids(kind or None, show_known)
        page_ids = ids[(page - 1) * size : page * size]
        more = len(ids) > page * size
        case = store.get_case_by_id(session, case_id)
        rows = store.items_by_ids(session, page_ids)
        paths = store.first_paths(session, case_id, page_ids)
        labels = triage.labels(session, case_id, page_ids) if triage is not None else {}
        unavailable = st.unavailable(case_id, page_ids, session)
    return render(
        request,
        "items.html",
        ctx.user,
        case_id=case_id,
        case=case,
        items=rows,
        unavailable=unavailable,
        paths=paths,
        labels=labels,
        page=page,
        more=more,
        kind=kind or "",
        show_known=show_known,
        triage=triage is not None,
        total=len(ids),
        hidden=0 if show_known else len(view.known),
    )


@router.get("/cases/{case_id}/items/{item_id}", response_class=HTMLResponse)
def item_detail(
    request: Request,
    case_id: int,
    item_id: int,
    ctx: Annotated[Ctx, Depends(Guard("item.view"))],
) -> Response:
    st = app_state(request)
    triage = _triage()
    grading = None
    with reading(st.db) as session:
        # the case view is cached per process (and shared through the store): its item count
        # saves the triage notice counting every occurrence of the case on each item page
        item_count = st.case_index.view(st.db, case_id, triage, session).items if triage else None
        case = store.get_case_by_id(session, case_id)
        item = store.item_in_case(session, case_id, item_id)
        occurrences = store.item_occurrences(session, case_id, item_id)
        warnings = store.item_warnings(session, case_id, item_id)
        notes = store.list_notes(session, case_id, item_id) if ctx.user.can("notes.view") else []
        hub = item_hub(session, ctx, case_id, item_id, item_count)
        if "triage" in SCREENS:
            from vigil.web.capabilities.triage import grade_status

            grading = {"status": grade_status(st.db, case.name, item_id, session)}
        unavailable = st.unavailable(case_id, [item_id], session)
    return render(
        request,
        "item.html",
        ctx.user,
        grading=grading,
        case_id=case_id,
        case=case,
        item=item,
        unavailable=unavailable,
        occurrences=occurrences,
        warnings=warnings,
        notes=notes,
        **hub,
    )


@router.get("/cases/{case_id}/items/{item_id}/thumb")
def thumbnail(
    request: Request,
    case_id: int,
    item_id: int,
    ctx: Annotated[Ctx, Depends(Guard("media.thumb"))],
) -> Response:
    st = app_state(request)
    with reading(st.db) as session:
        item = store.item_in_case(session, case_id, item_id)
        kind = item.kind
    cached = st.thumb_cache.get(item_id)
    if cached is not None:
        data, media_type = cached, "image/jpeg" if cached[:2] == b"\xff\xd8" else "image/png"
    else:
        data, media_type = media.thumbnail_for(
            st.db,
            st.load_media,
            item_id,
            kind,
            size=st.config.thumb_size,
            radius=st.config.blur_radius,
        )
        if len(st.thumb_cache) > 20_000:
            st.thumb_cache.clear()
        st.thumb_cache[item_id] = data
    return Response(data, media_type=media_type, headers=NO_STORE)


@router.get("/cases/{case_id}/items/{item_id}/tile", response_class=HTMLResponse)
def tile(
    request: Request,
    case_id: int,
    item_id: int,
    ctx: Annotated[Ctx, Depends(Guard("media.thumb"))],
) -> Response:
    st = app_state(request)
    with reading(st.db) as session:
        item = store.item_in_case(session, case_id, item_id)
    return render(
        request,
        "fragments/tile.html",
        ctx.user,
        case_id=case_id,
        item=item,
        unavailable=st.unavailable(case_id, [item_id]),
    )


@router.post("/cases/{case_id}/items/{item_id}/reveal", response_class=HTMLResponse)
def reveal(
    request: Request,
    case_id: int,
    item_id: int,
    ctx: Annotated[Ctx, Depends(Guard("media.reveal"))],
) -> Response:
    st = app_state(request)
    with reading(st.db) as session:
        item = store.item_in_case(session, case_id, item_id)
    missing = st.unavailable(case_id, [item_id]).get(item_id)
    if missing:
        return _refuse_unavailable(request, ctx, st, case_id, item, missing)
    error = ""
    uri = ""
    if item.kind != "photo":
        error = f"no image preview for a {item.kind} item"
    else:
        try:
            uri = media.data_uri(media.clear_image(st.load_media(st.db, item_id)))
        except (VigilError, OSError, ValueError) as exc:
            error = f"the image could not be read from the evidence: {exc}"
    with st.writing() as session:
        if not error:
            store.record_reveal(session, ctx.user.user_id, case_id, item_id)
        audit.append(
            session,
            ctx.user.username,
            "media.reveal" if not error else "media.reveal_failed",
            case_id=case_id,
            item_id=item_id,
            details={"sha256": item.sha256, "session": ctx.user.session_id, "error": error},
        )
    return render(
        request,
        "fragments/revealed.html",
        ctx.user,
        case_id=case_id,
        item=item,
        uri=uri,
        error=error,
        **exposure(request, ctx.user),
    )


def _refuse_unavailable(
    request: Request, ctx: Ctx, st: AppState, case_id: int, item: Any, missing: str
) -> Response:
    """Refuse a reveal of an item whose evidence cannot be opened (409, audited): the tile comes
    back in its "evidence unavailable" state with the reason, and no reveal button."""
    message = f"cannot reveal item #{item.id}: its evidence is unavailable"
    with st.writing() as session:
        audit.append(
            session,
            ctx.user.username,
            "media.reveal_failed",
            case_id=case_id,
            item_id=item.id,
            details={
                "sha256": item.sha256,
                "session": ctx.user.session_id,
                "error": f"{message}: {missing}",
            },
        )
    response = render(
        request,
        "fragments/tile.html",
        ctx.user,
        status_code=409,
        case_id=case_id,
        item=item,
        unavailable={item.id: missing},
        refused=message,
    )
    response.headers["X-Vigil-Fragment"] = "tile"  # vigil.js swaps it in despite the 409
    return response
