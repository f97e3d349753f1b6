"""The hub's HTTP edge (``vigil hub serve``): signed requests in, JSON (or one HTML board) out.

Every route except ``/healthz`` authenticates the request signature first
(:func:`vigil.share.protocol.verify_request`: key, signature over method + path + body hash +
time + nonce, time window, nonce replay table). This module maps Vigil's errors to HTTP codes and
holds no logic of its own; everything else is :class:`vigil.hub.service.Hub`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from vigil.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PolicyViolation,
    VigilError,
)
from vigil.hub.pages import board_page
from vigil.hub.service import Hub
from vigil.store.hub import HubMember

_STATUS: list[tuple[type[VigilError], int]] = [
    (AuthenticationFailed, 401),
    (NotFound, 404),
    (PermissionDenied, 403),
    (PolicyViolation, 422),
    (Conflict, 409),
    (InvalidInput, 400),
]
MAX_BODY = 512 * 1024 * 1024


class Decision(BaseModel):
    decision: str


class TargetChange(BaseModel):
    status: str | None = None
    children_safeguarded: int | None = None
    subject_refs: list[str] | None = None


class ChecklistChange(BaseModel):
    item: str = Field(max_length=200)
    done: bool


async def _member(request: Request) -> HubMember:
    """The member whose key signed this request (401 otherwise)."""
    hub: Hub = request.app.state.hub
    body = await request.body()
    if len(body) > MAX_BODY:
        raise InvalidInput(f"request body over {MAX_BODY} bytes")
    # the signature covers the path exactly as sent (before percent-decoding)
    raw = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    path = raw.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
    return await run_in_threadpool(
        hub.authenticate, request.method, path, body, dict(request.headers)
    )


Member = Annotated[HubMember, Depends(_member)]


def _json_body(body: bytes) -> Any:
    """A proof payload as sent (checked field by field by :mod:`vigil.share.proof`)."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"body is not JSON: {exc}") from exc


def create_app(hub: Hub) -> FastAPI:
    """The hub app over one :class:`Hub`."""
    app = FastAPI(title="Vigil hub", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.hub = hub

    @app.exception_handler(VigilError)
    async def _vigil_error(_request: Request, exc: VigilError) -> JSONResponse:
        status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 500)
        return JSONResponse({"error": exc.code, "message": str(exc)}, status_code=status)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/v1/bundles")
    async def push(request: Request, who: Member) -> dict[str, Any]:
        body = await request.body()
        return await run_in_threadpool(hub.push, body, via="http", sender=who)

    @app.get("/api/v1/notifications")
    def notifications(who: Member, include_rejected: bool = False) -> list[dict[str, Any]]:
        return hub.notifications(who, include_rejected=include_rejected)

    @app.post("/api/v1/overlaps/{overlap_id}/decision")
    def decide(overlap_id: int, change: Decision, who: Member) -> dict[str, Any]:
        return hub.decide(who, overlap_id, change.decision)

    @app.post("/api/v1/overlaps/{overlap_id}/proof/features")
    async def proof_send(overlap_id: int, request: Request, who: Member) -> dict[str, Any]:
        payload = _json_body(await request.body())
        return await run_in_threadpool(hub.proof_send, who, overlap_id, payload)

    @app.get("/api/v1/overlaps/{overlap_id}/proof/features")
    def proof_features(overlap_id: int, who: Member) -> dict[str, Any]:
        return hub.proof_features(who, overlap_id)

    @app.post("/api/v1/overlaps/{overlap_id}/proof/result")
    async def proof_result(overlap_id: int, request: Request, who: Member) -> dict[str, Any]:
        payload = _json_body(await request.body())
        return await run_in_threadpool(hub.proof_result, who, overlap_id, payload)

    @app.get("/api/v1/operations/{code}/board")
    def board(code: str, who: Member) -> dict[str, Any]:
        return hub.board(who, code)

    @app.put("/api/v1/operations/{code}/targets/{ref}")
    def set_target(code: str, ref: str, change: TargetChange, who: Member) -> dict[str, Any]:
        return hub.set_target(who, code, ref, **change.model_dump())

    @app.patch("/api/v1/targets/{target_id}")
    def update_target(target_id: int, change: TargetChange, who: Member) -> dict[str, Any]:
        return hub.update_target(who, target_id, **change.model_dump())

    @app.put("/api/v1/operations/{code}/checklist")
    def checklist(code: str, change: ChecklistChange, who: Member) -> dict[str, Any]:
        return hub.set_checklist(who, code, change.item, change.done)

    @app.get("/operations/{code}", response_class=HTMLResponse)
    def board_html(code: str, who: Member) -> HTMLResponse:
        return HTMLResponse(
            board_page(hub.board(who, code)),
            headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
        )

    return app
