"""The hub's service: bundles in, overlaps out, per kind; decisions; flood guard."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pytest

from vigil.errors import PermissionDenied, ReplayDetected
from vigil.share.codecs import encode_vector
from vigil.store import audit
from vigil.store.hub import HUB_CHAIN

from ._world import World


def sha(i: int) -> str:
    return hashlib.sha256(f"file{i}".encode()).hexdigest()


def digest_signals(ids: list[int], ref_base: int = 0) -> list[dict[str, Any]]:
    return [
        {"kind": "sha256", "value": sha(i), "local_ref": f"item:{ref_base + i}", "meta": {}}
        for i in ids
    ]


def kinds_of(notes: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return sorted(
        (n["overlap"]["category"], n["overlap"]["your_ref"], n["overlap"]["other_agency"]["name"])
        for n in notes
    )


def test_same_file_notifies_exactly_the_two_agencies(world: World) -> None:
    a, b, c = world.agencies.values()
    assert world.hub.push(a.envelope(digest_signals([1, 2, 3])))["overlaps"] == 0
    res = world.hub.push(b.envelope(digest_signals([3, 4], ref_base=100)))
    assert res["overlaps"] == 1
    assert kinds_of(world.hub.notifications(a.member)) == [("same_file", "item:3", b.name)]
    assert kinds_of(world.hub.notifications(b.member)) == [("same_file", "item:103", a.name)]
    assert world.hub.notifications(c.member) == []
    note = world.hub.notifications(a.member)[0]
    assert "item:103" not in str(note)  # the other side's reference stays with its owner


def test_rejected_pair_never_returns_and_replay_is_refused(world: World) -> None:
    a, b, _c = world.agencies.values()
    world.hub.push(a.envelope(digest_signals([1])))
    env = b.envelope(digest_signals([1]))
    world.hub.push(env)
    with pytest.raises(ReplayDetected):
        world.hub.push(env)
    with world.hub.db.read() as s:
        refused = [
            e for e in audit.iter_entries(s, chain=HUB_CHAIN) if e.action == "hub.bundle_refused"
        ]
    assert [json.loads(e.details)["reason"] for e in refused] == ["replay"]
    ov = world.hub.notifications(b.member)[0]["overlap"]["id"]
    world.hub.decide(b.member, ov, "reject")
    assert world.hub.notifications(a.member) == []
    res = world.hub.push(b.envelope(digest_signals([1])))
    assert res["overlaps"] == 0
    assert res["suppressed"] == 1
    assert world.hub.notifications(a.member) == []
    with pytest.raises(PermissionDenied):
        world.hub.decide(a.member, ov, "confirm")


def test_confirmed_by_both(world: World) -> None:
    a, b, _c = world.agencies.values()
    world.hub.push(a.envelope(digest_signals([1])))
    world.hub.push(b.envelope(digest_signals([1])))
    ov = world.hub.notifications(a.member)[0]["overlap"]["id"]
    assert world.hub.decide(a.member, ov, "confirm")["status"] == "open"
    assert world.hub.decide(b.member, ov, "confirm")["status"] == "confirmed"


def test_flood_guard_quarantines_a_signal_matching_too_many(tmp_path: Any) -> None:
    from ._world import make_world

    world = make_world(tmp_path, flood_limit=2)
    a, b, c = world.agencies.values()
    common = [
        {"kind": "sha256", "value": sha(0), "local_ref": f"item:{i}", "meta": {}} for i in range(2)
    ]
    world.hub.push(a.envelope(common))
    world.hub.push(b.envelope(common[:1]))
    assert len(world.hub.notifications(a.member)) == 2
    res = world.hub.push(c.envelope(digest_signals([0])))
    assert res == {**res, "quarantined": 1, "overlaps": 0}
    assert world.hub.notifications(c.member) == []
    (held,) = world.hub.quarantine()
    assert held["agency"] == c.name
    assert held["matches"] == 3
    # a human judges the matches real: released, the three leads are notified after all
    assert world.hub.review_quarantine(held["id"], release=True)["overlaps"] == 3
    assert len(world.hub.notifications(c.member)) == 3
    assert world.hub.quarantine() == []
    world.hub.close()


def test_faces_only_under_the_same_model_card(world: World) -> None:
    a, b, c = world.agencies.values()
    rng = np.random.default_rng(0)
    v = rng.normal(size=128).astype(np.float32)
    v /= np.linalg.norm(v)

    def face(vec: Any, ref: str, model: str = "dlib_resnet") -> dict[str, Any]:
        meta = {
            "model": model,
            "model_version": "1",
            "weights_sha256": "ab" * 32,
            "dim": 128,
            "metric": "l2",
            "threshold": 0.5,
        }
        return {"kind": "face", "value": encode_vector(vec), "local_ref": ref, "meta": meta}

    near = v + 0.02 * rng.normal(size=128).astype(np.float32)
    world.hub.push(a.envelope([face(v, "face:1"), face(rng.normal(size=128), "face:2")]))
    world.hub.push(c.envelope([face(near, "face:7", model="other_model")]))
    res = world.hub.push(b.envelope([face(near, "face:9")]))
    assert res["overlaps"] == 1
    (note,) = world.hub.notifications(b.member)
    ev = note["overlap"]["evidence"]["signals"][0]
    assert note["overlap"]["category"] == "same_face"
    assert ev["distance"] <= ev["threshold"] == 0.5
    assert world.hub.notifications(c.member) == []


def test_deconfliction_when_targets_come_after_the_overlap(world: World) -> None:
    a, b, c = world.agencies.values()
    card = {"kind": "card_token", "value": "cd" * 32, "meta": {"key_id": "op-secret-1"}}
    world.hub.push(a.envelope([{**card, "local_ref": "person:1"}]))
    world.hub.push(b.envelope([{**card, "local_ref": "person:2"}]))
    world.hub.set_target(a.member, "op-ore", "target:1", subject_refs=["person:1"])
    assert (
        world.hub.set_target(b.member, "op-ore", "target:2", subject_refs=["person:2"])[
            "deconflictions"
        ]
        == 1
    )
    for ag, mine in ((a, "target:1"), (b, "target:2")):
        (notice,) = [n for n in world.hub.notifications(ag.member) if n["type"] == "deconfliction"]
        assert notice["your_target"] == mine
        assert notice["overlap"]["category"] == "same_card"
    assert world.hub.notifications(c.member) == []
    # told once per pair of targets
    assert (
        world.hub.set_target(b.member, "op-ore", "target:2", status="warrant")["deconflictions"]
        == 0
    )
