"""Issue 14, defect 8: how ``vigil serve`` runs uvicorn. A forged ``X-Forwarded-For`` must not
choose the address that the lock-out counts and the audit log records, unless the deployment
names its reverse proxy."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn

from vigil.errors import InvalidInput
from vigil.store import audit
from vigil.store.web import LoginAttempt
from vigil.web.app import create_app
from vigil.web.config import WebConfig
from vigil.web.server import check_workers, uvicorn_options

from ._support import World

FORGED = "203.0.113.9"


@contextmanager
def serving(app: Any, cfg: WebConfig) -> Iterator[str]:
    """Run ``app`` under uvicorn with the options ``vigil serve`` uses, on an ephemeral port."""
    options = uvicorn_options(cfg)
    options.pop("host")
    options.pop("port")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _wrong_login(base: str, headers: dict[str, str]) -> int:
    with httpx.Client(base_url=base, follow_redirects=False) as c:
        page = c.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        resp = c.post(
            "/login",
            data={"username": "analyst1", "password": "wrong password 1", "csrf_token": token[1]},
            headers=headers,
        )
        return resp.status_code


def _recorded(world: World) -> tuple[set[str], set[str]]:
    with world.app_db.read() as s:
        clients = {row.client for row in s.query(LoginAttempt).all()}
        audited = {
            json.loads(e.details).get("client")
            for e in audit.iter_entries(s)
            if e.action == "web.login_failed"
        }
    return clients, audited


def test_forged_forwarded_for_is_not_believed_by_default(world: World) -> None:
    cfg = WebConfig()
    assert uvicorn_options(cfg)["proxy_headers"] is False
    app = create_app(world.settings, config=cfg, db=world.app_db)
    with serving(app, cfg) as base:
        headers = {"X-Forwarded-For": FORGED, "Forwarded": f"for={FORGED}"}
        assert _wrong_login(base, headers) == 401
    clients, audited = _recorded(world)
    assert clients == audited == {"127.0.0.1"}


def test_forwarded_for_is_used_from_a_configured_proxy(world: World) -> None:
    cfg = WebConfig(forwarded_allow_ips="127.0.0.1")
    app = create_app(world.settings, config=cfg, db=world.app_db)
    with serving(app, cfg) as base:
        assert _wrong_login(base, {"X-Forwarded-For": FORGED}) == 401
    clients, audited = _recorded(world)
    assert clients == audited == {FORGED}


def test_forwarded_for_from_another_address_than_the_proxy_is_ignored(world: World) -> None:
    cfg = WebConfig(forwarded_allow_ips="10.1.2.3")
    app = create_app(world.settings, config=cfg, db=world.app_db)
    with serving(app, cfg) as base:
        assert _wrong_login(base, {"X-Forwarded-For": FORGED}) == 401
    clients, _ = _recorded(world)
    assert clients == {"127.0.0.1"}


def test_forwarded_allow_ips_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_WEB_FORWARDED_ALLOW_IPS", " 10.0.0.5 ")
    monkeypatch.setenv("VIGIL_WEB_WORKERS", "3")
    cfg = WebConfig.from_env()
    assert cfg.forwarded_allow_ips == "10.0.0.5"
    assert cfg.workers == 3
    options = uvicorn_options(cfg)
    assert options["proxy_headers"] is True
    assert options["forwarded_allow_ips"] == "10.0.0.5"


def test_several_workers_need_postgresql() -> None:
    check_workers(WebConfig(workers=1), "sqlite:///x.db")
    check_workers(WebConfig(workers=4), "postgresql+psycopg://db/vigil")
    with pytest.raises(InvalidInput, match="PostgreSQL"):
        check_workers(WebConfig(workers=2), "sqlite:///x.db")
    with pytest.raises(InvalidInput, match="at least 1"):
        check_workers(WebConfig(workers=0), "postgresql+psycopg://db/vigil")
