"""The court-ready case report, as HTML and PDF (no images in either)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from vigil.reports import court
from vigil.store import audit
from vigil.web.auth import Ctx, Guard
from vigil.web.routes.cases import summary_sections
from vigil.web.state import app_state, reading

router = APIRouter()


def _report(request: Request, ctx: Ctx, case_id: int) -> court.CaseReport:
    st = app_state(request)
    with reading(st.db) as session:
        return court.build(
            session,
            case_id,
            ctx.user.username,
            sections=summary_sections(session, case_id),
        )


def _export(request: Request, ctx: Ctx, case_id: int, data: bytes, fmt: str, name: str) -> None:
    st = app_state(request)
    with st.writing() as session:
        audit.append(
            session,
            ctx.user.username,
            "report.export",
            case_id=case_id,
            details={"format": fmt, "sha256": court.digest(data), "bytes": len(data), "file": name},
        )


def _filename(case_name: str, ext: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", case_name).strip("_") or "case"
    return f"vigil-report-{safe}.{ext}"


@router.get("/cases/{case_id}/report.html")
def report_html(
    request: Request, case_id: int, ctx: Annotated[Ctx, Depends(Guard("report.export"))]
) -> Response:
    report = _report(request, ctx, case_id)
    data = court.to_html(report).encode("utf-8")
    name = _filename(report.case_name, "html")
    _export(request, ctx, case_id, data, "html", name)
    return Response(
        data,
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-store", "Content-Disposition": f'inline; filename="{name}"'},
    )


@router.get("/cases/{case_id}/report.pdf")
def report_pdf(
    request: Request, case_id: int, ctx: Annotated[Ctx, Depends(Guard("report.export"))]
) -> Response:
    report = _report(request, ctx, case_id)
    data = court.to_pdf(report)
    name = _filename(report.case_name, "pdf")
    _export(request, ctx, case_id, data, "pdf", name)
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )
