"""``vigil backup`` / ``vigil restore`` (issue 16, point 3): verified copies of the store, the
index files and the data folder, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from vigil.cli.main import main
from vigil.errors import BackendError
from vigil.settings import Settings
from vigil.store import audit, repo
from vigil.store import backup as backup_mod
from vigil.store.db import Database


def _installation(home: Path, url: str | None = None) -> Database:
    """A store with a case and an audit trail, plus index and report files in the data folder."""
    settings = Settings.load(home, database_url=url)
    db = Database(settings.database_url)
    with db.write() as s:
        repo.ensure_case(s, "op-backup", "tester")
    (home / "indexes").mkdir(parents=True, exist_ok=True)
    (home / "indexes" / "pdq.idx").write_bytes(bytes(range(256)) * 64)
    (home / "reports").mkdir()
    (home / "reports" / "op-backup.txt").write_text("report text\n")
    (home / "spool").mkdir()
    (home / "spool" / "scratch.bin").write_bytes(b"x" * 10)  # scratch: not backed up
    return db


def _use(monkeypatch: pytest.MonkeyPatch, home: Path, url: str | None = None) -> None:
    monkeypatch.setenv("VIGIL_HOME", str(home))
    if url:
        monkeypatch.setenv("VIGIL_DATABASE_URL", url)
    else:
        monkeypatch.delenv("VIGIL_DATABASE_URL", raising=False)


def _cases(db: Database) -> list[str]:
    with db.read() as s:
        return [c.name for c in repo.list_cases(s)]


def test_sqlite_backup_and_restore_round_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, dest, home2 = tmp_path / "home", tmp_path / "backup", tmp_path / "restored"
    db = _installation(home)
    _use(monkeypatch, home)
    assert main(["backup", str(dest)]) == 0
    manifest = json.loads((dest / "MANIFEST.json").read_text())
    assert manifest["backend"] == "sqlite"
    assert set(manifest["files"]) == {
        "database/vigil.db",
        "data/indexes/pdq.idx",
        "data/reports/op-backup.txt",
    }
    with db.read() as s:
        entries = list(audit.iter_entries(s))
    assert entries[-1].action == "store.backup"
    assert manifest["audit_head"] == {"seq": entries[-1].seq, "hash": entries[-1].entry_hash}
    db.dispose()

    _use(monkeypatch, home2)
    assert main(["restore", str(dest)]) == 0
    assert (home2 / "indexes" / "pdq.idx").read_bytes() == (home / "indexes/pdq.idx").read_bytes()
    assert (home2 / "reports" / "op-backup.txt").read_text() == "report text\n"
    assert not (home2 / "spool").exists()
    restored = Database(Settings.load(home2).database_url)
    try:
        assert _cases(restored) == ["op-backup"]
        with restored.read() as s:
            assert audit.verify(s).entries == entries[-1].seq + 1
            assert list(audit.iter_entries(s))[-1].action == "store.restore"
    finally:
        restored.dispose()


@pytest.mark.parametrize("damage", ["changed", "missing", "unlisted", "manifest"])
def test_a_damaged_backup_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    home, dest, home2 = tmp_path / "home", tmp_path / "backup", tmp_path / "restored"
    _installation(home).dispose()
    _use(monkeypatch, home)
    assert main(["backup", str(dest)]) == 0
    target = dest / "data" / "indexes" / "pdq.idx"
    if damage == "changed":
        data = bytearray(target.read_bytes())
        data[100] ^= 1
        target.write_bytes(bytes(data))
    elif damage == "missing":
        target.unlink()
    elif damage == "unlisted":
        (dest / "data" / "planted.bin").write_bytes(b"planted")
    else:
        (dest / "MANIFEST.json").write_text("{not json")
    _use(monkeypatch, home2)
    assert main(["restore", str(dest), "--verify-only"]) == 6
    assert main(["restore", str(dest)]) == 6
    assert not (home2 / "vigil.db").exists()
    assert not (home2 / "indexes").exists()


def test_restore_refuses_a_store_that_holds_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, dest = tmp_path / "home", tmp_path / "backup"
    _installation(home).dispose()
    _use(monkeypatch, home)
    assert main(["backup", str(dest)]) == 0
    assert main(["restore", str(dest)]) == 5  # the live installation itself
    assert main(["backup", str(dest)]) == 5  # not an empty folder
    assert main(["backup", str(home / "inside")]) == 3  # inside the data folder


def test_postgresql_without_pg_dump_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backup_mod.shutil, "which", lambda _name: None)
    with pytest.raises(BackendError, match="postgresql-client"):
        backup_mod._pg_tool("pg_dump")


@pytest.fixture
def second_pg(pg_url: str) -> Iterator[str]:
    """Another empty database on the same server (the restore target)."""
    base, _ = pg_url.rsplit("/", 1)
    name = f"vigil_restore_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
def test_postgresql_backup_and_restore_round_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str, second_pg: str
) -> None:
    if backup_mod.shutil.which("pg_dump") is None:
        pytest.skip("pg_dump not installed")
    home, dest, home2 = tmp_path / "home", tmp_path / "backup", tmp_path / "restored"
    _installation(home, pg_url).dispose()
    _use(monkeypatch, home, pg_url)
    assert main(["backup", str(dest)]) == 0
    manifest = json.loads((dest / "MANIFEST.json").read_text())
    assert manifest["backend"] == "postgresql"
    assert "database/vigil.pgdump" in manifest["files"]
    _use(monkeypatch, home2, second_pg)
    assert main(["restore", str(dest)]) == 0
    restored = Database(second_pg, create=False)
    try:
        assert _cases(restored) == ["op-backup"]
        with restored.read() as s:
            assert list(audit.iter_entries(s))[-1].action == "store.restore"
            audit.verify(s)
    finally:
        restored.dispose()
    assert (home2 / "indexes" / "pdq.idx").exists()
    _use(monkeypatch, home2, second_pg)
    assert main(["restore", str(dest)]) == 5  # now holds data
