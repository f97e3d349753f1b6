"""No unblurred pixel at any image URL: every GET route of the app that answers with an image
(found by walking the route table, so a new image route is checked automatically) serves bytes
that are greyscale and without the detail of the item's own pixels. Clear pixels only ever come
back inline in the response to a deliberate POST (reveal), never at a URL."""

from __future__ import annotations

import io

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from vigil.web.routetable import route_table

from ._support import World, login_as
from .test_role_matrix import fill


def _edges(a: np.ndarray) -> float:
    return float(np.abs(np.diff(a, axis=0)).mean() + np.abs(np.diff(a, axis=1)).mean())


def test_every_image_route_serves_blurred_greyscale_only(client: TestClient, world: World) -> None:
    login_as(client, world, "investigator1")  # a role that may see and reveal everything
    checked = []
    for route in route_table(client.app):  # type: ignore[arg-type]
        if route.method != "GET" or route.guard is None:
            continue
        url = fill(route.path, world, world.case_a)
        resp = client.get(url)
        if not resp.headers.get("content-type", "").startswith("image/"):
            continue
        assert resp.headers["cache-control"] == "no-store", url
        img = Image.open(io.BytesIO(resp.content))
        rgb = np.asarray(img.convert("RGB"), dtype=float)
        assert np.abs(rgb[..., 0] - rgb[..., 1]).max() <= 3, f"colour at {url}"
        assert np.abs(rgb[..., 1] - rgb[..., 2]).max() <= 3, f"colour at {url}"
        item = world.items_a[0]
        source = Image.open(io.BytesIO(world.media[item])).convert("L")
        if "/faces/" in route.path:
            source = source.crop((4, 4, 86, 86))  # the seeded face box (20-70) and its margin
        clear = np.asarray(source.resize(img.size), dtype=float)
        assert resp.content != world.media[item]
        # face crops are blurred at half the thumbnails' radius (a face must stay comparable
        # by shape); both keep well under half of the clear picture's edge energy
        limit = 0.4 if "/faces/" in route.path else 0.3
        assert _edges(np.asarray(img.convert("L"), dtype=float)) < limit * _edges(clear), url
        checked.append(route.path)
    assert any(p.endswith("/thumb") for p in checked), checked
    assert any(p.endswith("/crop") for p in checked), checked
