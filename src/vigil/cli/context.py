"""What every CLI command needs: settings, the database and the acting user.

Commands call :func:`runtime` rather than building these themselves, so the ``--data-dir`` and
``--user`` global options apply everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from vigil.settings import Settings

if TYPE_CHECKING:  # the store (SQLAlchemy + Alembic) loads only in commands that open it
    from vigil.store.db import Database


@dataclass
class Runtime:
    """Lazily opened resources for one CLI invocation."""

    settings: Settings
    json_errors: bool = False
    _opened: list[Database] = field(default_factory=list)

    @cached_property
    def db(self) -> Database:
        """The case store (migrated to the newest schema on first use)."""
        from vigil.store.db import Database

        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        database = Database(self.settings.database_url)
        self._opened.append(database)
        return database

    def close(self) -> None:
        """Close the databases this invocation opened (a server database counts connections;
        library and test callers run many invocations in one process)."""
        for database in self._opened:
            database.dispose()
        self._opened.clear()
        self.__dict__.pop("db", None)

    @property
    def actor(self) -> str:
        """The user every audit entry of this invocation is attributed to."""
        return self.settings.user


_RUNTIME: Runtime | None = None


def set_runtime(rt: Runtime) -> None:
    """Install the runtime for this process (done by the root command)."""
    global _RUNTIME
    if _RUNTIME is not None and _RUNTIME is not rt:
        _RUNTIME.close()
    _RUNTIME = rt


def close_runtime() -> None:
    """Close the current runtime's resources (end of a command)."""
    if _RUNTIME is not None:
        _RUNTIME.close()


def runtime() -> Runtime:
    """The runtime set up by the root command (or a default one for library use)."""
    global _RUNTIME
    if _RUNTIME is None:
        _RUNTIME = Runtime(Settings.load())
    return _RUNTIME
