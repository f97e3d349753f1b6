"""Processing profiles and analyzer selection: `--analyzer` adds, `--only` replaces (hardening
issue, defect 11: `--analyzer faces` used to drop PDQ and scene features without a word)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli.main import ReturnCode, app, main
from vigil.errors import InvalidInput, NotFound
from vigil.ingest.profiles import choose_analyzers, profile_analyzers
from vigil.plugins import load_defaults

runner = CliRunner()


def test_profiles_and_additions() -> None:
    load_defaults()
    full = profile_analyzers("full")
    assert {"pdq", "vpdq", "scene", "faces"} <= set(full)  # faces run by default now
    assert profile_analyzers("fast") == ("pdq", "vpdq")
    assert choose_analyzers("full") == full
    assert choose_analyzers("fast", add=["scene"]) == ("pdq", "vpdq", "scene")
    assert choose_analyzers("full", add=["faces"]) == full  # no duplicate
    assert choose_analyzers(only=["faces"]) == ("faces",)
    assert choose_analyzers(none=True) == ()
    with pytest.raises(InvalidInput, match="one or the other"):
        choose_analyzers(only=["faces"], add=["pdq"])
    with pytest.raises(InvalidInput, match="cannot be combined"):
        choose_analyzers(none=True, add=["pdq"])
    with pytest.raises(InvalidInput, match="choose one of full, fast"):
        choose_analyzers("thorough")
    with pytest.raises(NotFound, match="unknown analyzer 'nope'"):
        choose_analyzers(add=["nope"])


def _ingest(tmp_path: Path, case: str, *flags: str) -> list[str]:
    from vigil.signals.synthetic import jpeg_bytes, scene

    src = tmp_path / "evidence"
    if not src.exists():
        src.mkdir()
        (src / "a.jpg").write_bytes(jpeg_bytes(scene(3, 320, 240)))
    r = runner.invoke(app, ["ingest", str(src), "--case", case, "-q", "-j", "0", "--json", *flags])
    assert r.exit_code == 0, r.output
    return list(json.loads(r.output)["analyzers"])


def test_cli_analyzer_adds_only_replaces(tmp_path: Path) -> None:
    load_defaults()
    added = _ingest(tmp_path, "a", "--profile", "fast", "--analyzer", "faces")
    assert added == ["pdq", "vpdq", "faces"]  # PDQ kept: known/fresh still works
    assert {"pdq", "scene", "faces"} <= set(_ingest(tmp_path, "e", "--analyzer", "faces"))
    assert _ingest(tmp_path, "b", "--only", "faces") == ["faces"]
    assert set(_ingest(tmp_path, "c")) == set(profile_analyzers("full"))
    assert (
        main(["ingest", str(tmp_path / "evidence"), "--case", "d", "--only", "faces", "-a", "pdq"])
        == ReturnCode.INVALID_INPUT
    )
    r = runner.invoke(app, ["info", "--json"])
    assert json.loads(r.output)["profiles"]["fast"]["analyzers"] == ["pdq", "vpdq"]
