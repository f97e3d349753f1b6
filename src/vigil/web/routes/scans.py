"""Start a face or place scan of a case from the browser and follow it: a button (POST) and a
status line that polls itself while the scan runs (``vigil.web.scans`` keeps the job in the
store, so any worker answers the same)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from vigil.errors import Conflict
from vigil.web import scans
from vigil.web.auth import Ctx, Guard
from vigil.web.screens import SCREENS
from vigil.web.state import AppState, app_state, reading
from vigil.web.templating import render

POLL_SECONDS = 2


def scan_states(
    st: AppState, case_id: int, session: Session | None = None
) -> dict[str, scans.ScanState]:
    """The latest scan of each installed kind for the case (for pages that show the line), in
    one statement; ``session``: the request's read session (else one of its own)."""
    kinds = [k for k in scans.KINDS.values() if k.screen in SCREENS.names()]
    if session is None:
        with reading(st.db) as own:
            return scans.latest_of(own, case_id, kinds)
    return scans.latest_of(session, case_id, kinds)


def _back(case_id: int, target: str, kind: scans.ScanKind) -> str:
    prefix = f"/cases/{case_id}"
    ok = (target == prefix or target.startswith(prefix + "/")) and "\n" not in target
    return target if ok else f"{prefix}/{kind.screen}"


def _fragment(
    request: Request, ctx: Ctx, case_id: int, state: scans.ScanState, back: str, **extra: Any
) -> HTMLResponse:
    return render(
        request,
        "fragments/scan.html",
        ctx.user,
        case_id=case_id,
        scan=state,
        back=back,
        poll=POLL_SECONDS,
        **extra,
    )


def _routes(r: APIRouter, kind: scans.ScanKind) -> None:
    path = f"/cases/{{case_id}}/scans/{kind.name}"

    @r.get(path, response_class=HTMLResponse, name=f"scan_status_{kind.name}")
    def status(
        request: Request,
        case_id: int,
        ctx: Annotated[Ctx, Depends(Guard("case.view", audit_view=False))],
        back: str = "",
        poll: bool = False,
    ) -> Response:
        """The status line (polled every few seconds while the scan runs: not audited as a
        view, it shows counts only). When a poll finds the scan over, the page is reloaded
        (``HX-Refresh``) so that what the scan changed (clusters, candidates, empty states)
        shows, not only this line."""
        st = app_state(request)
        with reading(st.db) as session:
            state = scans.latest(session, case_id, kind)
        response = _fragment(request, ctx, case_id, state, _back(case_id, back, kind))
        if poll and not state.running and request.headers.get("hx-request") == "true":
            response.headers["HX-Refresh"] = "true"
        return response

    @r.post(path, name=f"scan_start_{kind.name}")
    def start(
        request: Request,
        case_id: int,
        ctx: Annotated[Ctx, Depends(Guard("analysis.run"))],
        back: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        """Start the scan in the background (refused while one of the kind runs)."""
        st = app_state(request)
        target = _back(case_id, back, kind)
        htmx = request.headers.get("hx-request") == "true"
        try:
            scans.start(st, case_id, kind, ctx.user.user_id, ctx.user.username)
        except Conflict as exc:
            if not htmx:
                raise
            with reading(st.db) as session:
                state = scans.latest(session, case_id, kind)
            response = _fragment(
                request, ctx, case_id, state, target, refused=str(exc), status_code=409
            )
            response.headers["X-Vigil-Fragment"] = "scan"  # vigil.js swaps it in
            return response
        if not htmx:
            return RedirectResponse(target, status_code=303)
        with reading(st.db) as session:
            state = scans.latest(session, case_id, kind)
        return _fragment(request, ctx, case_id, state, target)


def router() -> APIRouter:
    """Routes for the scan kinds whose capability screens are installed."""
    r = APIRouter()
    for kind in scans.KINDS.values():
        if kind.screen in SCREENS.names():
            _routes(r, kind)
    return r
