"""A per-process cache of each case's item list and counts, so that review screens on a case of
100k items answer in milliseconds.

Built from one pass over the case's items (:func:`vigil.store.web.case_item_facts`) and kept
while the case's fingerprint (:func:`vigil.store.web.case_signature`: occurrences, newest
occurrence, warnings; a ~ms query made on every use) is unchanged and the entry is younger than
``ttl`` seconds (known/fresh results may change without new files: matching runs as a batch).
While an ingest is running the fingerprint changes constantly; a rebuild then happens at most
every ``min_rebuild`` seconds and the screens say "as of" the build time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from vigil.store import faces as fstore
from vigil.store import web as store
from vigil.store.db import Database


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

    def __init__(self, ttl: float = 300.0, min_rebuild: float = 5.0) -> None:
        self.ttl = ttl
        self.min_rebuild = min_rebuild
        self._views: dict[int, CaseView] = {}
        self._sections: dict[int, tuple[tuple[int, ...], float, float, Any]] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, case_id: int) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(case_id, threading.Lock())

    def view(self, db: Database, case_id: int, triage: Any | None) -> CaseView:
        """The current view of a case (rebuilt when stale)."""
        with db.read() as session:
            signature: tuple[int, ...] = store.case_signature(session, case_id)
            if triage is not None:
                signature = (*signature, triage.version(session, case_id))
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
            built = self._build(db, case_id, triage, signature)
            self._views[case_id] = built
            return built
        finally:
            lock.release()

    def _fresh(self, view: CaseView, signature: tuple[int, ...]) -> bool:
        age = time.monotonic() - view.built_at
        if age > self.ttl:
            return False
        if view.signature[3:] != signature[3:]:
            return False  # known/fresh results changed: never show stale ones
        return view.signature == signature or age < self.min_rebuild

    def sections(
        self, db: Database, case_id: int, view: CaseView, build: Any
    ) -> tuple[float, list[tuple[str, list[str]]]]:
        """Capability summary sections of a case, cached like the view (some take seconds on a
        large case): (build time, sections)."""
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
            with db.read() as session:
                data = build(session, case_id)
            entry = (view.signature, time.monotonic(), time.time(), data)
            self._sections[case_id] = entry
            return entry[2], entry[3]

    def invalidate(self, case_id: int | None = None) -> None:
        """Forget one case (or all), e.g. after a change made through the app."""
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
