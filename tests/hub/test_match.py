"""Per-kind matchers at the hub: vPDQ, camera PRNU, scene shortlist, persons, exact tokens."""

from __future__ import annotations

from typing import Any

import numpy as np

from vigil.hub.match import camera_pce
from vigil.share.codecs import decode_prnu, encode_prnu, encode_vector
from vigil.share.persons import OperationSecret, PersonEncoder, PersonFields

from ._world import World

SCENE = {
    "descriptor": "vlad",
    "version": "1",
    "codebook_sha256": "cd" * 32,
    "dim": 64,
    "dtype": "f32",
}


def _categories(world: World, name: str) -> list[tuple[str, str]]:
    member = world.agencies[name].member
    return sorted(
        (n["overlap"]["category"], n["overlap"]["your_ref"])
        for n in world.hub.notifications(member)
    )


def _frames(rng: np.random.Generator, n: int) -> list[str]:
    return [rng.bytes(32).hex() for _ in range(n)]


def test_vpdq_clip_of_a_video(world: World) -> None:
    a, b, c = world.agencies.values()
    rng = np.random.default_rng(1)
    frames = _frames(rng, 10)
    world.hub.push(
        a.envelope(
            [
                {
                    "kind": "vpdq",
                    "value": "".join(frames),
                    "local_ref": "item:1",
                    "meta": {"version": "vpdq-1"},
                }
            ]
        )
    )
    world.hub.push(
        c.envelope(
            [
                {
                    "kind": "vpdq",
                    "value": "".join(frames[:3] + _frames(rng, 7)),
                    "local_ref": "item:3",
                    "meta": {"version": "vpdq-1"},
                }
            ]
        )
    )
    clip = "".join(frames[:9])  # 9 of 10 frames: >= 0.8 both ways
    world.hub.push(
        b.envelope(
            [{"kind": "vpdq", "value": clip, "local_ref": "item:2", "meta": {"version": "vpdq-1"}}]
        )
    )
    assert _categories(world, a.name) == [("near_duplicate", "item:1")]
    assert _categories(world, b.name) == [("near_duplicate", "item:2")]
    assert _categories(world, c.name) == []


def test_camera_prnu_by_pce(world: World) -> None:
    a, b, c = world.agencies.values()
    rng = np.random.default_rng(2)
    sensor = rng.normal(size=(300, 400)).astype(np.float32)
    fp = [encode_prnu(sensor + 1.5 * rng.normal(size=sensor.shape), side=256) for _ in range(2)]
    other = encode_prnu(rng.normal(size=sensor.shape), side=256)
    assert camera_pce(decode_prnu(*fp[0]), decode_prnu(*fp[1])) > 1000
    assert camera_pce(decode_prnu(*fp[0]), decode_prnu(*other)) < 60
    world.hub.push(
        a.envelope([{"kind": "prnu", "value": fp[0][0], "local_ref": "camera:1", "meta": fp[0][1]}])
    )
    world.hub.push(
        c.envelope([{"kind": "prnu", "value": other[0], "local_ref": "camera:3", "meta": other[1]}])
    )
    world.hub.push(
        b.envelope([{"kind": "prnu", "value": fp[1][0], "local_ref": "camera:2", "meta": fp[1][1]}])
    )
    assert _categories(world, a.name) == [("same_camera", "camera:1")]
    assert _categories(world, c.name) == []
    (note,) = world.hub.notifications(b.member)
    assert note["overlap"]["evidence"]["signals"][0]["pce"] >= 60


def test_scene_shortlist_requests_proof_and_keeps_codebooks_apart(world: World) -> None:
    a, b, c = world.agencies.values()
    rng = np.random.default_rng(4)
    room = rng.normal(size=64)

    def sig(vec: Any, ref: str, codebook: str = "cd" * 32) -> dict[str, Any]:
        return {
            "kind": "scene",
            "value": encode_vector(vec),
            "local_ref": ref,
            "meta": {**SCENE, "codebook_sha256": codebook},
        }

    world.hub.push(
        a.envelope(
            [sig(room + 0.1 * rng.normal(size=64), "item:1"), sig(rng.normal(size=64), "item:2")]
        )
    )
    world.hub.push(c.envelope([sig(room, "item:3", codebook="ef" * 32)]))
    world.hub.push(b.envelope([sig(room + 0.1 * rng.normal(size=64), "item:9")]))
    (note,) = world.hub.notifications(b.member)
    assert note["overlap"]["category"] == "same_room"
    assert note["overlap"]["proof_requested"] is True
    assert "geometric proof" in note["overlap"]["evidence"]["signals"][0]["proof"]
    assert _categories(world, c.name) == []


def test_persons_by_dice_with_blocking_and_exact_tokens(world: World) -> None:
    a, b, c = world.agencies.values()
    enc = PersonEncoder(OperationSecret(b"s" * 32))
    other_secret = PersonEncoder(OperationSecret(b"t" * 32))

    def person(e: PersonEncoder, ref: str, **raw: Any) -> list[dict[str, Any]]:
        p = e.encode(PersonFields.from_raw(**raw))
        out = [{"kind": "person", "value": p.b64(), "local_ref": ref, "meta": p.meta()}]
        return out + [
            {"kind": "email_token", "value": t, "local_ref": ref, "meta": {"key_id": p.key_id}}
            for t in p.emails
        ]

    world.hub.push(
        a.envelope(
            person(
                enc,
                "person:1",
                first="Maria",
                last="Kowalska",
                dob="1980-05-05",
                postcode="10115",
                emails=["m.k@example.org"],
            )
        )
    )
    # the same person under another operation secret is not comparable
    world.hub.push(
        c.envelope(
            person(
                other_secret,
                "person:3",
                first="Maria",
                last="Kowalska",
                dob="1980-05-05",
                postcode="10115",
            )
        )
    )
    world.hub.push(
        b.envelope(
            person(
                enc,
                "person:2",
                first="Marie",
                last="Kowalska",
                dob="1980-05-05",
                postcode="10115",
                emails=["m.k@example.org"],
            )
        )
    )
    assert _categories(world, b.name) == [("same_email", "person:2"), ("same_person", "person:2")]
    assert _categories(world, c.name) == []
