"""A new SQLite case store made from a snapshot of what the migrations build (issue 16).

Creating a case store through Alembic (its import, the environment, 13 migration scripts, each
operation compiled and run) costs ~0.6-0.8 CPU-s, paid by the first command of every new store
(``vigil ingest`` of a new case folder among them). The snapshot is what those migrations leave
in a new SQLite store, read back from it: every schema object's own ``CREATE`` statement as
SQLite keeps it (``sqlite_master``, in creation order), the rows the migrations insert (the
``alembic_version`` heads among them), and the SHA-256 of the migration scripts it was taken
from. Replaying it gives the same ``sqlite_master`` entries and the same rows, so the store is
at the same Alembic heads and later migrations apply to it as to any other.

It is used only for an empty SQLite store, and only while the migration scripts are exactly the
ones it was taken from (any edit, new revision or removed one falls back to Alembic); other
backends (PostgreSQL) always migrate through Alembic. ``tests/store/test_snapshot.py`` builds a
store both ways and compares them, and fails when the packaged snapshot is out of date:
regenerate it with ``python -m vigil.store.snapshot``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

SNAPSHOT = Path(__file__).parent / "migrations" / "sqlite_snapshot.json"
FORMAT = "vigil-sqlite-snapshot/1"


def scripts_digest(migrations: Path) -> str:
    """SHA-256 over the migration scripts' names and bytes (what a snapshot was taken from)."""
    digest = hashlib.sha256()
    for script in sorted((migrations / "versions").glob("*.py")):
        digest.update(script.name.encode() + b"\0" + script.read_bytes() + b"\0")
    return digest.hexdigest()


def read_store(conn: Connection) -> dict[str, Any]:
    """The schema objects (creation order) and every table's rows of a SQLite store."""
    schema = [
        list(row)
        for row in conn.exec_driver_sql(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid"
        )
    ]
    rows: dict[str, list[list[Any]]] = {}
    for kind, name, _table, _sql in schema:
        if kind != "table":
            continue
        quoted = '"' + name.replace('"', '""') + '"'
        found = [list(r) for r in conn.exec_driver_sql(f"SELECT * FROM {quoted} ORDER BY rowid")]  # noqa: S608 - a name from sqlite_master
        if found:
            rows[name] = found
    return {"schema": schema, "rows": rows}


def canonical_schema(schema: list[list[Any]]) -> list[tuple[str, str, str, str]]:
    """Schema objects as a sorted list, each table's constraints in sorted order.

    Alembic's batch migrations on SQLite recreate a table from its reflection, and the order of
    its table constraints then follows Python's (randomised) string hashing: two migrations of
    the same scripts may write the same table with its foreign keys in another order (the same
    schema). This is what two stores are compared by; columns keep their order.
    """
    out = []
    for kind, name, table, sql in schema:
        if kind == "table" and sql.endswith("\n)") and "(\n\t" in sql:
            head, body = sql[:-2].split("(\n\t", 1)
            items = body.split(", \n\t")
            columns = [i for i in items if not i.startswith(_CONSTRAINTS)]
            constraints = sorted(i for i in items if i.startswith(_CONSTRAINTS))
            sql = head + "(\n\t" + ", \n\t".join(columns + constraints) + "\n)"
        out.append((kind, name, table, sql))
    return sorted(out)


_CONSTRAINTS = ("CONSTRAINT ", "FOREIGN KEY", "UNIQUE", "CHECK", "PRIMARY KEY")


def take(migrations: Path) -> dict[str, Any]:
    """Migrate a new SQLite store in a temporary folder through Alembic and read it back."""
    from alembic import command

    from vigil.store.db import alembic_config, make_engine

    with tempfile.TemporaryDirectory(prefix="vigil-snapshot-") as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'store.db'}")  # as Database() has it
        try:
            command.upgrade(alembic_config(engine, migrations), "heads")
            with engine.connect() as conn:
                store = read_store(conn)
        finally:
            engine.dispose()
    for table_rows in store["rows"].values():
        for row in table_rows:
            if not all(v is None or isinstance(v, int | float | str) for v in row):
                raise ValueError(f"a migration inserts a value JSON cannot hold: {row!r}")
    return {"format": FORMAT, "scripts_sha256": scripts_digest(migrations), **store}


def load(migrations: Path) -> dict[str, Any] | None:
    """The packaged snapshot, if it was taken from exactly these migration scripts."""
    try:
        snapshot: dict[str, Any] = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if snapshot.get("format") != FORMAT:
        return None
    if snapshot.get("scripts_sha256") != scripts_digest(migrations):
        return None
    return snapshot


def create_from_snapshot(engine: Engine, migrations: Path) -> bool:
    """Build an empty SQLite store from the snapshot in one transaction; False (nothing done)
    when the store is not SQLite, not empty, or no current snapshot is packaged."""
    if engine.dialect.name != "sqlite":
        return False
    snapshot = load(migrations)
    if snapshot is None:
        return False
    # one writer: a second process creating the same store waits here, then finds it built
    with engine.execution_options(sqlite_begin="IMMEDIATE").begin() as conn:
        if conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar():
            return False
        for _kind, _name, _table, sql in snapshot["schema"]:
            conn.exec_driver_sql(sql)
        for table, rows in snapshot["rows"].items():
            quoted = '"' + table.replace('"', '""') + '"'
            marks = ", ".join("?" * len(rows[0]))
            conn.exec_driver_sql(
                f"INSERT INTO {quoted} VALUES ({marks})",  # noqa: S608 - names from the snapshot
                [tuple(row) for row in rows],
            )
    return True


def main() -> None:
    """Write the snapshot of the case store's migrations (``python -m vigil.store.snapshot``)."""
    from vigil.store.db import MIGRATIONS_DIR

    snapshot = take(MIGRATIONS_DIR)
    SNAPSHOT.write_text(json.dumps(snapshot, indent=1) + "\n", encoding="utf-8")
    sys.stdout.write(f"{SNAPSHOT}: {len(snapshot['schema'])} schema objects\n")


if __name__ == "__main__":
    main()
