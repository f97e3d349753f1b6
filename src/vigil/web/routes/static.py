"""The app's own static files, from an allow-list (no directory is ever mounted)."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from vigil.errors import NotFound

router = APIRouter()

_FILES = {
    "htmx.min.js": "text/javascript",
    "vigil.js": "text/javascript",
    "vigil.css": "text/css",
    "vigil-map.js": "text/javascript",
    "vigil-grid.js": "text/javascript",
    "leaflet.js": "text/javascript",
    "leaflet.css": "text/css",
}
_PATHS = {"leaflet.js": "vendor/leaflet/leaflet.js", "leaflet.css": "vendor/leaflet/leaflet.css"}
"""Allow-listed names that live in a sub-folder (vendored libraries keep their own folder and
licence)."""
_CACHE: dict[str, bytes] = {}


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    media_type = _FILES.get(name)
    if media_type is None:
        raise NotFound("no such file")
    if name not in _CACHE:
        _CACHE[name] = (
            resources.files("vigil.web").joinpath("static", _PATHS.get(name, name)).read_bytes()
        )
    return Response(
        _CACHE[name], media_type=media_type, headers={"Cache-Control": "private, max-age=3600"}
    )


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
