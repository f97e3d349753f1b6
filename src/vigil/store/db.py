"""Engine, sessions and migrations.

SQLite is the embedded default (WAL journal, one writer at a time: write sessions open with
``BEGIN IMMEDIATE`` so two writers queue instead of failing half-way). Any SQLAlchemy URL works
by configuration; PostgreSQL is the shared-deployment backend.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vigil.errors import BackendError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` with the pragmas Vigil relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "isolation_level": None})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(engine: Engine, migrations: Path = MIGRATIONS_DIR) -> Config:
    """An Alembic configuration pointing at packaged migrations (the case store's by default)."""
    from alembic.config import Config  # Alembic is heavy: ingest workers never need it

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, migrations: Path = MIGRATIONS_DIR) -> None:
    """Bring the schema to the newest revision of every branch (``heads``).

    A case store already at the heads is left alone without loading Alembic (its import and the
    environment cost ~0.4 CPU-s, paid by every command that opens the store; issue 16), and a
    new SQLite store is built from the snapshot of what the migrations build
    (:mod:`vigil.store.snapshot`) while it matches the migration scripts.
    """
    if migrations == MIGRATIONS_DIR:
        if _at_heads(engine, migrations):
            return
        from vigil.store.snapshot import create_from_snapshot

        if create_from_snapshot(engine, migrations):  # a new SQLite store, without Alembic
            return
    from alembic import command

    try:
        command.upgrade(alembic_config(engine, migrations), "heads")
    except SQLAlchemyError as exc:
        raise BackendError(f"database migration failed: {exc}") from exc


class Database:
    """An engine plus session factories; the only door to SQL in Vigil."""

    def __init__(self, url: str, *, create: bool = True, migrations: Path = MIGRATIONS_DIR) -> None:
        """``migrations``: another Alembic script folder for a separate app (the hub's)."""
        self.url = url
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(url)
        self._write = sessionmaker(
            self.engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
        )
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        if create:
            migrate(self.engine, migrations)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that may write; committed on success, rolled back on error."""
        with self._write() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work (never committed; objects stay usable after it closes)."""
        with self._read() as session:
            yield session

    def dispose(self) -> None:
        """Close pooled connections (call before forking worker processes)."""
        self.engine.dispose()


def _at_heads(engine: Engine, migrations: Path) -> bool:
    """Whether the store's ``alembic_version`` rows are exactly the scripts' heads (False when
    either cannot be told cheaply: Alembic then decides)."""
    heads = script_heads(migrations)
    if heads is None:
        return False
    try:
        with engine.connect() as conn:
            stored = {row[0] for row in conn.exec_driver_sql(_VERSION_QUERY)}
            conn.rollback()
    except SQLAlchemyError:
        return False  # a new store (no version table yet), or a server that refused
    return stored == heads


_VERSION_QUERY = "SELECT version_num FROM alembic_version"
_REVISION_KEYS = ("revision", "down_revision", "depends_on")


@cache
def script_heads(migrations: Path) -> frozenset[str] | None:
    """The head revisions of an Alembic script folder, read from the scripts' literal
    ``revision`` / ``down_revision`` assignments without importing them (None when a script
    is not of that plain form, or uses ``depends_on``). Tested against Alembic's own answer."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in sorted((migrations / "versions").glob("*.py")):
        try:
            text = script.read_text(encoding="utf-8")
        except (OSError, ValueError):
            return None
        found = _assignments(text)
        if found is None:
            return None
        revision, down = found.get("revision"), found.get("down_revision")
        if not isinstance(revision, str) or found.get("depends_on") is not None:
            return None
        if isinstance(down, str):
            down = (down,)
        if down is None:
            down = ()
        if not isinstance(down, tuple | list) or not all(isinstance(d, str) for d in down):
            return None
        revisions.add(revision)
        parents.update(down)
    if not revisions or not parents <= revisions:
        return None
    return frozenset(revisions - parents)


def _assignments(text: str) -> dict[str, Any] | None:
    """The literal values of the module-level ``revision``, ``down_revision`` and ``depends_on``
    assignments (one line each; None when one is not a one-line literal)."""
    found: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.startswith(_REVISION_KEYS):
            continue
        try:
            node = ast.parse(line).body[0]
        except (SyntaxError, ValueError, IndexError):
            return None
        target: ast.expr | None = None
        value: ast.expr | None = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if not isinstance(target, ast.Name) or target.id not in _REVISION_KEYS or value is None:
            return None
        try:
            found[target.id] = ast.literal_eval(value)
        except ValueError:
            return None
    return found
