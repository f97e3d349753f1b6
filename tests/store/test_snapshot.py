"""A new SQLite store built from the packaged snapshot is the store the migrations build: the same
``sqlite_master`` entries in the same order, the same rows (Alembic's heads among them), and
Alembic sees it at its heads; a snapshot that does not match the scripts is never used."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

import vigil.store.schema  # noqa: F401 - all tables
from vigil.store import snapshot
from vigil.store.base import Base
from vigil.store.db import MIGRATIONS_DIR, Database, alembic_config, make_engine


def _store(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            found = snapshot.read_store(conn)
            found["pragmas"] = [
                conn.exec_driver_sql(f"PRAGMA {p}").scalar()
                for p in ("user_version", "application_id", "journal_mode", "auto_vacuum")
            ]
            tables = [r[1] for r in found["schema"] if r[0] == "table"]
            found["tables"] = {  # SQLite's own view of each table (order-free where it may vary)
                t: (
                    [tuple(r) for r in conn.exec_driver_sql(f'PRAGMA table_info("{t}")')],
                    sorted(
                        tuple(r)[2:]
                        for r in conn.exec_driver_sql(f'PRAGMA foreign_key_list("{t}")')
                    ),
                    sorted(tuple(r)[1:] for r in conn.exec_driver_sql(f'PRAGMA index_list("{t}")')),
                )
                for t in tables
            }
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            found["heads"] = sorted(ctx.get_current_heads())
            found["diff"] = [str(d) for d in compare_metadata(ctx, Base.metadata)]
    finally:
        engine.dispose()
    return found


def packaged_schema() -> list[list[Any]]:
    return list(json.loads(snapshot.SNAPSHOT.read_text(encoding="utf-8"))["schema"])


def _no_alembic(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("Alembic ran")

    monkeypatch.setattr(command, "upgrade", refuse)


def test_store_from_the_snapshot_is_the_migrated_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_alembic = f"sqlite:///{tmp_path / 'alembic.db'}"
    engine = make_engine(by_alembic)
    command.upgrade(alembic_config(engine), "heads")
    engine.dispose()
    with monkeypatch.context() as m:
        _no_alembic(m)
        by_snapshot = f"sqlite:///{tmp_path / 'snapshot.db'}"
        Database(by_snapshot).dispose()
    made, oracle = _store(by_snapshot), _store(by_alembic)
    assert len(made["schema"]) > 50 and made["rows"]["alembic_version"]
    made_schema, oracle_schema = made.pop("schema"), oracle.pop("schema")
    assert made_schema == packaged_schema()  # replayed as taken, in creation order
    # the same schema as Alembic's (its batch migrations order some table constraints by hash)
    assert snapshot.canonical_schema(made_schema) == snapshot.canonical_schema(oracle_schema)
    assert made == oracle  # rows, pragmas, heads, no difference to the models
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert made["heads"] == sorted(ScriptDirectory.from_config(cfg).get_heads())
    assert made["diff"] == []
    db = Database(by_snapshot)  # at its heads: opened as it is, and usable
    with db.write() as s:
        from vigil.store import repo

        repo.ensure_case(s, "op-birch", "alice")
    db.dispose()


def test_packaged_snapshot_is_current() -> None:
    """Fails when a migration changed without ``python -m vigil.store.snapshot``."""
    packaged = json.loads(snapshot.SNAPSHOT.read_text(encoding="utf-8"))
    fresh = snapshot.take(MIGRATIONS_DIR)
    assert snapshot.canonical_schema(packaged.pop("schema")) == snapshot.canonical_schema(
        fresh.pop("schema")
    )
    assert packaged == fresh
    assert snapshot.load(MIGRATIONS_DIR) is not None


def test_canonical_schema_orders_table_constraints_only() -> None:
    a = "CREATE TABLE t (\n\tid INTEGER NOT NULL, \n\tb INTEGER, \n\tCONSTRAINT pk_t PRIMARY KEY (id), \n\tCONSTRAINT fk_b FOREIGN KEY(b) REFERENCES u (id)\n)"
    b = "CREATE TABLE t (\n\tid INTEGER NOT NULL, \n\tb INTEGER, \n\tCONSTRAINT fk_b FOREIGN KEY(b) REFERENCES u (id), \n\tCONSTRAINT pk_t PRIMARY KEY (id)\n)"
    swapped = "CREATE TABLE t (\n\tb INTEGER, \n\tid INTEGER NOT NULL, \n\tCONSTRAINT pk_t PRIMARY KEY (id), \n\tCONSTRAINT fk_b FOREIGN KEY(b) REFERENCES u (id)\n)"
    one = snapshot.canonical_schema([["table", "t", "t", a]])
    assert one == snapshot.canonical_schema([["table", "t", "t", b]])
    assert one != snapshot.canonical_schema([["table", "t", "t", swapped]])  # column order kept


def test_a_snapshot_of_other_scripts_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = json.loads(snapshot.SNAPSHOT.read_text(encoding="utf-8"))
    stale["scripts_sha256"] = "0" * 64
    stale["schema"] = stale["schema"][:1]  # would build an unusable store if it were used
    path = tmp_path / "stale.json"
    path.write_text(json.dumps(stale), encoding="utf-8")
    monkeypatch.setattr(snapshot, "SNAPSHOT", path)
    assert snapshot.load(MIGRATIONS_DIR) is None
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Database(url).dispose()  # through Alembic
    assert _store(url)["diff"] == []


def test_only_an_empty_sqlite_store_is_built_from_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE unrelated (x INTEGER)")
    assert snapshot.create_from_snapshot(engine, MIGRATIONS_DIR) is False
    engine.dispose()
    server = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")  # never connected
    assert snapshot.create_from_snapshot(server, MIGRATIONS_DIR) is False
