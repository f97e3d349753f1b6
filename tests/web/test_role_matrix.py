"""Every route of the app × every role, generated from the app's route table.

Each route is either guarded (its dependency tree holds a :class:`vigil.web.auth.Guard`, whose
permission decides the expected outcome from :data:`vigil.web.perms.PERMISSIONS`) or listed in
``PUBLIC``. A new route is covered automatically; a route with neither fails the test.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from vigil.store import web as store
from vigil.store.models import AuditEntry
from vigil.web.auth import SESSION_COOKIE, UNSAFE_METHODS, Guard
from vigil.web.perms import PERMISSIONS, allowed
from vigil.web.routetable import route_table

from ._support import World, session_for

PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/static/{name}"), ("GET", "/healthz")}


def routes(client: TestClient) -> list[tuple[str, str, Guard | None]]:
    table = route_table(client.app)  # type: ignore[arg-type]
    return [(r.method, r.path, r.guard) for r in table]


def fill(path: str, world: World, case_id: int) -> str:
    items = world.items_a if case_id == world.case_a else world.items_b
    values: dict[str, Any] = {"case_id": case_id, "item_id": items[0], "name": "vigil.css"}
    values.update({key: per_case[case_id] for key, per_case in world.extra.items()})

    def repl(m: re.Match[str]) -> str:
        name = m.group(1).split(":")[0]
        if name not in values:
            pytest.fail(f"route {path}: no test value for path parameter {name!r}; add one")
        return str(values[name])

    return re.sub(r"\{([^}]+)\}", repl, path)


def call(client: TestClient, method: str, url: str, csrf: str | None) -> Any:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    return client.request(method, url, headers=headers)


def last_entry(world: World) -> tuple[str, str, int | None]:
    with world.app_db.read() as s:
        e = s.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one()
        return e.action, e.details, e.case_id


def test_every_route_is_guarded_or_public(client: TestClient) -> None:
    unguarded = [(m, p) for m, p, g in routes(client) if g is None and (m, p) not in PUBLIC]
    assert unguarded == [], f"routes without a Guard and not declared public: {unguarded}"
    for _m, _p, g in routes(client):
        if g is not None:
            assert g.permission in PERMISSIONS


@pytest.mark.parametrize("role", store.ROLES)
def test_role_matrix(client: TestClient, world: World, role: str) -> None:
    """Allowed → not refused (and a view is audited); not allowed → 403 and audited denial."""
    username = f"{role}1"
    checked = 0
    token, csrf = session_for(world, username)
    for method, path, guard in routes(client):
        if guard is None:
            continue
        client.cookies.set(SESSION_COOKIE, token)
        url = fill(path, world, world.case_a)
        resp = call(client, method, url, csrf if method in UNSAFE_METHODS else None)
        action, details, _case = last_entry(world)
        if method == "POST" and path == "/logout":  # ended the session: go on with a new one
            token, csrf = session_for(world, username)
        if allowed(role, guard.permission):
            assert resp.status_code not in (401, 403), (role, method, url, resp.status_code)
            if method == "GET":
                assert resp.status_code == 200, (role, method, url, resp.text[:300])
                views = [action, details]
                if guard.audit_view:  # a polled status line (counts only) is not a view
                    assert action in {"web.view", "report.export"}, (role, url, views)
                else:
                    assert f'"path":"{url.split("?")[0]}"' not in details, (role, url, views)
        else:
            assert resp.status_code == 403, (role, method, url, resp.status_code)
            assert action == "web.denied", (role, url, action)
            assert url.split("?")[0] in details
        checked += 1
    assert checked >= 15


@pytest.mark.parametrize("role", store.ROLES)
def test_cross_case_refused_everywhere(client: TestClient, world: World, role: str) -> None:
    """A member of case A gets 403 on every route of case B, whatever the role."""
    token, csrf = session_for(world, f"{role}1")
    client.cookies.set(SESSION_COOKIE, token)
    for method, path, guard in routes(client):
        if guard is None or "{case_id}" not in path:
            continue
        url = fill(path, world, world.case_b)
        resp = call(client, method, url, csrf if method in UNSAFE_METHODS else None)
        assert resp.status_code == 403, (role, method, url, resp.status_code)
        assert "case-b" not in resp.text


def test_unauthenticated_refused_everywhere(client: TestClient, world: World) -> None:
    for method, path, guard in routes(client):
        if guard is None:
            continue
        client.cookies.clear()
        url = fill(path, world, world.case_a)
        resp = call(client, method, url, None)
        if method == "GET":
            assert resp.status_code == 303, (method, url, resp.status_code)
            assert resp.headers["location"].startswith("/login?next=")
        else:
            assert resp.status_code == 401, (method, url, resp.status_code)
        assert "case-a" not in resp.text


def test_csrf_refused_on_every_unsafe_route(client: TestClient, world: World) -> None:
    """Without the token, or with another session's token, every unsafe route answers 403."""
    _, other_csrf = session_for(world, "investigator1")
    unsafe = [(m, p) for m, p, g in routes(client) if g is not None and m in UNSAFE_METHODS]
    assert len(unsafe) >= 5
    for method, path in unsafe:
        token, _ = session_for(world, "supervisor1")
        client.cookies.set(SESSION_COOKIE, token)
        for csrf in (None, other_csrf, "x" * 43):
            url = fill(path, world, world.case_a)
            resp = call(client, method, url, csrf)
            assert resp.status_code == 403, (method, url, csrf, resp.status_code)
            action, details, _ = last_entry(world)
            assert action == "web.denied"
            assert "csrf" in details
