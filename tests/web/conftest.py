"""Fixtures for the review web app tests (helpers live in ``_support``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from vigil.store.db import Database
from vigil.web.app import create_app
from vigil.web.config import WebConfig

from ._support import World, build_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = build_world(tmp_path)
    yield w
    w.app_db.dispose()


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    def loader(_db: Database, item_id: int) -> bytes:
        return world.media[item_id]

    app = create_app(world.settings, config=WebConfig(), db=world.app_db, load_media=loader)
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
        yield c
