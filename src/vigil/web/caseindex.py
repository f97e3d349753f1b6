"""A per-process cache of each case's item list and counts, so that review screens on a case of
100k items answer in milliseconds.

Built from one pass over the case's items (:func:`vigil.store.web.case_item_facts`) and kept
while the case's fingerprint (:func:`vigil.store.web.case_signature`: occurrences, newest
occurrence, warnings; a ~ms query made on every use) is unchanged and the entry is younger than
``ttl`` seconds (known/fresh results may change without new files: matching runs as a batch).
While an ingest is running the fingerprint changes constantly; a rebuild then happens at most
every ``min_rebuild`` seconds and the screens say "as of" the build time.

**Shared between worker processes** (``vigil serve --workers N``, on by default for every store
but SQLite, which has one worker): each build is also stored in the database
(:mod:`vigil.store.webcache`) under the fingerprint it was built for, and a process that has no
current view of a case loads that row instead of running the case-wide queries again. So only
the first process to see a new fingerprint builds; the others (and a restarted server) load the
snapshot in a few milliseconds. A row is used only when its fingerprint is the store's current
one and it is younger than ``ttl`` (same rules as the in-memory view).
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, bindparam
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from vigil.store import faces as fstore
from vigil.store import web as store
from vigil.store import webcache
from vigil.store.db import Database

log = logging.getLogger(__name__)

SHARED_ERRORS = (SQLAlchemyError, ValueError, KeyError, TypeError, zlib.error)
"""A failing shared-cache read or write costs a local build, never the page."""


@dataclass
class CaseView:
    """A snapshot of one case's items."""

    signature: tuple[int, ...]
    built_at: float
    built_wall: float
    order: list[int]
    """Item ids in review order: fresh items with a "likely minor" face first, then other fresh
    items (when a triage provider says), then other items with a likely-minor face, then the
    rest, each by id. The flag only raises items; nothing is hidden because of it."""
    kind_of: dict[int, str]
    known: set[int]
    fresh: set[int]
    by_kind: dict[str, int]
    by_status: dict[str, int]
    sources: int
    occurrences: int
    warnings_by_code: dict[str, int]
    minor: set[int] = field(default_factory=set)
    """Items with at least one face flagged "likely minor" by the age estimator."""
    _filtered: dict[tuple[str, bool], list[int]] = field(default_factory=dict)

    @property
    def items(self) -> int:
        return len(self.order)

    @property
    def warnings(self) -> int:
        return sum(self.warnings_by_code.values())

    def to_json(self) -> dict[str, Any]:
        """What the shared cache stores (ids grouped by kind; the order as built)."""
        kinds: dict[str, list[int]] = {}
        for item_id, kind in self.kind_of.items():
            kinds.setdefault(kind, []).append(item_id)
        return {
            "v": 1,
            "order": self.order,
            "kinds": kinds,
            "known": sorted(self.known),
            "fresh": sorted(self.fresh),
            "minor": sorted(self.minor),
            "by_status": self.by_status,
            "sources": self.sources,
            "occurrences": self.occurrences,
            "warnings_by_code": self.warnings_by_code,
        }

    @classmethod
    def from_json(
        cls, data: dict[str, Any], signature: tuple[int, ...], built_wall: float
    ) -> CaseView:
        """The view :meth:`to_json` stored (its age kept: ``built_at`` is set back by it)."""
        if data.get("v") != 1:
            raise ValueError(f"unknown case view format {data.get('v')!r}")
        kind_of = {int(i): str(kind) for kind, ids in data["kinds"].items() for i in ids}
        order = [int(i) for i in data["order"]]
        if len(order) != len(kind_of):
            raise ValueError("case view order and kinds disagree")
        age = max(0.0, time.time() - built_wall)
        return cls(
            signature=signature,
            built_at=time.monotonic() - age,
            built_wall=built_wall,
            order=order,
            kind_of=kind_of,
            known={int(i) for i in data["known"]},
            fresh={int(i) for i in data["fresh"]},
            by_kind=dict(sorted((k, len(v)) for k, v in data["kinds"].items())),
            by_status={str(k): int(v) for k, v in data["by_status"].items()},
            sources=int(data["sources"]),
            occurrences=int(data["occurrences"]),
            warnings_by_code={str(k): int(v) for k, v in data["warnings_by_code"].items()},
            minor={int(i) for i in data["minor"]},
        )

    def ids(self, kind: str | None, show_known: bool) -> list[int]:
        """Ordered ids for a kind filter, known material left out unless asked for."""
        key = (kind or "", show_known)
        if key not in self._filtered:
            self._filtered[key] = [
                i
                for i in self.order
                if (not kind or self.kind_of[i] == kind) and (show_known or i not in self.known)
            ]
        return self._filtered[key]


class CaseIndex:
    """Thread-safe cache of :class:`CaseView` per case id."""

    def __init__(
        self, ttl: float = 300.0, min_rebuild: float = 5.0, shared: bool | None = None
    ) -> None:
        """``shared``: also store builds in, and load them from, the database (None: on for
        every store but SQLite, whose single server process has nobody to share with)."""
        self.ttl = ttl
        self.min_rebuild = min_rebuild
        self.shared = shared
        self.builds = 0
        """Views and sections this process built itself (not loaded): for tests and figures."""
        self._views: dict[int, CaseView] = {}
        self._sections: dict[int, tuple[tuple[int, ...], float, float, Any]] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()
        self._signature_sql: dict[int, tuple[Any, Any]] = {}

    def _lock(self, case_id: int) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(case_id, threading.Lock())

    def view(
        self, db: Database, case_id: int, triage: Any | None, session: Session | None = None
    ) -> CaseView:
        """The current view of a case (rebuilt when stale). ``session``: a read session of the
        request to check the fingerprint in (saves a connection check-out), else one of its
        own."""
        if session is None:
            with db.read() as own:
                signature = self._signature(own, case_id, triage)
        else:
            signature = self._signature(session, case_id, triage)
        cached = self._views.get(case_id)
        if cached is not None and self._fresh(cached, signature):
            return cached
        lock = self._lock(case_id)
        if cached is not None and cached.signature[3:] == signature[3:]:
            if not lock.acquire(blocking=False):
                # another request is rebuilding after new evidence arrived: serve the last
                # view (its "as of" time says so) rather than queue every reviewer behind it
                return cached
        else:
            lock.acquire()  # no view yet, or known/fresh changed: wait for the new one
        try:
            cached = self._views.get(case_id)
            if cached is not None and self._fresh(cached, signature):
                return cached
            loaded = self._load(db, case_id, "view", signature)
            if loaded is not None:
                try:
                    view = CaseView.from_json(loaded[1], signature, loaded[0])
                except SHARED_ERRORS as exc:
                    log.warning("shared view of case %s unreadable (%s): rebuilding", case_id, exc)
                else:
                    self._views[case_id] = view
                    return view
            built = self._build(db, case_id, triage, signature)
            self.builds += 1
            self._views[case_id] = built
            self._save(db, case_id, "view", signature, built.built_wall, built.to_json())
            return built
        finally:
            lock.release()

    def _signature(self, session: Session, case_id: int, triage: Any | None) -> tuple[int, ...]:
        query = getattr(triage, "version_query", None)
        # the statement is built once per triage provider (its version query is given the
        # bound case id): building SQLAlchemy statements costs more than running this one
        key = id(triage)
        cached = self._signature_sql.get(key)
        if cached is None or cached[0] is not triage:
            extra = query(bindparam("case_id", type_=Integer)) if query else None
            cached = (triage, store.case_signature_statement(extra))
            self._signature_sql[key] = cached
        signature = store.run_case_signature(session, cached[1], case_id)
        if triage is not None and query is None:
            signature = (*signature, triage.version(session, case_id))
        return signature

    def _sharing(self, db: Database) -> bool:
        return self.shared if self.shared is not None else not db.url.startswith("sqlite")

    def _load(
        self, db: Database, case_id: int, kind: str, signature: tuple[int, ...], ttl: float = 0
    ) -> tuple[float, Any] | None:
        """(build wall time, data) of the shared row built for ``signature``, if young enough."""
        if not self._sharing(db):
            return None
        try:
            with db.read() as session:
                row = webcache.load(session, case_id, kind, signature)
            if row is None or time.time() - row[0] > (ttl or self.ttl):
                return None
            return row[0], webcache.decode(row[1])
        except SHARED_ERRORS as exc:
            log.warning("shared %s of case %s not loaded (%s): building", kind, case_id, exc)
            return None

    def _save(
        self,
        db: Database,
        case_id: int,
        kind: str,
        signature: tuple[int, ...],
        built_wall: float,
        data: Any,
    ) -> None:
        if not self._sharing(db):
            return
        try:
            payload = webcache.encode(data)
            with db.write() as session:
                webcache.save(session, case_id, kind, signature, built_wall, payload)
        except SHARED_ERRORS as exc:
            # e.g. another worker stored the same build at the same moment: theirs is as good
            log.info("shared %s of case %s not stored (%s)", kind, case_id, exc)

    def _fresh(self, view: CaseView, signature: tuple[int, ...]) -> bool:
        age = time.monotonic() - view.built_at
        if age > self.ttl:
            return False
        if view.signature[3:] != signature[3:]:
            return False  # known/fresh results changed: never show stale ones
        return view.signature == signature or age < self.min_rebuild

    def sections(
        self,
        db: Database,
        case_id: int,
        view: CaseView,
        build: Any,
        codec: tuple[Callable[[Any], Any], Callable[[Any], Any]] | None = None,
    ) -> tuple[float, Any]:
        """Capability summary sections of a case, cached like the view (some take seconds on a
        large case): (build time, sections). ``codec`` (to JSON, from JSON) lets the sections be
        shared between processes like the view; without it they are built per process."""
        key = -case_id - 1  # separate namespace from the view locks
        cached = self._sections.get(case_id)
        if (
            cached is not None
            and cached[0] == view.signature
            and (time.monotonic() - cached[1] < self.ttl * 4)
        ):
            return cached[2], cached[3]
        with self._lock(key):
            cached = self._sections.get(case_id)
            if (
                cached is not None
                and cached[0] == view.signature
                and (time.monotonic() - cached[1] < self.ttl * 4)
            ):
                return cached[2], cached[3]
            if codec is not None:
                loaded = self._load(db, case_id, "sections", view.signature, self.ttl * 4)
                if loaded is not None:
                    try:
                        data = codec[1](loaded[1])
                    except SHARED_ERRORS as exc:
                        log.warning("shared sections of case %s unreadable (%s)", case_id, exc)
                    else:
                        age = max(0.0, time.time() - loaded[0])
                        entry = (view.signature, time.monotonic() - age, loaded[0], data)
                        self._sections[case_id] = entry
                        return entry[2], entry[3]
            with db.read() as session:
                data = build(session, case_id)
            self.builds += 1
            entry = (view.signature, time.monotonic(), time.time(), data)
            self._sections[case_id] = entry
            if codec is not None:
                self._save(db, case_id, "sections", view.signature, entry[2], codec[0](data))
            return entry[2], entry[3]

    def invalidate(self, case_id: int | None = None, db: Database | None = None) -> None:
        """Forget one case (or all), e.g. after a change made through the app; with ``db``
        the shared rows too (other processes keep their in-memory view until it goes stale)."""
        if db is not None and self._sharing(db):
            with db.write() as session:
                webcache.forget(session, case_id)
        if case_id is None:
            self._views.clear()
            self._sections.clear()
        else:
            self._views.pop(case_id, None)
            self._sections.pop(case_id, None)

    @staticmethod
    def _build(
        db: Database, case_id: int, triage: Any | None, signature: tuple[int, ...]
    ) -> CaseView:
        with db.read() as session:
            facts = store.case_item_facts(session, case_id)
            known = store.id_set(session, triage.known_ids(case_id)) if triage else set()
            fresh = store.id_set(session, triage.fresh_ids(case_id)) if triage else set()
            sources, occurrences, warnings = store.case_light_counts(session, case_id)
            minor = fstore.case_likely_minor_item_ids(session, case_id)
        by_kind: dict[str, int] = {}
        by_status: dict[str, int] = {}
        kind_of: dict[int, str] = {}
        for item_id, kind, status in facts:
            kind_of[item_id] = kind
            by_kind[kind] = by_kind.get(kind, 0) + 1
            by_status[status] = by_status.get(status, 0) + 1
        ids = [f[0] for f in facts]
        order = sorted(ids, key=lambda i: (i not in fresh, i not in minor, i))
        return CaseView(
            signature=signature,
            built_at=time.monotonic(),
            built_wall=time.time(),
            order=order,
            kind_of=kind_of,
            known=known & kind_of.keys(),
            fresh=fresh & kind_of.keys(),
            by_kind=dict(sorted(by_kind.items())),
            by_status=dict(sorted(by_status.items())),
            sources=sources,
            occurrences=occurrences,
            warnings_by_code=dict(sorted(warnings.items())),
            minor=minor & kind_of.keys(),
        )
