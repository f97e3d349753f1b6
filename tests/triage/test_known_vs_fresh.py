"""End to end on generated data: ingest a case with hash sets loaded, match, and check the
known / near-known / fresh groups, the fresh-first listing and the fresh export."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vigil.errors import NotReady
from vigil.hashsets import vics
from vigil.hashsets.categories import CategoryMap
from vigil.hashsets.service import import_file
from vigil.ingest.pipeline import ingest
from vigil.settings import Settings
from vigil.signals.analyzers import make_video
from vigil.signals.base import Hashed
from vigil.signals.pdq import hash_pixels
from vigil.signals.synthetic import jpeg_bytes, scene
from vigil.store.db import Database
from vigil.store.hashsets import ItemMatch, TriageOutcome
from vigil.store.models import MediaItem
from vigil.triage.matching import run_matching
from vigil.triage.report import export_fresh, list_groups, summary_build, summary_render


def _resized_jpeg(px: np.ndarray, size: tuple[int, int], quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(px).resize(size, Image.Resampling.LANCZOS).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def build_case(root: Path, sets: Path) -> dict[str, bytes]:
    """Evidence with one known, one near-known and several fresh items, plus the hash sets."""
    files: dict[str, bytes] = {}
    known = jpeg_bytes(scene(11, 800, 600))
    files["DCIM/known.jpg"] = known
    files["copies/known-copy.jpg"] = known  # binary duplicate
    b = scene(12, 800, 600)
    files["DCIM/near.jpg"] = _resized_jpeg(b, (640, 480), 70)  # re-encoded, resized
    c = scene(13, 800, 600)
    files["DCIM/fresh-c.jpg"] = jpeg_bytes(c)
    files["other/fresh-c-small.jpg"] = _resized_jpeg(c, (400, 300), 80)  # visual duplicate
    files["DCIM/fresh-d.jpg"] = jpeg_bytes(scene(14, 800, 600))
    files["DCIM/flat.jpg"] = jpeg_bytes(np.full((300, 400, 3), 120, np.uint8))
    frames = [scene(s, 320, 240) for s in (15, 16, 17)]
    files["video/clip.mp4"] = make_video(frames, fps=4)
    files["video/clip-small.mp4"] = make_video([f[::2, ::2] for f in frames], fps=6)
    files["docs/note.txt"] = b"meeting notes, nothing visual\n" * 20
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    import hashlib

    doc = {
        "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media",
        "value": [
            {
                "MediaID": "K1",
                "Category": 1,
                "MD5": hashlib.md5(known).hexdigest().upper(),  # noqa: S324 - hash-set key
                "Series": "SER-A",
            },
            {"MediaID": "K2", "Category": 0, "MD5": "0" * 32},
        ],
    }
    sets.mkdir(parents=True, exist_ok=True)
    (sets / "vics-us.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(doc).encode())
    ref = hash_pixels(b)
    assert isinstance(ref, Hashed)
    (sets / "pdq.csv").write_text(f"pdq,quality,label\n{ref.value},{ref.quality},B-original\n")
    return files


@pytest.fixture
def matched_case(tmp_path: Path, settings: Settings, db: Database) -> tuple[Database, str]:
    evidence = tmp_path / "seizure"
    build_case(evidence, tmp_path / "sets")
    import_file(
        db, tmp_path / "sets" / "vics-us.json", name="vics-us", actor="tester", licence="test only"
    )
    import_file(
        db, tmp_path / "sets" / "pdq.csv", name="pdq-refs", actor="tester", scheme="vics_us"
    )
    ingest(settings, db, evidence, "op-test", "tester", workers=0)
    run_matching(db, "op-test", "tester", category_map=CategoryMap(target="us"))
    return db, "op-test"


def _outcomes(db: Database) -> dict[str, TriageOutcome]:
    from sqlalchemy import select

    from vigil.store.models import Occurrence

    with db.read() as s:
        rows = s.execute(
            select(Occurrence.path, TriageOutcome).join(
                TriageOutcome, TriageOutcome.item_id == Occurrence.item_id
            )
        ).all()
        return {Path(p).as_posix().split("seizure/")[-1]: o for p, o in rows}


def test_outcomes_per_item(matched_case: tuple[Database, str]) -> None:
    db, _case = matched_case
    out = _outcomes(db)
    assert out["DCIM/known.jpg"].outcome == "known"
    assert out["DCIM/known.jpg"].category == "1"
    assert out["DCIM/known.jpg"].grade == "1"
    assert out["DCIM/known.jpg"].series == "SER-A"
    assert out["DCIM/known.jpg"].distance == 0
    assert out["DCIM/near.jpg"].outcome == "near_known"
    assert 0 < (out["DCIM/near.jpg"].distance or 0) <= 31
    for rel in ("DCIM/fresh-c.jpg", "other/fresh-c-small.jpg", "DCIM/fresh-d.jpg"):
        assert out[rel].outcome == "fresh", rel
        assert out[rel].perceptual == "checked", rel
    assert out["DCIM/flat.jpg"].outcome == "fresh"
    assert out["DCIM/flat.jpg"].perceptual == "pdq_low_quality"
    assert out["video/clip.mp4"].outcome == "fresh"
    assert out["video/clip.mp4"].perceptual == "checked"
    assert out["docs/note.txt"].outcome == "other"


def test_groups_stack_duplicates_and_list_fresh_first(matched_case: tuple[Database, str]) -> None:
    db, case = matched_case
    out = _outcomes(db)
    # binary duplicate: one item, two occurrences, in the known group
    assert out["DCIM/known.jpg"].item_id == out["copies/known-copy.jpg"].item_id
    # visual duplicates share a group; distinct pictures do not
    assert out["DCIM/fresh-c.jpg"].group_id == out["other/fresh-c-small.jpg"].group_id
    assert out["DCIM/fresh-c.jpg"].group_id != out["DCIM/fresh-d.jpg"].group_id
    assert out["video/clip.mp4"].group_id == out["video/clip-small.mp4"].group_id
    from vigil.store import repo

    with db.read() as s:
        case_id = repo.get_case(s, case).id
        groups = list_groups(s, case_id)
        fresh_only = list_groups(s, case_id, outcomes=("fresh",))
    order = [g["outcome"] for g in groups]
    assert order == sorted(order, key=["fresh", "near_known", "known"].index)
    assert order.count("known") == 1
    assert order.count("near_known") == 1
    assert {g["outcome"] for g in fresh_only} == {"fresh"}
    assert len(fresh_only) == 4  # c (+small), d, flat, clip (+small)
    known = next(g for g in groups if g["outcome"] == "known")
    assert known["occurrences"] == 2
    assert known["evidence"]["set"] == "vics-us"
    assert known["evidence"]["category_label"] == "Child abuse material"
    c_group = next(g for g in fresh_only if g["members"] == 2 and g["items"][0]["kind"] == "photo")
    assert c_group["items"][1]["distance_to_representative"] <= 31


def test_matches_recorded_with_evidence(matched_case: tuple[Database, str]) -> None:
    db, _case = matched_case
    from sqlalchemy import select

    with db.read() as s:
        rows = s.execute(select(ItemMatch)).scalars().all()
    kinds = sorted((m.signal_type, m.distance == 0) for m in rows)
    assert ("md5", True) in kinds
    assert any(sig == "pdq" and not zero for sig, zero in kinds)


def test_summary_section(matched_case: tuple[Database, str]) -> None:
    db, case = matched_case
    from vigil.store import repo

    with db.read() as s:
        data = summary_build(s, repo.get_case(s, case).id)
    assert data["groups"] == {"fresh": 4, "near_known": 1, "known": 1}
    assert data["fresh_not_perceptually_checked"] == 1
    text = "\n".join(summary_render(data))
    assert text.index("fresh") < text.index("known")
    assert len(data["top_fresh_groups"]) == 4
    assert "fresh group" in text


def test_fresh_export_is_a_vics_set_of_hashes_only(
    matched_case: tuple[Database, str], tmp_path: Path
) -> None:
    db, case = matched_case
    out = tmp_path / "fresh.json"
    n = export_fresh(db, case, out, actor="tester")
    assert n == 6
    parsed = vics.read(out.read_bytes())
    assert parsed.warnings == []
    assert len(parsed.entries) == 6
    with db.read() as s:
        from sqlalchemy import select

        fresh_ids = set(
            s.execute(select(TriageOutcome.item_id).where(TriageOutcome.outcome == "fresh"))
            .scalars()
            .all()
        )
        md5s = {
            m.md5 for m in s.execute(select(MediaItem).where(MediaItem.id.in_(fresh_ids))).scalars()
        }
    assert {e.md5 for e in parsed.entries} == md5s
    text = out.read_text()
    assert "seizure" not in text
    assert ".jpg" not in text
    assert sum(1 for e in parsed.entries if e.pdq) == 3  # c, c-small, d (flat is unhashable)


def test_rematching_is_idempotent(matched_case: tuple[Database, str]) -> None:
    db, case = matched_case
    before = {k: (v.outcome, v.distance) for k, v in _outcomes(db).items()}
    report = run_matching(db, case, "tester")
    after = {k: (v.outcome, v.distance) for k, v in _outcomes(db).items()}
    assert before == after
    assert report.groups == {"fresh": 4, "near_known": 1, "known": 1}


def test_triage_before_matching_is_not_ready(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    from vigil.store import repo

    with db.write() as s:
        case = repo.ensure_case(s, "empty", "tester")
        case_id = case.id
    with db.read() as s, pytest.raises(NotReady):
        list_groups(s, case_id)
    with pytest.raises(NotReady):
        export_fresh(db, "empty", tmp_path / "x.json", actor="tester")


def test_pdq_index_cache_is_reused_and_rebuilt(
    matched_case: tuple[Database, str], tmp_path: Path
) -> None:
    from vigil.index.mapped import open_mapped
    from vigil.triage.matching import INDEX_FILE, hashset_pdq_index

    db, case = matched_case
    idx_dir = tmp_path / "indexes"
    first = run_matching(db, case, "tester", index_dir=idx_dir)
    path = idx_dir / INDEX_FILE
    cached, header = open_mapped(path)
    assert len(cached) == 1
    assert header["meta"]["signature"]["entries"] == 1
    data = bytearray(path.read_bytes())
    data[header["sections"]["words"]["offset"]] ^= 0xFF
    path.write_bytes(bytes(data))  # damaged cache: rebuilt, never trusted
    again = run_matching(db, case, "tester", index_dir=idx_dir)
    assert again.outcomes == first.outcomes
    open_mapped(path)
    extra = tmp_path / "more.csv"
    extra.write_text("f" * 64 + ",100,x\n")
    import_file(db, extra, name="more", actor="tester")
    with db.read() as s:
        index = hashset_pdq_index(s, idx_dir)
    assert index is not None
    assert len(index) == 2


def test_video_frames_match_pdq_entries(tmp_path: Path, settings: Settings, db: Database) -> None:
    from sqlalchemy import select

    from vigil.signals.vpdq import VideoHashes, hash_video

    frames = [scene(s, 320, 240) for s in (40, 41, 42)]
    video = make_video(frames, fps=4)
    other = make_video([scene(s, 320, 240) for s in (50, 51, 52)], fps=4)
    evidence = tmp_path / "ev"
    evidence.mkdir()
    (evidence / "clip.mp4").write_bytes(video)
    (evidence / "other.mp4").write_bytes(other)
    hashed = hash_video(video)
    assert isinstance(hashed, VideoHashes)
    known_frame = hashed.frames[1]
    (tmp_path / "frames.csv").write_text(f"{known_frame.value},{known_frame.quality},frame\n")
    import_file(db, tmp_path / "frames.csv", name="frames", actor="tester")
    ingest(settings, db, evidence, "vid", "tester", workers=0)
    report = run_matching(db, "vid", "tester")
    assert report.outcomes == {"near_known": 1, "fresh": 1}
    with db.read() as s:
        (match,) = s.execute(select(ItemMatch)).scalars().all()
        item = s.get(MediaItem, match.item_id)
    assert item is not None
    assert item.size == len(video)
    assert match.signal_type == "vpdq"
    assert match.frames_matched is not None
    assert match.frames_matched >= 1
    assert match.distance <= 31
