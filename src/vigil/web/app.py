"""The app factory of the review web app: ``create_app(settings)``."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigil.errors import (
    Busy,
    Conflict,
    InvalidInput,
    NotFound,
    NotReady,
    PermissionDenied,
    PolicyViolation,
    VigilError,
)
from vigil.settings import Settings
from vigil.store.db import Database
from vigil.web.auth import LoginRequired, current_principal
from vigil.web.config import WebConfig
from vigil.web.media import evidence_problems, load_from_evidence, no_problems
from vigil.web.passwords import CheckGate
from vigil.web.routes import admin, auth, cases, ingest, items, reports, review, static
from vigil.web.routes import scans as scan_routes
from vigil.web.screens import SCREENS
from vigil.web.screens import register_defaults as register_screens
from vigil.web.state import AppState, MediaCheck, MediaLoader
from vigil.web.templating import make_templates, render

_STATUS: list[tuple[type[VigilError], int]] = [
    (NotFound, 404),
    (PermissionDenied, 403),
    (PolicyViolation, 403),
    (Conflict, 409),
    (NotReady, 409),
    (Busy, 503),
    (InvalidInput, 400),
]

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}


def tile_origin(template: str) -> str:
    """The CSP source of a map tile URL template (``{s}`` sub-domains become ``*``)."""
    parts = urlsplit(template.replace("{s}", "tiles-s"))
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidInput(f"VIGIL_WEB_MAP_TILES must be an http(s) URL template, not {template!r}")
    host = parts.netloc.replace("tiles-s", "*")
    return f"{parts.scheme}://{host}"


def security_headers_for(cfg: WebConfig) -> dict[str, str]:
    """The security headers; a configured map tile server is the one image origin added."""
    if not cfg.map_tiles:
        return SECURITY_HEADERS
    csp = SECURITY_HEADERS["Content-Security-Policy"].replace(
        "img-src 'self' data:", f"img-src 'self' data: {tile_origin(cfg.map_tiles)}"
    )
    return {**SECURITY_HEADERS, "Content-Security-Policy": csp}


def create_app(
    settings: Settings,
    *,
    config: WebConfig | None = None,
    db: Database | None = None,
    load_media: MediaLoader | None = None,
    check_media: MediaCheck | None = None,
) -> FastAPI:
    """Build the review app on the store named by ``settings`` (or the given ``db``).

    ``check_media`` says which items' evidence cannot be opened (no reveal offered); by default
    the recorded evidence paths are checked on disk, or, with an injected ``load_media`` (tests),
    every item counts as readable."""
    from vigil.plugins import load_defaults

    load_defaults()
    register_screens()
    cfg = config or WebConfig.from_env()
    database = db or Database(settings.database_url)
    app = FastAPI(title="Vigil review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.vigil = AppState(
        settings=settings,
        config=cfg,
        db=database,
        templates=make_templates(),
        load_media=load_media or load_from_evidence,
        check_media=check_media or (no_problems if load_media is not None else evidence_problems),
        password_gate=CheckGate(cfg.password_checks, cfg.password_wait_seconds, cfg.password_queue),
    )
    for module in (static, auth, cases, ingest, items, review, reports, admin):
        app.include_router(module.router)
    for screen in SCREENS:
        app.include_router(screen.router())
    app.include_router(scan_routes.router())

    app.add_middleware(SecurityHeaders, headers=security_headers_for(cfg))

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        htmx = request.headers.get("hx-request") == "true"
        if request.method == "GET" and not htmx:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            from urllib.parse import quote

            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return Response("login required", status_code=401, headers={"HX-Redirect": "/login"})

    @app.exception_handler(VigilError)
    async def vigil_error(request: Request, exc: VigilError) -> Response:
        status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 500)
        if isinstance(exc, Busy):
            # shed load without touching the store (no session lookup for the page)
            return Response(
                str(exc), status_code=503, headers={"Retry-After": str(exc.retry_after)}
            )
        return await run_in_threadpool(_error_page, request, status, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return await run_in_threadpool(_error_page, request, exc.status_code, str(exc.detail))

    return app


class SecurityHeaders:
    """Adds the security headers (and ``Cache-Control: no-store``) to every HTTP response that
    does not set them itself. Plain ASGI: Starlette's ``BaseHTTPMiddleware`` (what
    ``@app.middleware("http")`` builds) costs a task group and a body stream per request."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
        ]
        self.headers.append((b"cache-control", b"no-store"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                present = {name.lower() for name, _ in raw}
                raw += [(k, v) for k, v in self.headers if k not in present]
                message = {**message, "headers": raw}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _error_page(request: Request, status: int, message: str) -> HTMLResponse:
    user = current_principal(request) if "vigil_session" in request.cookies else None
    if request.headers.get("hx-request") == "true":
        return render(
            request,
            "fragments/error.html",
            user,
            status_code=status,
            status=status,
            message=message,
        )
    return render(request, "error.html", user, status_code=status, status=status, message=message)
