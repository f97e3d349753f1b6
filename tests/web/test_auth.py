"""Logins, sessions, cookies, throttling, passwords."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from vigil.errors import InvalidInput
from vigil.store import audit
from vigil.store import web as store
from vigil.store.web import WebSession
from vigil.web.app import create_app
from vigil.web.config import WebConfig
from vigil.web.passwords import hash_password, verify_password

from ._support import PASSWORD, World, login_as, login_form, page_csrf


def test_password_hashes_are_argon2id_and_verify() -> None:
    digest = hash_password("a long enough passphrase")
    assert digest.startswith("$argon2id$")
    assert verify_password(digest, "a long enough passphrase")
    assert not verify_password(digest, "a long enough passphrasf")
    assert not verify_password(None, "anything at all here")
    with pytest.raises(InvalidInput, match="12 characters"):
        hash_password("short")


def test_session_cookie_flags_and_server_side_storage(client: TestClient, world: World) -> None:
    resp = login_form(client, "analyst1")
    assert resp.status_code == 303
    cookie = resp.headers["set-cookie"]
    assert "vigil_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain http on localhost unless configured
    token = client.cookies.get("vigil_session")
    assert token is not None
    with world.app_db.read() as s:
        rows = [r.token_hash for r in s.query(WebSession).all()]
    assert token not in rows  # only the digest is stored
    assert store.token_digest(token) in rows


def test_secure_cookie_when_configured(world: World) -> None:
    app = create_app(world.settings, config=WebConfig(secure_cookies=True), db=world.app_db)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        resp = login_form(c, "analyst1")
        assert resp.status_code == 303
        assert "Secure" in resp.headers["set-cookie"]


def test_wrong_password_and_unknown_user_look_the_same(client: TestClient) -> None:
    a = login_form(client, "analyst1", "wrong password 123")
    b = login_form(client, "nobody-here", "wrong password 123")
    assert a.status_code == b.status_code == 401
    assert "Wrong user name or password." in a.text
    assert "nobody" not in b.text.replace('value="nobody-here"', "")


def test_login_throttled_after_repeated_failures(client: TestClient, world: World) -> None:
    for _ in range(5):
        assert login_form(client, "analyst1", "wrong password 123").status_code == 401
    locked = login_form(client, "analyst1", PASSWORD)  # right password, still locked
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.text
    assert "vigil_session" not in locked.headers.get("set-cookie", "")
    # another account is not locked by this user's failures
    assert login_form(client, "investigator1").status_code == 303
    with world.app_db.read() as s:
        actions = [e.action for e in audit.iter_entries(s)]
    assert actions.count("web.login_failed") == 5
    assert "web.login_throttled" in actions


def test_login_form_needs_its_csrf_cookie(client: TestClient) -> None:
    client.get("/login")
    resp = client.post(
        "/login", data={"username": "analyst1", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert resp.status_code == 403


def test_open_redirect_refused(client: TestClient) -> None:
    resp = login_form(client, "analyst1", next_url="//evil.example/x")
    assert resp.status_code == 303
    assert resp.headers["location"] == "/"


def test_idle_and_expired_sessions_end(client: TestClient, world: World) -> None:
    login_as(client, world, "analyst1")
    assert client.get("/").status_code == 200
    with world.app_db.write() as s:
        for row in s.query(WebSession).all():
            row.last_seen_at = row.last_seen_at - dt.timedelta(hours=2)
    assert client.get("/").status_code == 303
    login_as(client, world, "analyst1")
    with world.app_db.write() as s:
        for row in s.query(WebSession).all():
            row.expires_at = row.created_at
    assert client.get("/").status_code == 303


def test_disabled_user_loses_access(client: TestClient, world: World) -> None:
    login_as(client, world, "analyst1")
    with world.app_db.write() as s:
        store.get_user(s, "analyst1").active = False
    assert client.get("/").status_code == 303
    assert login_form(client, "analyst1").status_code == 401


def test_password_change_ends_sessions(client: TestClient, world: World) -> None:
    login_form(client, "analyst1")
    page = client.get("/account")
    csrf = page_csrf(page.text)
    resp = client.post(
        "/account/password",
        data={"csrf_token": csrf, "current": PASSWORD, "new": "a brand new passphrase"},
    )
    assert resp.status_code == 303
    assert client.get("/").status_code == 303
    assert login_form(client, "analyst1", PASSWORD).status_code == 401
    assert login_form(client, "analyst1", "a brand new passphrase").status_code == 303


def test_security_headers_and_no_store(client: TestClient, world: World) -> None:
    login_as(client, world, "investigator1")
    resp = client.get(f"/cases/{world.case_a}")
    assert resp.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in resp.headers["content-security-policy"]
    assert resp.headers["x-frame-options"] == "DENY"
    assert "<script>" not in resp.text  # no inline script (CSP)
