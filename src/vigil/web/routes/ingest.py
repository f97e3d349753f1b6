"""Add evidence to a case from the browser: a path on the server, inside a configured evidence
root (``VIGIL_WEB_EVIDENCE_ROOTS``), ingested in the background by the same pipeline as
``vigil ingest``. Without configured roots the form explains how to enable it."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from vigil.errors import InvalidInput, NotReady, PermissionDenied, VigilError
from vigil.store import audit
from vigil.store import web as store
from vigil.web.auth import Ctx, Guard
from vigil.web.state import AppState, app_state, reading

router = APIRouter()


def resolve_evidence_path(raw: str, roots: tuple[Path, ...]) -> Path:
    """The real path of ``raw`` if it lies inside one of ``roots`` (symlinks resolved)."""
    if not roots:
        raise NotReady(
            "adding evidence from the browser is off: set VIGIL_WEB_EVIDENCE_ROOTS to the "
            "folders evidence may be read from, or use `vigil ingest PATH --case NAME`"
        )
    text = raw.strip()
    if not text or "\x00" in text:
        raise InvalidInput("give the path of a folder, archive or disk image on the server")
    path = Path(text).expanduser().resolve()
    for root in roots:
        real_root = root.expanduser().resolve()
        if path == real_root or real_root in path.parents:
            if not path.exists():
                raise InvalidInput(f"{path} does not exist on the server")
            return path
    raise PermissionDenied(f"{path} is outside the evidence folders this server may read")


def evidence_choices(roots: tuple[Path, ...], limit: int = 200) -> list[str]:
    """The roots and their direct sub-folders/files, offered as suggestions in the ingest form
    (so the first administrator picks a seizure instead of typing a server path blind)."""
    out: list[str] = []
    for root in roots:
        real = root.expanduser()
        out.append(str(real))
        try:
            children = sorted(real.iterdir())
        except OSError:
            continue
        for child in children:
            if not child.name.startswith("."):
                out.append(str(child))
            if len(out) >= limit:
                return out
    return out


def ingest_running(st: AppState, case_id: int) -> bool:
    """Whether a browser-started ingest of the case is still running in this process."""
    threads = st.extras.get("ingest_threads", [])
    return any(t.name == f"vigil-ingest-{case_id}" and t.is_alive() for t in threads)


def _run(st: AppState, path: Path, case_name: str, case_id: int, actor: str) -> None:
    from vigil.ingest.pipeline import ingest

    try:
        report = ingest(st.settings, st.db, path, case_name, actor)
        details = {"path": str(path), "new_items": report.new_items, "files": report.files}
        action = "web.ingest_done"
    except (VigilError, OSError) as exc:
        details = {"path": str(path), "error": str(exc)}
        action = "web.ingest_failed"
    with st.writing() as session:
        audit.append(session, actor, action, case_id=case_id, details=details)


@router.post("/cases/{case_id}/ingest")
def start_ingest(
    request: Request,
    case_id: int,
    ctx: Annotated[Ctx, Depends(Guard("ingest.run"))],
    path: Annotated[str, Form(max_length=4096)] = "",
) -> Response:
    st = app_state(request)
    target = resolve_evidence_path(path, st.config.evidence_roots)
    with reading(st.db) as session:
        case = store.get_case_by_id(session, case_id)
    with st.writing() as session:
        audit.append(
            session,
            ctx.user.username,
            "web.ingest_start",
            case_id=case_id,
            details={"path": str(target)},
        )
    worker = threading.Thread(
        target=_run,
        args=(st, target, case.name, case_id, ctx.user.username),
        name=f"vigil-ingest-{case_id}",
        daemon=True,
    )
    st.extras.setdefault("ingest_threads", []).append(worker)
    worker.start()
    if not ctx.user.can("case.view"):  # an administrator sets cases up but sees no content
        return RedirectResponse(f"/admin/members#case-{case_id}", status_code=303)
    return RedirectResponse(f"/cases/{case_id}", status_code=303)
