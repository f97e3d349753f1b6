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


# ---------------------------------------------------------------------------------------------
# Term frequencies (issue 15): part of the model, read by every session
# ---------------------------------------------------------------------------------------------

RARE, COMMON = "lindthorpe", "smith"


def _frequency_batch() -> pa.Table:
    """Two records per person, each pair the same evidence but the surname: a third of the
    persons are Smiths, the others each have a surname of their own."""
    import random

    rng = random.Random(5)
    firsts = ["anna", "ben", "carla", "dev", "eli", "fay", "gus", "hana", "ivan", "jo", "kim"]
    rows: list[dict[str, object]] = []
    for i in range(120):
        surname = COMMON if i % 3 == 0 else f"{RARE}{i}" if i != 1 else RARE
        dob = f"19{rng.randint(50, 99)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
        postcode = f"AB{rng.randint(10, 99)}CD"
        person = {
            "first_name": rng.choice(firsts),
            "surname": surname,
            "dob": dob,
            "postcode": postcode,
            "district": postcode[:4],
            "address": f"{i} high street",
            "card_token": f"card{i}",
        }
        for _ in range(2):
            rows.append({"unique_id": len(rows) + 1, **person})
    return _table(rows)


@pytest.fixture(scope="module")
def tf_linked() -> tuple[pa.Table, linkage.LinkOutcome]:
    table = _frequency_batch()
    return table, linkage.link(table, params=linkage.LinkParams(threads=1))


def _pair(table: pa.Table, surname: str) -> pa.Table:
    """The two records of the first person named ``surname``, both called Ben (the first
    name's frequency is adjusted too)."""
    rows = [r for r in table.to_pylist() if r["surname"] == surname][:2]
    keep = {k: v for k, v in rows[0].items() if k not in ("unique_id", "surname")}
    keep["first_name"] = "ben"
    return _table([{**r, **keep} for r in rows])


def _edge_of(edges: linkage.Edges, a: int, b: int) -> int:
    hits = [i for i in range(len(edges)) if {int(edges.left[i]), int(edges.right[i])} == {a, b}]
    assert len(hits) == 1
    return hits[0]


def test_frequencies_are_counted_over_all_records_and_kept_in_the_model(
    tf_linked: tuple[pa.Table, linkage.LinkOutcome],
) -> None:
    table, out = tf_linked
    freq = out.model.frequencies["surname"]
    assert freq.records == table.num_rows
    assert freq.counts[COMMON] == 2 * 40
    assert freq.counts[RARE] == 2
    assert freq.frequency("never-seen") == freq.minimum == 1 / table.num_rows
    assert out.model.tf_comparisons() == ["first_name", "surname"]
    assert out.model.frequencies["first_name"].records == table.num_rows
    assert f"term frequencies of surname: {table.num_rows} values counted" in " | ".join(
        out.model.notes
    )
    # EM trained both adjusted levels (an untrained m would leave Splink's default)
    for comp in out.model.settings["comparisons"]:
        for lv in comp["comparison_levels"]:
            if lv.get("tf_adjustment_column"):
                assert lv["label_for_charts"] == "exact"
                assert 0.5 < lv.get("m_probability", 0) <= 1 and lv["u_probability"] > 0


def test_a_shared_rare_surname_weighs_more_than_a_shared_common_one(
    tf_linked: tuple[pa.Table, linkage.LinkOutcome],
) -> None:
    table, out = tf_linked
    model = out.model
    rare, common = _pair(table, RARE), _pair(table, COMMON)
    both = pa.concat_tables([rare, common])
    edges = linkage.predict(both, model)
    ids = both.column("unique_id").to_pylist()
    e_rare, e_common = _edge_of(edges, ids[0], ids[1]), _edge_of(edges, ids[2], ids[3])
    # everything but the surname's value is equal: same levels, same base weights
    for name in linkage.COMPARISON_NAMES:
        assert edges.mw[name][e_rare] == pytest.approx(edges.mw[name][e_common])
    assert edges.tf["first_name"][e_rare] == pytest.approx(edges.tf["first_name"][e_common])
    assert edges.weight[e_rare] > edges.weight[e_common] + 2
    rare_x = edges.explanation(e_rare, model)["comparisons"]["surname"]
    common_x = edges.explanation(e_common, model)["comparisons"]["surname"]
    assert rare_x["level"] == common_x["level"] == "exact"
    assert rare_x["term_frequency_adjustment"] > 0 > common_x["term_frequency_adjustment"]
    # the same model without its frequency adjustment: both pairs weigh the same
    plain = linkage.link(table, params=linkage.LinkParams(threads=1, term_frequencies=False))
    assert plain.model.tf_comparisons() == [] and not plain.model.frequencies
    flat = linkage.predict(both, plain.model)
    assert flat.weight[_edge_of(flat, ids[0], ids[1])] == pytest.approx(
        flat.weight[_edge_of(flat, ids[2], ids[3])]
    )
    assert not flat.tf


def test_a_value_unseen_at_training_reads_the_minimum_frequency(
    tf_linked: tuple[pa.Table, linkage.LinkOutcome],
) -> None:
    """A surname seen once at training and one never seen score alike, in a full prediction
    and against existing records (``predict_between``): the batch never counts its own."""
    table, out = tf_linked
    once = [r for r in table.to_pylist() if r["surname"] == f"{RARE}2"][:1]
    assert out.model.frequencies["surname"].counts.get(f"{RARE}2") == 2
    base = {k: v for k, v in once[0].items() if k not in ("unique_id", "surname")}
    rows = [
        {**base, "unique_id": 1, "surname": "quennellworth"},  # never seen
        {**base, "unique_id": 2, "surname": "quennellworth"},
        {**base, "unique_id": 3, "surname": "smith"},
        {**base, "unique_id": 4, "surname": "smith"},
    ]
    new = _table(rows)
    whole = linkage.predict(new, out.model)
    between = linkage.predict_between(new.slice(1, 1), new.slice(0, 1), out.model)
    w_unseen = float(whole.tf["surname"][_edge_of(whole, 1, 2)])
    w_between = float(between.tf["surname"][_edge_of(between, 1, 2)])
    u = dict(
        (lv["label_for_charts"], lv["u_probability"])
        for c in out.model.settings["comparisons"]
        if c["output_column_name"] == "surname"
        for lv in c["comparison_levels"]
        if "u_probability" in lv
    )["exact"]
    import math

    expected = math.log2(u) - math.log2(1 / table.num_rows)
    assert w_unseen == pytest.approx(expected, abs=1e-3)
    assert w_between == pytest.approx(w_unseen, abs=1e-6)
    smith = float(whole.tf["surname"][_edge_of(whole, 3, 4)])
    assert smith == pytest.approx(math.log2(u) - math.log2(80 / table.num_rows), abs=1e-3)


def test_a_saved_model_round_trips_with_its_frequencies(
    tf_linked: tuple[pa.Table, linkage.LinkOutcome],
) -> None:
    import json

    table, out = tf_linked
    text = out.model.to_json()
    assert json.loads(text)[linkage.MODEL_TF_KEY]["surname"]["counts"][COMMON] == 80
    loaded = linkage.Model.from_json(text)
    assert loaded.settings == out.model.settings
    assert loaded.frequencies == out.model.frequencies
    again = linkage.predict(table, loaded)
    assert len(again) == len(out.edges)
    assert again.weight.tolist() == pytest.approx(out.edges.weight.tolist())


def test_a_model_saved_before_term_frequencies_loads_and_links(
    tf_linked: tuple[pa.Table, linkage.LinkOutcome],
) -> None:
    """A model saved by an older Vigil: settings without a term-frequency level and no
    frequency table in its JSON."""
    import json

    table, out = tf_linked
    old = json.loads(out.model.to_json())
    del old[linkage.MODEL_TF_KEY]
    for comp in old["comparisons"]:
        for lv in comp["comparison_levels"]:
            lv.pop("tf_adjustment_column", None)
            lv.pop("tf_adjustment_weight", None)
    model = linkage.Model.from_json(json.dumps(old))
    assert not model.frequencies and model.tf_comparisons() == []
    relinked = linkage.link(table, params=linkage.LinkParams(threads=1), model=model)
    assert not relinked.edges.tf
    assert len(relinked.clusters.groups()) == len(out.clusters.groups())
    first, second = table.take(list(range(0, 240, 2))), table.take(list(range(1, 240, 2)))
    between = linkage.predict_between(second, first, model)
    assert len(between) >= 100  # each record meets its person's other record


def test_a_model_with_frequency_levels_but_no_table_is_refused(
    tf_linked: tuple[pa.Table, linkage.LinkOutcome],
) -> None:
    table, out = tf_linked
    broken = linkage.Model(out.model.settings)
    with pytest.raises(InvalidInput, match="no frequency table"):
        linkage.predict(table, broken)
