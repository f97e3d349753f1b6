"""Issue 14, defects 7 and 9: password checks are bounded under a login flood, and lock-outs
neither extend themselves nor outlive an administrator's unlock."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from vigil.cli.main import main
from vigil.store import audit
from vigil.store import web as store
from vigil.store.web import LoginAttempt
from vigil.web import passwords
from vigil.web.app import create_app
from vigil.web.config import WebConfig

from ._support import PASSWORD, World, login_as, login_form, page_csrf


class SlowHasher:
    """Stands in for argon2's hasher: counts how many checks run at once (independently of the
    gate under test) and holds each for ``delay`` seconds, like a 64 MiB Argon2 check would."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.active = 0
        self.peak = 0
        self.calls = 0
        self._lock = threading.Lock()

    def verify(self, _stored: str, _password: str) -> bool:
        with self._lock:
            self.active += 1
            self.calls += 1
            self.peak = max(self.peak, self.active)
        try:
            time.sleep(self.delay)
            return False
        finally:
            with self._lock:
                self.active -= 1


def _flood(client: TestClient, n: int) -> list[tuple[int, float, str | None]]:
    page = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    token = found.group(1)

    def one(i: int) -> tuple[int, float, str | None]:
        start = time.monotonic()
        resp = client.post(
            "/login",
            data={"username": f"nobody{i}", "password": "a wrong password", "csrf_token": token},
        )
        return resp.status_code, time.monotonic() - start, resp.headers.get("retry-after")

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_login_flood_runs_at_most_the_bound_of_password_checks(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = SlowHasher(delay=1.0)
    monkeypatch.setattr(passwords, "_HASHER", probe)
    cfg = WebConfig(password_checks=2, password_wait_seconds=0.1, max_failures_per_client=1000)
    app = create_app(world.settings, config=cfg, db=world.app_db)
    with TestClient(app, follow_redirects=False) as client:
        results = _flood(client, 24)
    statuses = [r[0] for r in results]
    assert probe.peak <= 2, f"{probe.peak} password checks ran at once"
    assert probe.calls == statuses.count(401) >= 2
    busy = [r for r in results if r[0] == 503]
    assert len(busy) >= 10, statuses
    # refused without waiting for a check (each holds its slot 1 s), told when to retry
    assert all(r[2] is not None and int(r[2]) >= 1 for r in busy)
    assert sorted(r[1] for r in busy)[len(busy) // 2] < 1.0
    with world.app_db.read() as s:
        stored = s.query(LoginAttempt).count()
    assert stored == statuses.count(401)  # a refused check is not a failed login


def test_without_the_gate_the_flood_would_run_many_checks_at_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe itself can see concurrency (so the bound above is not vacuous)."""
    probe = SlowHasher(delay=0.3)
    monkeypatch.setattr(passwords, "_HASHER", probe)
    cfg = WebConfig(password_checks=64, max_failures_per_client=1000)
    app = create_app(world.settings, config=cfg, db=world.app_db)
    with TestClient(app, follow_redirects=False) as client:
        _flood(client, 12)
    assert probe.peak >= 4


def _age_attempts(world: World, by: dt.timedelta) -> None:
    with world.app_db.write() as s:
        for row in s.query(LoginAttempt).all():
            row.at = row.at - by


def test_refused_attempts_do_not_extend_a_lockout(client: TestClient, world: World) -> None:
    for _ in range(5):
        assert login_form(client, "analyst1", "wrong password 123").status_code == 401
    for _ in range(3):  # retrying during the lock, even with the right password
        locked = login_form(client, "analyst1", PASSWORD)
        assert locked.status_code == 429
        assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    with world.app_db.read() as s:
        assert s.query(LoginAttempt).count() == 5  # refusals are not stored as failures
        actions = [e.action for e in audit.iter_entries(s)]
    assert actions.count("web.login_throttled") == 3  # but they are audited
    # the window (15 min) passes after the fifth failure: the lock has ended
    _age_attempts(world, dt.timedelta(minutes=15, seconds=1))
    assert login_form(client, "analyst1", PASSWORD).status_code == 303


def test_per_address_lockout_and_unlock(world: World) -> None:
    cfg = WebConfig(max_failures_per_client=3)
    app = create_app(world.settings, config=cfg, db=world.app_db)
    with TestClient(app, follow_redirects=False) as client:
        for name in ("analyst1", "auditor1", "partner1"):
            assert login_form(client, name, "wrong password 123").status_code == 401
        # the address is locked: even another account with its right password
        assert login_form(client, "investigator1").status_code == 429
        with world.app_db.write() as s:
            assert store.clear_failures(s, client="testclient") == 3
        assert login_form(client, "investigator1").status_code == 303


def test_administrator_unlocks_a_user_in_the_web_app(client: TestClient, world: World) -> None:
    for _ in range(5):
        login_form(client, "analyst1", "wrong password 123")
    assert login_form(client, "analyst1").status_code == 429
    csrf = login_as(client, world, "administrator1")
    page = client.get("/admin/users")
    assert "locked until" in page.text
    resp = client.post(
        "/admin/users/unlock",
        data={"username": "analyst1", "csrf_token": page_csrf(page.text) or csrf},
    )
    assert resp.status_code == 303
    assert "locked until" not in client.get("/admin/users").text
    with world.app_db.read() as s:
        entry = [e for e in audit.iter_entries(s) if e.action == "user.unlock"][-1]
        assert entry.actor == "administrator1"
        assert '"failures_cleared":5' in entry.details
        assert s.query(LoginAttempt).count() == 5  # kept for the record
    client.cookies.clear()
    assert login_form(client, "analyst1").status_code == 303


def test_only_an_administrator_may_unlock(client: TestClient, world: World) -> None:
    csrf = login_as(client, world, "supervisor1")
    resp = client.post("/admin/users/unlock", data={"username": "analyst1", "csrf_token": csrf})
    assert resp.status_code == 403


def test_cli_unlock(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_HOME", str(Path(world.settings.data_dir)))
    monkeypatch.setenv("VIGIL_USER", "duty-admin")
    with world.app_db.write() as s:
        for _ in range(5):
            store.record_login_attempt(s, "analyst1", "10.0.0.7", success=False)
    assert main(["users", "unlock"]) == 3  # nothing named
    assert main(["users", "unlock", "no-such-user"]) == 4
    assert main(["users", "unlock", "analyst1"]) == 0
    now = dt.datetime.now(dt.UTC)
    with world.app_db.read() as s:
        lock = store.lockout(
            s,
            username="analyst1",
            client="10.0.0.7",
            window=dt.timedelta(minutes=15),
            max_per_user=5,
            max_per_client=30,
            now=now,
        )
        entry = [e for e in audit.iter_entries(s) if e.action == "user.unlock"][-1]
    assert lock is None
    assert entry.actor == "duty-admin"


@pytest.mark.slow
def test_login_flood_keeps_server_memory_bounded(tmp_path: Path) -> None:
    """60 concurrent wrong logins against the real `vigil serve` (Argon2, 64 MiB a check):
    the server's peak RSS grows by at most about the bound's worth of checks (2 x 64 MiB plus
    thread stacks and allocator slack), not the ~2.3 GB the unbounded route took."""
    import httpx

    from ._serve import status_kib, vigil_serve

    env = {"VIGIL_ADMIN_PASSWORD": PASSWORD}
    with vigil_serve(tmp_path / "home", env=env) as served:
        with httpx.Client(base_url=served.base) as c:  # warm up: one real check
            page = c.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token is not None
            form = {"username": "admin", "password": "wrong password!!", "csrf_token": token[1]}
            assert c.post("/login", data=form).status_code == 401
            cookies = dict(c.cookies)
        before = status_kib(served.proc.pid, "VmHWM")

        def one(i: int) -> int:
            data = {**form, "username": f"nobody{i}"}
            with httpx.Client(base_url=served.base, cookies=cookies, timeout=60) as c:
                return c.post("/login", data=data).status_code

        with ThreadPoolExecutor(60) as pool:
            statuses = list(pool.map(one, range(60)))
        peak = status_kib(served.proc.pid, "VmHWM")
    assert set(statuses) <= {401, 503, 429}, statuses
    assert statuses.count(401) >= 2
    grown_mib = (peak - before) / 1024
    assert grown_mib < 400, f"server peak RSS grew by {grown_mib:.0f} MiB under a login flood"


def test_gate_queues_a_short_burst_and_refuses_beyond_the_queue() -> None:
    from vigil.errors import Busy

    gate = passwords.CheckGate(limit=1, wait=5.0, max_waiting=1)
    release = threading.Event()
    holding = threading.Event()

    def hold() -> None:
        with gate.slot():
            holding.set()
            release.wait(5)

    first = threading.Thread(target=hold)
    first.start()
    assert holding.wait(5)
    queued: list[float] = []

    def wait_in_queue() -> None:
        t0 = time.monotonic()
        with gate.slot():
            queued.append(time.monotonic() - t0)

    second = threading.Thread(target=wait_in_queue)
    second.start()
    deadline = time.monotonic() + 5
    while gate.waiting < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    t0 = time.monotonic()
    with pytest.raises(Busy), gate.slot():  # the queue is full: refused at once
        pass
    assert time.monotonic() - t0 < 0.5
    release.set()
    first.join(5)
    second.join(5)
    assert len(queued) == 1  # the queued one got its turn
    assert gate.peak == 1
    assert gate.refused == 1
