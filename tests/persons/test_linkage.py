"""Linkage model details that do not need a full pipeline."""

from __future__ import annotations

import pyarrow as pa
import pytest

from vigil.errors import InvalidInput
from vigil.persons import linkage


def _table(rows: list[dict[str, object]]) -> pa.Table:
    cols = {c: [r.get(c) for r in rows] for c in linkage.LINK_COLUMNS}
    schema = pa.schema(
        [("unique_id", pa.int64())] + [(c, pa.string()) for c in linkage.LINK_COLUMNS[1:]]
    )
    return pa.Table.from_pydict(cols, schema=schema)


def test_identifier_u_counts_pairs_once_per_level() -> None:
    rows = [
        {"unique_id": 1, "card_token": "c1", "email": "e1", "phone": "p1"},
        {"unique_id": 2, "card_token": "c1", "email": "e1", "phone": "p1"},  # card+e-mail
        {"unique_id": 3, "card_token": "c1", "email": "e2"},  # card only with 1 and 2
        {"unique_id": 4, "card_token": "c9", "email": "e2", "phone": "p4"},  # e-mail with 3
        {"unique_id": 5, "card_token": "c5", "email": "e5", "phone": "p4"},  # phone with 4
    ]
    u = linkage.identifier_u(_table(rows))
    pairs = 5 * 4 / 2
    assert u["same card and e-mail"] == pytest.approx(1 / pairs)
    assert u["same card"] == pytest.approx(2 / pairs)
    assert u["same e-mail"] == pytest.approx(1 / pairs)
    assert u["same phone"] == pytest.approx(1 / pairs)
    assert u["same phone and card or e-mail"] == pytest.approx(1 / pairs)  # floor: none


def test_linkage_table_must_have_the_columns() -> None:
    with pytest.raises(InvalidInput, match="lacks columns"):
        linkage.train(pa.table({"unique_id": [1, 2]}))
    with pytest.raises(InvalidInput, match="at least two"):
        linkage.train(_table([{"unique_id": 1, "surname": "x"}]))


def _no_shared_identifiers(persons: int = 150) -> pa.Table:
    """Two records per person, no card, e-mail, phone, postcode or address at all (issue 14,
    defect 6: the card- and postcode-blocked training rounds find no pairs)."""
    import random

    rng = random.Random(3)
    firsts = ["anna", "ben", "carla", "dev", "eli", "fay", "gus", "hana", "ivan", "jo"]
    rows: list[dict[str, object]] = []
    for i in range(persons):
        first = rng.choice(firsts)
        surname = f"{rng.choice(['smith', 'jones', 'brown', 'evans'])}{i}"
        dob = f"19{rng.randint(50, 99)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
        for _ in range(2):
            rows.append(
                {"unique_id": len(rows) + 1, "first_name": first, "surname": surname, "dob": dob}
            )
    return _table(rows)


def test_batch_without_shared_identifiers_links_and_says_why_rounds_were_skipped() -> None:
    table = _no_shared_identifiers()
    out = linkage.link(table)
    groups = out.clusters.groups()
    assert len(groups) == table.num_rows // 2
    assert all(sorted(g) in ([2 * k + 1, 2 * k + 2] for k in range(150)) for g in groups.values())
    notes = " | ".join(out.model.notes)
    assert "blocked on card_token: skipped, no two records share it" in notes
    assert "blocked on postcode: skipped" in notes
    assert "blocked on surname + dob: trained on 150 pairs" in notes
    # the model keeps every comparison, so a saved model predicts again
    names = [c["output_column_name"] for c in out.model.settings["comparisons"]]
    assert names == list(linkage.COMPARISON_NAMES)
    again = linkage.predict(table, linkage.Model.from_json(out.model.to_json()))
    assert len(again) == len(out.edges)


def test_blocked_pairs_counts_agreeing_non_null_pairs() -> None:
    rows = [
        {"unique_id": 1, "surname": "a", "dob": "1"},
        {"unique_id": 2, "surname": "a", "dob": "1"},
        {"unique_id": 3, "surname": "a", "dob": "1"},
        {"unique_id": 4, "surname": "a", "dob": None},
        {"unique_id": 5, "surname": "b"},
    ]
    assert linkage.blocked_pairs(_table(rows), ["surname", "dob"]) == 3
    assert linkage.blocked_pairs(_table(rows), ["card_token"]) == 0


def test_pair_completeness_counts_true_pairs_any_rule_covers() -> None:
    rows = [
        # a swapped name with a different postcode: only the swap rule covers it
        {"unique_id": 1, "first_name": "sophie", "surname": "burford", "postcode": "AB12CD"},
        {"unique_id": 2, "first_name": "burford", "surname": "sophie", "postcode": "XY98ZW"},
        # nothing shared at all: not covered
        {"unique_id": 3, "first_name": "tom", "surname": "ash", "dob": "1970-01-01"},
        {"unique_id": 4, "first_name": "thomas", "surname": "asch", "dob": "1971-02-02"},
        {"unique_id": 5, "first_name": "ann", "surname": "lee", "card_token": "c1"},
    ]
    out = linkage.pair_completeness(_table(rows), ["p1", "p1", "p2", "p2", "p3"])
    assert (out["true_pairs"], out["covered_pairs"]) == (2, 1)
    assert out["pair_completeness"] == 0.5
    assert out["pairs_only_this_rule_covers"]["first_name:surname+surname:first_name"] == 1
    with pytest.raises(InvalidInput):
        linkage.pair_completeness(_table(rows), ["p1"])
