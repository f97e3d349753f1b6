"""Who is asking, and may they: sessions from the cookie, CSRF, permissions, case membership,
and the audit entry for every view.

Each guarded endpoint declares ``ctx: Ctx = Depends(Guard("permission"))``. The guard:

1. finds the live server-side session for the ``vigil_session`` cookie (else 401 / redirect to
   the login page);
2. on every unsafe method (POST, PUT, PATCH, DELETE) checks the session's CSRF token, sent as the
   ``X-CSRF-Token`` header (htmx) or the ``csrf_token`` form field (else 403);
3. checks the role holds the permission (:data:`vigil.web.perms.PERMISSIONS`, else 403);
4. on routes with a ``{case_id}`` checks the case exists and the user is a member (else 403);
5. writes the audit entry: ``web.view`` for reads (the change itself is audited by the handler,
   in its own transaction) and ``web.denied`` for every refusal after login.
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from vigil.errors import NotFound, PermissionDenied
from vigil.store import audit
from vigil.store import web as store
from vigil.store.base import utcnow
from vigil.web.perms import PERMISSIONS, allowed
from vigil.web.state import app_state

SESSION_COOKIE = "vigil_session"
LOGIN_COOKIE = "vigil_login_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class LoginRequired(Exception):
    """No live session: the client must log in."""


class CsrfFailed(PermissionDenied):
    """An unsafe request without the session's CSRF token."""

    code = "csrf"


@dataclass(frozen=True)
class Principal:
    """The logged-in user of one request."""

    user_id: int
    username: str
    role: str
    session_id: int
    csrf_token: str
    logged_in_at: dt.datetime

    def can(self, permission: str) -> bool:
        return allowed(self.role, permission)


@dataclass(frozen=True)
class Ctx:
    """What a guarded handler gets: the user and, on case routes, the checked case id."""

    user: Principal
    case_id: int | None
    permission: str


def client_address(request: Request) -> str:
    """The peer address (proxies are not trusted for this)."""
    return request.client.host if request.client else "unknown"


def current_principal(request: Request) -> Principal | None:
    """The live session's user for this request's cookie, or None (cached on the request)."""
    if hasattr(request.state, "principal"):
        cached = request.state.principal
        return cached if isinstance(cached, Principal) else None
    principal: Principal | None = None
    token = request.cookies.get(SESSION_COOKIE)
    if token and len(token) < 200:
        st = app_state(request)
        with st.db.read() as session:
            found = store.lookup_session(session, token)
            if found is not None:
                web_session, user = found
                if web_session.last_seen_at + st.config.idle_timeout > utcnow():
                    principal = Principal(
                        user_id=user.id,
                        username=user.username,
                        role=user.role,
                        session_id=web_session.id,
                        csrf_token=web_session.csrf_token,
                        logged_in_at=web_session.created_at,
                    )
    request.state.principal = principal
    return principal


async def submitted_csrf(request: Request) -> str:
    """The CSRF token sent with an unsafe request (header first, then the form field)."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def tokens_match(expected: str, given: str) -> bool:
    """Constant-time comparison of two tokens (empty never matches)."""
    return bool(expected) and bool(given) and hmac.compare_digest(expected, given)


def audit_event(
    request: Request,
    principal: Principal,
    action: str,
    *,
    case_id: int | None = None,
    item_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Write one audit entry for this request in its own transaction (and note the activity)."""
    st = app_state(request)
    body = {"method": request.method, "path": request.url.path, "session": principal.session_id}
    if request.url.query:
        body["query"] = request.url.query[:500]
    body.update(details or {})
    with st.writing() as session:
        audit.append(
            session, principal.username, action, case_id=case_id, item_id=item_id, details=body
        )
        store.touch_session(session, principal.session_id, utcnow())


def _int_param(request: Request, name: str) -> int | None:
    """A path parameter as a database id (None when absent or not a plausible id)."""
    raw = request.path_params.get(name)
    text = str(raw) if raw is not None else ""
    return int(text) if text.isdigit() and len(text) <= 18 else None


class Guard:
    """FastAPI dependency enforcing login, CSRF, a permission and case membership."""

    def __init__(self, permission: str, *, audit_view: bool = True) -> None:
        if permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}")
        self.permission = permission
        self.audit_view = audit_view

    async def __call__(self, request: Request) -> Ctx:
        given = ""
        if request.method in UNSAFE_METHODS and request.cookies.get(SESSION_COOKIE):
            given = await submitted_csrf(request)
        # the checks read and write the store: keep them off the event loop
        return await run_in_threadpool(self._check, request, given)

    def _check(self, request: Request, given: str) -> Ctx:
        principal = current_principal(request)
        if principal is None:
            raise LoginRequired()
        case_id = _int_param(request, "case_id")
        item_id = _int_param(request, "item_id")
        for name in request.path_params:
            if name.endswith("_id") and _int_param(request, name) is None:
                raise NotFound(f"no such {name.removesuffix('_id')}")
        if request.method in UNSAFE_METHODS and not tokens_match(principal.csrf_token, given):
            self._deny(request, principal, case_id, "csrf token missing or wrong")
            raise CsrfFailed("the form has expired or was not sent from Vigil: reload the page")
        if not principal.can(self.permission):
            self._deny(
                request, principal, case_id, f"role {principal.role} lacks {self.permission}"
            )
            raise PermissionDenied(f"your role ({principal.role}) may not do this")
        if "case_id" in request.path_params:
            if case_id is None:
                raise NotFound("no such case")
            st = app_state(request)
            with st.db.read() as session:
                store.get_case_by_id(session, case_id)
                member = store.is_member(session, case_id, principal.user_id)
            if not member:
                self._deny(request, principal, case_id, "not a member of the case")
                raise PermissionDenied("you are not a member of this case")
        if self.audit_view and request.method not in UNSAFE_METHODS:
            audit_event(request, principal, "web.view", case_id=case_id, item_id=item_id)
        return Ctx(principal, case_id, self.permission)

    @staticmethod
    def _deny(request: Request, principal: Principal, case_id: int | None, reason: str) -> None:
        audit_event(request, principal, "web.denied", case_id=case_id, details={"reason": reason})
