"""``vigil audit verify`` / ``anchor`` (issue 14, defect 10): a wiped log fails, an anchor file
kept outside the database detects a rewrite of the whole chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete

from vigil.cli.main import main
from vigil.settings import Settings
from vigil.store import audit, repo
from vigil.store.db import Database
from vigil.store.models import AuditAnchor, AuditEntry


@pytest.fixture
def home_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("VIGIL_HOME", str(tmp_path / "home"))
    db = Database(Settings.load(tmp_path / "home").database_url)
    with db.write() as s:
        repo.ensure_case(s, "op-anchor", "tester")
    return db


def _wipe(db: Database) -> None:
    with db.write() as s:
        s.execute(delete(AuditEntry))
        s.execute(delete(AuditAnchor))


def test_verify_fails_on_a_wiped_log(home_db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify"]) == 0
    _wipe(home_db)
    assert main(["audit", "verify"]) == 6
    assert "log was wiped" in capsys.readouterr().err
    home_db.dispose()


def test_anchor_then_verify_detects_a_rewrite(
    home_db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = tmp_path / "usb" / "anchors.jsonl"
    kept.parent.mkdir()
    assert main(["audit", "anchor", str(kept)]) == 0
    assert main(["audit", "anchor", str(kept)]) == 0  # appends a second line
    lines = kept.read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert set(first) == {"format", "seq", "hash", "at"}
    with home_db.read() as s:
        entries = list(audit.iter_entries(s))
    assert entries[-1].action == "audit.anchor"
    assert json.loads(lines[1])["hash"] == entries[-1].entry_hash
    capsys.readouterr()
    assert main(["audit", "verify", "--anchor", str(kept), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["anchors_checked"] == 2
    # someone with database access rewrites the whole chain (and the data stays)
    _wipe(home_db)
    with home_db.write() as s:
        for _ in range(len(entries) + 3):
            audit.append(s, "tester", "case.create", details={"name": "op-anchor"})
    assert main(["audit", "verify"]) == 0  # consistent in itself ...
    assert main(["audit", "verify", "--anchor", str(kept)]) == 6  # ... but not what was kept
    assert "chain was rewritten" in capsys.readouterr().err
    home_db.dispose()


def test_bad_anchor_file_is_refused(home_db: Database, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("hello\n")
    assert main(["audit", "verify", "--anchor", str(bad)]) == 3
    assert main(["audit", "verify", "--anchor", str(tmp_path / "missing.jsonl")]) == 3
    home_db.dispose()
