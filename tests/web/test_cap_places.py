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
    # a guided count shows the first fit it grew from
    assert "(first fit 13)" in page.text and "at least 11 of them found before guided" in page.text
