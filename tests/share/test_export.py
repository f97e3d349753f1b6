"""Exporting a local case: every allowed kind, nothing else, signed and audited."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from vigil.errors import PolicyViolation
from vigil.settings import Settings
from vigil.share import export, keys, protocol
from vigil.share.persons import OperationSecret
from vigil.share.policy import SharePolicy
from vigil.store import audit
from vigil.store import share as sstore
from vigil.store.db import Database

from ._case import CARD, EMAIL, FILE_NAMES, PERSON_NAME, LocalCase, build_case

SECRET = OperationSecret(b"s" * 32)


@pytest.fixture
def local(settings: Settings, db: Database, tmp_path: Path) -> LocalCase:
    return build_case(settings, db, tmp_path)


def _build(settings: Settings, db: Database, local: LocalCase, **kw: Any) -> export.Built:
    options = kw.pop("options", None) or export.ExportOptions(
        secret=SECRET, codebook=local.codebook
    )
    key = kw.pop("key", None) or keys.generate()
    return export.build(
        settings,
        db,
        local.name,
        agency="Agency A",
        operation="ORE",
        private_key=key,
        options=options,
    )


def _bundle(built: export.Built) -> dict[str, Any]:
    bundle: dict[str, Any] = json.loads(built.envelope)["bundle"]
    return bundle


def test_export_has_every_kind_with_opaque_refs_and_verifies(
    settings: Settings, db: Database, local: LocalCase
) -> None:
    key = keys.generate()
    built = _build(settings, db, local, key=key)
    assert built.counts == {
        "card_token": 1,
        "email_token": 1,
        "face": 1,
        "md5": 2,
        "pdq": 2,
        "person": 1,
        "prnu": 1,
        "scene": 1,
        "sha1": 2,
        "sha256": 2,
    }
    bundle = protocol.verify_envelope(
        built.envelope,
        {keys.key_id(key): key.public_key()},
        dt.datetime.now(dt.UTC),
        dt.timedelta(minutes=5),
        lambda *_: False,
    )
    refs = {s["local_ref"] for s in bundle["signals"]}
    assert refs == {
        *(f"item:{i}" for i in local.item_ids),
        f"face:{local.face_id}",
        f"person:{local.person_id}",
        f"camera:{local.camera_id}",
    }
    assert bundle["header"]["case_ref"] == f"case-{local.case_id}"
    assert local.name not in built.envelope.decode()
    face = next(s for s in bundle["signals"] if s["kind"] == "face")
    assert face["meta"]["model"] == "dlib_resnet_v1" and face["meta"]["dim"] == 128
    assert face["meta"]["model_version"] == "chip_150_jitter_0"


def test_bundle_holds_no_image_bytes_crops_names_or_paths(
    settings: Settings, db: Database, local: LocalCase
) -> None:
    built = _build(settings, db, local)
    text = built.envelope.decode()
    blobs = [built.envelope]
    for s in _bundle(built)["signals"]:
        if s["kind"] in ("face", "scene", "prnu", "person"):
            blobs.append(base64.b64decode(s["value"]))
    for blob in blobs:
        for magic in (b"\xff\xd8\xff", b"\x89PNG", b"JFIF", b"IHDR", b"Exif"):
            assert magic not in blob
        for path in local.files:
            data = path.read_bytes()
            for start in range(0, len(data) - 32, 97):  # every stretch of every evidence file
                assert data[start : start + 32] not in blob
    low = text.lower()
    for word in (*PERSON_NAME.lower().split(), EMAIL, CARD, "kingsway", "ls1 4ab", "ls14ab"):
        assert word.lower() not in low
    for name in (*FILE_NAMES, "IMG_0001", "holiday_photo", str(local.files[0].parent), "seizure"):
        assert name.lower() not in low
    assert "canon" not in low and "0123456" not in low


def test_persons_need_the_secret_and_scenes_a_shared_codebook(
    settings: Settings, db: Database, local: LocalCase
) -> None:
    built = _build(settings, db, local, options=export.ExportOptions())
    assert not {"person", "card_token", "email_token", "scene"} & set(built.counts)
    assert any("--secret" in n for n in built.notes) and any("--codebook" in n for n in built.notes)
    only = _build(settings, db, local, options=export.ExportOptions(kinds=("hashes",)))
    assert set(only.counts) == {"md5", "sha1", "sha256"}


def test_record_audits_counts_never_values(
    settings: Settings, db: Database, local: LocalCase
) -> None:
    built = _build(settings, db, local)
    export.record(db, built, actor="tester", destination="https://hub.example")
    with db.read() as s:
        (push,) = s.query(sstore.SharePush).all()
        assert push.operation == "ORE" and push.counts == built.counts
        entries = [e for e in audit.iter_entries(s) if e.action == "share.push"]
    assert len(entries) == 1
    raw = entries[0].details
    details = json.loads(raw) if isinstance(raw, str) else raw
    assert details["counts"]["face"] == 1 and details["destination"] == "https://hub.example"
    text = json.dumps(details)
    for signal in _bundle(built)["signals"]:
        assert signal["value"] not in text


# --- the policy ------------------------------------------------------------------------------


def _jpeg() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, "JPEG")
    return buf.getvalue()


def _face(value: bytes, **meta: Any) -> dict[str, Any]:
    card = {
        "model": "dlib_resnet_v1",
        "model_version": "1",
        "weights_sha256": "cd" * 32,
        "dim": len(value) // 4,
        "metric": "l2",
        "threshold": 0.5,
    }
    card.update(meta)
    return {
        "kind": "face",
        "value": base64.b64encode(value).decode(),
        "local_ref": "face:1",
        "meta": card,
    }


def _smuggled() -> dict[str, dict[str, Any]]:
    import numpy as np

    jpeg = _jpeg()
    png_prnu = b"\x89PNG\r\n\x1a\n" + bytes(32 * 32 // 8 - 8)
    crop = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8).tobytes()
    clk = bytearray(128)
    clk[40 : 40 + len(PERSON_NAME)] = PERSON_NAME.encode()
    ok_face = np.full(128, 0.05, "<f4").tobytes()
    return {
        "image bytes as a face template": _face(jpeg + bytes(-len(jpeg) % 4)),
        "image bytes as a camera fingerprint": {
            "kind": "prnu",
            "value": base64.b64encode(png_prnu).decode(),
            "local_ref": "camera:1",
            "meta": {
                "codec": "sign-bits",
                "height": 32,
                "width": 32,
                "source_height": 32,
                "source_width": 32,
            },
        },
        "a face crop as a template": _face(crop),
        "a file name as the model": _face(ok_face, model="IMG_0001.JPG"),
        "a plain name in a local reference": {
            "kind": "sha256",
            "value": "ab" * 32,
            "local_ref": "person:christopher_montgomery",
            "meta": {},
        },
        "a path as a local reference": {
            "kind": "md5",
            "value": "ab" * 16,
            "local_ref": "item:/cases/seizure/IMG_0001.JPG",
            "meta": {},
        },
        "a file name in a meta field": {
            "kind": "vpdq",
            "value": "ab" * 32,
            "local_ref": "item:3",
            "meta": {"version": "holiday_photo.png"},
        },
        "a plain name inside a person filter": {
            "kind": "person",
            "value": base64.b64encode(bytes(clk)).decode(),
            "local_ref": "person:3",
            "meta": {"params_id": "clk1", "key_id": "k", "bits": 1024, "blocks": []},
        },
        "a thumbnail kind": {"kind": "thumbnail", "value": "x", "local_ref": "item:1", "meta": {}},
        "an extra field": {
            "kind": "md5",
            "value": "ab" * 16,
            "local_ref": "item:1",
            "meta": {},
            "file_name": "IMG_0001.JPG",
        },
        "a face from another model": _face(ok_face, model="other_model"),
    }


@pytest.mark.parametrize("case", sorted(_smuggled()))
def test_policy_refuses_smuggling(case: str) -> None:
    import numpy as np

    from vigil.share.policy import FaceModelCard

    policy = SharePolicy(
        [PERSON_NAME, *FILE_NAMES, "christopher", "montgomery"],
        [FaceModelCard("dlib_resnet_v1", "1", "cd" * 32, 128)],
    )
    ok = _face(np.full(128, 0.05, "<f4").tobytes())
    assert policy.check(ok) == ok
    with pytest.raises(PolicyViolation):
        policy.check(_smuggled()[case])


def test_policy_keeps_single_word_names_out_of_meta_checks() -> None:
    """A suspect called Vlad must not stop the export of VLAD scene descriptors."""
    import numpy as np

    policy = SharePolicy(["Vlad", "Vlad Petrov"])
    vec = np.zeros(64, "<f2")
    vec[0] = 1.0
    scene = {
        "kind": "scene",
        "value": base64.b64encode(vec.tobytes()).decode(),
        "local_ref": "item:4",
        "meta": {
            "descriptor": "vlad",
            "version": "1",
            "codebook_sha256": "ab" * 32,
            "dim": 64,
            "dtype": "f16",
        },
    }
    assert policy.check(scene) == scene


def test_video_frames_go_as_one_vpdq_signal_in_frame_order(
    settings: Settings, db: Database, local: LocalCase
) -> None:
    from vigil.store.hashsets import ItemSignal

    item = local.item_ids[1]
    frames = {2: "c" * 64, 0: "a" * 64, 1: "b" * 64}
    with db.write() as s:
        for frame, value in frames.items():
            s.add(
                ItemSignal(
                    item_id=item,
                    signal_type="vpdq",
                    frame=frame,
                    value=value,
                    hasher_version="vpdq-1",
                )
            )
        s.add(
            ItemSignal(
                item_id=item,
                signal_type="vpdq",
                frame=3,
                value=None,
                status="pdq_low_quality",
                hasher_version="vpdq-1",
            )
        )
    built = _build(settings, db, local, options=export.ExportOptions(kinds=("vpdq",)))
    (sig,) = _bundle(built)["signals"]
    assert sig == {
        "kind": "vpdq",
        "value": "a" * 64 + "b" * 64 + "c" * 64,
        "local_ref": f"item:{item}",
        "meta": {"version": "vpdq-1"},
    }


@pytest.mark.parametrize("offset", [0, 1, 37, 128 - len("MONTGOMERY")])
def test_names_are_found_anywhere_in_binary_values_among_many_forbidden(offset: int) -> None:
    forbidden = [f"/evidence/dir/IMG_{i:06d}.JPG" for i in range(5000)] + ["Montgomery"]
    policy = SharePolicy(forbidden)
    clk = bytearray(128)
    clk[offset : offset + len("MONTGOMERY")] = b"MONTGOMERY"
    signal = {
        "kind": "person",
        "value": base64.b64encode(bytes(clk)).decode(),
        "local_ref": "person:3",
        "meta": {"params_id": "clk1", "key_id": "k", "bits": 1024, "blocks": []},
    }
    with pytest.raises(PolicyViolation, match="name or file name"):
        policy.check(signal)
    signal["value"] = base64.b64encode(bytes(128)).decode()
    assert policy.check(signal) == signal


def test_records_flagged_as_a_stolen_cards_keep_their_name_at_home(
    settings: Settings, db: Database, local: LocalCase
) -> None:
    from vigil.store.persons import PersonRecord, PersonRecordFlag

    with db.write() as s:
        rec = s.query(PersonRecord).one()
        s.add(PersonRecordFlag(record_id=rec.id, case_id=local.case_id, code="card_compromised"))
    built = _build(settings, db, local)
    assert "person" not in built.counts and built.counts["card_token"] == 1
    assert any("possibly a stolen card" in n for n in built.notes)
    options = export.ExportOptions(secret=SECRET, share_flagged=True, kinds=("persons",))
    assert _build(settings, db, local, options=options).counts["person"] == 1
