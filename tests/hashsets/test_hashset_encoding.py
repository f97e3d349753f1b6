"""Hash-set files in the encodings they really come in, files that yield nothing, and lists whose
values could be two kinds of hash (issue 14, defects 3 and 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.errors import AmbiguousInput, InvalidInput, WrongFormat
from vigil.hashsets import icse, lists
from vigil.hashsets.formats import detect, get_format
from vigil.hashsets.service import describe_sets, export_set, import_file, show_set
from vigil.store.db import Database

MD5 = ["%032x" % (i * 7919 + 1) for i in range(6)]
SHA1 = ["%040x" % (i * 104729 + 3) for i in range(6)]
HEX64 = ["%064x" % (i * 15485863 + 5) for i in range(6)]
ICSE_HEADER = "MD5;SHA1;Image ID;Series name"


def _icse_rows() -> list[str]:
    return [f"{MD5[i]};{SHA1[i]};IMG-{i};Série {i}" for i in range(5)]


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(f"sqlite:///{tmp_path}/v.db")


def test_icse_with_bom_and_one_latin1_byte_imports_every_row(db: Database, tmp_path: Path) -> None:
    """The header used to become 'ï»¿MD5' (whole file read as cp1252): 0 entries, exit 0."""
    rows = [r.encode("utf-8") for r in _icse_rows()]
    rows[2] = f"{MD5[2]};{SHA1[2]};IMG-2;".encode() + "Café".encode("latin-1")
    data = b"\xef\xbb\xbf" + "\r\n".join([ICSE_HEADER, ""]).encode() + b"\r\n".join(rows)
    ps = icse.read(data)
    assert [e.md5 for e in ps.entries] == MD5[:5]
    assert ps.entries[2].series == "Café"
    assert ps.entries[1].series == "Série 1"
    assert ps.encoding == "utf-8 (byte-order mark)"
    assert [(w.line, w.code) for w in ps.warnings] == [(4, "line_not_utf8")]
    path = tmp_path / "icse.csv"
    path.write_bytes(data)
    report = import_file(db, path, name="icse", actor="ann")
    assert report.entries == 5
    assert report.encoding == "utf-8 (byte-order mark)"
    assert show_set(db, "icse")["encoding"] == "utf-8 (byte-order mark)"


def test_legacy_file_is_detected_and_said() -> None:
    data = "\n".join([ICSE_HEADER, *_icse_rows()]).encode("cp1252")
    ps = icse.read(data)
    assert len(ps.entries) == 5 and ps.entries[0].series == "Série 0"
    assert ps.encoding is not None and ps.encoding.startswith("cp1252 (not UTF-8")
    assert [(w.line, w.code) for w in ps.warnings] == [(0, "encoding_legacy")]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_wide_encodings_with_and_without_bom(codec: str) -> None:
    text = "\r\n".join([ICSE_HEADER, *_icse_rows()])
    ps = detect(text.encode(codec)).read(text.encode(codec))
    assert [e.sha1 for e in ps.entries] == SHA1[:5]
    assert ps.entries[3].series == "Série 3"
    assert ps.encoding is not None and ps.encoding.startswith(codec[:6])
    assert not ps.warnings
    digests = "\n".join(MD5).encode(codec)
    assert len(detect(digests).read(digests).entries) == 6


def _write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("vics_json", json.dumps({"@odata.context": "x/2.0.xml", "value": [{"MD5": "bad"}]})),
        ("icse_csv", f"{ICSE_HEADER}\nnot-a-hash;;IMG-1;S\n"),
        ("digest_list", "md5\nnot-a-digest\n"),
        ("pdq_csv", "pdq,quality\nnot-a-pdq,100\n"),
        ("icse_csv", f"{ICSE_HEADER}\n"),
        ("vics_json", json.dumps({"@odata.context": "x/2.0.xml", "value": []})),
        ("digest_list", "# only a comment\n"),
        ("pdq_csv", "pdq,quality\n"),
    ],
)
def test_nothing_usable_is_an_error_for_every_format(
    db: Database, tmp_path: Path, fmt: str, data: str
) -> None:
    path = _write(tmp_path, "none", data)
    with pytest.raises(InvalidInput, match=r"no usable entry|no line holds|no row starts"):
        import_file(db, path, name="x", actor="ann", fmt=fmt)
    assert describe_sets(db) == []


def test_photodna_only_is_not_usable(db: Database, tmp_path: Path) -> None:
    path = _write(tmp_path, "p.csv", f"MD5;PhotoDNA\n;{'AAEC' * 8}\n")
    with pytest.raises(InvalidInput, match="PhotoDNA"):
        import_file(db, path, name="x", actor="ann")


def test_cli_refuses_an_empty_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vigil.cli.main import app

    monkeypatch.setenv("VIGIL_HOME", str(tmp_path / "home"))
    path = _write(tmp_path, "bad.csv", f"\ufeff{ICSE_HEADER}\nzz;;IMG-1;S\n")
    result = CliRunner().invoke(app, ["hashsets", "import", str(path), "--name", "x"])
    assert result.exit_code != 0
    result = CliRunner().invoke(app, ["hashsets", "list", "--json"])
    assert json.loads(result.stdout) == []


def test_64_hex_lists_are_refused_with_the_choice_spelt_out(db: Database, tmp_path: Path) -> None:
    data = "\n".join(HEX64) + "\n"
    path = _write(tmp_path, "hashes.txt", data)
    with pytest.raises(AmbiguousInput) as err:
        import_file(db, path, name="x", actor="ann")
    assert "SHA-256 or PDQ" in str(err.value)
    assert "--format sha256_list" in str(err.value) and "--format pdq_csv" in str(err.value)
    with pytest.raises(AmbiguousInput):  # naming the by-length format does not settle it
        import_file(db, path, name="x", actor="ann", fmt="digest_list")
    mixed = _write(tmp_path, "mixed.txt", f"{MD5[0]}\n{HEX64[0]}\n")
    with pytest.raises(AmbiguousInput, match="line 2"):
        import_file(db, mixed, name="x", actor="ann")
    # each choice, when made, is taken
    as_sha = import_file(db, path, name="sha", actor="ann", fmt="sha256_list")
    assert as_sha.format == "sha256_list" and as_sha.entries == 6
    as_pdq = import_file(db, path, name="pdq", actor="ann", fmt="pdq_csv")
    assert as_pdq.format == "pdq_csv" and as_pdq.entries == 6
    out = tmp_path / "out.txt"
    export_set(db, "sha", out, actor="ann")
    assert out.read_text().split() == HEX64
    # a header that names the kind settles it too
    declared = _write(tmp_path, "declared.txt", "sha256\n" + data)
    assert import_file(db, declared, name="declared", actor="ann").entries == 6
    # MD5 and SHA-1 lists are not ambiguous; a written mixed list carries the header
    assert import_file(db, _write(tmp_path, "m.txt", "\n".join(MD5)), name="m", actor="ann")
    mixed_ok = _write(tmp_path, "mixed-ok.txt", f"sha256\n{MD5[0]}\n{HEX64[0]}\n")
    assert import_file(db, mixed_ok, name="mixed", actor="ann").entries == 2
    export_set(db, "mixed", out, actor="ann")
    assert out.read_text().split() == ["sha256", MD5[0], HEX64[0]]


def test_sha256_list_format_is_strict_about_length() -> None:
    ps = get_format("sha256_list").read(f"{HEX64[0]}\n{MD5[0]}\n".encode())
    assert [e.sha256 for e in ps.entries] == [HEX64[0]]
    assert [(w.line, w.code) for w in ps.warnings] == [(2, "bad_digest")]


def test_csv_with_a_64_hex_first_column_is_pdq_only_when_it_looks_like_pdq() -> None:
    assert detect(f"{HEX64[0]},100,a.jpg\n".encode()).name == "pdq_csv"
    with pytest.raises(WrongFormat):  # "sha256,size": not a quality in 0-100
        detect(f"{HEX64[0]},123456\n{HEX64[1]},99999\n".encode())
    with pytest.raises(WrongFormat, match="SHA-256"):
        lists.read_pdq_csv(f"sha256,size\n{HEX64[0]},12\n".encode())


def test_warnings_name_physical_lines_even_after_form_feeds() -> None:
    """str.splitlines() breaks at \\x0c, \\x85, U+2028 ... too: line numbers drifted."""
    data = f"{MD5[0]}\n\x0cnot\x0chex\u2028x\n{MD5[1]}\nbroken\n".encode()
    ps = lists.read_digest_list(data)
    assert [e.md5 for e in ps.entries] == [MD5[0], MD5[1]]
    assert [(w.line, w.code) for w in ps.warnings] == [(2, "bad_digest"), (4, "bad_digest")]


def test_net_dates_beyond_year_9999_are_kept_as_text() -> None:
    """timedelta overflowed on /Date(huge)/ (found by the fuzzers)."""
    doc = {
        "@odata.context": "x/2.0.xml",
        "value": [{"MD5": MD5[0], "Created": "/Date(99999999999999999999)/"}],
    }
    ps = get_format("vics_json").read(json.dumps(doc).encode())
    assert ps.entries[0].record["Created"] == "/Date(99999999999999999999)/"
