"""The known-vs-fresh commands through the CLI (CliRunner, isolated VIGIL_HOME)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from vigil.cli.main import ReturnCode, app, main

runner = CliRunner()


def _setup(tmp_path: Path) -> None:
    from test_known_vs_fresh import build_case  # same folder: the generated case

    build_case(tmp_path / "seizure", tmp_path / "sets")
    r = runner.invoke(
        app,
        [
            "hashsets",
            "import",
            str(tmp_path / "sets" / "vics-us.json"),
            "--name",
            "vics",
            "--licence",
            "test",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["scheme"] == "vics_us"
    r = runner.invoke(
        app, ["hashsets", "import", str(tmp_path / "sets" / "pdq.csv"), "--name", "pdq"]
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["ingest", str(tmp_path / "seizure"), "--case", "cli", "-q", "-j", "0"])
    assert r.exit_code == 0, r.output


def test_match_triage_summary_and_export(tmp_path: Path) -> None:
    _setup(tmp_path)
    # the ingest already matched the case against the loaded sets (PDQ analyzer follow-up)
    r = runner.invoke(app, ["triage", "cli", "--json"])
    assert r.exit_code == 0, r.output
    assert sorted(g["outcome"] for g in json.loads(r.output)["groups"]) == [
        "fresh",
        "fresh",
        "fresh",
        "fresh",
        "known",
        "near_known",
    ]
    r = runner.invoke(app, ["match", "cli", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["groups"] == {"fresh": 4, "near_known": 1, "known": 1}
    r = runner.invoke(app, ["triage", "cli", "--fresh", "--json"])
    assert r.exit_code == 0, r.output
    groups = json.loads(r.output)["groups"]
    assert {g["outcome"] for g in groups} == {"fresh"}
    r = runner.invoke(app, ["triage", "cli"])
    assert r.exit_code == 0, r.output
    first, last = r.output.index("[     fresh]"), r.output.index("[     known]")
    assert first < last
    assert "in set 'vics'" in r.output
    out = tmp_path / "fresh.json"
    r = runner.invoke(app, ["triage", "cli", "--fresh", "--export-fresh", str(out)])
    assert r.exit_code == 0, r.output
    assert len(json.loads(out.read_text())["value"]) == 6
    r = runner.invoke(app, ["case", "summary", "cli"])
    assert r.exit_code == 0, r.output
    assert "near-known: 1 group(s)" in r.output
    r = runner.invoke(app, ["hashsets", "list", "--json"])
    assert [s["name"] for s in json.loads(r.output)] == ["pdq", "vics"]
    r = runner.invoke(app, ["hashsets", "export", "vics", str(tmp_path / "again.json")])
    assert r.exit_code == 0, r.output


def test_grades_and_errors(tmp_path: Path) -> None:
    _setup(tmp_path)
    # a case ingested without analyzers has not been matched: triage says so
    r = runner.invoke(
        app,
        ["ingest", str(tmp_path / "seizure"), "--case", "raw", "-q", "-j", "0", "--no-analyzers"],
    )
    assert r.exit_code == 0, r.output
    assert main(["triage", "raw"]) == ReturnCode.NOT_READY
    assert main(["match", "nope"]) == ReturnCode.NOT_FOUND
    r = runner.invoke(app, ["match", "cli"])
    assert r.exit_code == 0, r.output
    item = json.loads(runner.invoke(app, ["triage", "cli", "--known", "--json"]).output)["groups"][
        0
    ]["representative"]["item_id"]
    for user, g in (("ann", "A"), ("bob", "A"), ("cy", "B")):
        r = runner.invoke(app, ["--user", user, "grade", "cli", str(item), g])
        assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["grades", "cli", "--conflicts", "--json"])
    (row,) = json.loads(r.output)
    assert row["conflict"] is True
    assert row["trusted"] is False
    assert row["votes"] == {"ann": "A", "bob": "A", "cy": "B"}
    assert main(["grade", "cli", str(item), "Z"]) == ReturnCode.INVALID_INPUT
    bad = tmp_path / "bad.csv"
    bad.write_text(f"MD5;SHA1\nnope;\n{'a' * 32};\n")
    r = runner.invoke(app, ["hashsets", "import", str(bad), "--name", "bad"])
    assert r.exit_code == 0, r.output
    assert "imported 1 entries" in r.output
    assert "line 2:" in r.output
    r = runner.invoke(app, ["hashsets", "show", "bad", "--json"])
    info = json.loads(r.output)
    assert info["entries"] == 1
    assert info["warnings"][0].startswith("line 2:")
    r = runner.invoke(app, ["hashsets", "show", "vics"])
    assert "category 1 (Child abuse material): 1" in r.output
    assert main(["hashsets", "show", "nope"]) == ReturnCode.NOT_FOUND
