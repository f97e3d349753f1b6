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

Steps 1, 4 and the user's reveal count of the day (the exposure counter every page shows) are
one statement (:func:`vigil.store.web.guard_view`); on a read that is audited, that statement
and the ``web.view`` entry share one transaction (one connection), committed before the page is
served. Refusals are audited afterwards, each in a transaction of its own.
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session
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
    last_seen_at: dt.datetime | None = None
    """The session's recorded activity as this request found it (None: unknown)."""
    reveals_today: int | None = None
    """Items the user revealed since the start of the UTC day, read by the guard with the
    session on a safe (GET) request; None: not read (the page counts them itself)."""

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


TOUCH_EVERY = dt.timedelta(seconds=60)
"""A session's activity time is written at most this often (not on every request): the idle
timeout may then end a session up to this much *earlier* than the exact last request would,
never later."""


def current_principal(request: Request, session: Session | None = None) -> Principal | None:
    """The live session's user for this request's cookie, or None (cached on the request).
    ``session``: a read session to look it up in (the guard's), else one of its own."""
    if hasattr(request.state, "principal"):
        cached = request.state.principal
        return cached if isinstance(cached, Principal) else None
    principal: Principal | None = None
    token = request.cookies.get(SESSION_COOKIE)
    if token and len(token) < 200:
        st = app_state(request)
        if session is None:
            with st.db.read() as own:
                found = store.live_session(own, token)
        else:
            found = store.live_session(session, token)
        if found is not None and found.last_seen_at + st.config.idle_timeout > utcnow():
            principal = Principal(
                user_id=found.user_id,
                username=found.username,
                role=found.role,
                session_id=found.session_id,
                csrf_token=found.csrf_token,
                logged_in_at=found.created_at,
                last_seen_at=found.last_seen_at,
            )
    request.state.principal = principal
    return principal


def _start_of_today() -> dt.datetime:
    return utcnow().replace(hour=0, minute=0, second=0, microsecond=0)


def _principal(
    idle_timeout: dt.timedelta, found: store.GuardView, *, safe: bool
) -> Principal | None:
    """The request's user from the guard's read (None: no live session or idle too long)."""
    live = found.live
    if live is None or live.last_seen_at + idle_timeout <= utcnow():
        return None
    return Principal(
        user_id=live.user_id,
        username=live.username,
        role=live.role,
        session_id=live.session_id,
        csrf_token=live.csrf_token,
        logged_in_at=live.created_at,
        last_seen_at=live.last_seen_at,
        reveals_today=found.reveals_today if safe else None,
    )


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
    with app_state(request).writing() as session:
        _write_audit(
            session, request, principal, action, case_id=case_id, item_id=item_id, details=details
        )


def _write_audit(
    session: Session,
    request: Request,
    principal: Principal,
    action: str,
    *,
    case_id: int | None = None,
    item_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """The audit entry of :func:`audit_event` inside the caller's write transaction."""
    body: dict[str, Any] = {
        "method": request.method,
        "path": request.url.path,
        "session": principal.session_id,
    }
    if request.url.query:
        body["query"] = request.url.query[:500]
    body.update(details or {})
    now = utcnow()
    audit.append_row(
        session, principal.username, action, case_id=case_id, item_id=item_id, details=body
    )
    if principal.last_seen_at is None or now - principal.last_seen_at >= TOUCH_EVERY:
        store.touch_session(session, principal.session_id, now)


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
        st = app_state(request)
        case_id = _int_param(request, "case_id")
        item_id = _int_param(request, "item_id")
        on_case = "case_id" in request.path_params
        audit_view = self.audit_view and request.method not in UNSAFE_METHODS
        token = request.cookies.get(SESSION_COOKIE)
        if not token or len(token) >= 200:
            request.state.principal = None
            raise LoginRequired()
        # One statement reads the session, its user, the case membership and the reveal count;
        # a view to be audited does that and writes its entry in one transaction (one
        # connection). A refusal is audited after it, in a transaction of its own.
        opened = st.writing() if audit_view else st.db.read()
        with opened as session:
            found = store.guard_view(
                session, token, case_id if on_case else None, _start_of_today()
            )
            principal = _principal(st.config.idle_timeout, found, safe=audit_view)
            request.state.principal = principal
            refusal = self._refusal(request, principal, case_id, found.case_access, given)
            if refusal is None and audit_view:
                assert principal is not None  # noqa: S101 - no refusal: logged in
                _write_audit(
                    session, request, principal, "web.view", case_id=case_id, item_id=item_id
                )
        if refusal is not None:
            error, reason = refusal
            if reason is not None and principal is not None:
                self._deny(request, principal, case_id, reason)
            raise error
        assert principal is not None  # noqa: S101 - no refusal: logged in
        return Ctx(principal, case_id, self.permission)

    def _refusal(
        self,
        request: Request,
        principal: Principal | None,
        case_id: int | None,
        access: bool | None,
        given: str,
    ) -> tuple[Exception, str | None] | None:
        """Why the request is refused (the error, and the reason to audit as ``web.denied``
        when there is one), or None. The order of the checks is the order of the refusals."""
        if principal is None:
            return LoginRequired(), None
        for name in request.path_params:
            if name.endswith("_id") and _int_param(request, name) is None:
                return NotFound(f"no such {name.removesuffix('_id')}"), None
        if request.method in UNSAFE_METHODS and not tokens_match(principal.csrf_token, given):
            return (
                CsrfFailed("the form has expired or was not sent from Vigil: reload the page"),
                "csrf token missing or wrong",
            )
        if not principal.can(self.permission):
            return (
                PermissionDenied(f"your role ({principal.role}) may not do this"),
                f"role {principal.role} lacks {self.permission}",
            )
        if "case_id" in request.path_params:
            if case_id is None:
                return NotFound("no such case"), None
            if access is None:
                return NotFound(f"no case {case_id}"), None
            if not access:
                return (
                    PermissionDenied("you are not a member of this case"),
                    "not a member of the case",
                )
        return None

    @staticmethod
    def _deny(request: Request, principal: Principal, case_id: int | None, reason: str) -> None:
        audit_event(request, principal, "web.denied", case_id=case_id, details={"reason": reason})
