"""Engine, sessions and migrations.

SQLite is the embedded default (WAL journal, one writer at a time: write sessions open with
``BEGIN IMMEDIATE`` so two writers queue instead of failing half-way). Any SQLAlchemy URL works
by configuration; PostgreSQL is the shared-deployment backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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
    """Bring the schema to the newest revision of every branch (``heads``)."""
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
