"""Case-level behaviour on real faces: one cluster per person, feedback that survives
re-clustering, cross-case search with the right identity first, candidate links only."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from vigil.errors import Conflict, InvalidInput, NotFound
from vigil.faces import service
from vigil.faces.pipeline import FacePipeline
from vigil.settings import Settings
from vigil.store import audit
from vigil.store import faces as store
from vigil.store.db import Database
from vigil.store.models import AuditEntry

from .helpers import DATA, photo_bytes, variant_bytes

Builder = Callable[[str, dict[str, bytes]], dict[str, int]]


def group_photo(left: str, right: str) -> bytes:
    """Two portraits side by side in one JPEG (a generated 'group photo')."""
    a = Image.open(DATA / left).convert("RGB")
    b = Image.open(DATA / right).convert("RGB")
    canvas = Image.new("RGB", (a.width + b.width, max(a.height, b.height)), (200, 200, 200))
    canvas.paste(a, (0, 0))
    canvas.paste(b, (a.width, 0))
    buf = io.BytesIO()
    canvas.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


CASE_A = {
    "obama_1.jpg": "obama",
    "obama_2.jpg": "obama",
    "biden_1.jpg": "biden",
    "biden_variant.jpg": "biden",
    "collins_1.jpg": "collins",
    "collins_variant.jpg": "collins",
    "hopper_variant.jpg": "hopper",
    "group.jpg": "obama+hopper",
}


def case_a_photos() -> dict[str, bytes]:
    return {
        "obama_1.jpg": photo_bytes("obama_1.jpg"),
        "obama_2.jpg": photo_bytes("obama_2.jpg"),
        "biden_1.jpg": photo_bytes("biden_1.jpg"),
        "biden_variant.jpg": variant_bytes("biden_1.jpg", seed=1),
        "collins_1.jpg": photo_bytes("collins_1.jpg"),
        "collins_variant.jpg": variant_bytes("collins_1.jpg", seed=2),
        "hopper_variant.jpg": variant_bytes("hopper_1.jpg", seed=3),
        "group.jpg": group_photo("obama_3.jpg", "hopper_1.jpg"),
    }


def _person_of_faces(db: Database, case: str, items: dict[str, int]) -> dict[int, str]:
    """Ground truth per face id: the person in that photo (group photo: by box position)."""
    by_item = {v: k for k, v in items.items()}
    out = {}
    with db.read() as s:
        from vigil.store.repo import get_case

        c = get_case(s, case)
        for model_id in store.embedder_model_ids(s):
            for face, _e in store.case_faces(s, c.id, model_id):
                name = by_item[face.item_id]
                person = CASE_A.get(name) or CASE_B.get(name, "?")
                if "+" in person:
                    left, right = person.split("+")
                    person = left if face.left < 393 else right
                out[face.id] = person
    return out


def _clusters(db: Database, case: str) -> list[list[int]]:
    with db.read() as s:
        from vigil.store.repo import get_case

        return [m for _c, m in store.case_clusters(s, get_case(s, case).id)]


def test_one_cluster_per_person(db: Database, build_case: Builder, pipeline: FacePipeline) -> None:
    items = build_case("op-a", case_a_photos())
    truth = _person_of_faces(db, "op-a", items)
    assert len(truth) == 9  # 8 photos, the group photo has two faces
    report = service.cluster_case(db, "op-a", "tester", pipeline=pipeline)
    assert report.threshold.source == "default"
    groups = _clusters(db, "op-a")
    assert len(groups) == 4
    people = [{truth[f] for f in g} for g in groups]
    assert all(len(p) == 1 for p in people), people
    assert sorted(next(iter(p)) for p in people) == ["biden", "collins", "hopper", "obama"]
    sizes = {next(iter({truth[f] for f in g})): len(g) for g in groups}
    assert sizes == {"obama": 3, "biden": 2, "collins": 2, "hopper": 2}
    for c in report.clusters:
        assert c["representative_face"] in c["faces"]
    with db.read() as s:
        actions = s.execute(select(AuditEntry.action)).scalars().all()
        assert "faces.cluster" in actions
        audit.verify(s)


def test_feedback_survives_reclustering(
    db: Database, build_case: Builder, pipeline: FacePipeline
) -> None:
    items = build_case("op-a", case_a_photos())
    truth = _person_of_faces(db, "op-a", items)
    obama = sorted(f for f, p in truth.items() if p == "obama")
    collins = sorted(f for f, p in truth.items() if p == "collins")
    hopper = sorted(f for f, p in truth.items() if p == "hopper")
    service.cluster_case(db, "op-a", "tester", pipeline=pipeline)
    service.add_feedback(db, "op-a", obama[0], obama[1], "different", "tester", "twins?")
    service.add_feedback(db, "op-a", collins[0], hopper[0], "same", "tester", None)
    for _round in range(2):  # feedback holds on every re-clustering
        service.cluster_case(db, "op-a", "tester", pipeline=pipeline)
        label = {f: n for n, g in enumerate(_clusters(db, "op-a")) for f in g}
        assert label[obama[0]] != label[obama[1]]
        assert label[collins[0]] == label[hopper[0]]
    # a contradiction is refused, not silently dropped
    service.add_feedback(db, "op-a", collins[1], hopper[0], "same", "tester", None)
    with pytest.raises(Conflict):
        service.add_feedback(db, "op-a", collins[1], collins[0], "different", "tester", None)
    assert service.remove_feedback(db, "op-a", obama[0], obama[1], "tester")
    service.cluster_case(db, "op-a", "tester", pipeline=pipeline)
    label = {f: n for n, g in enumerate(_clusters(db, "op-a")) for f in g}
    assert label[obama[0]] == label[obama[1]]
    with pytest.raises(NotFound):
        service.add_feedback(db, "op-a", obama[0], 99999, "same", "tester", None)


CASE_B = {
    "obama_3.jpg": "obama",
    "collins_variant2.jpg": "collins",
    "hopper_1.jpg": "hopper",
    "biden_1b.jpg": "biden",
}


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_cross_case_search_puts_the_right_identity_first(
    db: Database, settings: Settings, build_case: Builder, pipeline: FacePipeline, tmp_path: Path
) -> None:
    build_case("op-a", case_a_photos())
    service.cluster_case(db, "op-a", "tester", pipeline=pipeline)
    # library: three identities with reference photos (never the photos used in case B)
    service.add_identity(
        db,
        "V-OBAMA",
        "tester",
        series=["Series A"],
        agency="Unit 1",
        photos=[_write(tmp_path, "ref_obama.jpg", photo_bytes("obama_1.jpg"))],
        pipeline=pipeline,
    )
    service.add_identity(
        db,
        "V-COLLINS",
        "tester",
        status="identified",
        photos=[_write(tmp_path, "ref_collins.jpg", photo_bytes("collins_1.jpg"))],
        pipeline=pipeline,
    )
    service.add_identity(
        db,
        "V-HOPPER",
        "tester",
        kind="person_of_interest",
        photos=[_write(tmp_path, "ref_hopper.jpg", variant_bytes("hopper_1.jpg", seed=3))],
        pipeline=pipeline,
    )
    with pytest.raises(InvalidInput):  # a reference photo needs exactly one face
        service.add_identity(
            db,
            "V-GROUP",
            "tester",
            pipeline=pipeline,
            photos=[_write(tmp_path, "g.jpg", group_photo("obama_3.jpg", "hopper_1.jpg"))],
        )
    with pytest.raises(Conflict):
        service.add_identity(db, "V-OBAMA", "tester")
    with db.read() as s:
        refs_before = s.execute(
            select(func.count()).select_from(store.IdentityReference)
        ).scalar_one()

    items_b = build_case(
        "op-b",
        {
            "obama_3.jpg": photo_bytes("obama_3.jpg"),
            "collins_variant2.jpg": variant_bytes("collins_1.jpg", seed=7),
            "hopper_1.jpg": photo_bytes("hopper_1.jpg"),
            "biden_1b.jpg": variant_bytes("biden_1.jpg", seed=9),
        },
    )
    service.cluster_case(db, "op-b", "tester", pipeline=pipeline)
    links = service.link_case(db, settings, "op-b", "tester", pipeline=pipeline)
    assert links
    assert all(lk["status"] == "candidate" for lk in links)
    with db.read() as s:
        face_item = {f.id: f.item_id for f in s.execute(select(store.FaceRow)).scalars()}
    by_item = {v: k for k, v in items_b.items()}
    first: dict[str, dict] = {}
    first_identity: dict[str, dict] = {}
    for lk in sorted(links, key=lambda lk: lk["rank"]):
        person = CASE_B[by_item[face_item[lk["face"]]]]
        first.setdefault(person, lk)
        if lk["identity"]:
            first_identity.setdefault(person, lk)
    # the library identity ranks first among identities; faces of the same person in op-a
    # (e.g. the same photo inside op-a's group picture) may rank above it by distance
    assert first_identity["obama"]["identity"] == "V-OBAMA"
    assert first_identity["collins"]["identity"] == "V-COLLINS"
    assert first_identity["hopper"]["identity"] == "V-HOPPER"
    # biden is in no library record, but he is in case op-a: a face link to that case
    assert "biden" not in first_identity
    assert first["biden"]["matched_case"] == "op-a"
    for lk in links:
        assert lk["distance"] <= lk["threshold"]
    # no identity or wrong identity ever gets a link for the wrong person
    for lk in links:
        person = CASE_B[by_item[face_item[lk["face"]]]]
        if lk["identity"]:
            assert lk["identity"] == f"V-{person.upper()}"
    # searching created candidates only: no reference was added, nothing merged
    with db.read() as s:
        refs_after = s.execute(
            select(func.count()).select_from(store.IdentityReference)
        ).scalar_one()
    assert refs_after == refs_before
    # re-running keeps decisions
    obama_link = first_identity["obama"]["link"]
    service.decide_link(db, obama_link, "confirmed", "tester", "checked by hand")
    again = service.link_case(db, settings, "op-b", "tester", pipeline=pipeline)
    assert {lk["link"]: lk["status"] for lk in again}[obama_link] == "confirmed"
    with db.read() as s:
        assert (
            s.execute(select(func.count()).select_from(store.IdentityReference)).scalar_one()
            == refs_before + 1
        )


def test_search_image_and_link_a_cluster_to_the_library(
    db: Database, settings: Settings, build_case: Builder, pipeline: FacePipeline, tmp_path: Path
) -> None:
    build_case("op-a", case_a_photos())
    service.cluster_case(db, "op-a", "tester", pipeline=pipeline)
    query = _write(tmp_path, "query.jpg", photo_bytes("obama_3.jpg"))
    before = service.search_image(db, settings, query, "tester", pipeline=pipeline)
    assert len(before["faces"]) == 1
    cands = before["faces"][0]["candidates"]
    assert cands, "obama_3 should find obama's faces in op-a"
    assert all(c["kind"] == "face" for c in cands)  # empty library: faces in cases only
    assert {tuple(c["cases"]) for c in cands} == {("op-a",)}
    # investigators confirm the obama cluster as a library identity
    service.add_identity(db, "V-0001", "tester", series=["Blue"])
    with db.read() as s:
        from vigil.store.repo import get_case

        case_id = get_case(s, "op-a").id
        clusters = store.case_clusters(s, case_id)
    obama_cluster = next(
        cl.label
        for cl, members in clusters
        if cl.representative_face_id in {c["face_id"] for c in cands}
    )
    linked = service.link_identity(
        db, "V-0001", "tester", case_name="op-a", cluster_label=obama_cluster
    )
    assert linked["references_added"] == 3
    after = service.search_image(db, settings, query, "tester", pipeline=pipeline)
    top = after["faces"][0]["candidates"][0]
    assert top["kind"] == "identity"
    assert top["identity"] == "V-0001"
    assert top["rank"] == 1
    # a stranger finds nothing within the threshold
    stranger = service.search_image(
        db,
        settings,
        _write(tmp_path, "s.jpg", photo_bytes("biden_1.jpg")),
        "tester",
        pipeline=pipeline,
    )
    assert all(c.get("identity") != "V-0001" for c in stranger["faces"][0]["candidates"])
    # the index file is a cache: delete it and the same answer comes back
    for p in settings.index_dir.glob("faces-*"):
        p.unlink()
    again = service.search_image(db, settings, query, "tester", pipeline=pipeline)
    assert again["faces"][0]["candidates"][0]["identity"] == "V-0001"


def test_calibration_is_stored_and_used(
    db: Database, build_case: Builder, pipeline: FacePipeline, tmp_path: Path
) -> None:
    folder = tmp_path / "eval"
    photos = {
        "obama": [photo_bytes(f"obama_{i}.jpg") for i in (1, 2, 3)],
        "biden": [photo_bytes("biden_1.jpg"), variant_bytes("biden_1.jpg", seed=4)],
        "collins": [photo_bytes("collins_1.jpg"), variant_bytes("collins_1.jpg", seed=5)],
        "hopper": [photo_bytes("hopper_1.jpg"), variant_bytes("hopper_1.jpg", seed=6)],
    }
    for person, datas in photos.items():
        (folder / person).mkdir(parents=True)
        for n, data in enumerate(datas):
            (folder / person / f"{n}.jpg").write_bytes(data)
    (folder / "obama" / "notes.txt").write_text("ignored")
    result = service.calibrate_folder(db, folder, "tester", pipeline=pipeline, target_fmr=0.001)
    assert result["images"] == 9
    assert result["n_genuine"] == 3 + 1 + 1 + 1
    assert result["n_impostor"] == 36 - 6
    assert result["fmr"] == 0.0
    assert result["tmr"] == 1.0
    assert result["fmr_resolvable"] is False  # 30 impostor pairs cannot show 0.1%
    build_case("op-a", {"obama_1.jpg": photo_bytes("obama_1.jpg")})
    report = service.cluster_case(db, "op-a", "tester", pipeline=pipeline)
    assert report.threshold.source == "calibrated"
    assert report.threshold.value == pytest.approx(result["threshold"])
    with pytest.raises(InvalidInput):
        service.calibrate_folder(db, folder / "obama", "tester", pipeline=pipeline)


def test_cluster_needs_faces_first(db: Database, pipeline: FacePipeline) -> None:
    from vigil.errors import NotReady

    with db.write() as s:
        from vigil.store.repo import ensure_case

        ensure_case(s, "empty", "tester")
    with pytest.raises(NotReady):
        service.cluster_case(db, "empty", "tester", pipeline=pipeline)
    with pytest.raises(NotFound):
        service.cluster_case(db, "nope", "tester", pipeline=pipeline)


def test_the_same_photo_in_an_earlier_case_is_a_link(
    db: Database, settings: Settings, build_case: Builder, pipeline: FacePipeline
) -> None:
    build_case("op-a", {"hopper_1.jpg": photo_bytes("hopper_1.jpg")})
    build_case("op-b", {"copy_of_hopper.jpg": photo_bytes("hopper_1.jpg")})  # same file
    service.cluster_case(db, "op-b", "tester", pipeline=pipeline)
    links = service.link_case(db, settings, "op-b", "tester", pipeline=pipeline)
    assert [(lk["matched_case"], lk["distance"], lk["rank"]) for lk in links] == [("op-a", 0.0, 1)]
    # and a case never links to itself
    assert (
        service.link_case(db, settings, "op-a", "tester", pipeline=pipeline)[0]["matched_case"]
        == "op-b"
    )


def test_refresh_case_clusters_and_searches(
    db: Database, settings: Settings, build_case: Builder, pipeline: FacePipeline
) -> None:
    from vigil.store.repo import ensure_case

    with db.write() as s:
        ensure_case(s, "no-faces", "tester")
    assert service.refresh_case(settings, db, "no-faces", "tester", pipeline=pipeline) is None
    build_case("op-a", {"hopper_1.jpg": photo_bytes("hopper_1.jpg")})
    build_case("op-b", {"h.jpg": variant_bytes("hopper_1.jpg", seed=5)})
    report = service.refresh_case(settings, db, "op-b", "tester", pipeline=pipeline)
    assert report is not None
    assert len(report.clusters) == 1
    assert [lk["matched_case"] for lk in report.links] == ["op-a"]
