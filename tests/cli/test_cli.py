from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli.main import ReturnCode, app, main

runner = CliRunner()


def test_demo_then_summary_warnings_and_audit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = runner.invoke(app, ["demo", "--case", "d1"])
    assert result.exit_code == 0, result.output
    assert "Case d1" in result.output
    # the evidence stays next to the data folder, so the review app can show its items ...
    ev = tmp_path / "vigil-home-demo-evidence" / "d1"
    assert (ev / "DCIM" / "IMG_1000.JPG").is_file()
    # ... and the output ends by saying how to open the case in the browser
    assert "vigil serve" in result.output
    assert "log in as admin" in result.output
    assert "http://127.0.0.1:8470/" in result.output
    assert "duplicates:" in result.output
    assert (Path(tmp_path / "vigil-home" / "reports" / "d1-summary.json")).exists()

    result = runner.invoke(app, ["case", "summary", "d1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["by_kind"]["photo"] >= 30
    assert data["duplicates"]["items_seen_more_than_once"] >= 3
    assert data["warnings"]["by_code"]["zip_bomb"] == 1
    # the demo's synthetic hash sets were loaded and the ingest matched the case against them
    triage = data["sections"]["known_vs_fresh"]
    assert triage["hash_sets"] == 2
    assert triage["items"]["known"] == 3
    assert triage["items"]["near_known"] == 2
    assert triage["items"]["fresh"] > 20

    result = runner.invoke(app, ["case", "warnings", "d1", "--code", "unsafe_path", "--json"])
    rows = json.loads(result.output)
    assert {r["code"] for r in rows} == {"unsafe_path"}
    assert len(rows) == 2

    result = runner.invoke(app, ["audit", "verify", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["ok"] is True

    result = runner.invoke(app, ["audit", "show", "--case", "d1", "--json"])
    actions = [r["action"] for r in json.loads(result.output)]
    assert actions[0] == "case.create"
    assert "ingest.done" in actions
    assert all(r["actor"] == "tester" for r in json.loads(result.output))


def test_exit_codes_and_clear_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["case", "summary", "no-such-case"]) == ReturnCode.NOT_FOUND
    assert "no case named 'no-such-case'" in capsys.readouterr().err
    assert main(["ingest", str(tmp_path / "missing"), "--case", "x"]) == ReturnCode.NOT_FOUND
    assert (
        main(["ingest", str(tmp_path), "--case", "x", "--analyzer", "nope"]) == ReturnCode.NOT_FOUND
    )
    assert main(["--version"]) == 0
    assert main(["no-such-command"]) == ReturnCode.USAGE


def test_tampered_audit_log_exits_with_integrity_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "f.txt").write_text("x")
    assert main(["ingest", str(tmp_path / "ev"), "--case", "t", "--quiet"]) == 0
    with sqlite3.connect(tmp_path / "vigil-home" / "vigil.db") as conn:
        conn.execute("update audit_log set actor = 'mallory' where seq = 2")
    assert main(["audit", "verify"]) == ReturnCode.INTEGRITY
    assert "#2 was altered" in capsys.readouterr().err


def test_every_command_has_help_with_an_example() -> None:
    import typer.main

    group = typer.main.get_command(app)
    commands = []

    def collect(cmd, path):  # type: ignore[no-untyped-def]
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                collect(sub, [*path, name])
        else:
            commands.append((path, cmd))

    collect(group, [])
    assert len(commands) >= 7
    foundation = {"ingest", "analyze", "demo", "info", "case", "audit"}
    for path, cmd in commands:
        if path[0] in foundation:
            assert cmd.help and "Example" in cmd.help, (
                f"`vigil {' '.join(path)}` needs help with an example"
            )
