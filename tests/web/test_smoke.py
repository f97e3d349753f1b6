"""End-to-end through the HTTP layer: log in by form, see the case, reveal, log out."""

from __future__ import annotations

from fastapi.testclient import TestClient

from vigil.store import audit

from ._support import World, login_form, page_csrf


def actions(world: World, case_id: int | None = None) -> list[str]:
    with world.app_db.read() as s:
        return [e.action for e in audit.iter_entries(s, case_id=case_id)]


def test_login_overview_items_reveal_logout(client: TestClient, world: World) -> None:
    resp = login_form(client, "investigator1")
    assert resp.status_code == 303, resp.text
    assert resp.headers["location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "case-a" in home.text
    assert "case-b" not in home.text  # not a member
    page = client.get(f"/cases/{world.case_a}")
    assert page.status_code == 200
    assert "unique items" in page.text
    items = client.get(f"/cases/{world.case_a}/items")
    assert items.status_code == 200
    for item_id in world.items_a:
        assert f"/cases/{world.case_a}/items/{item_id}/thumb" in items.text
    assert actions(world, world.case_a).count("web.view") == 2
    token = page_csrf(items.text)
    first = world.items_a[0]
    revealed = client.post(
        f"/cases/{world.case_a}/items/{first}/reveal",
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert revealed.status_code == 200
    assert "data:image/jpeg;base64," in revealed.text
    assert '<span id="reveal-count" hx-swap-oob="true">1</span>' in revealed.text
    assert "media.reveal" in actions(world, world.case_a)
    out = client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303
    again = client.get("/")
    assert again.status_code == 303
    assert again.headers["location"].startswith("/login")
    assert {"web.login", "web.logout"} <= set(actions(world))
