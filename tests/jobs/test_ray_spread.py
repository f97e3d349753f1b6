"""Ray beyond folders: one disk image and one zip spread over Ray workers, and the back-fill commands
(`vigil analyze`, `places scan`, `faces scan`) with `--executor ray`, each against the local
executor's store, on a private two-CPU Ray instance (as CI runs it)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from vigil.cli.main import main
from vigil.settings import Settings
from vigil.store.db import Database

ray = pytest.importorskip("ray")

from _shared import load_ingest_module, private_ray  # noqa: E402 - tests/jobs/_shared.py

from vigil.ingest.pipeline import ingest  # noqa: E402 - only with Ray present

_disk = load_ingest_module("test_disk_members")
_archive = load_ingest_module("test_archive_members")
_backfill = load_ingest_module("test_backfill_executors")
_canonical = load_ingest_module("conftest").canonical


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One private two-CPU Ray instance on 127.0.0.1 for the module, shut down after it."""
    with private_ray():
        yield


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("mke2fs"), reason="e2fsprogs not installed")
def test_ray_spreads_one_disk_image_over_workers(local_ray: None, tmp_path: Path) -> None:
    image = _disk.build_image(tmp_path / "disk", photos=240, side=(480, 360))
    stores = {}
    reports = {}
    for executor in ("local", "ray"):
        settings = Settings.load(
            tmp_path / executor, workers=2, limits={"spool_in_memory": _disk.SPOOL_IN_MEMORY}
        )
        settings.data_dir.mkdir(parents=True)
        db = Database(settings.database_url)
        reports[executor] = ingest(
            settings, db, image, "disk", "tester", ["pdq"], executor=executor
        )
        # img0001.jpg and img0002.jpg of the image have the same bytes: their item's warning
        # lands on whichever task finishes first, so warnings are compared by item
        stores[executor] = _canonical(db, warnings_by_item=True)
        db.dispose()
    # the image's files were read by both Ray workers, each opening the image itself
    assert reports["ray"].image_member_workers == 2, reports["ray"]
    assert stores["ray"] == stores["local"]
    assert {o[0]: o[1] for o in stores["ray"]["occurrences"]} == _disk.oracle(image)


@pytest.mark.slow
def test_ray_spreads_one_zip_over_workers(local_ray: None, tmp_path: Path) -> None:
    """The members of one zip are read by both Ray workers (each opens the zip itself), and
    damaged archives give the local executor's warnings."""
    evidence = tmp_path / "ev"
    expected = _archive.build_zip(evidence / "card.zip", _archive.photos(240, (480, 360)))
    _archive.build_damaged(evidence / "damaged")
    stores = {}
    reports = {}
    for executor in ("local", "ray"):
        settings = Settings.load(tmp_path / executor, workers=2)
        settings.data_dir.mkdir(parents=True)
        db = Database(settings.database_url)
        reports[executor] = ingest(
            settings, db, evidence, "zip", "tester", ["pdq"], executor=executor
        )
        stores[executor] = _canonical(db)
        db.dispose()
    assert reports["ray"].archive_member_workers == 2, reports["ray"]
    assert stores["ray"] == stores["local"]
    recorded = {o[0]: o[1] for o in stores["ray"]["occurrences"]}
    assert {k: v for k, v in recorded.items() if k.startswith(b"card.zip!/")} == expected
    assert (b"damaged/a.zip!/r.bin", "damaged") in {(w[0], w[1]) for w in stores["ray"]["warnings"]}


@pytest.mark.slow
def test_ray_backfill_commands_give_the_in_process_rows(
    local_ray: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evidence = _backfill.build_evidence(tmp_path / "ev")
    template = tmp_path / "template"
    settings = Settings.load(template)
    settings.data_dir.mkdir(parents=True)
    db = Database(settings.database_url)
    ingest(settings, db, evidence, "old", "tester", [], workers=0)
    db.dispose()
    (evidence / "gone.jpg").unlink()
    commands = (
        ("analyze", "old", "--analyzer", "pdq"),
        ("places", "scan", "old"),
        ("faces", "scan", "old", "--no-search"),
    )
    stores = {}
    for executor in ("local", "ray"):
        home = tmp_path / executor
        shutil.copytree(template, home)
        monkeypatch.setenv("VIGIL_HOME", str(home))
        for command in commands:
            assert main([*command, "--executor", executor, "--json"]) == 0, command
            # nothing left to do: a re-run (as after an interruption) finds every item done
            assert main([*command, "--executor", executor, "--json"]) == 0
        db = Database(Settings.load(home).database_url)
        stores[executor] = _backfill.table_rows(db)
        db.dispose()
    assert stores["ray"]["item_signals"] and stores["ray"]["scene_features"]
    assert stores["ray"]["faces"]
    assert stores["ray"] == stores["local"]
