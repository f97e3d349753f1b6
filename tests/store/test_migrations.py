"""Models and migrations must agree, on SQLite and (when a server answers) PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import vigil.store.schema  # noqa: F401 - all tables
from vigil.store.base import Base
from vigil.store.db import MIGRATIONS_DIR, Database, script_heads

HUB_MIGRATIONS = MIGRATIONS_DIR.parent / "hub_migrations"


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


@pytest.mark.parametrize("folder", [MIGRATIONS_DIR, HUB_MIGRATIONS])
def test_script_heads_agree_with_alembic(folder: Path) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(folder))
    assert script_heads(folder) == set(ScriptDirectory.from_config(cfg).get_heads())


def test_script_heads_refuse_what_they_cannot_read(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (versions / "b.py").write_text('revision: str = "b"\ndown_revision = "a"\n')
    assert script_heads(tmp_path) == {"b"}
    script_heads.cache_clear()
    (versions / "c.py").write_text('revision = "c"\ndown_revision = ("a",\n    "b")\n')
    assert script_heads(tmp_path) is None  # a merge over several lines: Alembic decides
    script_heads.cache_clear()


def test_a_store_at_the_heads_is_not_migrated_and_one_behind_is(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import alembic.command

    calls: list[str] = []
    real = alembic.command.upgrade

    def upgrade(*args: Any, **kwargs: Any) -> None:
        calls.append("up")
        real(*args, **kwargs)

    monkeypatch.setattr(alembic.command, "upgrade", upgrade)
    Database(db.url).dispose()
    assert calls == []  # at the heads: no Alembic
    with db.engine.begin() as conn:  # one branch back (persons_0002 only widens a column)
        conn.exec_driver_sql(
            "UPDATE alembic_version SET version_num = 'persons_0001' "
            "WHERE version_num = 'persons_0002'"
        )
    Database(db.url).dispose()
    assert calls == ["up"]
    assert _diff(db) == []
