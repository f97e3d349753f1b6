"""End to end through the CLI: ingest with the faces analyzer, cluster, feedback, victims,
search, links and decisions, with JSON output and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from vigil.cli.main import app, main

from .helpers import DATA, photo_bytes, variant_bytes

runner = CliRunner()


def vigil(*args: str) -> object:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    folder = tmp_path / "seized"
    folder.mkdir()
    (folder / "IMG_001.jpg").write_bytes(photo_bytes("obama_1.jpg"))
    (folder / "IMG_002.jpg").write_bytes(photo_bytes("obama_2.jpg"))
    (folder / "IMG_003.jpg").write_bytes(photo_bytes("hopper_1.jpg"))
    (folder / "IMG_004.jpg").write_bytes(variant_bytes("hopper_1.jpg", seed=11))
    # stored sideways without an orientation tag: found by the rotation retry
    sideways = Image.open(DATA / "collins_1.jpg").transpose(Image.Transpose.ROTATE_90)
    sideways.save(folder / "IMG_005.jpg", quality=90)
    (folder / "broken.jpg").write_bytes(photo_bytes("biden_1.jpg")[:3000])
    (folder / "notes.txt").write_text("no faces here")
    return folder


def test_cli_end_to_end(evidence: Path, tmp_path: Path) -> None:
    report = vigil(
        "ingest",
        str(evidence),
        "--case",
        "op-cli",
        "--analyzer",
        "faces",
        "--workers",
        "0",
        "--json",
        "--quiet",
    )
    assert isinstance(report, dict)
    faces = vigil("faces", "list", "op-cli", "--json")
    assert isinstance(faces, list)
    assert len(faces) == 5
    rotated = [f for f in faces if f["path"].endswith("IMG_005.jpg")]
    assert len(rotated) == 1
    assert rotated[0]["rotation"] == 90  # turned clockwise by 90° to stand upright
    assert all(len(f["landmarks"]) == 5 and f["quality"] > 0 for f in faces)
    from vigil.faces import age_onnx

    if age_onnx.available():  # ages are estimated during ingest; nothing left to back-fill
        assert all(f["age"] and not f["age"]["likely_minor"] for f in faces)
        backfill = vigil("faces", "ages", "op-cli", "--json")
        assert isinstance(backfill, dict) and backfill["pending"] == 0
        assert "age:" in str(vigil("faces", "list", "op-cli"))
    warnings = vigil("case", "warnings", "op-cli", "--json")
    assert any(w["path"].endswith("broken.jpg") for w in warnings)  # type: ignore[union-attr]

    clustered = vigil("faces", "cluster", "op-cli", "--json")
    assert isinstance(clustered, dict)
    assert len(clustered["clusters"]) == 3  # obama, hopper, collins
    assert clustered["threshold"]["source"] == "default"
    assert clustered["candidate_links"] == []  # nothing else to search against yet
    by_path = {f["path"].rsplit("/", 1)[-1]: f["face"] for f in faces}

    # feedback: split the two hopper photos, then re-cluster
    vigil(
        "faces",
        "different",
        "op-cli",
        str(by_path["IMG_003.jpg"]),
        str(by_path["IMG_004.jpg"]),
        "--note",
        "test",
        "--json",
    )
    again = vigil("faces", "cluster", "op-cli", "--json")
    assert len(again["clusters"]) == 4  # type: ignore[index]
    vigil("faces", "forget", "op-cli", str(by_path["IMG_003.jpg"]), str(by_path["IMG_004.jpg"]))
    clustered = vigil("faces", "cluster", "op-cli", "--json")
    assert len(clustered["clusters"]) == 3  # type: ignore[index]

    # the obama cluster becomes a library identity
    obama_cluster = next(
        c["cluster"]
        for c in clustered["clusters"]
        if by_path["IMG_001.jpg"] in c["faces"]  # type: ignore[index]
    )
    added = vigil("victims", "add", "V-0001", "--series", "Oval", "--agency", "Unit 7", "--json")
    assert added["references"] == 0  # type: ignore[index]
    linked = vigil(
        "victims", "link", "V-0001", "--case", "op-cli", "--cluster", str(obama_cluster), "--json"
    )
    assert linked["references_added"] == 2  # type: ignore[index]
    ref = tmp_path / "ref.jpg"
    ref.write_bytes(photo_bytes("collins_1.jpg"))
    vigil("victims", "add", "V-0002", "--photo", str(ref), "--status", "identified", "--json")
    listed = vigil("victims", "list", "--json")
    assert [(r["code"], r["references"], r["agency"]) for r in listed] == [  # type: ignore[union-attr]
        ("V-0001", 2, "Unit 7"),
        ("V-0002", 1, "local"),
    ]
    assert listed[0]["series"] == ["Oval"]  # type: ignore[index]

    # who is this?
    query = tmp_path / "query.jpg"
    query.write_bytes(photo_bytes("obama_3.jpg"))
    found = vigil("faces", "search", str(query), "--json")
    top = found["faces"][0]["candidates"][0]  # type: ignore[index]
    assert top["kind"] == "identity"
    assert top["identity"] == "V-0001"
    assert top["rank"] == 1
    text = vigil("faces", "search", str(query))
    assert "identity V-0001" in str(text)

    # many queries in one process: a folder, an unreadable file reported, the rest searched
    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "a.jpg").write_bytes(photo_bytes("obama_3.jpg"))
    (batch / "b.jpg").write_bytes(photo_bytes("biden_1.jpg"))
    (batch / "c.jpg").write_bytes(b"not a photo")
    many = vigil("faces", "search", str(batch), "--json")
    assert isinstance(many, list) and [Path(a["image"]).name for a in many] == [
        "a.jpg",
        "b.jpg",
        "c.jpg",
    ]
    assert many[0]["faces"][0]["candidates"][0]["identity"] == "V-0001"
    assert "error" in many[2] and "faces" not in many[2]
    # a strict threshold: no candidate, but the nearest one beyond it is shown as such
    strict = vigil("faces", "search", str(query), "--threshold", "0.01", "--json")
    face = strict["faces"][0]  # type: ignore[index]
    assert face["candidates"] == []
    assert strict["threshold"]["source"] == "command line"  # type: ignore[index]
    beyond = face["nearest_beyond_threshold"]
    assert beyond["identity"] == "V-0001" and beyond["rank"] is None
    assert beyond["distance"] > 0.01
    assert "(not a candidate) nearest beyond identity V-0001" in str(
        vigil("faces", "search", str(query), "--threshold", "0.01")
    )
    table = tmp_path / "out.csv"
    vigil("faces", "search", str(batch), str(query), "--csv", "-o", str(table))
    import csv

    with table.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["image"] for r in rows} == {str(batch / n) for n in ("a.jpg", "b.jpg", "c.jpg")} | {
        str(query)
    }
    assert any(r["within_threshold"] == "True" and r["identity"] == "V-0001" for r in rows)
    assert any(r["within_threshold"] == "False" for r in rows)  # nearest beyond, marked
    assert [r["error"] != "" for r in rows if r["image"].endswith("c.jpg")] == [True]
    assert main(["faces", "search", str(batch / "c.jpg")]) == 3  # nothing could be read

    # a new case is searched automatically: candidate links, never merges
    second = tmp_path / "second"
    second.mkdir()
    (second / "a.jpg").write_bytes(photo_bytes("obama_3.jpg"))
    vigil(
        "ingest",
        str(second),
        "--case",
        "op-two",
        "--analyzer",
        "faces",
        "--workers",
        "0",
        "--quiet",
        "--json",
    )
    # the ingest itself searched the new case (the analyzer's follow-up): candidates only
    auto = vigil("faces", "links", "op-two", "--json")
    assert auto
    assert {lk["status"] for lk in auto} == {"candidate"}  # type: ignore[index, union-attr]
    out = vigil("faces", "cluster", "op-two", "--json")
    links = out["candidate_links"]  # type: ignore[index]
    assert links
    assert links[0]["rank"] == 1
    assert {lk["status"] for lk in links} == {"candidate"}
    identity_links = [lk for lk in links if lk["identity"]]
    assert identity_links[0]["identity"] == "V-0001"
    listed_links = vigil("faces", "links", "op-two", "--json")
    assert len(listed_links) == len(links)  # type: ignore[arg-type]
    decided = vigil("faces", "decide", str(identity_links[0]["link"]), "confirm", "--json")
    assert decided["status"] == "confirmed"  # type: ignore[index]
    assert vigil("victims", "list", "--json")[0]["references"] == 3  # type: ignore[index]
    summary = vigil("case", "summary", "op-two", "--json")
    section = summary["sections"]["faces"]  # type: ignore[index]
    assert section["faces"] == 1
    assert section["confirmed_identities"] == ["V-0001"]
    assert "Faces" in str(vigil("case", "summary", "op-two"))
    shown = vigil("victims", "show", "V-0001", "--json")
    assert len(shown["reference_list"]) == 3  # type: ignore[index]
    assert [(lk["case"], lk["status"]) for lk in shown["links"]] == [("op-two", "confirmed")]  # type: ignore[index]
    assert "V-0001" in str(vigil("victims", "show", "V-0001"))
    updated = vigil("victims", "update", "V-0001", "--status", "safeguarded", "--json")
    assert updated["status"] == "safeguarded"  # type: ignore[index]

    audit_actions = [e["action"] for e in vigil("audit", "show", "--limit", "500", "--json")]  # type: ignore[union-attr]
    for action in (
        "faces.cluster",
        "faces.feedback",
        "victims.add",
        "victims.link",
        "faces.search_image",
        "faces.search_case",
        "faces.link_decide",
        "victims.show",
    ):
        assert action in audit_actions, action


def test_cli_errors_have_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["faces", "cluster", "no-such-case"]) == 4
    assert main(["victims", "link", "V-404", "--face", "1"]) == 4
    assert main(["victims", "add", "V-1", "--status", "lost"]) == 3
    assert main(["victims", "add", "V-1"]) == 0
    assert main(["victims", "add", "V-1"]) == 5
    assert main(["victims", "link", "V-1"]) == 3
    img = tmp_path / "flat.png"
    Image.fromarray(np.full((64, 64, 3), 128, dtype=np.uint8)).save(img)
    assert main(["victims", "add", "V-2", "--photo", str(img)]) == 3  # no face in the photo
    assert main(["faces", "search", str(img)]) == 8  # nothing indexed yet: not ready
    err = capsys.readouterr().err
    assert "exactly one face" in err


def test_help_teaches_with_examples() -> None:
    for group in ("faces", "victims"):
        result = runner.invoke(app, [group, "--help"])
        assert result.exit_code == 0
    for cmd in (["faces", "cluster"], ["faces", "search"], ["victims", "add"], ["victims", "link"]):
        result = runner.invoke(app, [*cmd, "--help"])
        assert result.exit_code == 0
        assert "Example: vigil" in result.stdout


def test_scan_back_fills_a_case_ingested_without_faces(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(photo_bytes("biden_1.jpg"))
    (folder / "b.jpg").write_bytes(photo_bytes("biden_1.jpg")[:2500])  # truncated
    vigil(
        "ingest",
        str(folder),
        "--case",
        "op-old",
        "--no-analyzers",
        "--workers",
        "0",
        "--quiet",
        "--json",
    )
    assert vigil("faces", "list", "op-old", "--json") == []
    first = vigil("faces", "scan", "op-old", "--json")
    assert first["faces"] == 1  # type: ignore[index]
    assert first["clusters"] == 1  # type: ignore[index]
    assert first["candidate_links"] == 0  # type: ignore[index]
    assert first["scanned"] >= 1  # type: ignore[index]
    faces = vigil("faces", "list", "op-old", "--json")
    assert [f["path"] for f in faces] == ["a.jpg"]  # type: ignore[index,union-attr]
    again = vigil("faces", "scan", "op-old", "--json")
    assert again["faces"] == 0  # type: ignore[index]
    assert again["scanned"] == 0  # type: ignore[index]
