"""Done-when test of the hub: three agencies push over signed HTTP, overlaps reach exactly the
right two agencies with evidence, rejections stick, tampering and replays are refused, and the
hub database holds no image bytes and no plain names."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from vigil.errors import PolicyViolation, ReplayDetected, SignatureInvalid, StaleMessage
from vigil.hub.app import create_app
from vigil.hub.client import HubClient
from vigil.share.persons import OperationSecret
from vigil.share.protocol import canonical, sign_request
from vigil.signals.synthetic import jpeg_bytes, scene
from vigil.store import audit
from vigil.store.hub import HUB_CHAIN

from ._local import Installation
from ._world import OP, World, make_world

JANE = {
    "first": "Janet",
    "last": "Okonkwo-Whitfield",
    "dob": "1984-02-29",
    "postcode": "SW1A 2AA",
    "cards": ["4539 1488 0343 6467"],
    "emails": ["janet.whitfield@example.org"],
}
JANE_TYPO = {**JANE, "first": "Janett", "emails": []}
PLAIN = (
    "janet",
    "okonkwo",
    "whitfield",
    "4539148803436467",
    "janet.whitfield@example.org",
    "SW1A 2AA",
)
IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF")


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[World, dict[str, Installation], dict[str, HubClient]]]:
    world = make_world(tmp_path)
    http = TestClient(create_app(world.hub), base_url="http://127.0.0.1")
    secret = OperationSecret(b"operation ore secret, never at the hub" * 2)
    rng = np.random.default_rng(7)
    a, b, c = (Installation(n, secret) for n in world.agencies)
    # photos: one identical file in A and B; one photo in A re-encoded in C; the rest distinct
    shared = jpeg_bytes(scene(1001, 320, 240), 90)
    near = scene(1002, 320, 240)
    a.photos = {
        "item:1": shared,
        "item:2": jpeg_bytes(near, 92),
        "item:3": jpeg_bytes(scene(1003, 320, 240)),
    }
    b.photos = {"item:10": shared, "item:11": jpeg_bytes(scene(1011, 320, 240))}
    c.photos = {"item:20": jpeg_bytes(near, 60), "item:21": jpeg_bytes(scene(1021, 320, 240))}
    # one face identity seen by A and C; other faces are other people
    ident = rng.normal(size=128).astype(np.float32) * 0.06
    a.faces = {
        "face:1": ident + rng.normal(0, 0.01, 128).astype(np.float32),
        "face:2": rng.normal(size=128).astype(np.float32) * 0.06,
    }
    b.faces = {"face:5": rng.normal(size=128).astype(np.float32) * 0.06}
    c.faces = {"face:9": ident + rng.normal(0, 0.01, 128).astype(np.float32)}
    # one room seen by B and C
    room = rng.normal(size=256).astype(np.float32)
    a.scenes = {"item:3": rng.normal(size=256).astype(np.float32)}
    b.scenes = {"item:11": room + rng.normal(0, 0.2, 256).astype(np.float32)}
    c.scenes = {"item:21": room + rng.normal(0, 0.2, 256).astype(np.float32)}
    # one person known to A and B (a typo in B's record, the same card)
    a.persons = {
        "person:1": JANE,
        "person:2": {"first": "Tomasz", "last": "Brzezinski", "dob": "1970-06-01"},
    }
    b.persons = {"person:7": JANE_TYPO}
    c.persons = {"person:3": {"first": "Ana", "last": "Lucia Ferreira", "dob": "1991-11-11"}}
    locals_ = {"de-bka": a, "nl-police": b, "es-pn": c}
    clients = {
        n: HubClient("http://127.0.0.1", ag.key, http=http) for n, ag in world.agencies.items()
    }
    yield world, locals_, clients
    http.close()
    world.hub.close()


EXPECTED = {
    ("same_file", "de-bka", "nl-police"): ("item:1", "item:10"),
    ("near_duplicate", "de-bka", "es-pn"): ("item:2", "item:20"),
    ("same_face", "de-bka", "es-pn"): ("face:1", "face:9"),
    ("same_room", "nl-police", "es-pn"): ("item:11", "item:21"),
    ("same_person", "de-bka", "nl-police"): ("person:1", "person:7"),
    ("same_card", "de-bka", "nl-police"): ("person:1", "person:7"),
}


def _seen(clients: dict[str, HubClient]) -> dict[tuple[str, str, str], tuple[str, str]]:
    """(category, agency, agency) -> the local refs, each read from its own agency's view."""
    got: dict[tuple[str, str, str], dict[str, str]] = {}
    for name, client in clients.items():
        for note in client.notifications():
            if note["type"] != "overlap":
                continue
            ov = note["overlap"]
            pair = sorted([name, ov["other_agency"]["name"]], key=list(clients).index)
            key = (ov["category"], pair[0], pair[1])
            assert ov["your_ref"] not in got.get(key, {}).values() or name in got.get(key, {})
            got.setdefault(key, {})[name] = ov["your_ref"]
            assert ov["evidence"]["signals"], ov
    out = {}
    for key, refs in got.items():
        assert set(refs) == {key[1], key[2]}, f"{key} was not notified to exactly its two agencies"
        out[key] = (refs[key[1]], refs[key[2]])
    return out


def _scan_hub_db(path: Path) -> None:
    """Every cell of every table: no image bytes (raw or base64) and no plain name, card or e-mail."""
    con = sqlite3.connect(path)
    tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
    assert "hub_signals" in tables
    cells = 0
    for table in tables:
        for row in con.execute(f'select * from "{table}"'):  # noqa: S608 - table names from the schema
            for cell in row:
                if cell is None:
                    continue
                cells += 1
                raw = cell if isinstance(cell, bytes) else str(cell).encode()
                low = raw.lower()
                assert not any(m in raw for m in IMAGE_MAGIC), f"image bytes in {table}"
                assert not any(p.lower().encode() in low for p in PLAIN), (
                    f"plain identity in {table}"
                )
                for token in re.findall(rb"[A-Za-z0-9+/]{24,}={0,2}", raw):
                    try:
                        dec = base64.b64decode(token + b"=" * (-len(token) % 4))
                    except binascii.Error:
                        continue
                    assert not any(m in dec for m in IMAGE_MAGIC), f"base64 image in {table}"
    con.close()
    assert cells > 100


def test_three_agencies_find_each_other(
    setup: tuple[World, dict[str, Installation], dict[str, HubClient]],
) -> None:
    world, locals_, clients = setup
    agencies = world.agencies
    # targets on the shared person, registered before any push
    clients["de-bka"].set_target(OP, "target:1", status="warrant", subject_refs=["person:1"])
    clients["nl-police"].set_target(OP, "target:70", status="planned", subject_refs=["person:7"])
    envelopes = {n: agencies[n].envelope(locals_[n].export()) for n in clients}
    for name, env in envelopes.items():
        clients[name].push(env)
    assert _seen(clients) == EXPECTED
    # evidence carries the measure and its threshold
    by_cat = {
        n["overlap"]["category"]: n["overlap"]
        for n in clients["es-pn"].notifications()
        if n["type"] == "overlap"
    }
    face = by_cat["same_face"]["evidence"]["signals"][0]
    assert face["distance"] <= face["threshold"] == 0.5
    assert by_cat["same_room"]["proof_requested"] is True
    assert by_cat["near_duplicate"]["evidence"]["signals"][0]["distance"] <= 31
    # deconfliction: both owners of a target on the same person are told, nobody else
    for name in clients:
        notices = [n for n in clients[name].notifications() if n["type"] == "deconfliction"]
        assert len(notices) == (1 if name in ("de-bka", "nl-police") else 0), name
    # a rejected overlap never returns, even after a fresh push of the same evidence
    room = by_cat["same_room"]["id"]
    clients["es-pn"].decide(room, "reject")
    res = clients["es-pn"].push(
        agencies["es-pn"].envelope(locals_["es-pn"].export(), case_ref="case-2")
    )
    assert res["overlaps"] == 0
    assert res["suppressed"] >= 1
    assert ("same_room", "nl-police", "es-pn") not in _seen(clients)
    assert {k: v for k, v in _seen(clients).items()} == {
        k: v for k, v in EXPECTED.items() if k[0] != "same_room"
    }
    # tampered and replayed bundles are refused with a clear error
    env = json.loads(
        agencies["nl-police"].envelope(locals_["nl-police"].export(), case_ref="case-3")
    )
    env["bundle"]["signals"][0]["local_ref"] = "item:999"
    with pytest.raises(SignatureInvalid, match="tampered"):
        clients["nl-police"].push(canonical(env))
    with pytest.raises(ReplayDetected, match="replay"):
        clients["de-bka"].push(envelopes["de-bka"])
    # a member cannot push another agency's bundle (signed by that agency) as its own
    fresh = agencies["de-bka"].envelope(locals_["de-bka"].export(), case_ref="case-9")
    with pytest.raises(Exception, match="own key"):
        clients["es-pn"].push(fresh)
    # board, funnel and the hub's own audit chain
    board = clients["es-pn"].board(OP)
    assert board["funnel"]["total"]["planned"] == 2
    assert board["funnel"]["total"]["warrant"] == 1
    assert "Operation Ore" in clients["es-pn"].board_html(OP)
    assert world.hub.verify_audit().entries > 10
    _scan_hub_db(world.hub.settings.data_dir / "hub.db")


def test_a_replayed_request_and_a_stale_bundle_are_refused(
    setup: tuple[World, dict[str, Installation], dict[str, HubClient]],
) -> None:
    world, _locals, clients = setup
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
    with pytest.raises(StaleMessage, match="older"):
        clients["de-bka"].push(world.agencies["de-bka"].envelope([], when=old))
    headers = sign_request("GET", "/api/v1/notifications", b"", world.agencies["de-bka"].key)
    http = clients["de-bka"].http
    assert http.get("/api/v1/notifications", headers=headers).status_code == 200
    again = http.get("/api/v1/notifications", headers=headers)
    assert again.status_code == 401
    assert again.json()["error"] == "replay"
    assert http.get("/api/v1/notifications").json()["error"] == "signature_invalid"
    with world.hub.db.read() as s:
        refused = [
            json.loads(e.details)
            for e in audit.iter_entries(s, chain=HUB_CHAIN)
            if e.action == "hub.request_refused"
        ]
    # the member's replayed request is on record; the anonymous unsigned one is not
    assert [(r["reason"], r["key_id"]) for r in refused] == [("replay", headers["x-vigil-key"])]


def test_a_signed_bundle_outside_the_policy_is_refused_over_http(
    setup: tuple[World, dict[str, Installation], dict[str, HubClient]],
) -> None:
    world, _locals, clients = setup
    agency = world.agencies["de-bka"]
    bundle = json.loads(agency.envelope([]))["bundle"]
    thumb = base64.b64encode(jpeg_bytes(scene(5, 64, 48))).decode()
    bundle["signals"] = [{"kind": "thumbnail", "value": thumb, "local_ref": "item:1", "meta": {}}]
    sig = base64.b64encode(agency.key.sign(canonical(bundle))).decode()
    env = canonical(
        {"bundle": bundle, "key_id": json.loads(agency.envelope([]))["key_id"], "signature": sig}
    )
    with pytest.raises(PolicyViolation, match="may not be shared"):
        clients["de-bka"].push(env)
    assert world.hub.signal_count() == 0
