"""Record files whose bytes are not all text: every good row imports, each bad row is skipped
with a line-numbered ``row_unreadable`` warning, and reading always ends (issue 14, defect 1)."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from vigil.errors import InvalidInput
from vigil.persons import records
from vigil.persons.cards import CardVault
from vigil.persons.mapping import Mapping, read_rows
from vigil.store.db import Database

MAPPING = Mapping.from_dict({"columns": {"name": "Name", "email": "Email", "postcode": "Zip"}})
PROV = records.Provenance("processor", "order 1", "NCA")
HEADER = b"Name,Email,Zip,Note\n"


def _row(i: int) -> bytes:
    """About 160 bytes, so 600 rows pass the first 64 KiB."""
    return f"Person{i:05d} Smith,p{i}@example.com,SW1A 1AA,{'n' * 110}\n".encode()


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(f"sqlite:///{tmp_path}/v.db")


def _import(db: Database, path: Path) -> records.ImportReport:
    return records.import_records(
        db, CardVault(b"k" * 32), path, case_name="op", mapping=MAPPING, provenance=PROV, actor="t"
    )


def _bounded_rows(path: Path, expected: int) -> list[tuple[int, dict[str, object]]]:
    """At most a few more rows than the file holds, within a few seconds (a reader that loops
    yields the same row again and again, so the cap turns a hang into a failure)."""
    started = time.monotonic()
    rows = list(itertools.islice(read_rows(path), expected + 5))
    assert time.monotonic() - started < 10
    return rows


def test_lone_lead_byte_at_the_end_ends_and_keeps_every_row(db: Database, tmp_path: Path) -> None:
    """Past the first 64 KiB this used to loop for ever (growing memory); within them the whole
    file was refused."""
    for n in (3, 2000):
        path = tmp_path / f"tail{n}.csv"
        path.write_bytes(
            HEADER + b"".join(map(_row, range(n))) + b"Ann Lee,ann@example.com,E1,\xc3"
        )
        rows = _bounded_rows(path, n + 1)
        assert [line for line, _ in rows] == list(range(2, n + 3))
        assert "__error__" in rows[-1][1]
    rep = _import(db, path)
    assert rep.rows_imported == 2000
    assert [(w.line, w.code) for w in rep.warnings] == [(2002, "row_unreadable")]
    assert "byte 0xC3" in rep.warnings[0].message and "'Note'" in rep.warnings[0].message


@pytest.mark.parametrize("bad_at", [3, 409, 590])
def test_one_bad_byte_anywhere_skips_only_its_row(
    db: Database, tmp_path: Path, bad_at: int
) -> None:
    """600 good rows and one with a broken byte: before the first 64 KiB (the whole file used
    to be refused "at byte 0") or after it (rows around it used to vanish)."""
    body = [_row(i) for i in range(600)]
    body.insert(bad_at, b"Bad \xc3\x28Row,bad@example.com,E1 6AN,\n")
    path = tmp_path / "mid.csv"
    path.write_bytes(HEADER + b"".join(body) * 1)
    assert len(path.read_bytes()) > 65536
    rep = _import(db, path)
    assert rep.rows_imported == 600
    assert rep.rows_skipped == 1
    assert [(w.line, w.code) for w in rep.warnings] == [(bad_at + 2, "row_unreadable")]


def test_legacy_encoding_can_be_named(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "cp1252.csv"
    path.write_bytes(HEADER + "José Müller,jm@example.com,E1 6AN,\n".encode("cp1252"))
    rep = records.import_records(
        db,
        CardVault(b"k" * 32),
        path,
        case_name="op",
        mapping=MAPPING,
        provenance=PROV,
        actor="t",
        encoding="cp1252",
    )
    assert rep.rows_imported == 1 and rep.encoding == "cp1252 (given)"
    assert not rep.warnings


@pytest.mark.parametrize(
    ("prefix", "codec"), [(b"\xef\xbb\xbf", "utf-8"), (b"", "utf-16"), (b"", "utf-32")]
)
def test_bom_files_read(db: Database, tmp_path: Path, prefix: bytes, codec: str) -> None:
    text = "Name,Email,Zip,Note\nZoë Brontë,zb@example.com,E1 6AN,\n"
    path = tmp_path / "bom.csv"
    path.write_bytes(prefix + text.encode(codec))
    rep = _import(db, path)
    assert rep.rows_imported == 1, rep.warnings
    assert rep.encoding is not None and rep.encoding.startswith(codec)
    assert "byte-order mark" in rep.encoding


def test_nothing_usable_is_an_error_and_stores_no_batch(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "none.csv"
    path.write_bytes(HEADER + b"\xfd\xfd,\xc3,,\n,,1,\n")
    with pytest.raises(InvalidInput, match="no usable row"):
        _import(db, path)
    path.write_bytes(HEADER)
    with pytest.raises(InvalidInput, match="no rows"):
        _import(db, path)
    path.write_bytes(HEADER + _row(1))
    assert _import(db, path).rows_imported == 1  # the failed attempts left no batch behind


def test_cli_refuses_a_batch_with_no_usable_row_and_takes_an_encoding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vigil.cli.main import ReturnCode, main

    mapping = tmp_path / "m.yaml"
    mapping.write_text("columns: {name: Name, email: Email, postcode: Zip}\n", encoding="utf-8")
    prov = ["--source", "s", "--legal-basis", "b", "--received-from", "r"]
    bad = tmp_path / "bad.csv"
    bad.write_bytes(HEADER + b"\xfd\xfd,\xc3,,\n")
    args = ["persons", "import", str(bad), "--case", "op", "--mapping", str(mapping), *prov]
    assert main(args) == ReturnCode.INVALID_INPUT
    assert "no usable row" in capsys.readouterr().err
    legacy = tmp_path / "legacy.csv"
    legacy.write_bytes(HEADER + "José Müller,jm@example.com,E1 6AN,\n".encode("cp1252"))
    args = ["persons", "import", str(legacy), "--case", "op", "--mapping", str(mapping), *prov]
    assert main([*args, "--encoding", "cp1252", "--json"]) == ReturnCode.OK
    out = capsys.readouterr().out
    assert '"encoding": "cp1252 (given)"' in out and '"rows_imported": 1' in out
