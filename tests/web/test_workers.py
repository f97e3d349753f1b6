"""Issue 16, point 3: ``vigil serve --workers 2`` on PostgreSQL, run as deployed (a subprocess
on an ephemeral 127.0.0.1 port). Every request opens a new connection, so the kernel spreads them
over both worker processes: a login made in one worker, the CSRF token of a page rendered by one
and a reveal posted to the other must all agree, and lock-outs hold across workers."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from vigil.store import audit
from vigil.store.db import Database
from vigil.store.models import EvidenceSource, MediaItem, Occurrence
from vigil.store.web import LoginAttempt

from ._serve import Served, vigil_serve
from ._support import PASSWORD, build_world

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _workers(served: Served) -> list[int]:
    pids = []
    for pid in served.pids()[1:]:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"spawn_main" in cmdline:
            pids.append(pid)
    return pids


def _cpu_ticks(pid: int) -> int:
    """utime + stime of a process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _place_evidence(db: Database, root: Path, media: dict[int, bytes]) -> None:
    """Write the world's items where its evidence sources say they are (reveals re-read them)."""
    with db.write() as s:
        for source in s.query(EvidenceSource).all():
            folder = root / f"source-{source.id}"
            s.execute(
                update(EvidenceSource)
                .where(EvidenceSource.id == source.id)
                .values(path=str(folder))
            )
            for occ, item in (
                s.query(Occurrence, MediaItem)
                .join(MediaItem, MediaItem.id == Occurrence.item_id)
                .filter(Occurrence.source_id == source.id)
            ):
                target = folder / occ.path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(media[item.id])


def _client(base: str, cookies: httpx.Cookies | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=base,
        headers={"Connection": "close"},  # a new connection (any worker) per request
        cookies=cookies,
        follow_redirects=False,
        timeout=30,
    )


def _login(base: str, username: str, password: str) -> tuple[int, httpx.Cookies]:
    with _client(base) as c:
        page = c.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        resp = c.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token[1]},
            headers={"X-Forwarded-For": "203.0.113.9"},  # forged: must not be believed
        )
        return resp.status_code, c.cookies


def test_two_workers_on_postgresql_serve_one_consistent_app(pg_url: str, tmp_path: Path) -> None:
    world = build_world(tmp_path, database_url=pg_url)
    _place_evidence(world.app_db, tmp_path / "evidence", world.media)
    world.app_db.dispose()
    home = Path(world.settings.data_dir)
    env = {"VIGIL_DATABASE_URL": pg_url, "VIGIL_USER": "test-runner"}
    with vigil_serve(home, "--workers", "2", env=env) as served:
        deadline = time.monotonic() + 30
        while len(_workers(served)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = _workers(served)
        assert len(workers) == 2, workers
        before = {pid: _cpu_ticks(pid) for pid in workers}

        status, cookies = _login(served.base, "investigator1", PASSWORD)
        assert status == 303
        case, items = world.case_a, world.items_a
        for round_ in range(12):
            with _client(served.base, cookies) as c:
                page = c.get(f"/cases/{case}/items")
                assert page.status_code == 200, round_
                csrf = re.search(r'<meta name="csrf-token" content="([^"]*)">', page.text)
                assert csrf is not None
                assert c.get(f"/cases/{case}").status_code == 200
                item = items[round_ % 4]
                assert c.get(f"/cases/{case}/items/{item}/thumb").status_code == 200
                reveal = c.post(
                    f"/cases/{case}/items/{item}/reveal", headers={"X-CSRF-Token": csrf[1]}
                )
                assert reveal.status_code == 200, reveal.text[:300]
                assert "data:image/jpeg;base64," in reveal.text
                assert c.get(f"/cases/{world.case_b}").status_code == 403

        # the lock-out is in the store: five failures spread over workers lock the name
        for _ in range(5):
            assert _login(served.base, "analyst1", "wrong password 123")[0] == 401
        for _ in range(4):
            assert _login(served.base, "analyst1", PASSWORD)[0] == 429
        pids = set(workers) | set(_workers(served))  # uvicorn may have replaced a worker
        busy = {pid: _cpu_ticks(pid) - before.get(pid, 0) for pid in pids}

    served_by = [pid for pid, ticks in busy.items() if ticks >= 3]
    assert len(served_by) >= 2, f"requests were not spread over two workers: {busy}"
    db = Database(pg_url, create=False)
    try:
        with db.read() as s:
            assert audit.verify(s).entries > 40
            actions = [e.action for e in audit.iter_entries(s)]
            clients = {row.client for row in s.query(LoginAttempt).all()}
        assert actions.count("media.reveal") == 12
        assert actions.count("web.login_throttled") == 4
        assert clients == {"127.0.0.1"}
    finally:
        db.dispose()
