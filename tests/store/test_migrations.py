"""Models and migrations must agree, on SQLite and (when a server answers) PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import vigil.store.schema  # noqa: F401 - all tables
from vigil.store.base import Base
from vigil.store.db import Database


def _diff(db: Database) -> list[object]:
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, Base.metadata))


def test_sqlite_migrations_match_models(db: Database) -> None:
    assert _diff(db) == []


def test_migrating_twice_is_harmless(db: Database) -> None:
    Database(db.url).dispose()  # runs `upgrade heads` again
    assert _diff(db) == []


@pytest.mark.postgres
def test_postgres_migrations_match_models(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        assert _diff(db) == []
    finally:
        db.dispose()
