"""The persons pipeline on PostgreSQL (skips when no server answers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.persons import flags, policy, records, reference, resolve, routing, synth, watch
from vigil.persons.cards import CardVault
from vigil.persons.mapping import Mapping
from vigil.store.db import Database

from .conftest import PROV, REF_KINDS

pytestmark = pytest.mark.postgres


def test_pipeline_on_postgres(pg_url: str, tmp_path: Path) -> None:
    data = synth.generate(synth.SynthConfig(persons=200, seed=21))
    paths = data.write(tmp_path / "gen")
    db = Database(pg_url)
    try:
        vault = CardVault(b"p" * 32)
        for kind in REF_KINDS:
            records.import_reference(db, vault, paths[kind], kind=kind, provenance=PROV, actor="t")
        records.import_records(
            db,
            vault,
            paths["records"],
            case_name="op-pg",
            mapping=Mapping.load(paths["mapping"]),
            provenance=PROV,
            actor="t",
        )
        rep = resolve.link_case(db, "op-pg", "t")
        assert 0 < rep.persons < rep.records
        reference.enrich_case(db, "op-pg", "t")
        pol = policy.Policy.load()
        flags.compute_flags(db, "op-pg", "t", pol.flag_params)
        bands = policy.prioritise_case(db, "op-pg", "t", policy=pol)
        assert bands.get(policy.CORROBORATE, 0) > 0
        routing.route_case(db, "op-pg", "t", routing.Jurisdictions.load())
        ref = routing.refer_case(db, "op-pg", "t", tmp_path / "out", bands=("P1", "P2", "P3"))
        pid = ref.packages and routing.funnel(db, "op-pg")["reached"]["referred"]
        assert pid == ref.persons
        later = synth.generate_followup(data, new_persons=20, seed=5, returning=3)
        lp = later.write(tmp_path / "later")
        batch = records.import_records(
            db,
            vault,
            lp["records"],
            case_name="op-pg-2",
            mapping=Mapping.load(lp["mapping"]),
            provenance=PROV,
            actor="t",
        )
        assert watch.watch_batch(db, batch.batch_id, "t").alerts >= 1
    finally:
        db.dispose()
