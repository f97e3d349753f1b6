"""Grading votes: trusted after N independent agreeing votes, conflicts visible."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.errors import InvalidInput, NotFound
from vigil.ingest.pipeline import ingest
from vigil.settings import Settings
from vigil.signals.synthetic import jpeg_bytes, scene
from vigil.store import audit, repo
from vigil.store.db import Database
from vigil.triage.grades import case_grades, record_grade, status_of


def test_tally_rules() -> None:
    assert not status_of({}, 1).trusted
    two = status_of({"ann": "A", "bob": "A"}, 1)
    assert two.leading == "A"
    assert two.agreeing == 2
    assert not two.trusted
    three = status_of({"ann": "A", "bob": "A", "cy": "A"}, 1)
    assert three.trusted
    assert not three.conflict
    split = status_of({"ann": "A", "bob": "A", "cy": "A", "dee": "B"}, 1)
    assert split.trusted
    assert split.conflict
    tie = status_of({"ann": "A", "bob": "B"}, 1, required=1)
    assert tie.leading is None
    assert not tie.trusted
    assert tie.conflict
    assert status_of({"ann": "C"}, 1, required=1).trusted
    with pytest.raises(InvalidInput):
        status_of({"ann": "C"}, 1, required=0)


@pytest.fixture
def one_item_case(tmp_path: Path, settings: Settings, db: Database) -> int:
    root = tmp_path / "ev"
    root.mkdir()
    (root / "a.jpg").write_bytes(jpeg_bytes(scene(3)))
    ingest(settings, db, root, "g", "tester", workers=0)
    with db.read() as s:
        return repo.case_items(s, repo.get_case(s, "g").id)[0].id


def test_votes_become_trusted_and_conflicts_show(db: Database, one_item_case: int) -> None:
    item = one_item_case
    assert not record_grade(db, "g", item, "ann", "a").trusted
    assert not record_grade(db, "g", item, "bob", "A").trusted
    st = record_grade(db, "g", item, "bob", "A")  # the same reviewer again is not a new vote
    assert st.agreeing == 2
    assert record_grade(db, "g", item, "cy", "A").trusted
    st = record_grade(db, "g", item, "dee", "B", note="looks like B")
    assert st.conflict
    assert st.trusted
    listed = case_grades(db, "g", conflicts_only=True)
    assert [g.item_id for g in listed] == [item]
    assert listed[0].votes == {"ann": "A", "bob": "A", "cy": "A", "dee": "B"}
    st = record_grade(db, "g", item, "ann", "B")  # ann changes her mind: 2 A vs 2 B
    assert not st.trusted
    assert st.leading is None
    with db.read() as s:
        actions = [e.action for e in audit.iter_entries(s)]
        assert actions.count("grade.vote") == 6
        audit.verify(s)


def test_bad_votes_are_refused(db: Database, one_item_case: int) -> None:
    with pytest.raises(InvalidInput):
        record_grade(db, "g", one_item_case, "ann", "D")
    with pytest.raises(InvalidInput):
        record_grade(db, "g", one_item_case, "ann", "5", system="us")
    with pytest.raises(InvalidInput):
        record_grade(db, "g", one_item_case, " ", "A")
    with pytest.raises(NotFound):
        record_grade(db, "g", 999_999, "ann", "A")
    assert record_grade(db, "g", one_item_case, "ann", "4", system="us").leading == "4"
