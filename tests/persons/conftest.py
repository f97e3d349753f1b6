"""Fixtures of the persons tests: a small synthetic operation, imported and linked once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from vigil.persons import records, synth
from vigil.persons.cards import CardVault
from vigil.persons.mapping import Mapping
from vigil.store.db import Database

PROV = records.Provenance("synthetic processor", "test only", "the test suite")
REF_KINDS = ("register", "convictions", "roles", "compromised_cards", "breaches")


@dataclass
class Operation:
    db: Database
    vault: CardVault
    data: synth.SynthData
    paths: dict[str, Path]
    folder: Path
    batch_id: int


@pytest.fixture(scope="module")
def operation(tmp_path_factory: pytest.TempPathFactory) -> Operation:
    folder = tmp_path_factory.mktemp("op")
    data = synth.generate(synth.SynthConfig(persons=500, seed=11))
    paths = data.write(folder / "gen")
    db = Database(f"sqlite:///{folder}/vigil.db")
    vault = CardVault(b"t" * 32)
    for kind in REF_KINDS:
        records.import_reference(db, vault, paths[kind], kind=kind, provenance=PROV, actor="t")
    rep = records.import_records(
        db,
        vault,
        paths["records"],
        case_name="op-test",
        mapping=Mapping.load(paths["mapping"]),
        provenance=PROV,
        actor="t",
    )
    return Operation(db, vault, data, paths, folder, rep.batch_id)
