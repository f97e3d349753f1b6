"""Three installations' case stores exported by ``vigil share export``'s code path, pushed to one
hub: every overlap reaches exactly its two agencies, and the hub keeps no media and no names.

The three cases hold the same generated evidence (share's test case: two photos, a face, a scene,
a camera fingerprint, a person with card and e-mail), so every pair of agencies overlaps in every
category; the discriminating three-agency scenario is ``test_end_to_end.py``.
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from share._case import CARD, EMAIL, PERSON_NAME, build_case  # tests/share (pytest path)
from vigil.hub.app import create_app
from vigil.hub.client import HubClient
from vigil.settings import Settings
from vigil.share import export, persons
from vigil.store.db import Database

from ._world import OP, make_world
from .test_end_to_end import _scan_hub_db

CATEGORIES = {
    "same_file",
    "same_face",
    "same_room",
    "same_camera",
    "same_person",
    "same_card",
    "same_email",
}


@pytest.mark.slow
def test_three_installations_push_their_cases(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    http = TestClient(create_app(world.hub), base_url="http://127.0.0.1")
    secret = persons.OperationSecret(b"operation ore secret, 32 bytes!!")
    clients, files = {}, []
    try:
        for name, agency in world.agencies.items():
            settings = Settings.load(tmp_path / name, workers=1, user="tester")
            settings.data_dir.mkdir(parents=True)
            db = Database(settings.database_url)
            case = build_case(settings, db, tmp_path / f"{name}-evidence")
            files += case.files
            built = export.build(
                settings,
                db,
                case.name,
                agency=name,
                operation=OP,
                private_key=agency.key,
                options=export.ExportOptions(secret=secret, codebook=case.codebook),
            )
            db.dispose()
            clients[name] = HubClient("http://127.0.0.1", agency.key, http=http)
            clients[name].push(built.envelope)
        pairs: Counter[tuple[str, str, str]] = Counter()
        for name, client in clients.items():
            for note in client.notifications():
                ov = note["overlap"]
                pair = tuple(sorted((name, ov["other_agency"]["name"])))
                pairs[(ov["category"], *pair)] += 1
        # both agencies of every pair saw each category (same_file: one lead per photo)
        expected = Counter()
        for a, b in combinations(sorted(clients), 2):
            for category in CATEGORIES:
                expected[(category, a, b)] = 2 * (2 if category == "same_file" else 1)
        assert pairs == expected
        db_path = world.hub.settings.data_dir / "hub.db"
        _scan_hub_db(db_path)
        raw = b"".join(p.read_bytes() for p in db_path.parent.glob("hub.db*"))  # + WAL
        for needle in (PERSON_NAME, "montgomery", EMAIL, CARD, *(f.name for f in files)):
            assert needle.lower().encode() not in raw.lower()
        for f in files:
            assert f.read_bytes()[100:164] not in raw
    finally:
        http.close()
        world.hub.close()
