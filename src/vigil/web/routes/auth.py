"""Log in, log out and change one's own password."""

from __future__ import annotations

import math
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vigil.errors import Busy, InvalidInput
from vigil.store import audit
from vigil.store import web as store
from vigil.store.base import utcnow
from vigil.web.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    CsrfFailed,
    Ctx,
    Guard,
    client_address,
    current_principal,
    tokens_match,
)
from vigil.web.state import app_state, reading
from vigil.web.templating import render

router = APIRouter()


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _login_page(request: Request, csrf: str, next: str, status: int, error: str) -> Response:
    return render(
        request,
        "login.html",
        None,
        status_code=status,
        login_csrf=csrf,
        next=_safe_next(next),
        error=error,
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    if current_principal(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", None, login_csrf=token, next=_safe_next(next))
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=app_state(request).config.secure_cookies,
        max_age=3600,
    )
    return response


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check a password, bounded and throttled (policy in docs/web.md, "Log-in lock-outs").

    Order matters: the lock-out is checked before any Argon2 work, and a refused attempt
    (locked out, or no free check slot) is never stored as a failure, so retrying cannot
    extend a lock and a flood costs no hashing memory.
    """
    st = app_state(request)
    if not tokens_match(request.cookies.get(LOGIN_COOKIE, ""), csrf_token):
        raise CsrfFailed("the login form has expired: reload the page and try again")
    client = client_address(request)
    name = username.strip()
    cfg = st.config
    with reading(st.db) as session:
        lock = store.lockout(
            session,
            username=name,
            client=client,
            window=cfg.throttle_window,
            max_per_user=cfg.max_failures_per_user,
            max_per_client=cfg.max_failures_per_client,
        )
    if lock is not None:
        with st.writing() as session:
            audit.append(
                session,
                "anonymous",
                "web.login_throttled",
                details={"username": name[:120], "client": client, "by": lock.by},
            )
        seconds = max(1, math.ceil((lock.until - utcnow()).total_seconds()))
        response = _login_page(
            request,
            csrf_token,
            next,
            429,
            f"Too many failed logins. Try again in {math.ceil(seconds / 60)} minutes.",
        )
        response.headers["Retry-After"] = str(seconds)
        return response
    with reading(st.db) as session:
        user = store.find_user(session, name)
        stored = user.password_hash if user is not None and user.active else None
    try:
        ok = st.password_gate.verify(stored, password)
    except Busy as exc:
        response = _login_page(request, csrf_token, next, 503, str(exc).capitalize() + ".")
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    with st.writing() as session:
        store.record_login_attempt(session, name, client, success=ok)
        if not ok or user is None:
            audit.append(
                session,
                "anonymous",
                "web.login_failed",
                details={"username": name[:120], "client": client},
            )
        else:
            new = store.create_session(session, user.id, st.config.session_lifetime, client=client)
            audit.append(
                session,
                user.username,
                "web.login",
                details={"client": client, "session": new.row.id},
            )
    if not ok or user is None:
        return _login_page(request, csrf_token, next, 401, "Wrong user name or password.")
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        new.token,
        httponly=True,
        samesite="strict",
        secure=st.config.secure_cookies,
        max_age=int(st.config.session_lifetime.total_seconds()),
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, ctx: Annotated[Ctx, Depends(Guard("account.self"))]) -> Response:
    st = app_state(request)
    with st.writing() as session:
        store.revoke_session(session, ctx.user.session_id)
        audit.append(
            session, ctx.user.username, "web.logout", details={"session": ctx.user.session_id}
        )
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, ctx: Annotated[Ctx, Depends(Guard("account.self"))]) -> Response:
    return render(request, "account.html", ctx.user)


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    ctx: Annotated[Ctx, Depends(Guard("account.self"))],
    current: Annotated[str, Form(max_length=1000)] = "",
    new: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    st = app_state(request)
    with reading(st.db) as session:
        user = store.get_user(session, ctx.user.username)
        stored = user.password_hash
    if not st.password_gate.verify(stored, current):
        raise InvalidInput("the current password is wrong")
    digest = st.password_gate.hash(new)
    with st.writing() as session:
        row = store.get_user(session, ctx.user.username)
        row.password_hash = digest
        ended = store.revoke_user_sessions(session, row.id)
        audit.append(session, ctx.user.username, "user.password", details={"sessions_ended": ended})
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
