"""What every request handler reaches through ``request.app.state.vigil``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from vigil.settings import Settings
from vigil.store.db import Database
from vigil.web.caseindex import CaseIndex
from vigil.web.config import WebConfig
from vigil.web.passwords import CheckGate

MediaLoader = Callable[[Database, int], bytes]
"""Returns the bytes of an ingested item, re-read read-only from its evidence source."""

MediaCheck = Callable[[Database | Session, int, list[int]], dict[int, str]]
"""(db or the request's read session, case id, item ids) → the items whose evidence cannot be
opened now, each with why."""


Spawn = Callable[[Callable[[], None], str], Any]
"""Runs a background job (target, thread name); by default a daemon thread of this process."""


def _all_readable(_db: Database | Session, _case_id: int, _item_ids: list[int]) -> dict[int, str]:
    return {}


@dataclass
class AppState:
    """Shared resources of one app instance."""

    settings: Settings
    config: WebConfig
    db: Database
    templates: Jinja2Templates
    load_media: MediaLoader
    check_media: MediaCheck = _all_readable
    """Which of a page's items have unavailable evidence (no reveal is offered for them)."""
    thumb_cache: dict[int, bytes] = field(default_factory=dict)
    case_index: CaseIndex = field(default_factory=CaseIndex)
    extras: dict[str, Any] = field(default_factory=dict)
    password_gate: CheckGate = field(default_factory=CheckGate)
    """Bounds concurrent Argon2 checks in this process (built from the config by create_app)."""
    spawn: Spawn = field(default_factory=lambda: _spawn_thread)
    """How background jobs (browser-started scans) run; tests may record them instead."""
    write_lock: threading.RLock = field(default_factory=threading.RLock)
    """Serialises this process's audit writes: SQLite allows one writer, and letting request
    threads race for it means busy-waiting with back-off (multi-second tails under load)."""

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A write transaction, queued in-process first when the store is SQLite."""
        if self.db.url.startswith("sqlite"):
            with self.write_lock, self.db.write() as session:
                yield session
        else:
            with self.db.write() as session:
                yield session

    def unavailable(
        self, case_id: int, item_ids: list[int], session: Session | None = None
    ) -> dict[int, str]:
        """Item id → "source not found at …" for the given items whose evidence is unreadable
        (``session``: the request's read session to look their paths up in)."""
        if not item_ids:
            return {}
        return self.check_media(session if session is not None else self.db, case_id, item_ids)


def _spawn_thread(target: Callable[[], None], name: str) -> threading.Thread:
    worker = threading.Thread(target=target, name=name, daemon=True)
    worker.start()
    return worker


def app_state(request: Request) -> AppState:
    """The :class:`AppState` of the app serving ``request``."""
    state = request.app.state.vigil
    assert isinstance(state, AppState)  # noqa: S101 - set by create_app
    return state


@contextmanager
def reading(db: Database) -> Iterator[Session]:
    """A read session whose loaded rows stay usable after it ends (templates render later):
    rows are detached before :meth:`Database.read` rolls back, which would expire them."""
    with db.read() as session:
        try:
            yield session
        finally:
            session.expunge_all()
