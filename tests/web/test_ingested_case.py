"""The app on a case made by the real ingest pipeline: media re-read read-only from evidence."""

from __future__ import annotations

import zipfile
from pathlib import Path

from fastapi.testclient import TestClient

from vigil.ingest.pipeline import ingest
from vigil.settings import Settings
from vigil.store import audit
from vigil.store import web as store
from vigil.store.db import Database
from vigil.web.app import create_app
from vigil.web.config import WebConfig
from vigil.web.passwords import hash_password

from ._support import PASSWORD, login_form, page_csrf, synthetic_png


def test_ingested_folder_and_zip_served_blurred_and_revealed(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for n in range(3):
        (evidence / f"img_{n}.png").write_bytes(synthetic_png(n, size=300))
    with zipfile.ZipFile(evidence / "nested.zip", "w") as zf:
        zf.writestr("inner/img_9.png", synthetic_png(9, size=300))
    (evidence / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    settings = Settings.load(tmp_path / "home", workers=1)
    db = Database(settings.database_url)
    report = ingest(settings, db, evidence, "op-ingest", "tester", workers=1)
    assert report.new_items >= 5
    with db.write() as s:
        user = store.create_user(s, "inv", "investigator", hash_password(PASSWORD))
        case = store.list_cases(s)[0]
        store.add_member(s, case.id, user.id)
        case_id = case.id
    app = create_app(settings, config=WebConfig(), db=db)  # default loader: open_item
    with TestClient(app, follow_redirects=False) as client:
        assert login_form(client, "inv").status_code == 303
        page = client.get(f"/cases/{case_id}/items")
        csrf = page_csrf(page.text)
        with db.read() as s:
            items = {
                (store.first_paths(s, case_id, [m.id]).get(m.id) or ""): (m.id, m.kind, m.status)
                for m in store.iter_case_items(s, case_id)
            }
        member = next(v for k, v in items.items() if k.endswith("img_9.png"))
        for item_id, kind, status in items.values():
            thumb = client.get(f"/cases/{case_id}/items/{item_id}/thumb")
            assert thumb.status_code == 200
            if kind == "photo" and status == "ok":
                assert thumb.headers["content-type"] == "image/jpeg"
        resp = client.post(
            f"/cases/{case_id}/items/{member[0]}/reveal", headers={"X-CSRF-Token": csrf}
        )
        assert "data:image/jpeg;base64," in resp.text  # re-read from inside the zip
        # evidence changed after ingest: the digest check refuses to show it
        target = next(v for k, v in items.items() if k.endswith("img_1.png"))
        (evidence / "img_1.png").write_bytes(synthetic_png(77, size=300))
        resp = client.post(
            f"/cases/{case_id}/items/{target[0]}/reveal", headers={"X-CSRF-Token": csrf}
        )
        assert "could not be read from the evidence" in resp.text
        assert "no longer matches" in resp.text
    with db.read() as s:
        actions = [e.action for e in audit.iter_entries(s, case_id=case_id)]
    assert "media.reveal" in actions
    assert "media.reveal_failed" in actions
    db.dispose()


def test_browser_ingest_only_inside_evidence_roots(tmp_path: Path) -> None:
    root = tmp_path / "evidence"
    (root / "card").mkdir(parents=True)
    for n in range(2):
        (root / "card" / f"p{n}.png").write_bytes(synthetic_png(n, size=200))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.png").write_bytes(synthetic_png(5))
    (root / "escape").symlink_to(outside)
    settings = Settings.load(tmp_path / "home", workers=1)
    db = Database(settings.database_url)
    with db.write() as s:
        user = store.create_user(s, "sup", "supervisor", hash_password(PASSWORD))
        from vigil.store import repo

        case = repo.ensure_case(s, "op-web-ingest", "sup")
        store.add_member(s, case.id, user.id)
        case_id = case.id
    off = create_app(settings, config=WebConfig(), db=db)
    with TestClient(off, follow_redirects=False) as client:
        login_form(client, "sup")
        csrf = page_csrf(client.get(f"/cases/{case_id}").text)
        resp = client.post(
            f"/cases/{case_id}/ingest", data={"csrf_token": csrf, "path": str(root / "card")}
        )
        assert resp.status_code == 409
        assert "VIGIL_WEB_EVIDENCE_ROOTS" in resp.text
    app = create_app(settings, config=WebConfig(evidence_roots=(root,)), db=db)
    with TestClient(app, follow_redirects=False) as client:
        login_form(client, "sup")
        csrf = page_csrf(client.get(f"/cases/{case_id}").text)
        for bad in (str(outside), str(root / "escape"), str(root / ".." / "elsewhere"), "/etc"):
            resp = client.post(f"/cases/{case_id}/ingest", data={"csrf_token": csrf, "path": bad})
            assert resp.status_code == 403, bad
        resp = client.post(
            f"/cases/{case_id}/ingest", data={"csrf_token": csrf, "path": str(root / "card")}
        )
        assert resp.status_code == 303
        for worker in app.state.vigil.extras["ingest_threads"]:
            worker.join(timeout=60)
        with db.read() as s:
            assert store.case_counts(s, case_id).items == 2
            actions = [e.action for e in audit.iter_entries(s, case_id=case_id)]
        assert "web.ingest_start" in actions
        assert "web.ingest_done" in actions
    db.dispose()
