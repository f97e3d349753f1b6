"""Exposure control: blurred greyscale thumbnails, deliberate audited reveals, counts and the
break reminder, known material hidden, sensitive fields masked, media only via guarded routes."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from vigil.store import audit
from vigil.store import web as store
from vigil.web.app import create_app
from vigil.web.config import WebConfig

from ._support import World, login_as, page_csrf


def reveal(client: TestClient, world: World, csrf: str, item_id: int) -> Any:
    return client.post(
        f"/cases/{world.case_a}/items/{item_id}/reveal",
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )


def test_thumbnail_is_greyscale_and_blurred(client: TestClient, world: World) -> None:
    login_as(client, world, "analyst1")
    item = world.items_a[0]
    resp = client.get(f"/cases/{world.case_a}/items/{item}/thumb")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "image/jpeg"
    assert resp.headers["cache-control"] == "no-store"
    thumb = Image.open(io.BytesIO(resp.content))
    assert thumb.mode == "L"
    original = np.asarray(
        Image.open(io.BytesIO(world.media[item])).convert("L").resize(thumb.size), dtype=float
    )
    blurred = np.asarray(thumb, dtype=float)

    # sharp block edges of the generated pattern are gone: far less high-frequency energy
    def edges(a: np.ndarray) -> float:
        return float(np.abs(np.diff(a, axis=0)).mean() + np.abs(np.diff(a, axis=1)).mean())

    assert edges(blurred) < 0.3 * edges(original)
    assert blurred.std() < 0.6 * original.std()  # block contrast washed out


def test_reveal_is_deliberate_audited_and_counted(client: TestClient, world: World) -> None:
    login_as(client, world, "analyst1")
    page = client.get(f"/cases/{world.case_a}/items")
    csrf = page_csrf(page.text)
    assert "data:image" not in page.text  # nothing clear on the list
    assert client.get(f"/cases/{world.case_a}/items/{world.items_a[0]}/reveal").status_code == 405
    for n, item in enumerate(world.items_a[:3], start=1):
        resp = reveal(client, world, csrf, item)
        assert resp.status_code == 200
        assert "data:image/jpeg;base64," in resp.text
        assert f'<span id="reveal-count" hx-swap-oob="true">{n}</span>' in resp.text
    with world.app_db.read() as s:
        entries = [
            (e.action, e.item_id) for e in audit.iter_entries(s) if e.action == "media.reveal"
        ]
        user = store.get_user(s, "analyst1")
        from vigil.web.templating import start_of_today

        assert store.reveals_since(s, user.id, start_of_today()) == 3
    assert entries == [("media.reveal", i) for i in world.items_a[:3]]
    assert 'Revealed today: <span id="reveal-count">3</span>' in client.get("/").text


def test_reveal_of_non_image_is_refused_and_not_counted(client: TestClient, world: World) -> None:
    csrf = login_as(client, world, "analyst1")
    doc = world.items_a[-1]
    resp = reveal(client, world, csrf, doc)
    assert "no image preview" in resp.text
    with world.app_db.read() as s:
        user = store.get_user(s, "analyst1")
        from vigil.web.templating import start_of_today

        assert store.reveals_since(s, user.id, start_of_today()) == 0


def test_break_reminder_after_configured_reveals(world: World) -> None:
    app = create_app(
        world.settings,
        config=WebConfig(break_every_reveals=2),
        db=world.app_db,
        load_media=lambda _db, i: world.media[i],
    )
    with TestClient(app, follow_redirects=False) as c:
        csrf = login_as(c, world, "investigator1")
        assert "break-reminder" not in c.get("/").text
        reveal(c, world, csrf, world.items_a[0])
        resp = reveal(c, world, csrf, world.items_a[1])
        assert 'id="break-reminder"' in resp.text
        assert "short break" in c.get("/").text


def test_item_of_another_case_is_not_served_through_my_case(
    client: TestClient, world: World
) -> None:
    csrf = login_as(client, world, "investigator1")
    other = world.items_b[0]
    assert client.get(f"/cases/{world.case_a}/items/{other}/thumb").status_code == 404
    assert reveal(client, world, csrf, other).status_code == 404
    assert client.get(f"/cases/{world.case_a}/items/{other}").status_code == 404


def test_path_traversal_in_media_and_static_urls_refused(client: TestClient, world: World) -> None:
    login_as(client, world, "investigator1")
    case = world.case_a
    bad = [
        f"/cases/{case}/items/..%2F..%2Fetc%2Fpasswd/thumb",
        f"/cases/{case}/items/../../../etc/passwd",
        f"/cases/{case}/items/1%2F..%2F2/thumb",
        f"/cases/{case}/items/-1/thumb",
        f"/cases/{case}/items/99999999999999999999999/thumb",
        "/static/../../pyproject.toml",
        "/static/..%2F..%2Fpyproject.toml",
        "/static/%2e%2e/app.py",
        "/static/app.py",
        "/static/templates%2Fbase.html",
        "/static/",
        "/../../etc/passwd",
    ]
    for url in bad:
        resp = client.get(url)
        assert resp.status_code in (400, 404, 405, 422), (url, resp.status_code)
        assert b"root:" not in resp.content
        assert b"[project]" not in resp.content
    assert client.get("/static/htmx.min.js").status_code == 200


def test_sensitive_fields_masked_by_role(client: TestClient, world: World) -> None:
    item = world.items_a[0]  # generated with camera serial SN-123456789
    url = f"/cases/{world.case_a}/items/{item}"
    login_as(client, world, "investigator1")
    assert "SN-123456789" in client.get(url).text
    for role in ("analyst1", "partner1"):
        login_as(client, world, role)
        text = client.get(url).text
        assert "SN-123456789" not in text
        assert "6789" in text  # last four shown
