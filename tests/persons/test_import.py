"""Record import: mapping, formats, line-numbered warnings, provenance, card secrecy."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from vigil.errors import Conflict, InvalidInput
from vigil.persons import records
from vigil.persons.cards import CardVault
from vigil.persons.mapping import Mapping
from vigil.store.db import Database
from vigil.store.persons import PersonBatch, PersonRecord

CARD = "4921810000000000"
MAPPING = Mapping.from_dict(
    {
        "columns": {
            "name": "Name",
            "postcode": "Postcode",
            "card_number": "Card",
            "email": "Email",
            "dob": "DOB",
            "timestamp": "When",
            "access_count": "Logins",
        },
        "date_formats": {"dob": "%d/%m/%Y"},
    }
)
PROV = records.Provenance("processor", "order 1", "NCA")
HEADER = "Name,Postcode,Card,Email,DOB,When,Logins\n"


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(f"sqlite:///{tmp_path}/v.db")


def _import(db: Database, path: Path) -> records.ImportReport:
    return records.import_records(
        db, CardVault(b"k" * 32), path, case_name="op", mapping=MAPPING, provenance=PROV, actor="t"
    )


def test_bad_rows_warn_with_line_numbers_and_good_rows_import(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "batch.csv"
    path.write_text(
        HEADER
        + f"John Smith,SW1A 1AA,{CARD},john@example.com,01/02/1980,2025-01-01T10:00:00,3\n"  # 2
        + "Too,Few\n"  # 3: wrong field count -> skipped
        + ",,,,,,\n"  # 4: blank -> ignored
        + ",,,,01/01/1970,,\n"  # 5: nothing identifying -> skipped
        + "Ann Lee,E1 6AN,4921810000000007,ann@example.com,31/02/1980,yesterday,x\n"  # 6
        + '"Multi\nLine",N1 9GU,,multi@example.com,,,\n',  # 7-8 (quoted newline)
        encoding="utf-8",
    )
    rep = _import(db, path)
    assert rep.rows_imported == 3
    assert rep.rows_skipped == 2
    codes = {(w.line, w.code) for w in rep.warnings}
    assert (3, "row_unreadable") in codes
    assert (5, "no_identity") in codes
    assert {
        (6, "card_invalid"),
        (6, "dob_invalid"),
        (6, "timestamp_invalid"),
        (6, "access_invalid"),
    } <= codes
    with db.read() as s:
        rows = s.execute(select(PersonRecord).order_by(PersonRecord.line)).scalars().all()
        assert [r.line for r in rows] == [2, 6, 7]
        assert rows[0].card_last4 == "0000"
        assert rows[0].card_token
        assert rows[0].access_count == 3
        assert rows[1].card_token is None
        assert rows[1].dob is None
        batch = s.execute(select(PersonBatch)).scalar_one()
        assert (batch.source, batch.legal_basis, batch.received_from) == (
            "processor",
            "order 1",
            "NCA",
        )
        assert batch.warning_count == len(rep.warnings)
    # the card number is nowhere in the database file in clear
    raw = Path(db.url.removeprefix("sqlite:///")).read_bytes()
    wal = Path(db.url.removeprefix("sqlite:///") + "-wal")
    raw += wal.read_bytes() if wal.exists() else b""
    assert CARD.encode() not in raw


def test_same_file_twice_is_a_conflict(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text(HEADER + f"John Smith,SW1A 1AA,{CARD},j@example.com,,,1\n", encoding="utf-8")
    _import(db, path)
    with pytest.raises(Conflict, match="already imported"):
        _import(db, path)


def test_json_jsonl_and_parquet(db: Database, tmp_path: Path) -> None:
    rows = [
        {"Name": "A Person", "Email": "a@example.com", "Card": CARD},
        {"Name": "B Person", "Email": "b@example.com", "Card": "123"},
    ]
    (tmp_path / "b.json").write_text(json.dumps({"records": rows}), encoding="utf-8")
    rep = _import(db, tmp_path / "b.json")
    assert rep.rows_imported == 2
    assert [(w.line, w.code) for w in rep.warnings if w.code == "card_invalid"] == [
        (2, "card_invalid")
    ]
    (tmp_path / "b.jsonl").write_text(json.dumps(rows[0]) + "\n{broken\n", encoding="utf-8")
    rep = _import(db, tmp_path / "b.jsonl")
    assert rep.rows_imported == 1
    assert (2, "row_unreadable") in {(w.line, w.code) for w in rep.warnings}
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "b.parquet")
    rep = _import(db, tmp_path / "b.parquet")
    assert rep.rows_imported == 2


def test_provenance_and_mapping_are_validated(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="legal-basis"):
        records.Provenance("x", " ", "y")
    with pytest.raises(InvalidInput, match="unknown fields"):
        Mapping.from_dict({"columns": {"nmae": "Name"}})
    bad = tmp_path / "m.yaml"
    bad.write_text("columns: [", encoding="utf-8")
    with pytest.raises(InvalidInput, match="YAML"):
        Mapping.load(bad)


def test_overlong_fields_are_cut_with_a_warning(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text(
        HEADER + f"{'A' * 400} Smith,SW1A 1AA,{CARD},a@example.com,,,1\n", encoding="utf-8"
    )
    rep = _import(db, path)
    assert rep.rows_imported == 1
    assert {(w.line, w.code) for w in rep.warnings} == {(2, "field_truncated")}
    assert any(w.message.startswith("name cut to 300") for w in rep.warnings)
    with db.read() as s:
        assert len(s.execute(select(PersonRecord.name)).scalar_one()) == 300


def test_structured_address_parts_are_mapping_targets(db: Database, tmp_path: Path) -> None:
    mapping = Mapping.from_dict(
        {
            "columns": {
                "name": "Name",
                "street": "Street",
                "locality": "Suburb",
                "town": "City",
                "region": "State",
                "postcode": "Zip",
            }
        }
    )
    path = tmp_path / "structured.csv"
    path.write_text(
        "Name,Street,Suburb,City,State,Zip\n"
        "Ann Lee,12 High St,Kingsbury,Leeds,West Yorkshire,LS1 1AA\n"
        "Bo Ng,3 Elm Rd,,Leeds,,LS2 2BB\n",
        encoding="utf-8",
    )
    records.import_records(
        db, CardVault(b"k" * 32), path, case_name="op", mapping=mapping, provenance=PROV, actor="t"
    )
    with db.read() as s:
        rows = s.execute(
            select(PersonRecord.address, PersonRecord.address_n).order_by(PersonRecord.id)
        ).all()
    assert rows[0] == (
        "12 High St, Kingsbury, Leeds, West Yorkshire",
        "12 high street kingsbury leeds",
    )
    assert rows[1] == ("3 Elm Rd, Leeds", "3 elm road leeds")
