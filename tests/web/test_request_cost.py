"""The guard's cheaper writes keep their guarantees: every view is still one hash-chained audit
entry (written without ORM objects, mixed freely with the ORM path in one transaction), and the
session's activity time is written at most once a minute but still keeps an active session
alive."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from vigil.store import audit
from vigil.store.db import Database
from vigil.store.models import AuditAnchor, AuditEntry, Case
from vigil.store.web import WebSession
from vigil.web.auth import TOUCH_EVERY

from ._support import World, login_form


def test_append_row_and_append_share_one_chain(db: Database) -> None:
    with db.write() as s:
        first = audit.append_row(s, "t", "genesis")  # no anchor yet: the ORM path creates it
        audit.append(s, "t", "orm.one", case_id=1)
        seq = audit.append_row(s, "t", "row.two", case_id=1, item_id=5, details={"k": "v"})
        audit.append(s, "t", "orm.three")  # must see the row path's anchor, not a stale one
        audit.append_row(s, "t", "row.four")
    with db.write() as s:
        audit.append_row(s, "t", "row.five")
    with db.read() as s:
        report = audit.verify(s)
        rows = list(s.execute(select(AuditEntry.seq, AuditEntry.action).order_by(AuditEntry.seq)))
        anchor = s.get(AuditAnchor, 1)
        assert anchor is not None and anchor.seq == 6
        row = s.execute(select(AuditEntry).where(AuditEntry.seq == seq)).scalar_one()
    assert (first, seq) == (1, 3)
    assert report.entries == 6
    assert [r[1] for r in rows] == [
        "genesis",
        "orm.one",
        "row.two",
        "orm.three",
        "row.four",
        "row.five",
    ]
    assert (row.case_id, row.item_id, row.details) == (1, 5, '{"k":"v"}')


def _last_seen(world: World) -> dt.datetime:
    with world.app_db.read() as s:
        return s.execute(select(func.max(WebSession.last_seen_at))).scalar_one()


def _set_last_seen(world: World, when: dt.datetime) -> None:
    with world.app_db.write() as s:
        for row in s.query(WebSession).all():
            row.last_seen_at = when


def test_activity_is_written_at_most_once_a_minute(client: TestClient, world: World) -> None:
    assert login_form(client, "analyst1").status_code == 303
    with world.app_db.read() as s:
        views = s.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    seen = _last_seen(world)
    for _ in range(3):
        assert client.get(f"/cases/{world.case_a}").status_code == 200
    assert _last_seen(world) == seen  # within the minute: not rewritten
    with world.app_db.read() as s:  # but every view is audited
        assert s.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == views + 3
    # activity older than a minute is recorded, so an active reviewer is never timed out
    old = seen - TOUCH_EVERY - dt.timedelta(minutes=50)
    _set_last_seen(world, old)
    assert client.get("/").status_code == 200
    assert _last_seen(world) > old + dt.timedelta(minutes=50)
    _set_last_seen(world, _last_seen(world) - dt.timedelta(minutes=59))
    assert client.get("/").status_code == 200  # 59 min idle: still alive, and touched again
    assert client.get("/").status_code == 200
    with world.app_db.read() as s:
        audit.verify(s)


def test_item_grade_status_matches_the_case_wide_oracle(world: World) -> None:
    from vigil.triage.grades import case_grades, record_grade
    from vigil.web.capabilities.triage import grade_status

    with world.app_db.read() as s:
        names = {cid: str(s.get(Case, cid).name) for cid in (world.case_a, world.case_b)}
    a, b = world.items_a[0], world.items_a[1]
    record_grade(world.app_db, names[world.case_a], a, "ann", "A")
    record_grade(world.app_db, names[world.case_a], a, "bob", "B")  # a conflict
    for reviewer in ("ann", "bob", "cid"):  # trusted
        record_grade(world.app_db, names[world.case_a], b, reviewer, "C")
    record_grade(world.app_db, names[world.case_b], world.items_b[0], "ann", "A")
    for case_id, items in ((world.case_a, world.items_a), (world.case_b, world.items_b)):
        oracle = {g.item_id: g for g in case_grades(world.app_db, names[case_id])}
        for item in items:
            assert grade_status(world.app_db, names[case_id], item) == oracle.get(item)
    assert grade_status(world.app_db, names[world.case_a], a).conflict
    assert grade_status(world.app_db, names[world.case_a], b).trusted
    assert grade_status(world.app_db, names[world.case_a], world.items_a[2]) is None
