"""First run without the CLI: the first administrator opens a case, adds an account, grants it
membership and adds evidence; every empty screen says what to do next, with links."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from vigil.settings import Settings
from vigil.store import web as store
from vigil.store.db import Database
from vigil.web.app import create_app
from vigil.web.config import WebConfig
from vigil.web.passwords import hash_password

from ._support import PASSWORD, login_form, page_csrf, synthetic_png


def test_first_administrator_sets_up_a_case_from_the_browser(tmp_path: Path) -> None:
    roots = tmp_path / "evidence"
    (roots / "seized-card").mkdir(parents=True)
    for n in range(3):
        (roots / "seized-card" / f"p{n}.png").write_bytes(synthetic_png(n, size=160))
    settings = Settings.load(tmp_path / "home", workers=1)
    db = Database(settings.database_url)
    with db.write() as s:
        store.create_user(s, "admin", "administrator", hash_password(PASSWORD))
    app = create_app(settings, config=WebConfig(evidence_roots=(roots,)), db=db)
    with TestClient(app, follow_redirects=False) as client:
        login_form(client, "admin")
        home = client.get("/")
        assert 'href="/admin/users#add-user"' in home.text  # the set-up steps, as links
        assert 'href="/admin/members"' in home.text
        csrf = page_csrf(home.text)

        resp = client.post("/cases", data={"csrf_token": csrf, "name": "op-first"})
        assert resp.status_code == 303
        case_id = int(re.findall(r"\d+", resp.headers["location"])[-1])
        assert resp.headers["location"] == f"/admin/members#case-{case_id}"
        setup = client.get("/admin/members").text
        assert "Nobody but you can log in yet" in setup
        assert str(roots / "seized-card") in setup  # offered in the ingest form
        # the administrator may not open the case content, and the case list says so
        assert client.get(f"/cases/{case_id}").status_code == 403
        assert f'href="/admin/members#case-{case_id}"' in client.get("/").text

        resp = client.post(
            "/admin/users",
            data={
                "csrf_token": csrf,
                "username": "ivy",
                "role": "investigator",
                "password": PASSWORD,
            },
        )
        assert resp.headers["location"] == "/admin/members?added=ivy"
        setup = client.get(resp.headers["location"]).text
        assert "Account <b>ivy</b> added" in setup
        resp = client.post(
            "/admin/members",
            data={"csrf_token": csrf, "case_id": case_id, "username": "ivy", "action": "add"},
        )
        assert resp.headers["location"] == f"/admin/members#case-{case_id}"

        resp = client.post(
            f"/cases/{case_id}/ingest",
            data={"csrf_token": csrf, "path": str(roots / "seized-card")},
        )
        assert resp.headers["location"] == f"/admin/members#case-{case_id}"
        for worker in app.state.vigil.extras["ingest_threads"]:
            worker.join(timeout=60)
        setup = client.get("/admin/members").text
        assert "ingest done: 3 files, 3 new items" in setup
        assert "1 evidence source(s), 3 file(s)" in setup
        client.post("/logout", data={"csrf_token": csrf})

        client.cookies.clear()
        login_form(client, "ivy")
        cases = client.get("/").text
        assert f'href="/cases/{case_id}"' in cases
        items = client.get(f"/cases/{case_id}/items").text
        assert items.count('class="tile"') == 3
    db.dispose()


def test_empty_screens_say_what_to_do_next(tmp_path: Path) -> None:
    settings = Settings.load(tmp_path / "home", workers=1)
    db = Database(settings.database_url)
    with db.write() as s:
        store.create_user(s, "sup", "supervisor", hash_password(PASSWORD))
        store.create_user(s, "nobody", "analyst", hash_password(PASSWORD))
    app = create_app(settings, config=WebConfig(evidence_roots=(tmp_path,)), db=db)
    with TestClient(app, follow_redirects=False) as client:
        login_form(client, "nobody")
        assert "You are not a member of any case yet" in client.get("/").text
        client.cookies.clear()
        login_form(client, "sup")
        csrf = page_csrf(client.get("/").text)
        resp = client.post("/cases", data={"csrf_token": csrf, "name": "op-empty"})
        case_id = int(resp.headers["location"].rsplit("/", 1)[-1])
        overview = client.get(f"/cases/{case_id}").text
        assert 'href="#ingest-form"' in overview
        assert 'href="#sources"' in overview
        items = client.get(f"/cases/{case_id}/items").text
        assert f'href="/cases/{case_id}#sources"' in items
        assert "vigil ingest" not in overview + items  # links, not CLI text
    db.dispose()
