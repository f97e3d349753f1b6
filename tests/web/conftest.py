"""Fixtures for the review web app tests (helpers live in ``_support``)."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from vigil.settings import Settings
from vigil.store.db import Database
from vigil.web.app import create_app
from vigil.web.config import WebConfig

from ._support import World, build_world


@pytest.fixture(scope="session")
def world_template(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The seeded store, built (migrated, accounts hashed) once per test process."""
    w = build_world(tmp_path_factory.mktemp("web-world"))
    w.app_db.dispose()  # checkpoints the WAL: the file alone is the whole database
    return w


@pytest.fixture
def world(world_template: World, tmp_path: Path) -> Iterator[World]:
    """A private copy of the seeded store for one test."""
    home = tmp_path / "home"
    home.mkdir()
    src = Path(world_template.settings.data_dir) / "vigil.db"
    shutil.copyfile(src, home / "vigil.db")
    settings = Settings.load(home)
    w = dataclasses.replace(
        world_template, settings=settings, app_db=Database(settings.database_url, create=False)
    )
    yield w
    w.app_db.dispose()


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    def loader(_db: Database, item_id: int) -> bytes:
        return world.media[item_id]

    app = create_app(world.settings, config=WebConfig(), db=world.app_db, load_media=loader)
    # background jobs (browser-started scans) are recorded, not run: their audit entries would
    # otherwise interleave with the ones the route tests read back (tests/web/test_scans.py
    # runs them for real)
    app.state.vigil.spawn = lambda target, name: app.state.vigil.extras.setdefault(
        "spawned", []
    ).append(name)
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
        yield c
