"""Hash sets in the store: provenance, import -> export -> import identity, warnings, removal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vigil.errors import Conflict, InvalidInput, NotFound, WrongFormat
from vigil.hashsets.categories import CategoryMap
from vigil.hashsets.service import describe_sets, export_set, import_file, remove_set
from vigil.store import audit
from vigil.store.db import Database
from vigil.store.hashsets import get_hash_set, set_entries

MD5 = ["%032x" % (i * 7919 + 1) for i in range(5)]
SHA1 = ["%040x" % (i * 104729 + 3) for i in range(5)]


def _vics_legacy(path: Path) -> Path:
    doc = {
        "odata.metadata": "http://github.com/ICMEC/ProjectVic/DataModels/1.2.xml#Cases",
        "value": [
            {
                "CaseNumber": "C-1",
                "Media": [
                    {"MediaID": 1, "Category": 0, "MD5": MD5[0], "DateUpdated": "/Date(0)/"},
                    {"MediaID": 2, "Category": None, "IsPrecategorized": True, "SHA1": SHA1[1]},
                    {"MediaID": 3, "Category": 1, "MD5": "broken"},
                ],
            }
        ],
    }
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(doc, indent=1).encode())
    return path


def _rows(db: Database, name: str) -> list[dict[str, object]]:
    with db.read() as s:
        hs = get_hash_set(s, name)
        assert hs is not None
        return [
            {k: v for k, v in r.__dict__.items() if k not in ("_sa_instance_state", "id", "set_id")}
            for r in set_entries(s, hs.id)
        ]


def test_import_keeps_provenance_and_warnings(db: Database, tmp_path: Path) -> None:
    path = _vics_legacy(tmp_path / "legacy.json")
    report = import_file(
        db,
        path,
        name="legacy",
        actor="ann",
        source="unit X exchange",
        licence="law enforcement only",
    )
    assert report.entries == 2
    assert report.scheme == "dhs_legacy"
    assert [w.code for w in report.warnings] == ["bad_md5", "no_hash"]
    assert all(w.line > 0 for w in report.warnings)
    (info,) = describe_sets(db)
    assert info["source"] == "unit X exchange"
    assert info["licence"] == "law enforcement only"
    assert info["imported_by"] == "ann"
    assert info["warnings"] == 2
    with db.read() as s:
        entries = [e.action for e in audit.iter_entries(s)]
    assert "hashset.import" in entries
    # code 0 in the legacy scheme is "Uncategorized": it must not become US "Non-Pertinent"
    assert CategoryMap(target="us").grade("dhs_legacy", "0") is None
    assert CategoryMap(target="us").grade("vics_us", "0") == "0"


@pytest.mark.parametrize("fmt", ["vics", "icse"])
def test_import_export_import_is_identical(db: Database, tmp_path: Path, fmt: str) -> None:
    if fmt == "vics":
        src = _vics_legacy(tmp_path / "in.json")
    else:
        src = tmp_path / "in.csv"
        src.write_text(
            "MD5;SHA1;PhotoDNA;Image ID;Is distributed;Victim identified;Offender identified;"
            f"Series name;Category\n{MD5[0]};{SHA1[0]};;I1;Yes;No;;S1;2\n{MD5[1]};;;I2;;;Yes;;\n"
        )
    import_file(db, src, name="one", actor="ann", scheme="vics_us")
    out = tmp_path / f"out.{fmt}"
    assert export_set(db, "one", out, actor="ann") == 2
    import_file(db, out, name="two", actor="ann", scheme="vics_us")
    assert _rows(db, "one") == _rows(db, "two")


def test_conflicts_and_errors(db: Database, tmp_path: Path) -> None:
    path = _vics_legacy(tmp_path / "a.json")
    import_file(db, path, name="a", actor="ann")
    with pytest.raises(Conflict):
        import_file(db, path, name="a", actor="ann")
    with pytest.raises(InvalidInput):
        import_file(db, path, name="b", actor="ann", scheme="made_up")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(WrongFormat):
        import_file(db, junk, name="c", actor="ann")
    assert remove_set(db, "a", actor="ann") == 2
    with pytest.raises(NotFound):
        remove_set(db, "a", actor="ann")
    assert describe_sets(db) == []
