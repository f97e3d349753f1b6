"""Ingest workers start light (issue 16): without analyzers they digest, sniff and probe without
NumPy, SQLAlchemy or Alembic, look content up in a SQLite store with ``sqlite3`` (same answer as
the SQLAlchemy lookup), and a spawned worker does not re-run the parent's main script."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from vigil.ingest import worker
from vigil.ingest.pipeline import _main_not_reimported, ingest
from vigil.settings import Settings
from vigil.store import repo
from vigil.store.db import Database
from vigil.store.models import MediaItem

HEAVY = ("numpy", "sqlalchemy", "alembic", "cv2", "vigil.content.decode", "vigil.store.repo")


def test_worker_without_analyzers_imports_no_heavy_library(
    settings: Settings, db: Database, evidence_copy: Path
) -> None:
    ingest(settings, db, evidence_copy, "c", "tester", [], workers=0)
    known = next(p for p in sorted(evidence_copy.rglob("*.jpg")))
    jpeg = known.read_bytes()
    fresh = evidence_copy.parent / "fresh.jpg"  # same pixels, new bytes: a COM segment after SOI
    fresh.write_bytes(jpeg[:2] + b"\xff\xfe\x00\x07fresh" + jpeg[2:])
    code = textwrap.dedent(
        f"""
        import json, sys
        from vigil.ingest import worker
        worker.init_worker({db.url!r}, (), False)
        tasks = [worker.Task(1, b"k.jpg", fs_path={str(known)!r}),
                 worker.Task(2, b"f.jpg", fs_path={str(fresh)!r})]
        got = [[r.known, r.kind, r.meta is not None and r.meta.width, r.error]
               for r in worker.process_many(tasks)]
        print(json.dumps([[m for m in {HEAVY!r} if m in sys.modules], got]))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    heavy, got = json.loads(out.stdout)
    assert heavy == []
    with Image.open(fresh) as img:
        width = img.size[0]
    # the stored photo is known (not probed again); the new one is probed (header, EXIF)
    assert got == [[True, "photo", False, None], [False, "photo", width, None]]


def test_sqlite_lookup_agrees_with_the_sqlalchemy_lookup(
    settings: Settings, db: Database, evidence_copy: Path
) -> None:
    ingest(settings, db, evidence_copy, "c", "tester", [], workers=0)
    with db.read() as s:
        stored = sorted(s.execute(select(MediaItem.sha256)).scalars())
    assert len(stored) > 3
    # stored and unknown digests, more than one IN (...) chunk
    asked = stored + [f"{i:064x}" for i in range(worker._LOOKUP_CHUNK + 7)]
    worker.init_worker(db.url, (), False)
    try:
        assert worker._STATE.sqlite is not None
        fast = worker._known(asked)
    finally:
        worker.close_worker()
    with db.engine.connect() as conn:
        oracle = repo.known_sha256s(conn, asked)
    assert fast == oracle == set(stored)


def test_sqlite_path_only_for_plain_sqlite_urls() -> None:
    assert worker.sqlite_path("sqlite:////data/vigil.db") == "/data/vigil.db"
    assert worker.sqlite_path("sqlite:///rel.db") == "rel.db"
    for other in (
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///a.db?mode=ro",
        "sqlite:///a%20b.db",
        "postgresql://127.0.0.1/test",
    ):
        assert worker.sqlite_path(other) is None


def test_main_module_is_restored() -> None:
    main = sys.modules["__main__"]
    before = (main.__dict__.get("__file__"), main.__dict__.get("__spec__"))
    with _main_not_reimported():
        assert getattr(main, "__file__", None) is None
        assert main.__spec__ is None
    assert (main.__dict__.get("__file__"), main.__dict__.get("__spec__")) == before


@pytest.mark.slow
def test_spawned_workers_do_not_rerun_the_main_script(tmp_path: Path, evidence_copy: Path) -> None:
    marker = tmp_path / "imports.txt"
    script = tmp_path / "main_script.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os
            with open({str(marker)!r}, "a") as fh:
                fh.write(f"{{os.getpid()}}\\n")
            if __name__ == "__main__":
                from vigil.ingest.pipeline import ingest
                from vigil.settings import Settings
                from vigil.store.db import Database
                s = Settings.load({str(tmp_path / "home")!r}, workers=2)
                s.data_dir.mkdir(parents=True)
                d = Database(s.database_url)
                r = ingest(s, d, {str(evidence_copy)!r}, "c", "tester", [])
                print(r.worker_processes)
            """
        )
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    assert int(out.stdout.split()[-1]) >= 1  # files were read by worker processes
    assert len(marker.read_text().split()) == 1  # only the parent ran the script
