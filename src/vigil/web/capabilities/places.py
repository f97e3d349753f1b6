"""Places and metadata leads: camera (device) groups and GPS location clusters of a case, the
place candidates of one item (verified by inliers; the inlier drawing is revealed on purpose),
and confirm / reject of item-to-place links. Candidates are leads, never findings."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vigil.errors import InvalidInput, NotFound, NotReady, VigilError
from vigil.places.defaults import DEFAULT_MIN_INLIERS
from vigil.store import audit
from vigil.store import web as store
from vigil.web.auth import Ctx, Guard
from vigil.web.charts import timeline_svg
from vigil.web.routes.scans import scan_states
from vigil.web.screens import Screen
from vigil.web.state import app_state, reading
from vigil.web.templating import exposure, render


def _allowed_feature(session: Any, case_id: int, feature_id: int) -> dict[str, Any]:
    """A candidate feature the user may see: an item of this case or a reference image."""
    from vigil.store import places as pstore

    info = pstore.describe_features(session, [feature_id]).get(feature_id)
    if info is None:
        raise NotFound(f"no scene features #{feature_id}")
    if info["kind"] == "item":
        store.item_in_case(session, case_id, int(info["item_id"]))
    return info


LINKS_PER_PAGE = 100


def _mask_serial(device: str) -> str:
    """A device label without its serial number (for roles without ``sensitive.view``)."""
    head, sep, _serial = device.partition(" (serial ")
    return f"{head} (serial ••••)" if sep else device


def map_json(clusters: list[dict[str, Any]], case_id: int, tiles: str) -> str:
    """The GPS clusters for ``static/vigil-map.js`` (embedded as a JSON data block, not script:
    the CSP allows no inline script). Only built for roles that may see positions."""
    data = {
        "tiles": tiles,
        "clusters": [
            {
                "n": c["cluster"],
                "lat": c["lat"],
                "lon": c["lon"],
                "count": c["count"],
                "spread": c["spread_m"],
                "first": c["first_capture"],
                "last": c["last_capture"],
                "items": [
                    {"id": i, "href": f"/cases/{case_id}/items/{i}"} for i in c["items"][:10]
                ],
            }
            for c in clusters[:5000]
        ],
    }
    # "</" cannot close the data block early: JSON allows the escaped slash
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/")


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/cases/{case_id}/places", response_class=HTMLResponse)
    def leads(
        request: Request,
        case_id: int,
        ctx: Annotated[Ctx, Depends(Guard("item.view"))],
        radius: float = 100.0,
        links_page: int = 1,
    ) -> Response:
        from vigil.places.leads import case_devices, case_positions, location_clusters
        from vigil.store import places as pstore

        st = app_state(request)
        radius = max(1.0, min(radius, 100_000.0))
        with reading(st.db) as session:
            case = store.get_case_by_id(session, case_id)
            devices = case_devices(session, case_id)
            clusters = location_clusters(case_positions(session, case_id), radius)
            links_page = max(1, min(links_page, 1_000_000))
            links, links_total = store.place_links_page(
                session, case_id, (links_page - 1) * LINKS_PER_PAGE, LINKS_PER_PAGE
            )
            places = {p.id: p for p in pstore.list_places(session)}
        sensitive = ctx.user.can("sensitive.view")
        mask_serial = (lambda d: d) if sensitive else _mask_serial
        return render(
            request,
            "cap/places.html",
            ctx.user,
            case_id=case_id,
            case=case,
            scan=scan_states(st, case_id).get("places"),
            devices=devices,
            clusters=clusters,
            links=links,
            links_total=links_total,
            links_page=links_page,
            first_link=(links_page - 1) * LINKS_PER_PAGE + 1,
            more_links=links_total > links_page * LINKS_PER_PAGE,
            places=places,
            radius=radius,
            timeline=timeline_svg(devices, case_id, mask_serial),
            device_label=mask_serial,
            map_data=map_json(clusters, case_id, st.config.map_tiles) if sensitive else "",
        )

    @r.get("/cases/{case_id}/items/{item_id}/places", response_class=HTMLResponse)
    def candidates(
        request: Request,
        case_id: int,
        item_id: int,
        ctx: Annotated[Ctx, Depends(Guard("item.view"))],
        min_inliers: int = DEFAULT_MIN_INLIERS,
    ) -> Response:
        from vigil.places import service
        from vigil.places.search import SearchParams
        from vigil.places.verify import seed_needed

        st = app_state(request)
        with reading(st.db) as session:
            case = store.get_case_by_id(session, case_id)
            store.item_in_case(session, case_id, item_id)
        try:
            stored = service.item_queries(st.settings, st.db, item_id)
        except NotReady:
            stored = []
        rows: list[dict[str, Any]] = []
        own = {fid for fid, _f, _src in stored}
        params = SearchParams(min_inliers=max(4, min(min_inliers, 1000)))
        for fid, feats, source in stored:
            res = service.search_features(
                st.settings,
                st.db,
                feats,
                params,
                query_info={
                    "item_id": item_id,
                    "feature_id": fid,
                    "keypoints": len(feats),
                    "query_features": source,
                },
                actor=ctx.user.username,
                exclude_keys=own,
                case_name=case.name,
                rich=service.retry_from_store(st.db, fid, feats),
            )
            for cand in res.candidates:
                cand = {k: v for k, v in cand.items() if k != "cases"}  # no other case names
                cand["query_feature"] = fid
                rows.append(cand)
        # the search's ranking (vigil.places.search.rank: "shared object only" evidence below
        # the rooms) within each query view; across views, verified first, then by that rank
        rows.sort(key=lambda c: (-int(c["verified"]), c["rank"], -c["inliers"]))
        return render(
            request,
            "cap/place_candidates.html",
            ctx.user,
            case_id=case_id,
            case=case,
            scan=None if stored else scan_states(st, case_id).get("places"),
            item_id=item_id,
            scanned=bool(stored),
            rows=rows,
            min_inliers=params.min_inliers,
            min_coverage=params.min_coverage,
            min_seed=seed_needed(params.min_seed, params.min_inliers),
        )

    @r.post("/cases/{case_id}/items/{item_id}/places/draw", response_class=HTMLResponse)
    def draw(
        request: Request,
        case_id: int,
        item_id: int,
        ctx: Annotated[Ctx, Depends(Guard("media.reveal"))],
        query_feature: Annotated[int, Form()] = 0,
        feature_id: Annotated[int, Form()] = 0,
    ) -> Response:
        from vigil.places import service
        from vigil.places.draw import draw_pair, encode_png
        from vigil.places.features import DEFAULT_PARAMS, extract
        from vigil.places.verify import verify

        st = app_state(request)
        with reading(st.db) as session:
            store.item_in_case(session, case_id, item_id)
            try:
                own = {fid for fid, _f in service.item_features(st.db, item_id)}
            except NotReady:
                own = set()
            if query_feature not in own:
                raise NotFound("that feature set is not this item's")
            _allowed_feature(session, case_id, feature_id)
        error, uri = "", ""
        try:
            qpix = service.target_pixels(st.settings, st.db, query_feature)
            cpix = service.target_pixels(st.settings, st.db, feature_id)
            v = verify(extract(qpix, DEFAULT_PARAMS), extract(cpix, DEFAULT_PARAMS))
            uri = "data:image/png;base64," + base64.b64encode(
                encode_png(draw_pair(qpix, cpix, v))
            ).decode("ascii")
            summary = f"{v.inliers} inliers of {v.matches} matches ({v.model})"
        except (VigilError, OSError, ValueError) as exc:
            error, summary = f"the drawing could not be made: {exc}", ""
        with st.writing() as session:
            if not error:
                store.record_reveal(session, ctx.user.user_id, case_id, item_id)
            audit.append(
                session,
                ctx.user.username,
                "media.reveal" if not error else "media.reveal_failed",
                case_id=case_id,
                item_id=item_id,
                details={"place_drawing": [query_feature, feature_id], "error": error},
            )
        return render(
            request,
            "fragments/place_drawing.html",
            ctx.user,
            uri=uri,
            error=error,
            summary=summary,
            feature_id=feature_id,
            **exposure(request, ctx.user),
        )

    @r.post("/cases/{case_id}/items/{item_id}/places/link")
    def link(
        request: Request,
        case_id: int,
        item_id: int,
        ctx: Annotated[Ctx, Depends(Guard("review.write"))],
        place: Annotated[str, Form(max_length=120)] = "",
        status: Annotated[str, Form(max_length=20)] = "candidate",
        note: Annotated[str, Form(max_length=2000)] = "",
        inliers: Annotated[int | None, Form()] = None,
    ) -> Response:
        from vigil.store import places as pstore

        st = app_state(request)
        if not place.strip():
            raise InvalidInput("say which place (its key or id)")
        with st.writing() as session:
            store.item_in_case(session, case_id, item_id)
            p = pstore.get_place(session, place.strip())
            evidence = {"inliers": inliers} if inliers is not None else None
            row, old = pstore.set_link(
                session,
                place_id=p.id,
                item_id=item_id,
                status=status,
                actor=ctx.user.username,
                evidence=evidence,
                note=note or None,
            )
            audit.append(
                session,
                ctx.user.username,
                "places.link",
                case_id=case_id,
                item_id=item_id,
                details={"link": row.id, "place": p.key, "status": status, "was": old},
            )
        return RedirectResponse(f"/cases/{case_id}/places", status_code=303)

    return r


def screen() -> Screen:
    return Screen(
        name="places",
        title="Places & leads",
        router=router,
        case_path="places",
        permission="item.view",
    )
