"""Items whose evidence cannot be opened any more (the source folder moved or deleted): every
screen shows "evidence unavailable — source not found at <recorded path>" instead of a tile,
offers no reveal, and a reveal posted anyway is refused with that reason (audited)."""

from __future__ import annotations

import re
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


def _reveal_buttons(html: str, case_id: int) -> set[int]:
    return {int(i) for i in re.findall(rf'hx-post="/cases/{case_id}/items/(\d+)/reveal"', html)}


def test_unavailable_evidence_offers_no_reveal_and_refuses_one(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for n in range(3):
        (evidence / f"img_{n}.png").write_bytes(synthetic_png(n, size=200))
    settings = Settings.load(tmp_path / "home", workers=1)
    db = Database(settings.database_url)
    ingest(settings, db, evidence, "op-gone", "tester", workers=1)
    with db.write() as s:
        user = store.create_user(s, "inv", "investigator", hash_password(PASSWORD))
        case_id = store.list_cases(s)[0].id
        store.add_member(s, case_id, user.id)
        ids = [m.id for m in store.iter_case_items(s, case_id)]
        paths = store.first_paths(s, case_id, ids)
    by_name = {Path(paths[i]).name: i for i in ids}
    gone, kept = by_name["img_1.png"], by_name["img_0.png"]
    (evidence / "img_1.png").unlink()  # the evidence was moved after ingest
    missing_text = f"source not found at {evidence / 'img_1.png'}"

    app = create_app(settings, config=WebConfig(), db=db)  # default: evidence checked on disk
    with TestClient(app, follow_redirects=False) as client:
        assert login_form(client, "inv").status_code == 303
        screens = {
            "review": client.get(f"/cases/{case_id}/review").text,
            "items": client.get(f"/cases/{case_id}/items").text,
            "known/fresh": client.get(f"/cases/{case_id}/triage").text,  # one group per item
        }
        for name, html in screens.items():
            assert _reveal_buttons(html, case_id) == set(ids) - {gone}, name
            assert html.count("Evidence unavailable") == 1, name
            assert missing_text in html, name
        gone_page = client.get(f"/cases/{case_id}/items/{gone}").text
        assert _reveal_buttons(gone_page, case_id) == set()
        assert missing_text in gone_page
        assert f"/items/{gone}/thumb" not in gone_page  # no placeholder image either
        kept_page = client.get(f"/cases/{case_id}/items/{kept}").text
        assert _reveal_buttons(kept_page, case_id) == {kept}
        assert "Evidence unavailable" not in kept_page
        # the tile fragment (after "Hide") agrees
        assert (
            _reveal_buttons(client.get(f"/cases/{case_id}/items/{gone}/tile").text, case_id)
            == set()
        )

        csrf = page_csrf(kept_page)
        refused = client.post(
            f"/cases/{case_id}/items/{gone}/reveal", headers={"X-CSRF-Token": csrf}
        )
        assert refused.status_code == 409
        assert f"cannot reveal item #{gone}: evidence unavailable — {missing_text}" in refused.text
        assert "data:image" not in refused.text
        assert refused.headers["X-Vigil-Fragment"] == "tile"
        shown = client.post(f"/cases/{case_id}/items/{kept}/reveal", headers={"X-CSRF-Token": csrf})
        assert shown.status_code == 200
        assert "data:image/jpeg;base64," in shown.text
    with db.read() as s:
        entries = [(e.action, e.item_id) for e in audit.iter_entries(s, case_id=case_id)]
    assert ("media.reveal_failed", gone) in entries
    assert ("media.reveal", kept) in entries
    assert ("media.reveal", gone) not in entries
    db.dispose()
