"""An ingest's set-up and finish in table statements (``vigil.store.ingest_rows``) write what the
ORM repository functions write, audit chain included; an ingest without analyzers then never
configures the ORM mappers (issue 16)."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from vigil.ingest.pipeline import ingest
from vigil.settings import Settings
from vigil.store import audit, ingest_rows, repo
from vigil.store.base import utcnow
from vigil.store.db import Database
from vigil.store.models import EvidenceSource, Job, MediaItem, Occurrence

TIMES = {"created_at", "added_at", "started_at", "updated_at", "finished_at", "completed_at", "ts"}
"""Columns that hold the time of writing (differ between two runs); compared as set / unset."""

TABLES = ("users", "cases", "evidence_sources", "jobs", "audit_log", "audit_anchor")


def dump(db: Database) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    with db.engine.connect() as conn:
        for table in TABLES:
            rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY 1")).mappings().all()  # noqa: S608 - fixed names
            out[table] = [
                {
                    k: (v is not None) if k in TIMES else v
                    for k, v in row.items()
                    if k not in {"prev_hash", "entry_hash"}  # they cover the entry's time
                }
                for row in rows
            ]
    return out


def _orm_steps(db: Database, kind: str) -> list[Any]:
    got: list[Any] = []
    params = {"path": "/ev", "analyzers": [], "deep": False}
    with db.write() as s:
        case = repo.ensure_case(s, "op-birch", "alice")
        source, created = repo.ensure_source(s, case, "/ev", kind, "alice")
        job = _orm_open_job(
            s, "ingest", case_id=case.id, source_id=source.id, params=params, actor="alice"
        )
        got += [case.id, source.id, created, job.id, job.attempts]
    with db.write() as s:  # interrupted: the job stays open
        src = repo.get_source(s, source.id)
        assert src is not None
        _orm_mark_source(s, src, status="interrupted")
        job_row = repo.get_job(s, job.id)
        assert job_row is not None
        _orm_finish_job(s, job_row, status="running", stats={"files": 3}, actor="alice")
    with db.write() as s:  # the same command again by another user: resumed
        case = repo.ensure_case(s, "op-birch", "bob")
        source, created = repo.ensure_source(s, case, "/ev", kind, "bob")
        job = _orm_open_job(
            s, "ingest", case_id=case.id, source_id=source.id, params=params, actor="bob"
        )
        got += [case.id, source.id, created, job.id, job.attempts]
        _orm_mark_source(s, source, status=source.status, size=123, sha256="ab" * 32)
    with db.write() as s:
        src = repo.get_source(s, source.id)
        assert src is not None
        _orm_mark_source(s, src, status="complete")
        job_row = repo.get_job(s, job.id)
        assert job_row is not None
        _orm_finish_job(s, job_row, status="failed", stats={"files": 5}, actor="bob", error="E")
    with db.read() as s:
        got.append(sorted(_orm_recorded_paths(s, source.id)))
        got.append(_orm_items_by_sha256(s, ["0" * 64]))
    return got


def _core_steps(db: Database, kind: str) -> list[Any]:
    got: list[Any] = []
    params = {"path": "/ev", "analyzers": [], "deep": False}
    with db.write() as s:
        case_id = ingest_rows.ensure_case(s, "op-birch", "alice")
        source_id, created = ingest_rows.ensure_source(s, case_id, "/ev", kind, "alice")
        job_id, attempts = ingest_rows.open_job(
            s, "ingest", case_id=case_id, source_id=source_id, params=params, actor="alice"
        )
        got += [case_id, source_id, created, job_id, attempts]
    with db.write() as s:
        ingest_rows.mark_source(s, source_id, status="interrupted")
        ingest_rows.finish_job(s, job_id, status="running", stats={"files": 3}, actor="alice")
    with db.write() as s:
        case_id = ingest_rows.ensure_case(s, "op-birch", "bob")
        source_id, created = ingest_rows.ensure_source(s, case_id, "/ev", kind, "bob")
        job_id, attempts = ingest_rows.open_job(
            s, "ingest", case_id=case_id, source_id=source_id, params=params, actor="bob"
        )
        got += [case_id, source_id, created, job_id, attempts]
        ingest_rows.mark_source(s, source_id, size=123, sha256="ab" * 32)
    with db.write() as s:
        ingest_rows.mark_source(s, source_id, status="complete")
        ingest_rows.finish_job(
            s, job_id, status="failed", stats={"files": 5}, actor="bob", error="E"
        )
    with db.read() as s:
        got.append(sorted(ingest_rows.recorded_paths(s, source_id)))
        got.append(ingest_rows.items_by_sha256(s, ["0" * 64]))
    return got


def test_core_rows_are_the_orm_rows(tmp_path: Path) -> None:
    stores = {}
    for label, steps in (("orm", _orm_steps), ("core", _core_steps)):
        db = Database(f"sqlite:///{tmp_path / label / 'vigil.db'}")
        got = steps(db, "folder")
        stores[label] = (got, dump(db))
        with db.read() as s:
            report = audit.verify(s)
        assert report.entries == 7  # user, case, source, start, interrupted, resume, failed
        db.dispose()
    assert stores["core"] == stores["orm"]
    got, tables = stores["core"]
    assert [u["username"] for u in tables["users"]] == ["alice"]  # bob only resumed
    assert got[:5] == [1, 1, True, 1, 1] and got[5:10] == [1, 1, False, 1, 2]
    (job,) = tables["jobs"]
    assert job["status"] == "failed" and job["attempts"] == 2 and job["error"] == "E"
    assert json.loads(job["stats"]) == {"files": 5}
    actions = [e["action"] for e in tables["audit_log"]]
    assert actions == [
        "user.create",
        "case.create",
        "source.add",
        "ingest.start",
        "ingest.interrupted",
        "ingest.resume",
        "ingest.failed",
    ]


@pytest.mark.postgres
def test_core_rows_are_the_orm_rows_on_postgresql(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        stores = []
        for steps in (_orm_steps, _core_steps):
            got = steps(db, "folder")
            stores.append((got, dump(db)))
            with db.read() as s:
                assert audit.verify(s).entries == 7
            with db.engine.begin() as conn:  # the next run starts from an empty store again
                conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        assert stores[1] == stores[0]
    finally:
        db.dispose()


def test_first_audit_entry_in_plain_statements_creates_the_anchor(db: Database) -> None:
    with db.write() as s:
        assert audit.append_row(s, "alice", "x.one", details={"a": 1}) == 1
        assert audit.append_row(s, "alice", "x.two") == 2
    with db.read() as s:
        report = audit.verify(s)
    assert report.entries == 2


def _in_fresh_process(code: str) -> Any:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_ingest_without_analyzers_never_configures_the_mappers(
    tmp_path: Path, evidence_copy: Path
) -> None:
    code = textwrap.dedent(
        f"""
        import json
        from vigil.plugins import load_defaults
        load_defaults()  # every plug-in's tables too, as the benchmark has them
        from sqlalchemy.orm import Mapper
        from vigil.ingest.pipeline import ingest
        from vigil.settings import Settings
        from vigil.store.db import Database
        from vigil.store.models import MediaItem
        s = Settings.load({str(tmp_path / "home")!r}, workers=2)
        s.data_dir.mkdir(parents=True)
        db = Database(s.database_url)
        first = ingest(s, db, {str(evidence_copy)!r}, "c", "tester", [])
        again = ingest(s, db, {str(evidence_copy)!r}, "c", "tester", [])
        print(json.dumps([first.files, again.already_recorded, MediaItem.__mapper__.configured]))
        """
    )
    files, recorded, configured = _in_fresh_process(code)
    assert files > 5 and recorded == files
    assert configured is False


def _stored(db: Database, table: str) -> list[tuple[Any, ...]]:
    """Rows exactly as the database holds them; the time of writing only by its shape (the
    access time exactly: ingest reads evidence without moving it, see test_atime.py)."""
    clock = {
        "media_items": {"first_seen_at"},
        "occurrences": {"seen_at"},
        "warnings": {"created_at"},
    }
    with db.engine.connect() as conn:
        result = conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY id")  # noqa: S608 - fixed
        names = result.keys()
        shape = [name in clock[table] for name in names]
        rows = result.all()
    return [
        tuple(
            re.sub(r"\d", "9", v) if masked and isinstance(v, str) else v
            for masked, v in zip(shape, row, strict=True)
        )
        for row in rows
    ]


def test_sqlite_driver_inserts_store_what_sqlalchemy_stores(
    tmp_path: Path, evidence_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Items and occurrences go to SQLite through one driver ``executemany`` with SQLAlchemy's
    own bind processors; the stored values (timestamps, EXIF JSON, raw path bytes, NULLs) are
    the ones SQLAlchemy's insert stores, on the demo seizure (damaged input, archives, a disk
    image, names that are not UTF-8)."""
    calls: list[str] = []
    fast = repo._sqlite_insert_many

    def counted(session: Any, table: Any, rows: Any) -> bool:
        done = fast(session, table, rows)
        calls.append(f"{table.name}:{done}")
        return done

    stores = {}
    for label in ("driver", "sqlalchemy"):
        if label == "sqlalchemy":
            monkeypatch.setattr(repo, "_sqlite_insert_many", lambda *_a: False)
        else:
            monkeypatch.setattr(repo, "_sqlite_insert_many", counted)
        settings = Settings.load(tmp_path / label, workers=0)
        settings.data_dir.mkdir(parents=True)
        db = Database(settings.database_url)
        ingest(settings, db, evidence_copy, "c", "tester", [], workers=0)
        stores[label] = {t: _stored(db, t) for t in ("media_items", "occurrences", "warnings")}
        db.dispose()
    assert "media_items:True" in calls and "occurrences:True" in calls
    assert "media_items:False" not in calls and "occurrences:False" not in calls
    driver, oracle = stores["driver"], stores["sqlalchemy"]
    assert len(driver["media_items"]) > 10 and len(driver["occurrences"]) > 10
    assert any(row[-4] is not None for row in driver["media_items"])  # some EXIF JSON
    assert driver == oracle


# --- the oracle: the ORM functions ingest used before its set-up and finish went to Core ------


def _orm_open_job(
    session: Session,
    kind: str,
    *,
    case_id: int,
    source_id: int | None,
    params: dict[str, Any],
    actor: str,
) -> Job:
    """Resume the unfinished job of this kind on this source, or start a new one."""
    job = session.execute(
        select(Job)
        .where(
            Job.kind == kind,
            Job.case_id == case_id,
            Job.source_id == source_id,
            Job.status != "done",
        )
        .order_by(Job.id.desc())
    ).scalar_one_or_none()
    if job is not None:
        job.attempts += 1
        job.status = "running"
        job.updated_at = utcnow()
        audit.append(
            session,
            actor,
            f"{kind}.resume",
            case_id=case_id,
            details={"job_id": job.id, "attempt": job.attempts},
        )
        return job
    user = repo.ensure_user(session, actor)
    job = Job(kind=kind, case_id=case_id, source_id=source_id, params=params, created_by_id=user.id)
    session.add(job)
    session.flush()
    audit.append(
        session, actor, f"{kind}.start", case_id=case_id, details={"job_id": job.id, **params}
    )
    return job


def _orm_finish_job(
    session: Session,
    job: Job,
    *,
    status: str,
    stats: dict[str, Any],
    actor: str,
    error: str | None = None,
) -> None:
    """Close a job with its statistics (audited)."""
    job = session.merge(job)
    job.status = status
    job.stats = stats
    job.error = error
    job.updated_at = utcnow()
    if status != "running":
        job.finished_at = job.updated_at
    action = f"{job.kind}.{'interrupted' if status == 'running' else status}"
    audit.append(session, actor, action, case_id=job.case_id, details={"job_id": job.id, **stats})


def _orm_mark_source(
    session: Session,
    source: EvidenceSource,
    *,
    status: str,
    size: int | None = None,
    sha256: str | None = None,
) -> None:
    """Update a source's state after (or during) ingest."""
    source = session.merge(source)
    source.status = status
    if size is not None:
        source.size = size
    if sha256 is not None:
        source.sha256 = sha256
    if status == "complete":
        source.completed_at = dt.datetime.now(dt.UTC)


def _orm_recorded_paths(session: Session, source_id: int) -> set[bytes]:
    """Raw paths already recorded for a source (to resume an interrupted ingest)."""
    stmt = select(Occurrence.raw_path).where(Occurrence.source_id == source_id)
    return {bytes(p) for p in session.execute(stmt).scalars()}


def _orm_items_by_sha256(session: Session, digests: list[str]) -> dict[str, int]:
    """Map of SHA-256 → item id for those already stored."""
    found: dict[str, int] = {}
    for start in range(0, len(digests), 500):
        chunk = list(digests[start : start + 500])
        stmt = select(MediaItem.sha256, MediaItem.id).where(MediaItem.sha256.in_(chunk))
        found.update({sha: item_id for sha, item_id in session.execute(stmt).all()})
    return found
