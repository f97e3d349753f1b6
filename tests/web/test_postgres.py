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


def test_scan_state_shared_by_workers_on_postgres(pg_url: str, tmp_path: Path) -> None:
    """Two app instances (two `vigil serve` workers) on one PostgreSQL store: eight concurrent
    starts of the same scan give exactly one job; both workers show it running."""
    import threading

    from sqlalchemy import select

    from vigil.store.models import Job

    from ._support import login_as

    world = build_world(tmp_path, database_url=pg_url)
    spawned: list[str] = []
    workers = []
    for _ in range(2):
        app = create_app(world.settings, config=WebConfig(), db=world.app_db)
        app.state.vigil.spawn = lambda _target, name: spawned.append(name)  # held: never runs
        workers.append(app)
    url = f"/cases/{world.case_a}/scans/faces"
    clients = [TestClient(workers[n % 2], follow_redirects=False) for n in range(8)]
    try:
        # each app's first request validates the form lazily (not thread-safe in pydantic, and
        # under uvicorn validation runs on one event loop anyway): warm both up on case B first
        for n, code in ((0, 200), (1, 409)):
            csrf = login_as(clients[n], world, "outsider")
            resp = clients[n].post(
                f"/cases/{world.case_b}/scans/faces",
                headers={"HX-Request": "true", "X-CSRF-Token": csrf},
            )
            assert resp.status_code == code, resp.text
        tokens = [login_as(c, world, "supervisor1") for c in clients]
        barrier = threading.Barrier(len(clients))
        codes: list[int] = []

        def post(n: int) -> None:
            barrier.wait()
            resp = clients[n].post(url, headers={"HX-Request": "true", "X-CSRF-Token": tokens[n]})
            codes.append(resp.status_code)

        threads = [threading.Thread(target=post, args=(n,)) for n in range(len(clients))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(codes) == [200] + [409] * 7, codes
        assert len(spawned) == 2  # case B's and one of case A's
        for client in clients[:2]:  # one per worker
            assert "Face scan running</b>" in client.get(url).text
        with world.app_db.read() as s:
            jobs = list(s.execute(select(Job).where(Job.kind == "web.faces_scan")).scalars())
        assert sorted((j.case_id, j.status) for j in jobs) == [
            (world.case_a, "running"),
            (world.case_b, "running"),
        ]
    finally:
        for c in clients:
            c.close()
        world.app_db.dispose()
