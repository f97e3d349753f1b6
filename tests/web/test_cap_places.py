"""Places and leads screen: device groups, GPS clusters masked by role, item-to-place links."""

from __future__ import annotations

from fastapi.testclient import TestClient

from vigil.store import audit
from vigil.store import places as pstore
from vigil.store.models import MediaItem

from ._support import World, login_as


def seed_metadata(world: World) -> str:
    with world.app_db.write() as s:
        for n, item_id in enumerate(world.items_a[:3]):
            item = s.get(MediaItem, item_id)
            assert item is not None
            item.camera_make, item.camera_model = "TestCam", "Model 1"
            item.gps_lat, item.gps_lon = 51.5012345 + n * 0.00001, -0.1412345
            item.captured_at = f"2024-05-0{n + 1}T10:00:00"
        place = pstore.add_place(s, name="Synthetic room", created_by="test", key="P-TEST")
        return place.key


def test_leads_and_gps_masking(client: TestClient, world: World) -> None:
    seed_metadata(world)
    login_as(client, world, "investigator1")
    page = client.get(f"/cases/{world.case_a}/places").text
    assert "TestCam Model 1" in page
    assert "51.50" in page  # position visible to investigators
    login_as(client, world, "analyst1")
    masked = client.get(f"/cases/{world.case_a}/places").text
    assert "TestCam Model 1" in masked
    assert "51.50" not in masked


def test_place_link_confirm_and_cross_case(client: TestClient, world: World) -> None:
    key = seed_metadata(world)
    csrf = login_as(client, world, "investigator1")
    item = world.items_a[0]
    page = client.get(f"/cases/{world.case_a}/items/{item}/places")
    assert page.status_code == 200
    assert "no scene features" in page.text
    # the place scan is offered right there (a button, not a CLI command)
    assert "vigil places scan" not in page.text
    assert f'action="/cases/{world.case_a}/scans/places"' in page.text
    back = f'name="back" value="/cases/{world.case_a}/items/{item}/places"'
    assert back in page.text
    resp = client.post(
        f"/cases/{world.case_a}/items/{item}/places/link",
        data={"place": key, "status": "confirmed", "note": "same wallpaper", "csrf_token": csrf},
    )
    assert resp.status_code == 303
    leads = client.get(f"/cases/{world.case_a}/places").text
    assert "P-TEST" in leads
    assert "confirmed" in leads
    other = world.items_b[0]
    resp = client.post(
        f"/cases/{world.case_a}/items/{other}/places/link",
        data={"place": key, "status": "confirmed", "csrf_token": csrf},
    )
    assert resp.status_code == 404
    draw = client.post(
        f"/cases/{world.case_a}/items/{item}/places/draw",
        data={"query_feature": 1, "feature_id": 2},
        headers={"X-CSRF-Token": csrf},
    )
    assert draw.status_code == 404  # not this item's features
    with world.app_db.read() as s:
        links = [e.details for e in audit.iter_entries(s) if e.action == "places.link"]
    assert len(links) == 1
    assert '"status":"confirmed"' in links[0]


def test_candidates_page_explains_a_small_region_match(
    client: TestClient, world: World, monkeypatch
) -> None:
    """A candidate whose matches sit in one small region is shown as a shared object, not a link."""
    from types import SimpleNamespace

    import numpy as np

    from vigil.places import service
    from vigil.places.features import SceneFeatures

    feats = SceneFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8), 64, 48, 1.0)
    monkeypatch.setattr(
        service, "item_queries", lambda settings, db, item_id: [(7, feats, "stored")]
    )
    rows = [
        {"rank": 1, "feature_id": 11, "kind": "item", "inliers": 40, "matches": 90,
         "verified": True, "small_region": False, "coverage": 0.31, "guided": True,
         "first_fit_inliers": 13},
        {"rank": 2, "feature_id": 12, "kind": "item", "inliers": 35, "matches": 80,
         "verified": False, "small_region": True, "coverage": 0.02},
        # more inliers, ranked below by the search ("shared object only" evidence)
        {"rank": 3, "feature_id": 13, "kind": "item", "inliers": 60, "matches": 95,
         "verified": True, "small_region": False, "coverage": 0.05},
    ]  # fmt: skip
    monkeypatch.setattr(
        service,
        "search_features",
        lambda *a, **k: SimpleNamespace(candidates=[dict(r) for r in rows]),
    )
    login_as(client, world, "investigator1")
    page = client.get(f"/cases/{world.case_a}/items/{world.items_a[0]}/places")
    assert page.status_code == 200
    assert "spread over at least 4% of the image" in page.text
    assert page.text.count("no: small region, probably a shared object") == 1
    # the search's ranking is kept (verified first): not re-sorted by inliers
    assert page.text.index("40 / 90") < page.text.index("60 / 95") < page.text.index("35 / 80")
    # a guided count shows the first fit it grew from
    assert "(first fit 13)" in page.text and "at least 11 of them found before guided" in page.text


def test_timeline_and_map_data_by_role(client: TestClient, world: World) -> None:
    import json
    import re

    seed_metadata(world)
    login_as(client, world, "investigator1")
    page = client.get(f"/cases/{world.case_a}/places").text
    svg = page.split('<svg class="chart timeline"')[1].split("</svg>")[0]
    # one dot per dated item, each linked to its item, with its capture time as the tooltip
    for n, item_id in enumerate(world.items_a[:3]):
        assert f'<a href="/cases/{world.case_a}/items/{item_id}"><circle' in svg
        assert f"captured 2024-05-0{n + 1} 10:00:00" in svg
    labels = re.findall(r'class="row-label">([^<]*)</text>', svg)
    assert labels == ["TestCam Model 1 (serial SN-123456789) (2)", "TestCam Model 1 (1)"]
    data = json.loads(re.search(r'id="map-data">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    assert data["tiles"] == ""  # nothing fetched from the internet by default
    assert data["clusters"][0]["count"] == 3
    assert abs(data["clusters"][0]["lat"] - 51.50124) < 0.001
    assert '<script src="/static/leaflet.js" defer>' in page
    login_as(client, world, "analyst1")  # no sensitive.view: timeline yes, positions no
    masked = client.get(f"/cases/{world.case_a}/places").text
    assert '<svg class="chart timeline"' in masked
    assert "TestCam Model 1 (serial ••••) (2)" in masked
    assert "SN-123456789" not in masked
    assert 'id="map-data"' not in masked
    assert "leaflet.js" not in masked


def test_vendored_leaflet_and_tile_server_csp(world: World) -> None:
    from fastapi.testclient import TestClient as Client

    from vigil.web.app import create_app, tile_origin
    from vigil.web.config import WebConfig

    assert tile_origin("https://{s}.tiles.unit.example/{z}/{x}/{y}.png") == (
        "https://*.tiles.unit.example"
    )
    cfg = WebConfig(map_tiles="https://tiles.unit.example:8443/{z}/{x}/{y}.png")
    app = create_app(world.settings, config=cfg, db=world.app_db)
    with Client(app) as c:
        js = c.get("/static/leaflet.js")
        assert js.status_code == 200
        assert b"Leaflet 1.9.4" in js.content[:400]
        assert c.get("/static/leaflet.css").status_code == 200
        assert c.get("/static/vigil-map.js").status_code == 200
        csp = js.headers["content-security-policy"]
        assert "img-src 'self' data: https://tiles.unit.example:8443;" in csp
        assert "script-src 'self';" in csp
