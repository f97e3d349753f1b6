"""End to end through the CLI: ingest (scene analyzer on by default), search a photo and an item
with drawings, reference-collection import with bad rows, places and links, metadata leads,
camera fingerprints; JSON output, exit codes and audit entries."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select
from typer.testing import CliRunner

from vigil.cli.main import app, main
from vigil.settings import Settings
from vigil.store.db import Database
from vigil.store.models import AuditEntry

from .helpers import CAM_H as H
from .helpers import CAM_W as W
from .helpers import camera_shot, jpeg_bytes, scene, variant

runner = CliRunner()


def vigil(*args: str) -> object:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def exif_jpeg(img: np.ndarray, *, make: str, model: str, when: str, gps: bool) -> bytes:
    ex = Image.Exif()
    ex[0x010F], ex[0x0110] = make, model
    ex.get_ifd(0x8769)[0x9003] = when
    if gps:
        g = ex.get_ifd(0x8825)
        g[1], g[2], g[3], g[4] = "N", (51.0, 30.0, 26.5), "W", (0.0, 7.0, 39.6)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=92, exif=ex)
    return buf.getvalue()


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    folder = tmp_path / "seized"
    folder.mkdir()
    when = ["2024:05:01 10:00:00", "2024:05:03 18:30:00", "2024:06:01 09:00:00"]
    for i in range(3):
        data = exif_jpeg(scene(i), make="Canon", model="EOS 5D", when=when[i], gps=i < 2)
        (folder / f"room_{i}.jpg").write_bytes(data)
    (folder / "phone_shot.jpg").write_bytes(jpeg_bytes(variant(scene(0), 7), 85))
    (folder / "blank.png").write_bytes(jpeg_bytes(np.full((60, 80, 3), 120, np.uint8)))
    (folder / "broken.jpg").write_bytes(jpeg_bytes(scene(9))[:2000])
    return folder


def test_places_end_to_end(evidence: Path, tmp_path: Path) -> None:
    vigil("ingest", str(evidence), "--case", "op-room", "--workers", "0", "--json", "--quiet")

    # search with a new photo of room 0 (not evidence), drawing the evidence
    query = tmp_path / "query.jpg"
    query.write_bytes(jpeg_bytes(variant(scene(0), 99, occluded=0.4), 70))
    draw_dir = tmp_path / "why"
    res = vigil("places", "search", str(query), "--draw", str(draw_dir), "--json")
    assert isinstance(res, dict)
    cands = res["candidates"]
    assert cands, res
    paths = [Path(c["path"]).name for c in cands]
    assert set(paths) <= {"room_0.jpg", "phone_shot.jpg"}
    assert all(c["verified"] and c["inliers"] >= 15 for c in cands)
    assert cands[0]["cases"] == ["op-room"]
    drawing = Path(cands[0]["drawing"])
    assert drawing.read_bytes()[:4] == b"\x89PNG"
    assert res["index"]["images"] == 4  # 3 rooms + phone shot (the blank image has no features)

    # search with an ingested item: the phone shot finds room 0 and not itself
    items = {Path(c["path"]).name: c["item_id"] for c in cands}
    phone_id = items.get("phone_shot.jpg")
    room0_id = items.get("room_0.jpg")
    assert room0_id is not None
    if phone_id is not None:
        res2 = vigil("places", "search", "--item", str(phone_id), "--json")
        assert isinstance(res2, dict)
        ids = [c["item_id"] for c in res2["candidates"]]
        assert ids[0] == room0_id and phone_id not in ids

    assert all(c["guided"] is False and c["first_fit_inliers"] == c["inliers"] for c in cands)
    # an easy view verifies strongly on the first pass: no retry with richer query features
    assert all(c["retried"] is False for c in cands) and cands[0]["inliers"] >= 32
    # --guided: the same room, its count grown from a first fit that is reported with it
    guided = vigil("places", "search", str(query), "--guided", "--json")
    assert isinstance(guided, dict)
    top = guided["candidates"][0]
    assert Path(top["path"]).name == Path(cands[0]["path"]).name
    assert top["first_fit_inliers"] >= 11 and top["inliers"] >= top["first_fit_inliers"]
    assert top["guided"] and top["inliers"] > top["first_fit_inliers"], top

    # many queries in one process: a folder plus a file, one unreadable, one JSON / CSV result
    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "a.jpg").write_bytes(query.read_bytes())
    (batch / "b.jpg").write_bytes(jpeg_bytes(variant(scene(1), 5), 80))
    (batch / "c.jpg").write_bytes(b"not an image")
    many = vigil("places", "search", str(batch), str(query), "--json")
    assert isinstance(many, list) and len(many) == 4
    assert [Path(r["query"]["path"]).name for r in many] == ["a.jpg", "b.jpg", "c.jpg", "query.jpg"]
    assert "error" in many[2]
    assert Path(many[0]["candidates"][0]["path"]).name == Path(cands[0]["path"]).name
    assert [c["inliers"] for c in many[0]["candidates"]] == [c["inliers"] for c in cands]
    table = tmp_path / "rooms.csv"
    vigil("places", "search", str(batch), "--csv", "-o", str(table))
    with table.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {Path(r["query"]).name for r in rows} == {"a.jpg", "b.jpg", "c.jpg"}
    assert any(r["verified"] == "True" and Path(r["path"]).name == "room_1.jpg" for r in rows)
    assert [bool(r["error"]) for r in rows if r["query"].endswith("c.jpg")] == [True]

    # text output explains it is a lead
    text = vigil("places", "search", str(query))
    assert "candidate leads only" in str(text)

    # a place, a confirmed link
    place = vigil("places", "add", "Hotel Example room 12", "--type", "hotel_room",
                  "--lat", "51 30 26.5 N", "--lon", "-0.1277", "--agency", "NCA", "--json")  # fmt: skip
    assert isinstance(place, dict)
    assert place["lat"] == pytest.approx(51.5073611)
    link = vigil("places", "link", str(room0_id), place["key"], "--status", "confirmed", "--json")
    assert isinstance(link, dict) and link["status"] == "confirmed" and link["was"] is None
    listed = vigil("places", "list", "--json")
    assert isinstance(listed, list) and listed[0]["links"] == {"confirmed": 1}

    # a reference collection with good and bad rows
    ref_dir = tmp_path / "hotels"
    ref_dir.mkdir()
    (ref_dir / "r1.jpg").write_bytes(jpeg_bytes(scene(1), 90))
    (ref_dir / "r5.jpg").write_bytes(jpeg_bytes(scene(5), 90))
    rows = [
        ["image", "place_id", "place_name", "address", "lat", "lon", "photographer"],
        ["r1.jpg", "H-001", "Hotel One room 3", "1 High St", "48.8566", "2.3522", "staff"],
        ["r5.jpg", "H-002", "Hotel Two room 9", "", "", "", "guest"],
        ["missing.jpg", "H-003", "", "", "", "", ""],
        ["../../etc/passwd", "H-004", "", "", "", "", ""],
        ["r1.jpg", "", "", "", "", "", ""],
        ["r9.jpg", "H-005", "", "", "95.0", "2.0", ""],
    ]
    csv_path = tmp_path / "hotels.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    rep = vigil("places", "import", "hotels", str(ref_dir), "--csv", str(csv_path),
                "--provenance", "generated test images", "--json")  # fmt: skip
    assert isinstance(rep, dict)
    assert rep["imported"] == 2 and rep["places_created"] == 2
    lines = sorted(w["line"] for w in rep["warnings"])
    assert lines == [4, 5, 6, 7]
    assert any("leaves the collection folder" in w["message"] for w in rep["warnings"])
    again = vigil("places", "import", "hotels", str(ref_dir), "--csv", str(csv_path), "--json")
    assert isinstance(again, dict) and again["imported"] == 0 and again["skipped_existing"] == 2

    # a photo of room 1 now also finds the reference image and its place
    q1 = tmp_path / "q1.jpg"
    q1.write_bytes(jpeg_bytes(variant(scene(1), 5), 75))
    res3 = vigil("places", "search", str(q1), "--json")
    assert isinstance(res3, dict)
    kinds = {(c["kind"], c.get("place_key")) for c in res3["candidates"]}
    assert ("reference", "H-001") in kinds
    assert ("item", None) in kinds
    # restricted to one case: references stay, other cases' items would not
    res4 = vigil("places", "search", str(q1), "--case", "op-room", "--json")
    assert isinstance(res4, dict) and res4["candidates"]

    # pair drawing
    pair = tmp_path / "pair.png"
    out = vigil("places", "draw", str(q1), f"item:{room0_id}", "-o", str(pair), "--json")
    assert isinstance(out, dict) and pair.exists() and out["inliers"] < 15

    # metadata leads
    devices = vigil("places", "devices", "op-room", "--json")
    assert isinstance(devices, list)
    assert devices[0]["device"] == "Canon EOS 5D" and devices[0]["count"] == 3
    assert devices[0]["first_capture"] == "2024-05-01T10:00:00"
    assert devices[0]["last_capture"] == "2024-06-01T09:00:00"
    gj, kml = tmp_path / "op.geojson", tmp_path / "op.kml"
    locs = vigil("places", "locations", "op-room", "--geojson", str(gj), "--kml", str(kml),
                 "--json")  # fmt: skip
    assert isinstance(locs, dict) and locs["positions"] == 2 and len(locs["clusters"]) == 1
    assert json.loads(gj.read_text())["features"][0]["geometry"]["coordinates"][1] == (
        pytest.approx(51.5073611)
    )
    assert "<Placemark>" in kml.read_text()

    # summary section
    summary = vigil("case", "summary", "op-room")
    assert "scene features" in str(summary)
    assert "2 item(s) with GPS, 1 camera device(s)" in str(summary)

    # every action is in the audit log
    db = Database(Settings.load().database_url)
    with db.read() as s:
        actions = set(s.scalars(select(AuditEntry.action)))
    db.dispose()
    assert {"places.search", "places.add", "places.link", "places.reference_import",
            "places.locations_export"} <= actions  # fmt: skip


def test_search_errors_have_exit_codes(tmp_path: Path) -> None:
    assert main(["places", "search"]) == 3
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    assert main(["places", "search", str(bad)]) == 3
    # nothing indexed yet
    good = tmp_path / "good.jpg"
    good.write_bytes(jpeg_bytes(scene(1)))
    assert main(["places", "search", str(good)]) == 8
    # parameters out of range are refused before any work, with the rule in the message
    assert main(["places", "search", str(good), "--min-coverage", "4"]) == 3
    assert main(["places", "search", str(good), "--shortlist", "0"]) == 3
    assert main(["places", "search", str(good), "--model", "affine"]) == 3
    assert main(["places", "link", "1", "nope"]) == 4
    assert main(["places", "add", "X", "--lat", "91", "--lon", "0"]) == 3


def test_camera_fingerprint_and_test(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    k1, k2 = rng.normal(0, 0.012, (H, W, 3)), rng.normal(0, 0.012, (H, W, 3))
    cam = tmp_path / "phone"
    cam.mkdir()
    for i in range(20):
        Image.fromarray(camera_shot(k1, rng)).save(cam / f"IMG_{i:03d}.png")
    (cam / "odd_size.png").write_bytes(jpeg_bytes(np.zeros((10, 10, 3), np.uint8)))
    (cam / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    fp = tmp_path / "phone.vpf"
    rep = vigil("camera", "fingerprint", str(cam), "-o", str(fp), "--name", "phone-1",
                "--make", "Acme", "--json")  # fmt: skip
    assert isinstance(rep, dict) and rep["n_images"] == 20 and len(rep["warnings"]) == 2
    same = tmp_path / "same.png"
    Image.fromarray(camera_shot(k1, rng)).save(same)
    other = tmp_path / "other.png"
    Image.fromarray(camera_shot(k2, rng)).save(other)
    r1 = vigil("camera", "test", str(same), "--fingerprint", str(fp), "--json")
    r2 = vigil("camera", "test", str(other), "--name", "phone-1", "--json")
    assert isinstance(r1, dict) and isinstance(r2, dict)
    assert r1["candidate_same_camera"] and r1["pce"] > 60
    assert not r2["candidate_same_camera"] and r2["pce"] < 60
    assert any("resized" in n for n in r2["notes"])
    listed = vigil("camera", "list", "--json")
    assert isinstance(listed, list) and listed[0]["name"] == "phone-1"
    # too few photos, and a clash of names
    few = tmp_path / "few"
    few.mkdir()
    for i in range(3):
        Image.fromarray(camera_shot(k2, rng)).save(few / f"{i}.png")
    assert main(["camera", "fingerprint", str(few), "-o", str(tmp_path / "x.vpf")]) == 3
    assert main(["camera", "fingerprint", str(cam), "--name", "phone-1"]) == 5


def test_scan_replaces_features_analysed_under_an_older_keypoint_cap(evidence: Path) -> None:
    """Items analysed before the keypoint cap changed become pending again; a scan stores
    fresh features in place of the old rows (one set per item, old ids gone)."""
    from sqlalchemy import update

    from vigil.places.analyzer import SceneAnalyzer
    from vigil.store.models import ItemAnalysis
    from vigil.store.places import SceneFeature

    vigil("ingest", str(evidence), "--case", "op-old", "--workers", "0", "--json", "--quiet")
    db = Database(Settings.load().database_url)
    with db.read() as s:
        rows = s.scalars(select(SceneFeature)).all()
        before = {r.id: r.item_id for r in rows}
        old_item = max(rows, key=lambda r: r.n_keypoints).item_id  # a textured photo
    assert before
    # nothing pending at the current version
    assert vigil("places", "scan", "op-old", "--json")["pending"] == 0  # type: ignore[index]
    with db.write() as s:  # as if analysed by the earlier 1000-keypoint release
        s.execute(update(ItemAnalysis).where(ItemAnalysis.item_id == old_item,
                                             ItemAnalysis.analyzer == "scene").values(version="1"))  # fmt: skip
    assert SceneAnalyzer.version != "1"
    rep = vigil("places", "scan", "op-old", "--json")
    assert rep["pending"] == 1 and rep["done"] == 1  # type: ignore[index]
    with db.read() as s:
        after = {r.id: r.item_id for r in s.scalars(select(SceneFeature)).all()}
    old_ids = {fid for fid, item in before.items() if item == old_item}
    new_ids = {fid for fid, item in after.items() if item == old_item}
    assert len(new_ids) == len(old_ids) and not (new_ids & old_ids)
    assert {f: i for f, i in after.items() if i != old_item} == {
        f: i for f, i in before.items() if i != old_item
    }
    # the search index follows: the item is still found, under its new feature id
    res = vigil("places", "search", "--item", str(old_item), "--json")
    assert isinstance(res, dict) and res["query"]["feature_id"] in new_ids


def test_item_search_uses_a_query_sized_extraction_and_falls_back_to_stored(
    evidence: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An item's stored record keeps more keypoints than a query needs: the search decodes the
    item again and extracts the query's cap; without readable evidence it says so and uses
    the stored record."""
    import vigil.places.service as service
    from vigil.places.features import FeatureParams

    vigil("ingest", str(evidence), "--case", "op-q", "--workers", "0", "--json", "--quiet")
    db = Database(Settings.load().database_url)
    from vigil.store.places import SceneFeature

    with db.read() as s:
        rows = s.scalars(select(SceneFeature)).all()
        stored_n = {r.item_id: r.n_keypoints for r in rows}
    phone = next(i for i, n in stored_n.items() if n > 120)
    monkeypatch.setattr(service, "QUERY_PARAMS", FeatureParams(max_keypoints=120))
    res = vigil("places", "search", "--item", str(phone), "--json")
    assert isinstance(res, dict)
    assert res["query"]["query_features"] == "re-extracted"
    assert res["query"]["keypoints"] <= 120 < stored_n[phone]
    # the evidence goes missing: the stored record still answers, and the output says why
    evidence.rename(evidence.with_name("moved_away"))
    res = vigil("places", "search", "--item", str(phone), "--json")
    assert isinstance(res, dict)
    assert res["query"]["query_features"].startswith("stored: evidence not readable now")
    assert res["query"]["keypoints"] == stored_n[phone]


def test_video_items_query_with_their_stored_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-sampling a video's frames means reading and hashing the whole file again: a video
    item's search keeps its stored frame features and says so."""
    from contextlib import nullcontext
    from types import SimpleNamespace

    import vigil.places.service as service
    from vigil.places.features import FeatureParams, SceneFeatures

    rng = np.random.default_rng(0)
    big = SceneFeatures(rng.uniform(0, 600, (300, 2)).astype(np.float32),
                        rng.integers(0, 255, (300, 128), dtype=np.uint8), 640, 480, 1.0)  # fmt: skip
    rows = [SimpleNamespace(id=10 + i, frame=i, data=big.to_bytes(), n_keypoints=len(big))
            for i in (1, 2)]  # fmt: skip
    monkeypatch.setattr(service.store, "features_of_item", lambda s, item_id, ex: rows)
    monkeypatch.setattr(service, "QUERY_PARAMS", FeatureParams(max_keypoints=100))

    def never(*a: object, **k: object) -> None:
        raise AssertionError("a video must not be read again")

    monkeypatch.setattr(service, "target_pixels", never)
    db = SimpleNamespace(read=lambda: nullcontext(None))
    got = service.item_queries(Settings.load(), db, 5)  # type: ignore[arg-type]
    assert [fid for fid, _, _ in got] == [11, 12]
    assert all(len(f) == 300 and src.startswith("stored: video") for _, f, src in got)


def test_a_store_of_the_earlier_extractor_is_marked_and_extracted_again(
    evidence: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Features of ``rootsift/1`` are never searched with ``rootsift/2``'s: the index says so
    and names the fix, a scan re-extracts the items (their old rows go), a re-import the
    collection's images (kept as the same references)."""
    from sqlalchemy import func, update

    from vigil.places.analyzer import EXTRACTOR
    from vigil.store.models import ItemAnalysis
    from vigil.store.places import PlaceReferenceImage, SceneFeature

    vigil("ingest", str(evidence), "--case", "op-v1", "--workers", "0", "--json", "--quiet")
    ref_dir = tmp_path / "refs"
    ref_dir.mkdir()
    for i in (1, 2):
        (ref_dir / f"r{i}.jpg").write_bytes(jpeg_bytes(scene(i), 90))
    csv_path = tmp_path / "refs.csv"
    csv_path.write_text("image,place_id\nr1.jpg,H-1\nr2.jpg,H-2\n", encoding="utf-8")
    vigil("places", "import", "refs", str(ref_dir), "--csv", str(csv_path), "--json")
    db = Database(Settings.load().database_url)
    with db.write() as s:  # as if the previous release had analysed and imported everything
        s.execute(update(SceneFeature).values(extractor="rootsift/1"))
        s.execute(update(ItemAnalysis).where(ItemAnalysis.analyzer == "scene")
                  .values(version="1-k2000"))  # fmt: skip
        n_items = s.scalar(select(func.count()).select_from(SceneFeature)
                           .where(SceneFeature.item_id.is_not(None)))  # fmt: skip
    assert EXTRACTOR != "rootsift/1" and n_items
    capsys.readouterr()
    assert main(["places", "index"]) == 8  # nothing of the current extractor: not ready
    assert "earlier extractor version" in capsys.readouterr().err
    rep = vigil("places", "scan", "op-v1", "--json")
    assert isinstance(rep, dict) and rep["pending"] == rep["done"] == 5
    st = vigil("places", "index", "--json")
    assert isinstance(st, dict) and st["other_extractors"] == {"rootsift/1": 2}  # the refs
    assert "places scan CASE" in str(vigil("places", "index"))
    again = vigil("places", "import", "refs", str(ref_dir), "--csv", str(csv_path), "--json")
    assert isinstance(again, dict) and again["refreshed"] == 2 and again["skipped_existing"] == 0
    st = vigil("places", "index", "--json")
    assert isinstance(st, dict) and st["other_extractors"] == {} and st["images"] == 6
    with db.read() as s:
        kinds = set(s.scalars(select(SceneFeature.extractor)))
        refs = s.scalar(select(func.count()).select_from(PlaceReferenceImage))
    assert kinds == {EXTRACTOR} and refs == 2
    third = vigil("places", "import", "refs", str(ref_dir), "--csv", str(csv_path), "--json")
    assert isinstance(third, dict) and third["skipped_existing"] == 2 and third["refreshed"] == 0
