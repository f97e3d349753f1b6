"""``vigil users`` and the first-run checks of ``vigil serve``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli.main import app, main
from vigil.settings import Settings
from vigil.store import repo
from vigil.store.db import Database


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VIGIL_HOME", str(tmp_path))
    monkeypatch.setenv("VIGIL_USER", "cli-admin")
    return tmp_path


def test_users_add_list_passwd_grant(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.setenv("VIGIL_ADMIN_PASSWORD", "first admin passphrase")
    res = runner.invoke(app, ["users", "add", "admin", "--role", "administrator"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["users", "add", "alice", "--role", "investigator"])
    assert res.exit_code == 0, res.output
    db = Database(Settings.load(home).database_url)
    with db.write() as s:
        repo.ensure_case(s, "op-test", "cli-admin")
    res = runner.invoke(app, ["users", "grant", "alice", "op-test"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["users", "list", "--json"])
    rows = {r["username"]: r for r in json.loads(res.output)}
    assert rows["admin"]["role"] == "administrator"
    assert rows["alice"]["cases"] == ["op-test"]
    assert rows["alice"]["can_log_in"] is True
    monkeypatch.setenv("VIGIL_NEW_PASSWORD", "second alice passphrase")
    res = runner.invoke(app, ["users", "passwd", "alice"])
    assert res.exit_code == 0, res.output
    db.dispose()


def test_bad_role_short_password_and_duplicate(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_ADMIN_PASSWORD", "first admin passphrase")
    assert main(["users", "add", "bob", "--role", "wizard"]) == 3
    assert main(["users", "add", "bob", "--role", "analyst"]) == 0
    assert main(["users", "add", "bob", "--role", "analyst"]) == 5
    monkeypatch.setenv("VIGIL_ADMIN_PASSWORD", "short")
    assert main(["users", "add", "carol", "--role", "analyst"]) == 3


def test_serve_without_any_account_explains_setup(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("VIGIL_ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["serve"]) == 8
    assert "VIGIL_ADMIN_PASSWORD" in capsys.readouterr().err
