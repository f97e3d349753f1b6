"""Accounts, case membership and the installation-wide audit log."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vigil.errors import InvalidInput, PermissionDenied
from vigil.store import audit
from vigil.store import web as store
from vigil.web.auth import Ctx, Guard
from vigil.web.routes.ingest import evidence_choices, ingest_running
from vigil.web.state import app_state, reading
from vigil.web.templating import render

router = APIRouter()


@router.get("/admin/users", response_class=HTMLResponse)
def users(request: Request, ctx: Annotated[Ctx, Depends(Guard("users.manage"))]) -> Response:
    st = app_state(request)
    cfg = st.config
    with reading(st.db) as session:
        rows = store.list_users(session)
        locks = {}
        for row in rows:
            lock = store.lockout(
                session,
                username=row.username,
                client="",
                window=cfg.throttle_window,
                max_per_user=cfg.max_failures_per_user,
                max_per_client=0,
            )
            if lock is not None:
                locks[row.username] = lock.until
    return render(request, "users.html", ctx.user, users=rows, roles=store.ROLES, locks=locks)


@router.post("/admin/users/unlock")
def unlock_user(
    request: Request,
    ctx: Annotated[Ctx, Depends(Guard("users.manage"))],
    username: Annotated[str, Form(max_length=120)] = "",
) -> Response:
    """Lift a user's log-in lock-out (audited; the failures are kept, marked cleared)."""
    st = app_state(request)
    with st.writing() as session:
        user = store.get_user(session, username.strip())
        cleared = store.clear_failures(session, username=user.username)
        audit.append(
            session,
            ctx.user.username,
            "user.unlock",
            details={"username": user.username, "client": None, "failures_cleared": cleared},
        )
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users")
def add_user(
    request: Request,
    ctx: Annotated[Ctx, Depends(Guard("users.manage"))],
    username: Annotated[str, Form(max_length=120)] = "",
    role: Annotated[str, Form(max_length=40)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    agency: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    st = app_state(request)
    store.check_role(role)
    digest = st.password_gate.hash(password)
    with st.writing() as session:
        user = store.create_user(session, username, role, digest, agency=agency.strip() or None)
        audit.append(
            session,
            ctx.user.username,
            "user.add",
            details={"username": user.username, "role": role, "agency": agency.strip()},
        )
    # next step of a first run: give the new account a case
    return RedirectResponse(f"/admin/members?added={user.username}", status_code=303)


def describe_ingest(action: str, details: str) -> str:
    """One line about a browser ingest audit entry, for the case set-up page."""
    try:
        data = json.loads(details)
    except ValueError:
        data = {}
    path = str(data.get("path", ""))
    if action == "web.ingest_done":
        return f"ingest done: {data.get('files', 0)} files, {data.get('new_items', 0)} new items from {path}"
    if action == "web.ingest_failed":
        return f"ingest FAILED for {path}: {data.get('error', '')}"
    return f"ingest started: {path}"


def _manageable_cases(ctx: Ctx, session: object) -> list[int] | None:
    """None: every case (administrator); else the cases the supervisor is a member of."""
    if ctx.user.role == "administrator":
        return None
    return [c.id for c in store.member_cases(session, ctx.user.user_id)]  # type: ignore[arg-type]


@router.get("/admin/members", response_class=HTMLResponse)
def members(
    request: Request,
    ctx: Annotated[Ctx, Depends(Guard("members.manage"))],
    added: str = "",
) -> Response:
    """Case set-up: members of each case, adding evidence, and how the last ingest went."""
    st = app_state(request)
    with reading(st.db) as session:
        allowed_ids = _manageable_cases(ctx, session)
        cases = [c for c in store.list_cases(session) if allowed_ids is None or c.id in allowed_ids]
        table = [(c, store.case_members(session, c.id)) for c in cases]
        users = store.list_users(session)
        mine = {c.id for c in store.member_cases(session, ctx.user.user_id)}
        events = {
            cid: [(e.ts, describe_ingest(e.action, e.details)) for e in rows]
            for cid, rows in store.ingest_events(session, [c.id for c in cases]).items()
        }
        counts = {c.id: store.case_light_counts(session, c.id)[:2] for c in cases}
    return render(
        request,
        "members.html",
        ctx.user,
        table=table,
        usernames=[u.username for u in users if u.active],
        users=users,
        mine=mine,
        events=events,
        file_counts=counts,
        running={c.id for c in cases if ingest_running(st, c.id)},
        choices=evidence_choices(st.config.evidence_roots),
        added=added[:120],
    )


@router.post("/admin/members")
def change_member(
    request: Request,
    ctx: Annotated[Ctx, Depends(Guard("members.manage"))],
    case_id: Annotated[int, Form()] = 0,
    username: Annotated[str, Form(max_length=120)] = "",
    action: Annotated[str, Form(max_length=10)] = "add",
) -> Response:
    st = app_state(request)
    if action not in {"add", "remove"}:
        raise InvalidInput("action must be add or remove")
    with st.writing() as session:
        case = store.get_case_by_id(session, case_id)
        allowed_ids = _manageable_cases(ctx, session)
        if allowed_ids is not None and case.id not in allowed_ids:
            raise PermissionDenied("a supervisor manages only the cases they are a member of")
        user = store.get_user(session, username.strip())
        if action == "add":
            changed = store.add_member(session, case.id, user.id)
        else:
            changed = store.remove_member(session, case.id, user.id)
        audit.append(
            session,
            ctx.user.username,
            f"case.member_{action}",
            case_id=case.id,
            details={"username": user.username, "changed": changed},
        )
    return RedirectResponse(f"/admin/members#case-{case.id}", status_code=303)


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_log(
    request: Request,
    ctx: Annotated[Ctx, Depends(Guard("audit.view"))],
    before: int | None = None,
    limit: int = 200,
) -> Response:
    st = app_state(request)
    limit = max(1, min(limit, 1000))
    with reading(st.db) as session:
        entries, next_before = store.audit_page(session, before=before, limit=limit)
        try:
            report = audit.verify(session)
            chain = f"intact: {report.entries} entries, head {report.head_hash[:16]}…"
        except Exception as exc:  # noqa: BLE001 - shown to the auditor as the finding it is
            chain = f"BROKEN: {exc}"
    return render(
        request,
        "audit.html",
        ctx.user,
        entries=entries,
        chain=chain,
        before=before,
        next_before=next_before,
        limit=limit,
    )
