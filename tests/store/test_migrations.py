"""Models and migrations must agree, on SQLite and (when a server answers) PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

import vigil.store.schema  # noqa: F401 - all tables
from vigil.store.base import Base
from vigil.store.db import Database

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _diff(db: Database) -> list[object]:
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, Base.metadata))


def test_sqlite_migrations_match_models(db: Database) -> None:
    assert _diff(db) == []


def test_migrating_twice_is_harmless(db: Database) -> None:
    Database(db.url)  # runs `upgrade heads` again
    assert _diff(db) == []


@pytest.fixture
def pg_url() -> Iterator[str]:
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "no server here"
        pytest.skip(f"no PostgreSQL server at 127.0.0.1:5432: {type(exc).__name__}")
    name = f"vigil_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
def test_postgres_migrations_match_models(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        assert _diff(db) == []
    finally:
        db.dispose()
