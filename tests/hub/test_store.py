"""The hub's own database: separate schema, migrations that match the models, audit chain."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, update

from vigil.errors import IntegrityError
from vigil.hub.service import MIGRATIONS, Hub
from vigil.store.db import Database
from vigil.store.hub import HubAuditEntry, HubBase

from ._world import World


def _diff(db: Database) -> list[object]:
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "version_table": "hub_alembic_version"}
        )
        return list(compare_metadata(ctx, HubBase.metadata))


def test_hub_database_holds_only_hub_tables(world: World) -> None:
    assert _diff(world.hub.db) == []
    tables = set(inspect(world.hub.db.engine).get_table_names())
    assert tables == set(HubBase.metadata.tables) | {"hub_alembic_version"}
    assert "media_items" not in tables


@pytest.mark.postgres
def test_hub_migrations_on_postgres(pg_url: str) -> None:
    db = Database(pg_url, migrations=MIGRATIONS)
    try:
        assert _diff(db) == []
    finally:
        db.dispose()


def test_hub_audit_chain_detects_edits(world: World) -> None:
    report = world.hub.verify_audit()
    assert report.entries >= 7  # admin, operation, 3 members, 3 joins
    with world.hub.db.write() as s:
        s.execute(update(HubAuditEntry).where(HubAuditEntry.seq == 2).values(actor="someone else"))
    with pytest.raises(IntegrityError, match="#2 was altered"):
        world.hub.verify_audit()


def test_init_refuses_an_existing_hub(tmp_path: Path) -> None:
    hub, kid = Hub.init(tmp_path / "h")
    hub.close()
    assert len(kid) == 32
    assert (tmp_path / "h" / "keys" / "admin.pem").stat().st_mode & 0o777 == 0o600
    from vigil.errors import Conflict

    with pytest.raises(Conflict):
        Hub.init(tmp_path / "h")
    reopened = Hub.open(tmp_path / "h")
    assert reopened.settings.flood_limit == 10
    reopened.close()


@pytest.mark.postgres
def test_a_hub_on_postgres_finds_an_overlap(tmp_path: Path, pg_url: str) -> None:
    from ._world import make_world

    world = make_world(tmp_path, database_url=pg_url)
    try:
        a, b, _c = world.agencies.values()
        sig = {"kind": "pdq", "value": "f0" * 32, "meta": {}}
        world.hub.push(a.envelope([{**sig, "local_ref": "item:1"}]))
        near = {**sig, "value": "f1" + "f0" * 31, "local_ref": "item:2"}
        assert world.hub.push(b.envelope([near]))["overlaps"] == 1
        (note,) = world.hub.notifications(a.member)
        assert note["overlap"]["evidence"]["signals"][0]["distance"] == 1
        assert world.hub.verify_audit().entries > 8
    finally:
        world.hub.close()
