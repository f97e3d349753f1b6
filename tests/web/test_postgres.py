"""The review app on PostgreSQL (the team deployment): login, case screens, reveal, custody,
report, and the cross-case refusal (skips when no server answers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from vigil.store import audit
from vigil.web.app import create_app
from vigil.web.config import WebConfig

from ._support import build_world, login_form, page_csrf

pytestmark = pytest.mark.postgres


def test_review_on_postgres(pg_url: str, tmp_path: Path) -> None:
    world = build_world(tmp_path, database_url=pg_url)
    app = create_app(
        world.settings,
        config=WebConfig(),
        db=world.app_db,
        load_media=lambda _db, i: world.media[i],
    )
    try:
        with TestClient(app, follow_redirects=False) as client:
            assert login_form(client, "investigator1").status_code == 303
            page = client.get(f"/cases/{world.case_a}/items")
            assert page.status_code == 200
            csrf = page_csrf(page.text)
            item = world.items_a[0]
            assert client.get(f"/cases/{world.case_a}/items/{item}/thumb").status_code == 200
            resp = client.post(
                f"/cases/{world.case_a}/items/{item}/reveal", headers={"X-CSRF-Token": csrf}
            )
            assert "data:image/jpeg;base64," in resp.text
            assert client.get(f"/cases/{world.case_b}").status_code == 403
            assert client.get(f"/cases/{world.case_a}/custody").status_code == 200
            assert client.get(f"/cases/{world.case_a}/report.pdf").content.startswith(b"%PDF")
            for screen in ("triage", "grades", "faces", "places", "persons", "funnel"):
                assert client.get(f"/cases/{world.case_a}/{screen}").status_code == 200, screen
        with world.app_db.read() as s:
            assert audit.verify(s).entries > 5
            actions = {e.action for e in audit.iter_entries(s)}
        assert {"web.login", "web.view", "media.reveal", "web.denied", "report.export"} <= actions
    finally:
        world.app_db.dispose()
