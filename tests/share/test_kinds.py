"""The sharing policy: every kind's exact shape, and everything else refused."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from vigil.errors import PolicyViolation
from vigil.share.kinds import KINDS, META, validate_signal

from ._sample import signals


def test_every_kind_has_a_valid_sample_and_rules() -> None:
    sample = signals()
    assert sorted({s["kind"] for s in sample}) == sorted(KINDS) == sorted(META)
    for s in sample:
        assert validate_signal(s) is s


def _bad(signal: dict[str, Any], match: str) -> None:
    with pytest.raises(PolicyViolation, match=match):
        validate_signal(signal, index=3)


@pytest.mark.parametrize("kind", KINDS)
def test_extra_signal_field_is_refused(kind: str) -> None:
    s = next(s for s in signals() if s["kind"] == kind)
    _bad({**s, "filename": "a.jpg"}, r"signal #3: fields must be exactly")


@pytest.mark.parametrize("kind", KINDS)
def test_extra_meta_field_is_refused(kind: str) -> None:
    s = copy.deepcopy(next(s for s in signals() if s["kind"] == kind))
    s["meta"]["name"] = "John"
    _bad(s, "meta fields not allowed")


@pytest.mark.parametrize("kind", KINDS)
def test_value_with_a_byte_more_or_less_is_refused(kind: str) -> None:
    s = next(s for s in signals() if s["kind"] == kind)
    _bad({**s, "value": s["value"][:-4]}, kind)
    _bad({**s, "value": s["value"] + "00"}, kind)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"kind": "jpeg"}, "may not be shared"),
        ({"kind": "thumbnail"}, "may not be shared"),
        ({"local_ref": "/cases/x/photo.jpg"}, "no paths or names"),
        ({"local_ref": "item:photo.jpg"}, "no paths or names"),
        ({"local_ref": "John Smith"}, "no paths or names"),
        ({"value": "AB" * 32}, "lower-case hex"),
        ({"value": 123}, "must be a string"),
        ({"meta": []}, "meta must be an object"),
    ],
)
def test_shapes_outside_the_policy_are_refused(change: dict[str, Any], match: str) -> None:
    s = {"kind": "sha256", "value": "ab" * 32, "local_ref": "item:1", "meta": {}, **change}
    _bad(s, match)


def test_face_rules() -> None:
    face = next(s for s in signals() if s["kind"] == "face")
    for key, bad in [
        ("metric", "dot"),
        ("threshold", float("nan")),
        ("threshold", True),
        ("weights_sha256", "x"),
        ("model", "a b"),
    ]:
        s = copy.deepcopy(face)
        s["meta"][key] = bad
        _bad(s, f"meta.{key}")
    s = copy.deepcopy(face)
    del s["meta"]["model"]
    _bad(s, "meta.model is required")
    s = copy.deepcopy(face)
    s["value"] = "A" * 682 + "=="  # 512 bytes of base64 but not float32 of dim 128
    _bad(s, "expected exactly 512")


def test_a_blob_bigger_than_the_kind_allows_is_refused() -> None:
    blob = base64.b64encode(bytes.fromhex("ffd8ffe000104a464946") + bytes(4000)).decode()
    for kind in ("face", "scene", "prnu", "person"):
        s = copy.deepcopy(next(s for s in signals() if s["kind"] == kind))
        s["value"] = blob
        _bad(s, "expected exactly")


def test_person_blocks_are_keyed_hex_tokens_only() -> None:
    person = next(s for s in signals() if s["kind"] == "person")
    for bad in (["smith"], ["ab" * 40], "abcd" * 4, ["ab" * 8] * 33):
        s = copy.deepcopy(person)
        s["meta"]["blocks"] = bad
        _bad(s, "meta.blocks")
