"""Same-room proof through the hub: side a lends its scene features sealed under the operation
secret, side b verifies and reports inlier coordinates only; the hub never holds an image, a
readable feature record or anything but coordinates and counts as the proof."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from places.helpers import scene, variant  # tests/places (pytest path)
from share._case import LocalCase, build_case  # tests/share (pytest path)
from vigil.errors import (
    Conflict,
    DamagedInput,
    NotFound,
    PermissionDenied,
    PolicyViolation,
)
from vigil.hub.app import create_app
from vigil.hub.client import HubClient
from vigil.places.features import SceneFeatures, extract
from vigil.places.verify import verify
from vigil.settings import Settings
from vigil.share import export, local, persons, proof
from vigil.signals.synthetic import jpeg_bytes
from vigil.store import audit
from vigil.store.db import Database
from vigil.store.hub import HUB_CHAIN
from vigil.store.places import SceneFeature

from ._world import OP, World, make_world
from .test_end_to_end import _scan_hub_db

SECRET = persons.OperationSecret(b"operation ore secret, 32 bytes!!")


@dataclass
class Side:
    name: str
    db: Database
    case: LocalCase
    client: HubClient
    features: bytes


@pytest.fixture
def sides(tmp_path: Path) -> Iterator[tuple[World, dict[str, Side]]]:
    """de-bka and nl-police push the same case (so every category overlaps), then their scene
    features are replaced by two real views of one generated room (a: the room, b: a warped,
    cropped, occluded view of it)."""
    world = make_world(tmp_path)
    http = TestClient(create_app(world.hub), base_url="http://127.0.0.1")
    room = scene(31)
    views = {"de-bka": room, "nl-police": variant(room, 5)}
    out: dict[str, Side] = {}
    for name, pixels in views.items():
        agency = world.agencies[name]
        settings = Settings.load(tmp_path / name, workers=1, user="tester")
        settings.data_dir.mkdir(parents=True)
        db = Database(settings.database_url)
        case = build_case(settings, db, tmp_path / f"{name}-evidence")
        built = export.build(
            settings,
            db,
            case.name,
            agency=name,
            operation=OP,
            private_key=agency.key,
            options=export.ExportOptions(secret=SECRET, codebook=case.codebook),
        )
        client = HubClient("http://127.0.0.1", agency.key, http=http)
        client.push(built.envelope)
        export.record(db, built, actor="tester", destination="http://127.0.0.1")
        feats = extract(pixels).to_bytes()
        with db.write() as s:
            s.execute(
                update(SceneFeature)
                .where(SceneFeature.item_id == case.item_ids[1])
                .values(data=feats)
            )
        out[name] = Side(name, db, case, client, feats)
    yield world, out
    for side in out.values():
        side.db.dispose()
    http.close()
    world.hub.close()


def _room(side: Side) -> dict[str, object]:
    rooms = [
        n["overlap"] for n in side.client.notifications() if n["overlap"]["category"] == "same_room"
    ]
    assert len({r["id"] for r in rooms}) == 1
    return rooms[-1]


def test_same_room_proof_is_exchanged_as_inlier_coordinates_only(
    sides: tuple[World, dict[str, Side]],
) -> None:
    world, s = sides
    a, b = s["de-bka"], s["nl-police"]
    room = _room(a)
    oid = int(room["id"])
    assert room["proof"] == {"status": "requested", "role": "send"}
    assert _room(b)["proof"] == {"status": "requested", "role": "verify"}
    # the verifier has nothing to do until the features are lent
    early = local.prove(b.db, b.client, SECRET, OP, actor="tester")
    assert early["waiting"] == [oid] and not early["verified"]
    # side a lends its features, sealed: the hub holds a blob it cannot read
    sent = local.prove(a.db, a.client, SECRET, OP, actor="tester")
    assert sent["sent"] == [oid] and not sent["failed"]
    db_path = world.hub.settings.data_dir / "hub.db"
    con = sqlite3.connect(db_path)
    (sealed,) = con.execute("select sealed from hub_proofs where overlap_id=?", (oid,)).fetchone()
    con.close()
    raw = base64.b64decode(sealed)
    assert raw.startswith(proof.SEALED_MAGIC) and b"VSF1" not in raw
    assert a.features[16:80] not in raw
    assert _room(b)["proof"] == {"status": "features_sent", "role": "verify"}
    with pytest.raises(PermissionDenied, match="only the verifying agency"):
        a.client.proof_features(oid)
    # side b verifies and reports: the sealed record is gone, the result is coordinates only
    done = local.prove(b.db, b.client, SECRET, OP, actor="tester")
    assert [v["overlap"] for v in done["verified"]] == [oid], done
    con = sqlite3.connect(db_path)
    row = con.execute(
        "select sealed, sealed_sha256, result from hub_proofs where overlap_id=?", (oid,)
    ).fetchone()
    (evidence,) = con.execute("select evidence from hub_overlaps where id=?", (oid,)).fetchone()
    con.close()
    assert row[0] is None and len(row[1]) == 64
    result = json.loads(row[2])
    assert set(result) == proof.RESULT_KEYS
    assert result["inliers"] >= 16 and len(result["points"]) == result["inliers"]
    assert result["verdict"] in ("same_room", "unsure")
    assert all(len(p) == 4 and all(isinstance(v, float) for v in p) for p in result["points"])
    # the inliers are real: side a's coordinates are keypoints of its own image
    fa = SceneFeatures.from_bytes(a.features).original_xy()
    xa = [(p[0], p[1]) for p in result["points"]]
    assert all(((fa - pt) ** 2).sum(1).min() < 1.0 for pt in xa)
    assert json.loads(evidence)["proof"]["inliers"] == result["inliers"]
    # both agencies see the proof, and their local stores have it after the pull
    for side in (a, b):
        view = _room(side)
        assert view["proof"]["status"] == "proved"
        assert view["evidence"]["proof"]["verdict"] == result["verdict"]
        local.pull(side.db, side.client, "http://127.0.0.1", actor="tester")
        stored = [o for o in local.overlaps(side.db) if o["category"] == "same_room"]
        assert stored[0]["evidence"]["proof"]["inliers"] == result["inliers"]
        with side.db.read() as ss:
            actions = [e.action for e in audit.iter_entries(ss)]
        assert ("share.proof_sent" if side is a else "share.proof_verified") in actions
    # a proved overlap takes no second upload; the hub never saw plaintext features or images
    with pytest.raises(Conflict, match="already proved"):
        a.client.proof_send(oid, proof.seal(a.features, SECRET, OP, oid))
    _scan_hub_db(db_path)
    blob = b"".join(p.read_bytes() for p in db_path.parent.glob("hub.db*"))
    for side in (a, b):
        assert side.features[16:80] not in blob  # keypoint positions
        assert side.features[-64:] not in blob  # descriptors
    with world.hub.db.read() as ss:
        hub_actions = [e.action for e in audit.iter_entries(ss, chain=HUB_CHAIN)]
    for action in (
        "hub.proof_features_relayed",
        "hub.proof_features_fetched",
        "hub.proof_received",
    ):
        assert action in hub_actions


def test_the_hub_accepts_only_the_documented_proof_payloads(
    sides: tuple[World, dict[str, Side]],
) -> None:
    world, s = sides
    a, b = s["de-bka"], s["nl-police"]
    oid = int(_room(a)["id"])
    jpeg = base64.b64encode(jpeg_bytes(scene(3, 64, 48))).decode()
    # the sender's upload is a sealed VPS1 frame, nothing else
    with pytest.raises(PolicyViolation, match="VPS1"):
        a.client.proof_send(oid, jpeg)
    with pytest.raises(PolicyViolation, match="exactly"):
        a.client._json("POST", f"/api/v1/overlaps/{oid}/proof/features", {"sealed": "", "x": 1})
    # only side a lends, only for its own overlap
    with pytest.raises(PermissionDenied, match="you verify"):
        b.client.proof_send(oid, proof.seal(b.features, SECRET, OP, oid))
    c = HubClient("http://127.0.0.1", world.agencies["es-pn"].key, http=a.client.http)
    with pytest.raises(NotFound):
        c.proof_features(oid)
    a.client.proof_send(oid, proof.seal(a.features, SECRET, OP, oid))
    good = proof.result_of(
        verify(SceneFeatures.from_bytes(a.features), SceneFeatures.from_bytes(b.features))
    )
    bad = [
        {**good, "descriptors": "AAAA"},
        {**good, "points": good["points"][:-1]},
        {**good, "verdict": "looks like the same room to me"},
        {**good, "points": [[1.0, 2.0, 3.0, "x"]] * good["inliers"]},
        {**good, "coverage": float("inf")},
        {k: v for k, v in good.items() if k != "points"},
    ]
    for payload in bad:
        body = json.dumps(payload, allow_nan=True).encode()
        with pytest.raises(PolicyViolation):
            b.client.call("POST", f"/api/v1/overlaps/{oid}/proof/result", body)
    with pytest.raises(PermissionDenied, match="only the verifying agency"):
        a.client.proof_result(oid, good)
    # a rejected overlap exchanges nothing more
    b.client.decide(oid, "reject")
    with pytest.raises(PermissionDenied, match="rejected"):
        b.client.proof_result(oid, good)


def test_sealing_lends_features_only_and_binds_the_overlap() -> None:
    feats = extract(scene(8, 320, 240)).to_bytes()
    sealed = proof.seal(feats, SECRET, OP, 7)
    assert proof.open_sealed(sealed, SECRET, OP, 7).to_bytes() == feats
    other = persons.OperationSecret(b"another operation's secret, 32 b")
    for args in ((other, OP, 7), (SECRET, OP, 8), (SECRET, "op-other", 7)):
        with pytest.raises(DamagedInput, match="do not open"):
            proof.open_sealed(sealed, *args)
    with pytest.raises(PolicyViolation, match="VSF1"):
        proof.seal(jpeg_bytes(scene(8, 320, 240)), SECRET, OP, 7)
    # a JPEG's bytes dressed as descriptors: out of quantised RootSIFT's range
    data = jpeg_bytes(scene(9, 64, 48))
    n = len(data) // 128
    smuggled = SceneFeatures(
        xy=extract(scene(9)).xy[:n],
        descriptors=__import__("numpy").frombuffer(data[: n * 128], "uint8").reshape(n, 128),
        width=64,
        height=48,
        scale=1.0,
    ).to_bytes()
    with pytest.raises(PolicyViolation, match="range"):
        proof.seal(smuggled, SECRET, OP, 7)
    # unrelated rooms: the verifier reports no proof
    unrelated = verify(SceneFeatures.from_bytes(feats), extract(scene(99, 320, 240)))
    assert proof.result_of(unrelated)["verdict"] == "not_verified"
