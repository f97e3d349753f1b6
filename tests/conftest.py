"""Shared fixtures: isolated data folders, databases, generated evidence."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from vigil.plugins import load_defaults
from vigil.settings import Settings
from vigil.store.db import Database

SHARED = Path(
    os.environ.get("VIGIL_SHARED", Path(__file__).resolve().parents[1] / ".." / "shared")
).resolve()


def shared_path(*parts: str) -> Path:
    """A path under ../shared/, skipping the test when that material is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared reference data not present: {path}")
    return path


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own VIGIL_HOME and no database URL from the environment."""
    monkeypatch.setenv("VIGIL_HOME", str(tmp_path / "vigil-home"))
    monkeypatch.delenv("VIGIL_DATABASE_URL", raising=False)
    monkeypatch.setenv("VIGIL_USER", "tester")
    load_defaults()


TEST_BACKEND = os.environ.get("VIGIL_TEST_BACKEND", "sqlite")
"""``postgresql`` runs every test that uses the ``settings``/``db`` fixtures on a fresh PostgreSQL
database instead of SQLite (``VIGIL_TEST_BACKEND=postgresql pytest tests/store ...``), which is
how the store is held to "no SQLite assumptions"."""


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings for a fresh data folder (two workers)."""
    url = request.getfixturevalue("pg_url") if TEST_BACKEND == "postgresql" else None
    return Settings.load(tmp_path / "vigil-home", workers=2, user="tester", database_url=url)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    """A migrated SQLite case store in the test's data folder."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def demo_evidence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic seizure of `vigil demo` (generated once per session; treat as read-only)."""
    from vigil.demo import build_evidence

    root = tmp_path_factory.mktemp("evidence") / "seizure"
    build_evidence(root)
    return root


@pytest.fixture
def evidence_copy(demo_evidence: Path, tmp_path: Path) -> Path:
    """A private copy of the demo evidence (symlinks kept as links)."""
    dest = tmp_path / "seizure"
    shutil.copytree(demo_evidence, dest, symlinks=True)
    return dest


PG_ADMIN = os.environ.get("VIGIL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (dropped afterwards); skips when no server answers."""
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "no server here"
        pytest.skip(f"no PostgreSQL server at {PG_ADMIN.rsplit('@', 1)[-1]}: {type(exc).__name__}")
    name = f"vigil_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
