"""Linkage on messy records (issue 15): swaps, nicknames, DOB errors link; the household on a
shared card stays apart, and the record nobody can place goes to review."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from vigil.persons import linkage, synth
from vigil.persons import normalise as nz

pytestmark = pytest.mark.slow  # one Splink training on ~1,200 records

CARD = "tok-lindthorpe"


def _row(uid: int, name: str, dob: str, email: str | None, card: str | None) -> dict[str, Any]:
    parsed = nz.parse_name(name)
    return {
        "unique_id": uid,
        "first_name": parsed.first,
        "surname": parsed.last,
        "dob": dob or None,
        "postcode": "TN295FE",
        "district": "TN29",
        "address": "14 albert lane tonbridge",
        "email": email,
        "phone": None,
        "card_token": card,
    }


PLANTED = {
    # David Lindthorpe's own records, with the errors typed records carry
    900_001: ("David Lindthorpe", "1971-03-08", "dl@example.com", CARD, "david"),
    900_002: ("DAVID LINDTHORPE", "1971-03-08", "dl@example.com", CARD, "david"),
    900_003: ("Lindthorpe David", "1971-03-08", "dl@example.com", CARD, "david"),  # swapped
    900_004: ("Dave Lindthorpe", "1971-08-03", "dl@example.com", CARD, "david"),  # nickname, d/m
    900_005: ("D Lindthorpe", "", "dl@example.com", CARD, "david"),  # initial, his e-mail
    # Diana, his partner, on his card with her own e-mail
    900_010: ("Diana Lindthorpe", "1974-11-30", "diana@example.com", CARD, "diana"),
    900_011: ("D Lindthorpe", "", "diana@example.com", CARD, "diana"),
    # nobody can say whose this is: initial only, no date of birth, nothing but the card
    900_020: ("D Lindthorpe", "", None, CARD, "diana"),
}


@dataclass
class Linked:
    table: pa.Table
    truth: list[str]
    out: linkage.LinkOutcome

    def person(self, uid: int) -> int:
        ids = self.out.clusters.ids.tolist()
        return int(self.out.clusters.labels[ids.index(uid)])


@pytest.fixture(scope="module")
def linked() -> Linked:
    data = synth.generate(synth.SynthConfig(persons=500, seed=21, messy=True))
    rows, truth = [], []
    for i, r in enumerate(data.records):
        name = nz.parse_name(r["cardholder"])
        pc = nz.postcode(r["postcode"])
        parts = nz.uk_postcode_parts(pc)
        dob = nz.parse_date(r["dob"], "%d/%m/%Y")
        rows.append(
            {
                "unique_id": i,
                "first_name": name.first,
                "surname": name.last,
                "dob": dob.isoformat() if dob else None,
                "postcode": pc,
                "district": parts[1] if parts else None,
                "address": nz.address(r["address"]),
                "email": nz.email(r["email"]),
                "phone": nz.phone(r["phone"]),
                "card_token": r["card_number"].replace(" ", ""),
            }
        )
        truth.append(data.truth[r["record_ref"]])
    for uid, (name, dob, email, card, who) in PLANTED.items():
        rows.append(_row(uid, name, dob, email, card))
        truth.append(who)
    cols = {c: [r[c] for r in rows] for c in linkage.LINK_COLUMNS}
    schema = pa.schema(
        [("unique_id", pa.int64())] + [(c, pa.string()) for c in linkage.LINK_COLUMNS[1:]]
    )
    table = pa.Table.from_pydict(cols, schema=schema)
    return Linked(table, truth, linkage.link(table))


def test_swaps_nicknames_and_dob_errors_link(linked: Linked) -> None:
    david = {linked.person(u) for u in (900_001, 900_002, 900_003, 900_004, 900_005)}
    assert len(david) == 1


def test_household_on_a_shared_card_stays_apart(linked: Linked) -> None:
    assert linked.person(900_010) == linked.person(900_011)
    assert linked.person(900_010) != linked.person(900_001)


def test_record_nobody_can_place_is_left_alone_and_marked_ambiguous(linked: Linked) -> None:
    lone = linked.person(900_020)
    assert sum(1 for lab in linked.out.clusters.labels.tolist() if lab == lone) == 1
    edges, model = linked.out.edges, linked.out.model
    codes = edges.conflicts(model)
    mine = (edges.left == 900_020) | (edges.right == 900_020)
    assert mine.any()
    assert set(codes[mine & (edges.weight >= 6)].tolist()) <= {linkage.AMBIGUOUS}


def test_messy_records_link_with_high_precision_and_recall(linked: Linked) -> None:
    from collections import Counter

    labels = linked.out.clusters.labels.tolist()
    both = Counter(zip(labels, linked.truth, strict=True))
    tp = sum(k * (k - 1) // 2 for k in both.values())
    pp = sum(k * (k - 1) // 2 for k in Counter(labels).values())
    tt = sum(k * (k - 1) // 2 for k in Counter(linked.truth).values())
    assert tp / pp >= 0.995
    assert tp / tt >= 0.97
    pc = linkage.pair_completeness(linked.table, linked.truth)
    assert pc["pair_completeness"] >= 0.99
    assert np.all(linked.out.clusters.ids == np.sort(linked.out.clusters.ids))


def _partition(ids: list[int], labels: list[object]) -> set[frozenset[int]]:
    groups: dict[object, set[int]] = {}
    for i, lab in zip(ids, labels, strict=True):
        groups.setdefault(lab, set()).add(i)
    return {frozenset(g) for g in groups.values()}


def test_new_batch_links_as_a_full_relink_would(linked: Linked) -> None:
    """Issue 15, point 5: a batch linked into existing persons with the model kept gives the
    persons a full re-link with that model gives, comparing only what the batch reaches."""
    from vigil.persons.incremental import link_incremental

    model, table = linked.out.model, linked.table
    cut = int(table.num_rows * 0.8)
    existing, new = table.slice(0, cut), table.slice(cut)
    first = linkage.link(existing, model=model)
    person_of = dict(zip(first.clusters.ids.tolist(), first.clusters.labels.tolist(), strict=True))
    inc = link_incremental(existing, person_of, new, model)
    assert inc.seeds >= new.num_rows
    assert inc.scope.size < table.num_rows  # only what the batch reaches
    scope = set(inc.scope.tolist())
    labels: dict[int, object] = {r: ("old", p) for r, p in person_of.items() if r not in scope}
    for r, lab in zip(inc.clusters.ids.tolist(), inc.clusters.labels.tolist(), strict=True):
        labels[r] = ("new", lab)
    full = linkage.link(table, model=model)
    ids = full.clusters.ids.tolist()
    assert _partition(ids, [labels[r] for r in ids]) == _partition(
        ids, full.clusters.labels.tolist()
    )
