"""The case cache shared between server processes (``vigil serve --workers N``): a process that
has no view of a case loads the one another process built for the same fingerprint instead of
building it again, never a stale one, and gets exactly what a build of its own would give.

Each "process" is a :class:`CaseIndex` on its own :class:`Database` (its own engine and
connection pool), so the only thing they share is the store, as worker processes do."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from vigil.store import webcache
from vigil.store.db import Database
from vigil.web.caseindex import CaseIndex, CaseView
from vigil.web.overview import CARDS_CODEC, SectionCards, case_section_cards

from ._support import World, build_world
from .test_caseindex import Triage, add_item, flag_minor


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shared_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    if request.param == "sqlite":
        world = request.getfixturevalue("world")
        yield world
        return
    world = build_world(tmp_path, database_url=request.getfixturevalue("pg_url"))
    try:
        yield world
    finally:
        world.app_db.dispose()


def _fields(view: CaseView) -> dict[str, object]:
    out = dataclasses.asdict(view)
    for volatile in ("built_at", "built_wall", "_filtered"):
        out.pop(volatile)
    return out


def _other_process(world: World) -> Database:
    return Database(world.app_db.url, create=False)


def test_second_process_loads_the_first_ones_build(shared_world: World) -> None:
    w = shared_world
    flag_minor(w, w.items_a[-1], likely_minor=True)
    triage = Triage()
    triage.known = {w.items_a[0]}
    first = CaseIndex(shared=True)
    view = first.view(w.app_db, w.case_a, triage)
    assert first.builds == 1
    other_db = _other_process(w)
    try:
        second = CaseIndex(shared=True)
        loaded = second.view(other_db, w.case_a, triage)
        assert second.builds == 0  # loaded, not built
        # the oracle: a build of its own (sharing off) gives exactly the same view
        own = CaseIndex(shared=False).view(other_db, w.case_a, triage)
        assert _fields(loaded) == _fields(own) == _fields(view)
        assert loaded.ids(None, show_known=False) == own.ids(None, show_known=False)
        assert loaded.order[0] == w.items_a[-1]  # the likely-minor item still first
        assert abs(loaded.built_wall - view.built_wall) < 1e-6  # "as of" the real build
    finally:
        other_db.dispose()


def test_new_evidence_and_rematching_in_one_process_reach_the_other(shared_world: World) -> None:
    w = shared_world
    triage = Triage()
    a, b = CaseIndex(shared=True, min_rebuild=0), CaseIndex(shared=True, min_rebuild=0)
    other_db = _other_process(w)
    try:
        a.view(w.app_db, w.case_a, triage)
        b.view(other_db, w.case_a, triage)
        new = add_item(w, 7)  # e.g. an ingest started from the browser in worker A
        assert new in a.view(w.app_db, w.case_a, triage).order
        assert new in b.view(other_db, w.case_a, triage).order
        assert b.builds == 0  # B loaded A's build for the new fingerprint
        triage.known, triage.v = {w.items_a[0]}, 1  # matching re-ran
        assert w.items_a[0] in b.view(other_db, w.case_a, triage).known
        assert w.items_a[0] not in b.view(other_db, w.case_a, triage).ids(None, False)
        assert w.items_a[0] in a.view(w.app_db, w.case_a, triage).known
    finally:
        other_db.dispose()


def test_a_row_for_another_fingerprint_or_too_old_is_never_used(shared_world: World) -> None:
    w = shared_world
    triage = Triage()
    CaseIndex(shared=True).view(w.app_db, w.case_a, triage)
    with w.app_db.write() as s:  # the stored snapshot claims to be current but is old
        s.execute(update(webcache.CaseCache).values(built_at=time.time() - 3600))
    late = CaseIndex(shared=True, ttl=300)
    late.view(w.app_db, w.case_a, triage)
    assert late.builds == 1
    add_item(w, 8)
    other = CaseIndex(shared=True)
    view = other.view(w.app_db, w.case_a, triage)
    assert other.builds == 1  # the stored row was for the old fingerprint
    assert len(view.order) == len(w.items_a) + 1


def test_a_damaged_row_costs_a_build_not_the_page(shared_world: World) -> None:
    w = shared_world
    triage = Triage()
    CaseIndex(shared=True).view(w.app_db, w.case_a, triage)
    with w.app_db.write() as s:
        s.execute(update(webcache.CaseCache).values(payload=b"not zlib"))
    index = CaseIndex(shared=True)
    view = index.view(w.app_db, w.case_a, triage)
    assert index.builds == 1 and sorted(view.order) == sorted(w.items_a)
    with w.app_db.write() as s:
        s.execute(update(webcache.CaseCache).values(payload=webcache.encode({"v": 99})))
    again = CaseIndex(shared=True)
    assert sorted(again.view(w.app_db, w.case_a, triage).order) == sorted(w.items_a)
    assert again.builds == 1


def test_sections_are_shared_with_their_codec(shared_world: World) -> None:
    w = shared_world
    triage = Triage()
    a = CaseIndex(shared=True)
    built_at, cards = a.sections(
        w.app_db, w.case_a, a.view(w.app_db, w.case_a, triage), case_section_cards, CARDS_CODEC
    )
    assert a.builds == 2 and cards and all(isinstance(c, SectionCards) for c in cards)
    b = CaseIndex(shared=True)
    calls: list[int] = []

    def counting(session: object, case_id: int) -> list[SectionCards]:
        calls.append(case_id)
        return case_section_cards(session, case_id)

    b_built, b_cards = b.sections(
        w.app_db, w.case_a, b.view(w.app_db, w.case_a, triage), counting, CARDS_CODEC
    )
    assert calls == [] and b.builds == 0
    assert b_cards == cards and abs(b_built - built_at) < 1e-6
    # without a codec nothing is shared: each process builds its own
    c = CaseIndex(shared=True)
    c.sections(w.app_db, w.case_a, c.view(w.app_db, w.case_a, triage), counting)
    assert calls == [w.case_a]


def test_invalidate_with_the_store_forgets_the_shared_rows(shared_world: World) -> None:
    w = shared_world
    triage = Triage()
    a = CaseIndex(shared=True)
    a.view(w.app_db, w.case_a, triage)
    a.invalidate(w.case_a, db=w.app_db)
    b = CaseIndex(shared=True)
    b.view(w.app_db, w.case_a, triage)
    assert b.builds == 1


def test_sqlite_does_not_share_by_default(world: World) -> None:
    index = CaseIndex()
    index.view(world.app_db, world.case_a, Triage())
    with world.app_db.read() as s:
        assert s.query(webcache.CaseCache).count() == 0
