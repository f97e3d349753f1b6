"""The guard's one-statement read and the pages' shared-session reads give what the separate
look-ups they replace give (the oracles): session and user, membership, today's reveals, the
latest scan of each kind; and the benchmark's lean HTTP client keeps cookies and connections
like a browser."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import select

from vigil.store import web as store
from vigil.store.base import utcnow
from vigil.store.models import Job
from vigil.web import scans

from ._support import World


def _start_of_today() -> dt.datetime:
    return utcnow().replace(hour=0, minute=0, second=0, microsecond=0)


def test_guard_view_equals_the_separate_lookups(world: World) -> None:
    db = world.app_db
    with db.write() as s:
        user = world.users["outsider"]
        live = store.create_session(s, user, dt.timedelta(hours=1))
        revoked = store.create_session(s, user, dt.timedelta(hours=1))
        store.revoke_session(s, revoked.row.id)
        for item in world.items_b[:3]:
            store.record_reveal(s, user, world.case_b, item)
    since = _start_of_today()
    with db.read() as s:
        for case_id in (world.case_a, world.case_b, 999_999, None):
            found = store.guard_view(s, live.token, case_id, since)
            assert found.live == store.live_session(s, live.token)
            expected = None if case_id is None else store.case_access(s, case_id, user)
            assert found.case_access == expected
            assert found.reveals_today == store.reveals_since(s, user, since) == 3
        # the outsider is a member of case B only
        assert store.guard_view(s, live.token, world.case_a, since).case_access is False
        assert store.guard_view(s, live.token, world.case_b, since).case_access is True
        assert store.guard_view(s, live.token, 999_999, since).case_access is None
        # a revoked session and an unknown token give no user
        assert store.guard_view(s, revoked.token, world.case_b, since).live is None
        assert store.live_session(s, revoked.token) is None
        assert store.guard_view(s, "no such token", world.case_b, since).live is None


def test_latest_of_equals_latest_per_kind(world: World) -> None:
    kinds = list(scans.KINDS.values())
    db = world.app_db
    with db.read() as s:  # nothing started yet: every kind says so
        assert scans.latest_of(s, world.case_a, kinds) == {
            k.name: scans.latest(s, world.case_a, k) for k in kinds
        }
    with db.write() as s:
        for n, kind in enumerate(kinds[:2] * 2):
            s.add(
                Job(
                    kind=kind.job_kind,
                    case_id=world.case_a,
                    status="done" if n < 2 else "running",
                    created_by_id=world.users["outsider"],
                )
            )
        s.add(Job(kind=kinds[0].job_kind, case_id=world.case_b, status="failed"))
        s.add(Job(kind="ingest", case_id=world.case_a, status="done"))
    with db.read() as s:
        for case_id in (world.case_a, world.case_b):
            one = scans.latest_of(s, case_id, kinds)
            assert one == {k.name: scans.latest(s, case_id, k) for k in kinds}
        newest = s.execute(
            select(Job.id).where(Job.kind == kinds[0].job_kind, Job.case_id == world.case_a)
        ).scalars()
        assert scans.latest_of(s, world.case_a, kinds)[kinds[0].name].job_id == max(newest)
        assert scans.latest_of(s, world.case_a, []) == {}


def _webclient() -> ModuleType:
    path = Path(__file__).parents[2] / "benchmarks" / "webclient.py"
    spec = importlib.util.spec_from_file_location("bench_webclient", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_bench_client_keeps_cookies_and_survives_a_closed_connection() -> None:
    wc = _webclient()
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # answers one request per connection, then closes it (as a server's idle timeout does)
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head)
        if head.startswith(b"POST"):
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            seen.append(await reader.readexactly(length))
            writer.write(
                b"HTTP/1.1 303 See Other\r\nset-cookie: sid=abc; HttpOnly; Path=/\r\n"
                b"set-cookie: login=; Max-Age=0\r\ncontent-length: 0\r\n\r\n"
            )
        else:
            writer.write(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            )
        await writer.drain()
        writer.close()

    async def run() -> list[tuple[int, bytes]]:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        out = []
        async with wc.Client("127.0.0.1", port, timeout=5) as c:
            c.cookies["login"] = "t0"
            r = await c.post("/login", {"username": "a b", "password": "x&y"})
            out.append((r.status_code, r.body))
            assert c.cookies == {"sid": "abc"}
            for _ in range(2):  # the kept-alive connection was closed: sent again on a new one
                r = await c.get("/page")
                out.append((r.status_code, r.body))
        server.close()
        await server.wait_closed()
        return out

    assert asyncio.run(run()) == [(303, b""), (200, b"hello world"), (200, b"hello world")]
    assert seen[1] == b"username=a+b&password=x%26y"
    assert b"Cookie: login=t0" in seen[0]
    assert b"Cookie: sid=abc" in seen[2] and b"login" not in seen[2]


def test_bench_client_reports_a_refused_connection() -> None:
    wc = _webclient()

    async def run() -> None:
        async with wc.Client("127.0.0.1", 1, timeout=2) as c:
            await c.get("/")

    with pytest.raises(wc.HttpError):
        asyncio.run(run())
