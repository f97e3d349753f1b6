"""Triage never goes stale silently: hash-set changes re-match the affected cases, and every
screen says when triage was computed and whether it is out of date (hardening issue, defect 5)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from vigil.cli.main import app

runner = CliRunner()


def _ok(*args: str) -> str:
    r = runner.invoke(app, list(args))
    assert r.exit_code == 0, r.output
    return r.output


def _outcomes(case: str) -> list[str]:
    data = json.loads(_ok("triage", case, "--json"))
    return sorted(g["outcome"] for g in data["groups"])


def _setup(tmp_path: Path) -> Path:
    from test_known_vs_fresh import build_case  # same folder: the generated case

    build_case(tmp_path / "seizure", tmp_path / "sets")
    other = tmp_path / "other-seizure"
    other.mkdir()
    (other / "note.txt").write_bytes(b"nothing to do with the known set\n")
    # both cases are ingested (and matched) before any hash set is loaded: all fresh
    _ok("ingest", str(tmp_path / "seizure"), "--case", "birch", "-q", "-j", "0")
    _ok("ingest", str(other), "--case", "oak", "-q", "-j", "0")
    assert "known" not in _outcomes("birch")
    return tmp_path / "sets"


def test_import_rematches_the_affected_case_only(tmp_path: Path) -> None:
    sets = _setup(tmp_path)
    out = _ok("hashsets", "import", str(sets / "vics-us.json"), "--name", "vics")
    assert "1 case(s) matched again (birch)" in out
    assert "1 unaffected and marked current" in out
    assert _outcomes("birch").count("known") == 1  # without running `vigil match`
    data = json.loads(_ok("triage", "birch", "--json"))
    assert data["triage"]["current"] is True
    assert "as of" in data["notice"]
    # oak had no hit: it is current without a new matching run
    assert json.loads(_ok("triage", "oak", "--json"))["triage"]["current"] is True
    # the PDQ list reaches the near-known item through the stored signals only
    out = _ok("hashsets", "import", str(sets / "pdq.csv"), "--name", "pdq", "--json")
    report = json.loads(out)["triage"]
    assert report["rematched"] == ["birch"]
    assert report["unchanged"] == ["oak"]
    assert "near_known" in _outcomes("birch")


def test_no_rematch_leaves_a_visible_out_of_date_notice(tmp_path: Path) -> None:
    sets = _setup(tmp_path)
    out = _ok("hashsets", "import", str(sets / "vics-us.json"), "--name", "vics", "--no-rematch")
    assert "triage not updated" in out
    text = _ok("triage", "birch")
    assert text.startswith("OUT OF DATE")
    assert "1 hash set(s) loaded" in text
    assert "vigil match birch" in text
    summary = _ok("case", "summary", "birch")
    assert "OUT OF DATE" in summary
    data = json.loads(_ok("case", "summary", "birch", "--json"))
    assert data["sections"]["known_vs_fresh"]["status"]["current"] is False
    _ok("match", "birch")
    assert json.loads(_ok("triage", "birch", "--json"))["triage"]["current"] is True
    assert "OUT OF DATE" not in _ok("case", "summary", "birch")


def test_removing_a_set_rematches_the_cases_that_held_its_matches(tmp_path: Path) -> None:
    sets = _setup(tmp_path)
    _ok("hashsets", "import", str(sets / "vics-us.json"), "--name", "vics")
    assert "known" in _outcomes("birch")
    out = _ok("hashsets", "remove", "vics")
    assert "1 case(s) matched again (birch)" in out
    assert "known" not in _outcomes("birch")
    assert json.loads(_ok("triage", "birch", "--json"))["triage"]["current"] is True


def test_evidence_added_without_matching_is_out_of_date(tmp_path: Path) -> None:
    _setup(tmp_path)
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "a.txt").write_bytes(b"one more file\n")
    _ok("ingest", str(extra), "--case", "oak", "-q", "-j", "0", "--no-analyzers")
    status = json.loads(_ok("triage", "oak", "--json"))["triage"]
    assert status["current"] is False
    assert status["reasons"] == ["+1 item(s) in the case not matched"]


def test_a_known_item_count_gives_the_same_status_as_counting(tmp_path: Path) -> None:
    """The review app passes its case view's item count instead of counting occurrences on
    every page: the status must be the one the count gives, and a wrong count must show."""
    from vigil.settings import Settings
    from vigil.store import repo
    from vigil.store.db import Database
    from vigil.triage.freshness import case_triage_status

    _setup(tmp_path)
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "a.txt").write_bytes(b"one more file\n")
    _ok("ingest", str(extra), "--case", "oak", "-q", "-j", "0", "--no-analyzers")
    db = Database(Settings.load().database_url)
    try:
        with db.read() as s:
            case = repo.get_case(s, "oak")
            counted = case_triage_status(s, case)
            given = case_triage_status(s, case, item_count=repo.case_item_count(s, case.id))
            behind = case_triage_status(s, case, item_count=repo.case_item_count(s, case.id) - 1)
    finally:
        db.dispose()
    assert given.as_dict() == counted.as_dict()
    assert given.reasons == ["+1 item(s) in the case not matched"]
    assert behind.current is True and behind.reasons == []
