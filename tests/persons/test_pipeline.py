"""End to end on a generated operation: link, enrich, flags, prioritise, refer, outcomes,
funnel, re-offending watch, decisions. Scored against the generator's ground truth."""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from sqlalchemy import select

from vigil.errors import Conflict
from vigil.persons import flags, policy, records, reference, resolve, routing, synth, watch
from vigil.persons.mapping import Mapping
from vigil.store.persons import Person, PersonLink, PersonRecord

from .conftest import PROV, Operation


def _assignment(op: Operation) -> dict[str, tuple[int, str | None]]:
    with op.db.read() as s:
        rows = s.execute(
            select(PersonRecord.record_ref, Person.id, Person.band)
            .join(PersonLink, PersonLink.record_id == PersonRecord.id)
            .join(Person, Person.id == PersonLink.person_id)
            .where(Person.case_id == 1)
        ).all()
    return {ref: (pid, band) for ref, pid, band in rows}


@pytest.fixture(scope="module")
def linked(operation: Operation) -> Operation:
    rep = resolve.link_case(operation.db, "op-test", "t")
    assert rep.records == len(operation.data.records)
    reference.enrich_case(operation.db, "op-test", "t")
    pol = policy.Policy.load()
    flags.compute_flags(operation.db, "op-test", "t", pol.flag_params)
    policy.prioritise_case(operation.db, "op-test", "t", policy=pol)
    routing.route_case(operation.db, "op-test", "t", routing.Jurisdictions.load())
    return operation


def test_linkage_against_ground_truth(linked: Operation) -> None:
    assign = _assignment(linked)
    truth = linked.data.truth
    pairs_pred: Counter[int] = Counter(p for p, _ in assign.values())
    pairs_true: Counter[str] = Counter(truth[r] for r in assign)
    both: Counter[tuple[int, str]] = Counter((assign[r][0], truth[r]) for r in assign)
    c2 = lambda k: k * (k - 1) // 2  # noqa: E731
    tp = sum(c2(k) for k in both.values())
    precision = tp / sum(c2(k) for k in pairs_pred.values())
    recall = tp / sum(c2(k) for k in pairs_true.values())
    assert precision >= 0.995, precision
    assert recall >= 0.97, recall
    # households sharing a card (H...) are never merged with the card holder (P...)
    members: dict[int, set[str]] = defaultdict(set)
    for ref, (pid, _band) in assign.items():
        members[pid].add(truth[ref][0])
    assert not any({"P", "H"} <= kinds for kinds in members.values())


def test_no_fraud_record_is_in_a_priority_band(linked: Operation) -> None:
    assign = _assignment(linked)
    fraud = [assign[r][1] for r in linked.data.fraud_refs]
    assert fraud
    assert all(b == policy.CORROBORATE for b in fraud)
    genuine = Counter(
        band for ref, (_p, band) in assign.items() if ref not in linked.data.fraud_refs
    )
    assert genuine["P1"] > 0
    assert genuine[policy.CORROBORATE] < 0.05 * sum(genuine.values())


def test_every_priority_has_factors_with_evidence(linked: Operation) -> None:
    with linked.db.read() as s:
        ids = (
            s.execute(select(Person.id).where(Person.band.in_(("P1", "P2", "P3")))).scalars().all()
        )
    assert ids
    for pid in ids:
        a = policy.current_assessment(linked.db, pid)
        assert a is not None
        assert a.factors
        assert sum(f["weight"] for f in a.factors) == a.score
        assert all(f["evidence"] for f in a.factors)
    # a register factor names the reference row and the per-comparison match weights
    reg = [
        f
        for pid in ids
        for f in policy.current_assessment(linked.db, pid).factors  # type: ignore[union-attr]
        if f["rule"] == "on_register"
    ]
    assert reg
    assert reg[0]["evidence"][0]["comparisons"]["surname"]["match_weight"] > 0


def test_enrichment_finds_register_entries_of_genuine_subscribers(linked: Operation) -> None:
    data = linked.data
    registered = {r["name"].lower() for r in data.register}
    expected = {
        k
        for k, i in data.identities.items()
        if i.kind == "genuine" and f"{i.first} {i.last}" in registered
    }
    assign = _assignment(linked)
    by_truth = {data.truth[ref]: pid for ref, (pid, _b) in assign.items()}
    found = 0
    for key in expected:
        a = policy.current_assessment(linked.db, by_truth[key])
        found += bool(a and any(f["rule"] == "on_register" for f in a.factors))
    assert found >= 0.9 * len(expected)


def test_referral_packages_outcomes_and_funnel(linked: Operation, tmp_path: Path) -> None:
    rep = routing.refer_case(linked.db, "op-test", "t", tmp_path, bands=("P1", "P2"))
    assert rep.packages
    assert rep.skipped_corroborate > 0
    folder = Path(rep.packages[0]["folder"])
    manifest = json.loads((folder / "manifest.json").read_text())
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    assert (
        manifest["source_batches"][0]["sha256"]
        == hashlib.sha256(linked.paths["records"].read_bytes()).hexdigest()
    )
    html = (folder / "referral.html").read_text()
    assert "corroborate" in html
    assert "AUC" in html
    assert "matched via record" in html  # P1/P2 need a reference factor, shown with its evidence
    first = manifest["persons"][0]
    routing.record_outcome(linked.db, first, "suspect", "t")
    routing.record_outcome(linked.db, first, "charged", "t", children=2)
    with pytest.raises(Conflict):
        routing.record_outcome(linked.db, first, "suspect", "t")
    routing.record_outcome(linked.db, first, "convicted", "t")
    second = manifest["persons"][-1]
    routing.record_outcome(linked.db, second, "suspect", "t")
    routing.record_outcome(linked.db, second, "cleared", "t", note="card was stolen")
    f = routing.funnel(linked.db, "op-test")
    assert f["reached"]["referred"] == rep.persons
    assert f["reached"]["suspect"] == 2
    assert f["reached"]["charged"] == 1
    assert f["reached"]["convicted"] == 1
    assert f["exits"] == {"cleared": 1}
    assert f["children_safeguarded"] == 2


def test_uk_routing_marks_ambiguous_areas() -> None:
    j = routing.Jurisdictions.load()
    assert j.route("GB", "LS11AA")[:2] == ("West Yorkshire Police", False)
    _agency, ambiguous, reason = j.route("GB", "SY11AA")
    assert ambiguous
    assert "Dyfed-Powys" in reason
    assert j.route("IE", None)[0] == "An Garda Siochana"
    assert j.route("ZZ", None)[0].startswith("NCA International")


def test_reoffending_alerts_fire_on_a_new_batch(linked: Operation, tmp_path: Path) -> None:
    later = synth.generate_followup(linked.data, new_persons=40, seed=3, returning=5)
    paths = later.write(tmp_path / "later")
    rep = records.import_records(
        linked.db,
        linked.vault,
        paths["records"],
        case_name="op-later",
        mapping=Mapping.load(paths["mapping"]),
        provenance=PROV,
        actor="t",
    )
    result = watch.watch_batch(linked.db, rep.batch_id, "t")
    assert result.alerts >= 4
    # alerts point at persons with a conviction/register link and at returning subscribers
    with linked.db.read() as s:
        refs = dict(
            s.execute(
                select(PersonRecord.id, PersonRecord.record_ref).where(
                    PersonRecord.batch_id == rep.batch_id
                )
            ).all()
        )
    from vigil.store.persons import PersonAlert

    with linked.db.read() as s:
        alerts = s.execute(select(PersonAlert)).scalars().all()
    for a in alerts:
        key = later.truth[refs[a.record_id]]
        assert not key.startswith("N"), "a newcomer raised an alert"
        assert a.reasons


def test_not_same_decision_splits_and_ids_stay_stable(linked: Operation) -> None:
    with linked.db.read() as s:
        pid, n = s.execute(
            select(Person.id, Person.record_count)
            .where(Person.record_count >= 3, Person.case_id == 1)
            .limit(1)
        ).one()
        recs = [r.id for r in resolve.person_records(s, pid)]
        before = dict(s.execute(select(PersonLink.record_id, PersonLink.person_id)).all())
    resolve.decide(linked.db, recs[0], recs[1], same=False, reason="test", actor="t")
    rep = resolve.link_case(linked.db, "op-test", "t", retrain=False)  # re-use the model
    assert rep.timings["train_s"] < 1.0
    with linked.db.read() as s:
        after = dict(s.execute(select(PersonLink.record_id, PersonLink.person_id)).all())
    assert after[recs[0]] != after[recs[1]]
    moved = sum(1 for r, p in before.items() if r in after and after[r] != p)
    assert moved <= n, "re-linking must keep person ids of unchanged clusters"


def test_export_cells_never_run_as_spreadsheet_formulas() -> None:
    from vigil.persons.export import _cell

    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _cell("@x") == "'@x"
    assert _cell(-3.5) == "-3.5"
    assert _cell(["a", "b"]) == "a;b"
    assert _cell(None) == ""


@pytest.mark.slow
def test_new_only_link_equals_full_relink_and_keeps_person_ids(tmp_path: Path) -> None:
    from vigil.persons.cards import CardVault
    from vigil.store.db import Database

    data = synth.generate(synth.SynthConfig(persons=300, seed=5, messy=True))
    paths = data.write(tmp_path / "gen")
    cut = int(len(data.records) * 0.75)
    halves = [tmp_path / "first.csv", tmp_path / "second.csv"]
    synth._write_csv(halves[0], synth.RECORD_COLUMNS, data.records[:cut])
    synth._write_csv(halves[1], synth.RECORD_COLUMNS, data.records[cut:])
    db = Database(f"sqlite:///{tmp_path}/v.db")
    vault = CardVault(b"i" * 32)
    mapping = Mapping.load(paths["mapping"])
    for half in halves[:1]:
        records.import_records(
            db, vault, half, case_name="op-inc", mapping=mapping, provenance=PROV, actor="t"
        )
    resolve.link_case(db, "op-inc", "t")
    records.import_records(
        db, vault, halves[1], case_name="op-inc", mapping=mapping, provenance=PROV, actor="t"
    )
    rep = resolve.link_new_records(db, "op-inc", "t")
    assert "incremental" in rep.training_notes[0]
    assert len(data.records) - cut <= rep.records < len(data.records)

    def assignment() -> dict[int, int]:
        with db.read() as s:
            return dict(s.execute(select(PersonLink.record_id, PersonLink.person_id)).all())

    inc = assignment()
    assert len(inc) == len(data.records)
    resolve.link_case(db, "op-inc", "t", retrain=False)  # full re-link, same model
    full = assignment()
    assert inc == full  # same persons, same person ids
    db.dispose()
