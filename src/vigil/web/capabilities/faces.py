"""Face clusters of a case: blurred face crops (reveal one at a time), "same" / "not the same"
feedback (merge and split), re-clustering, linking a cluster to a victim record, and the
candidate links to confirm or reject. Every cluster and link is a candidate for a person to
decide; nothing is merged or linked without a click."""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from PIL import Image

from vigil.errors import InvalidInput, NotFound, VigilError
from vigil.store import audit
from vigil.store import web as store
from vigil.web import media
from vigil.web.auth import Ctx, Guard
from vigil.web.routes.scans import scan_states
from vigil.web.screens import Screen
from vigil.web.state import AppState, app_state, reading
from vigil.web.templating import exposure, render

MAX_MEMBERS_SHOWN = 12


CLUSTERS_PER_PAGE = 24
LINKS_PER_PAGE = 50


def _face_in_case(session: Any, case_id: int, face_id: int) -> Any:
    from vigil.store import faces as fstore

    if not fstore.face_in_case(session, case_id, face_id):
        raise NotFound(f"no face {face_id} in this case")
    return fstore.get_face(session, face_id)


def _crop(st: AppState, face: Any, *, clear: bool) -> bytes:
    """The face region (with a margin) of its item: blurred greyscale unless ``clear``."""
    from vigil.content.decode import decode

    data = st.load_media(st.db, face.item_id)
    pixels = decode(data).pixels
    img = Image.fromarray(pixels, "RGB")
    w, h = face.right - face.left, face.bottom - face.top
    margin = max(w, h) // 3
    box = (
        max(0, face.left - margin),
        max(0, face.top - margin),
        min(img.width, face.right + margin),
        min(img.height, face.bottom + margin),
    )
    crop = img.crop(box)
    out = io.BytesIO()
    crop.save(out, "PNG")
    if clear:
        return media.clear_image(out.getvalue(), size=256)
    return media.blurred_thumbnail(out.getvalue(), size=128, radius=st.config.blur_radius / 2)


def _age_label(age: Any) -> str:
    """A face's apparent age as the cluster page shows it (a triage hint, docs/faces.md)."""
    if age.likely_minor:
        return f"likely minor (age {age.age_low:.0f}-{age.age_high:.0f})"
    if age.status != "estimate":
        return "age unsure"
    return f"age {age.age_low:.0f}-{age.age_high:.0f}"


def _pipeline(st: AppState) -> Any:
    if "face_pipeline" not in st.extras:
        from vigil.faces.pipeline import default_pipeline

        st.extras["face_pipeline"] = default_pipeline()
    return st.extras["face_pipeline"]


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/cases/{case_id}/faces", response_class=HTMLResponse)
    def clusters(
        request: Request,
        case_id: int,
        ctx: Annotated[Ctx, Depends(Guard("item.view"))],
        page: int = 1,
        links_page: int = 1,
    ) -> Response:
        from vigil.faces.service import link_dict
        from vigil.store import faces as fstore

        st = app_state(request)
        page = max(1, min(page, 1_000_000))
        links_page = max(1, min(links_page, 1_000_000))
        with reading(st.db) as session:
            case = store.get_case_by_id(session, case_id)
            rows, clusters_total = store.face_cluster_page(
                session, case_id, (page - 1) * CLUSTERS_PER_PAGE, CLUSTERS_PER_PAGE
            )
            link_rows, links_total = store.face_links_page(
                session, case_id, (links_page - 1) * LINKS_PER_PAGE, LINKS_PER_PAGE
            )
            links = [link_dict(session, lk) for lk in link_rows]
            constraints = fstore.case_constraints(session, case_id)
            faces_total = fstore.count_case_faces(session, case_id)
            ages = fstore.face_ages(session, [f for _, members in rows for f in members])
        minor = {f for f, a in ages.items() if a.likely_minor}
        age_labels = {f: _age_label(a) for f, a in ages.items()}
        groups = [
            {
                "label": cl.label,
                "size": cl.size,
                "representative": cl.representative_face_id,
                "members": members[:MAX_MEMBERS_SHOWN],
                "more": max(0, len(members) - MAX_MEMBERS_SHOWN),
                "threshold": cl.threshold,
                "minor": bool(minor & set(members)),
            }
            # clusters with a likely-minor face first (raised, never hidden), then by size
            for cl, members in sorted(
                rows, key=lambda r: (not (minor & set(r[1])), -r[0].size, r[0].label)
            )
        ]
        return render(
            request,
            "cap/faces.html",
            ctx.user,
            case_id=case_id,
            case=case,
            scan=scan_states(st, case_id).get("faces"),
            groups=groups,
            links=links,
            constraints=constraints,
            faces_total=faces_total,
            ages=age_labels,
            clusters_total=clusters_total,
            links_total=links_total,
            page=page,
            links_page=links_page,
            more_clusters=clusters_total > page * CLUSTERS_PER_PAGE,
            more_links=links_total > links_page * LINKS_PER_PAGE,
            first_cluster=(page - 1) * CLUSTERS_PER_PAGE + 1,
            first_link=(links_page - 1) * LINKS_PER_PAGE + 1,
        )

    @r.get("/cases/{case_id}/faces/{face_id}/crop")
    def crop(
        request: Request,
        case_id: int,
        face_id: int,
        ctx: Annotated[Ctx, Depends(Guard("media.thumb"))],
    ) -> Response:
        st = app_state(request)
        with reading(st.db) as session:
            face = _face_in_case(session, case_id, face_id)
        try:
            data, mtype = _crop(st, face, clear=False), "image/jpeg"
        except (VigilError, OSError, ValueError):
            data, mtype = media.placeholder("unavailable", 128), "image/png"
        return Response(data, media_type=mtype, headers={"Cache-Control": "no-store"})

    @r.post("/cases/{case_id}/faces/{face_id}/reveal", response_class=HTMLResponse)
    def reveal(
        request: Request,
        case_id: int,
        face_id: int,
        ctx: Annotated[Ctx, Depends(Guard("media.reveal"))],
    ) -> Response:
        st = app_state(request)
        with reading(st.db) as session:
            face = _face_in_case(session, case_id, face_id)
        error, uri = "", ""
        try:
            uri = media.data_uri(_crop(st, face, clear=True))
        except (VigilError, OSError, ValueError) as exc:
            error = f"the face could not be read from the evidence: {exc}"
        with st.writing() as session:
            if not error:
                store.record_reveal(session, ctx.user.user_id, case_id, face.item_id)
            audit.append(
                session,
                ctx.user.username,
                "media.reveal" if not error else "media.reveal_failed",
                case_id=case_id,
                item_id=face.item_id,
                details={"face": face_id, "session": ctx.user.session_id, "error": error},
            )
        return render(
            request,
            "fragments/face_revealed.html",
            ctx.user,
            case_id=case_id,
            face_id=face_id,
            uri=uri,
            error=error,
            **exposure(request, ctx.user),
        )

    @r.post("/cases/{case_id}/faces/feedback")
    def feedback(
        request: Request,
        case_id: int,
        ctx: Annotated[Ctx, Depends(Guard("review.write"))],
        face_a: Annotated[int, Form()] = 0,
        face_b: Annotated[int, Form()] = 0,
        kind: Annotated[str, Form(max_length=20)] = "",
        note: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        from vigil.faces.service import add_feedback

        if kind not in ("same", "different"):
            raise InvalidInput("feedback is 'same' or 'different'")
        st = app_state(request)
        with reading(st.db) as session:
            case = store.get_case_by_id(session, case_id)
        add_feedback(st.db, case.name, face_a, face_b, kind, ctx.user.username, note or None)
        return RedirectResponse(f"/cases/{case_id}/faces", status_code=303)

    @r.post("/cases/{case_id}/faces/recluster")
    def recluster(
        request: Request, case_id: int, ctx: Annotated[Ctx, Depends(Guard("review.write"))]
    ) -> Response:
        from vigil.faces.service import cluster_case

        st = app_state(request)
        with reading(st.db) as session:
            case = store.get_case_by_id(session, case_id)
        cluster_case(st.db, case.name, ctx.user.username, pipeline=_pipeline(st))
        return RedirectResponse(f"/cases/{case_id}/faces", status_code=303)

    @r.post("/cases/{case_id}/faces/clusters/{label}/link")
    def link_cluster(
        request: Request,
        case_id: int,
        label: int,
        ctx: Annotated[Ctx, Depends(Guard("review.write"))],
        identity: Annotated[str, Form(max_length=120)] = "",
        note: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        from vigil.faces.service import link_identity

        st = app_state(request)
        if not identity.strip():
            raise InvalidInput("give the victim record's code")
        with reading(st.db) as session:
            case = store.get_case_by_id(session, case_id)
        link_identity(
            st.db,
            identity.strip(),
            ctx.user.username,
            case_name=case.name,
            cluster_label=label,
            note=note or None,
        )
        return RedirectResponse(f"/cases/{case_id}/faces", status_code=303)

    @r.post("/cases/{case_id}/faces/links/{link_id}/decide")
    def decide(
        request: Request,
        case_id: int,
        link_id: int,
        ctx: Annotated[Ctx, Depends(Guard("review.write"))],
        status: Annotated[str, Form(max_length=20)] = "",
        note: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        from vigil.faces.service import decide_link
        from vigil.store import faces as fstore

        st = app_state(request)
        with reading(st.db) as session:
            link = fstore.get_link(session, link_id)
            if link.case_id != case_id:
                raise NotFound(f"no face link {link_id} in this case")
        decide_link(st.db, link_id, status, ctx.user.username, note or None)
        return RedirectResponse(f"/cases/{case_id}/faces", status_code=303)

    return r


def screen() -> Screen:
    return Screen(
        name="faces", title="Faces", router=router, case_path="faces", permission="item.view"
    )
