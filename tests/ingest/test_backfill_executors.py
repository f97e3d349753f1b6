"""Back-fill (`vigil analyze`, `faces scan`, `places scan`) with the per-item work in worker
processes: every row equals the in-process run's (ids included: results are written in item
order), failures stay warnings on their items, and an interrupted run resumes."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import inspect, select, text

from vigil.demo import jpeg_bytes, synthetic_picture
from vigil.errors import InvalidInput
from vigil.ingest import backfill as backfill_module
from vigil.ingest.backfill import backfill, pending_items
from vigil.ingest.pipeline import ingest
from vigil.settings import Settings
from vigil.store import repo
from vigil.store.db import Database

FACES = Path(__file__).parents[1] / "faces" / "data"
SKIP_TABLES = {"audit_log", "audit_anchor", "alembic_version", "jobs"}
"""Tables with timestamps in their chain or bookkeeping of the run itself."""


def build_evidence(root: Path) -> Path:
    """Public adult portraits (faces), generated pictures, a truncated photo, a text file."""
    root.mkdir(parents=True)
    for name in ("obama_1.jpg", "hopper_1.jpg", "collins_1.jpg"):
        shutil.copy(FACES / name, root / name)
    rng = np.random.default_rng(8)
    for i in range(6):
        (root / f"gen{i}.jpg").write_bytes(jpeg_bytes(synthetic_picture(rng, 320, 240)))
    (root / "gone.jpg").write_bytes(jpeg_bytes(synthetic_picture(rng, 200, 150)))
    (root / "broken.jpg").write_bytes((FACES / "biden_1.jpg").read_bytes()[:2500])
    (root / "notes.txt").write_text("no picture")
    return root


def table_rows(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every case-store table (ids included), without timestamps."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with db.read() as s:
        names = inspect(s.connection()).get_table_names()
        for name in sorted(set(names) - SKIP_TABLES):
            rows = s.execute(text(f'SELECT * FROM "{name}"')).all()  # noqa: S608 - table names
            out[name] = sorted(
                (
                    tuple(
                        v
                        for v in row
                        if not isinstance(v, dt.datetime | dt.date)
                        and not (isinstance(v, str) and v[:2] == "20" and v[4:5] == "-")
                    )
                    for row in rows
                ),
                key=repr,
            )
    return out


@pytest.fixture
def ingested(tmp_path: Path) -> tuple[Path, Path]:
    """A case ingested without analyzers; one file then vanishes from the evidence."""
    evidence = build_evidence(tmp_path / "ev")
    home = tmp_path / "template"
    settings = Settings.load(home)
    settings.data_dir.mkdir(parents=True)
    db = Database(settings.database_url)
    ingest(settings, db, evidence, "old", "tester", [], workers=0)
    db.dispose()
    (evidence / "gone.jpg").unlink()  # re-reading it fails: a warning on that item
    return home, evidence


def _copy(template: Path, to: Path) -> tuple[Settings, Database]:
    shutil.copytree(template, to)
    settings = Settings.load(to)
    return settings, Database(settings.database_url)


@pytest.mark.parametrize(
    "analyzer", ["pdq", "scene", pytest.param("faces", marks=pytest.mark.slow)]
)
def test_worker_processes_give_the_in_process_rows(
    ingested: tuple[Path, Path], tmp_path: Path, analyzer: str
) -> None:
    template, _evidence = ingested
    stores = {}
    for workers in (0, 2):
        settings, db = _copy(template, tmp_path / f"w{workers}")
        report = backfill(settings, db, "old", analyzer, "tester", workers=workers)
        # the three portraits, six generated pictures, the vanished one (broken.jpg is damaged)
        assert (report.pending, report.done, report.failed) == (10, 9, 1), report
        assert pending_items(db, "old", analyzer)[1] == []
        with db.read() as s:
            warnings = repo.case_warnings(s, repo.get_case(s, "old").id)
        failed = [w for w in warnings if w.code == f"{analyzer}_failed"]
        assert len(failed) == 1 and "could not be re-read" in failed[0].message
        stores[workers] = table_rows(db)
        db.dispose()
    assert stores[2] == stores[0]
    counted = {"pdq": "item_signals", "scene": "scene_features", "faces": "faces"}[analyzer]
    assert stores[0][counted], f"the {analyzer} back-fill stored nothing"


@pytest.mark.slow
def test_interrupted_backfill_resumes_to_the_same_rows(
    ingested: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template, _evidence = ingested
    settings, db = _copy(template, tmp_path / "whole")
    backfill(settings, db, "old", "pdq", "tester")
    expected = table_rows(db)
    db.dispose()

    settings, db = _copy(template, tmp_path / "cut")
    real = repo.record_analysis
    calls = 0

    def stop_after_four(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls > 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(backfill_module.repo, "record_analysis", stop_after_four)
    with pytest.raises(KeyboardInterrupt):
        backfill(settings, db, "old", "pdq", "tester", workers=2)
    monkeypatch.setattr(backfill_module.repo, "record_analysis", real)
    assert len(pending_items(db, "old", "pdq")[1]) == 10 - 4
    report = backfill(settings, db, "old", "pdq", "tester", workers=2)
    assert (report.pending, report.done, report.failed) == (6, 5, 1)
    assert table_rows(db) == expected
    db.dispose()


def test_unknown_executor_is_refused(ingested: tuple[Path, Path], tmp_path: Path) -> None:
    settings, db = _copy(ingested[0], tmp_path / "x")
    with pytest.raises(InvalidInput, match="unknown executor"):
        backfill(settings, db, "old", "pdq", "tester", executor="spark")
    with db.read() as s:
        assert s.execute(select(text("count(*)")).select_from(text("item_analyses"))).scalar() == 0
    db.dispose()
