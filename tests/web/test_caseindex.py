"""The per-case item cache follows new evidence and re-matching, and never hides stale
known/fresh results."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Select, select

from vigil.store.models import EvidenceSource, MediaItem, Occurrence
from vigil.web.caseindex import CaseIndex

from ._support import World


class Triage:
    name = "t"

    def __init__(self) -> None:
        self.known: set[int] = set()
        self.v = 0

    def known_ids(self, case_id: int) -> Select[Any]:
        return select(MediaItem.id).where(MediaItem.id.in_(self.known))

    def fresh_ids(self, case_id: int) -> None:
        return None

    def version(self, session: Any, case_id: int) -> int:
        return self.v


def add_item(world: World, n: int) -> int:
    with world.app_db.write() as s:
        src = s.execute(
            select(EvidenceSource).where(EvidenceSource.case_id == world.case_a)
        ).scalar_one()
        data = f"new item {n}".encode()
        item = MediaItem(
            sha256=hashlib.sha256(data).hexdigest(),
            sha1="0" * 40,
            md5="0" * 32,
            size=1,
            content_type="text",
            kind="other",
            extractor_version="t",
        )
        s.add(item)
        s.flush()
        s.add(Occurrence(source_id=src.id, item_id=item.id, path=f"n{n}", raw_path=b"n%d" % n))
        return item.id


def test_new_evidence_and_rematching(world: World) -> None:
    triage = Triage()
    index = CaseIndex(ttl=300, min_rebuild=0)
    view = index.view(world.app_db, world.case_a, triage)
    assert view.items == len(world.items_a)
    assert index.view(world.app_db, world.case_a, triage) is view  # unchanged: cached
    new = add_item(world, 1)
    view2 = index.view(world.app_db, world.case_a, triage)
    assert new in view2.order
    slow = CaseIndex(ttl=300, min_rebuild=3600)  # evidence changes wait, known/fresh do not
    v = slow.view(world.app_db, world.case_a, triage)
    add_item(world, 2)
    assert slow.view(world.app_db, world.case_a, triage) is v
    triage.known, triage.v = {world.items_a[0]}, 1
    v3 = slow.view(world.app_db, world.case_a, triage)
    assert v3 is not v
    assert world.items_a[0] not in v3.ids(None, show_known=False)
    assert world.items_a[0] in v3.ids(None, show_known=True)


def flag_minor(world: World, item_id: int, *, likely_minor: bool) -> None:
    """Store one face with an age estimate on ``item_id`` (as the faces analyzer would)."""
    import numpy as np

    from vigil.store import faces as fstore

    with world.app_db.write() as s:
        det = fstore.ensure_model(s, "detector", "d", "1", "0" * 64)
        emb = fstore.ensure_model(s, "embedder", "e", "1", "0" * 64, 4)
        age = fstore.ensure_model(s, "age", "a", "1", "0" * 64)
        face = {
            "box": [0, 0, 50, 50],
            "score": 1.0,
            "landmarks": [[1, 1]] * 5,
            "blur": 100.0,
            "size": 50,
            "quality": 1.0,
            "vector": np.zeros(4, np.float32),
            "age": {
                "status": "estimate",
                "low": 6.0 if likely_minor else 30.0,
                "median": 9.0 if likely_minor else 35.0,
                "high": 12.0 if likely_minor else 40.0,
                "p_minor": 0.99 if likely_minor else 0.0,
                "likely_minor": likely_minor,
            },
        }
        fstore.add_scan(
            s,
            item_id,
            detector_id=det.id,
            embedder_id=emb.id,
            analyzer_version="1",
            frames=1,
            status="ok",
            faces=[face],
            dim=4,
            age_model_id=age.id,
        )


def test_likely_minor_items_come_first_and_nothing_is_hidden(world: World) -> None:
    last, adult = world.items_a[-1], world.items_a[0]
    flag_minor(world, last, likely_minor=True)
    flag_minor(world, adult, likely_minor=False)
    view = CaseIndex(ttl=300, min_rebuild=0).view(world.app_db, world.case_a, Triage())
    assert view.minor == {last}
    assert view.order[0] == last
    assert sorted(view.order) == sorted(world.items_a)  # raised, never hidden
    assert view.order[1:] == sorted(i for i in world.items_a if i != last)
