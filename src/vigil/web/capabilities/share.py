"""Overlaps with other agencies: a case's list (agency, operation, kind, evidence, the local
item it concerns) with confirm / reject, sent to the operation's hub as this agency.

The hub is reached with the agency's key: ``$VIGIL_SHARE_KEY`` or ``<data dir>/keys/agency.key``
(see ``vigil share keygen``). Deciding needs ``share.decide`` and membership of the case (the
guard checks it; :func:`vigil.share.local.decide` checks it again).

Pushing a case from the page (``share.push``, members only, checked twice as well) needs the hub's
URL in ``$VIGIL_HUB_URL`` and the operation's secret at ``<data dir>/keys/share/<OP>.secret``
(persons are left out without it; a shared scene codebook at ``<OP>.vgi`` next to it is used when
present), exactly what ``vigil share push`` takes as options.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vigil.errors import InvalidInput, NotFound, NotReady
from vigil.settings import Settings
from vigil.store import web as store
from vigil.web.auth import Ctx, Guard
from vigil.web.screens import Screen
from vigil.web.state import app_state, reading
from vigil.web.templating import render

KEY_ENV = "VIGIL_SHARE_KEY"
HUB_ENV = "VIGIL_HUB_URL"


def key_path(settings: Settings) -> Path:
    """Where the web app finds the agency's private key."""
    env = os.environ.get(KEY_ENV)
    return Path(env) if env else settings.data_dir / "keys" / "agency.key"


def operation_files(settings: Settings, operation: str) -> tuple[Path, Path]:
    """Where the web app finds an operation's secret and shared scene codebook."""
    from vigil.share.export import token

    folder = settings.data_dir / "keys" / "share"
    name = token(operation)
    return folder / f"{name}.secret", folder / f"{name}.vgi"


def local_link(session: Any, case_id: int, local_ref: str) -> str | None:
    """A link to the local item or person an overlap concerns (None when it has no page)."""
    prefix, _, raw = local_ref.partition(":")
    if not raw.isdigit():
        return None
    if prefix == "item":
        return f"/cases/{case_id}/items/{raw}"
    if prefix == "face":
        from vigil.store.faces import FaceRow

        face = session.get(FaceRow, int(raw))
        return f"/cases/{case_id}/items/{face.item_id}" if face else None
    if prefix == "person":
        return f"/cases/{case_id}/persons/{raw}"
    return None


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/cases/{case_id}/overlaps", response_class=HTMLResponse)
    def overlaps(
        request: Request, case_id: int, ctx: Annotated[Ctx, Depends(Guard("share.view"))]
    ) -> Response:
        from vigil.share.local import overlap_dict
        from vigil.store import share as sstore

        st = app_state(request)
        with reading(st.db) as session:
            case = store.get_case_by_id(session, case_id)
            rows = []
            for row in sstore.case_overlaps(session, case_id):
                d = overlap_dict(row)
                d["link"] = local_link(session, case_id, row.local_ref)
                rows.append(d)
        return render(request, "cap/overlaps.html", ctx.user, case_id=case_id, case=case, rows=rows)

    @r.post("/cases/{case_id}/overlaps/{overlap_id}/decision")
    def decide(
        request: Request,
        case_id: int,
        overlap_id: int,
        ctx: Annotated[Ctx, Depends(Guard("share.decide"))],
        decision: Annotated[str, Form(max_length=10)] = "",
    ) -> Response:
        from vigil.hub.client import HubClient
        from vigil.share import keys, local
        from vigil.store import share as sstore

        st = app_state(request)
        if decision not in local.DECISIONS:
            raise InvalidInput(f"decision must be one of {local.DECISIONS}")
        with reading(st.db) as session:
            row = sstore.get_overlap(session, overlap_id)
            if row.case_id != case_id:
                raise NotFound(f"no overlap #{overlap_id} in this case")
            hub = row.hub
        path = key_path(st.settings)
        if not path.is_file():
            raise NotReady(f"no agency key at {path}: run `vigil share keygen` or set {KEY_ENV}")
        client = HubClient(hub, keys.load_private(path))
        local.decide(
            st.db, client, overlap_id, decision, actor=ctx.user.username, require_membership=True
        )
        return RedirectResponse(f"/cases/{case_id}/overlaps", status_code=303)

    @r.post("/cases/{case_id}/share")
    def push(
        request: Request,
        case_id: int,
        ctx: Annotated[Ctx, Depends(Guard("share.push"))],
        operation: Annotated[str, Form(max_length=64)] = "",
    ) -> Response:
        from vigil.errors import PermissionDenied
        from vigil.hub.client import HubClient
        from vigil.share import export, keys, local
        from vigil.share.persons import OperationSecret

        st = app_state(request)
        operation = operation.strip()
        if not operation:
            raise InvalidInput("name the operation to share with")
        hub = os.environ.get(HUB_ENV)
        path = key_path(st.settings)
        if not hub or not path.is_file():
            raise NotReady(
                f"sharing is not set up: set {HUB_ENV} and create the agency key at {path}"
            )
        with reading(st.db) as session:
            case = store.get_case_by_id(session, case_id)
            if not local.is_member(session, case_id, ctx.user.username):
                raise PermissionDenied("only members of the case may share it")
            agency = export.default_agency(session, case)
        if agency is None:
            raise NotReady("the case has no agency: set one before sharing it")
        secret_path, codebook = operation_files(st.settings, operation)
        options = export.ExportOptions(
            secret=OperationSecret.load(secret_path) if secret_path.is_file() else None,
            codebook=codebook if codebook.is_file() else None,
        )
        key = keys.load_private(path)
        built = export.build(
            st.settings,
            st.db,
            case.name,
            agency=agency,
            operation=operation,
            private_key=key,
            options=options,
        )
        HubClient(hub, key).push(built.envelope)
        export.record(st.db, built, actor=ctx.user.username, destination=hub)
        return RedirectResponse(f"/cases/{case_id}/overlaps", status_code=303)

    return r


def screen() -> Screen:
    return Screen(
        name="share",
        title="Overlaps",
        router=router,
        case_path="overlaps",
        permission="share.view",
    )
