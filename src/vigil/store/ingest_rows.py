"""The repository operations an ingest runs, in table statements (SQLAlchemy Core).

An ingest's set-up (case, source, job, the paths already recorded) and finish (job statistics,
source state) write the same rows and audit entries as :func:`vigil.store.repo.ensure_case`,
:func:`~vigil.store.repo.ensure_source` and the ORM ``open_job``, ``finish_job`` and
``mark_source`` that ingest used before (kept in ``tests/ingest/test_ingest_rows.py`` as the
oracle), but through the models' tables instead of mapped objects. The first ORM query of a process configures every
mapper of the store (61 with the plug-ins loaded: ~0.05 CPU-s, 60 % of what an ingest costs on
top of its files, issue 16); an ingest without analyzers then never needs the ORM at all.
``tests/ingest/test_ingest_rows.py`` holds both paths to the same rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from vigil.store import audit
from vigil.store.base import utcnow
from vigil.store.models import Case, EvidenceSource, Job, MediaItem, Occurrence, User

_USERS = cast(Table, User.__table__)
_CASES = cast(Table, Case.__table__)
_SOURCES = cast(Table, EvidenceSource.__table__)
_JOBS = cast(Table, Job.__table__)
_ITEMS = cast(Table, MediaItem.__table__)
_OCCURRENCES = cast(Table, Occurrence.__table__)


def ensure_user(session: Session, username: str) -> tuple[int, int | None]:
    """(id, agency id) of the user ``username``, created without a password if missing
    (:func:`vigil.store.repo.ensure_user`)."""
    row = session.execute(
        select(_USERS.c.id, _USERS.c.agency_id).where(_USERS.c.username == username)
    ).first()
    if row is not None:
        return int(row[0]), row[1]
    role = "investigator"
    user_id = session.execute(
        insert(_USERS).values(username=username, role=role).returning(_USERS.c.id)
    ).scalar_one()
    audit.append_row(session, username, "user.create", details={"username": username, "role": role})
    return int(user_id), None


def ensure_case(session: Session, name: str, actor: str) -> int:
    """The id of the case called ``name``, created (and audited) if missing
    (:func:`vigil.store.repo.ensure_case`).

    Raises:
        InvalidInput: not a valid case name.
    """
    from vigil.store.repo import validate_case_name

    name = validate_case_name(name)
    found = session.execute(select(_CASES.c.id).where(_CASES.c.name == name)).scalar()
    if found is not None:
        return int(found)
    user_id, agency_id = ensure_user(session, actor)
    case_id = int(
        session.execute(
            insert(_CASES)
            .values(name=name, created_by_id=user_id, agency_id=agency_id)
            .returning(_CASES.c.id)
        ).scalar_one()
    )
    audit.append_row(session, actor, "case.create", case_id=case_id, details={"name": name})
    return case_id


def ensure_source(
    session: Session, case_id: int, path: str, kind: str, actor: str
) -> tuple[int, bool]:
    """(id, created) of the case's source at ``path``, created (and audited) if new
    (:func:`vigil.store.repo.ensure_source`)."""
    found = session.execute(
        select(_SOURCES.c.id).where(_SOURCES.c.case_id == case_id, _SOURCES.c.path == path)
    ).scalar()
    if found is not None:
        return int(found), False
    user_id, _agency = ensure_user(session, actor)
    source_id = int(
        session.execute(
            insert(_SOURCES)
            .values(case_id=case_id, path=path, kind=kind, added_by_id=user_id, status="ingesting")
            .returning(_SOURCES.c.id)
        ).scalar_one()
    )
    audit.append_row(
        session,
        actor,
        "source.add",
        case_id=case_id,
        details={"path": path, "kind": kind, "source_id": source_id},
    )
    return source_id, True


def open_job(
    session: Session,
    kind: str,
    *,
    case_id: int,
    source_id: int | None,
    params: dict[str, Any],
    actor: str,
) -> tuple[int, int]:
    """(id, attempts) of the unfinished job of this kind on this source, resumed, or of a new
    one."""
    row = session.execute(
        select(_JOBS.c.id, _JOBS.c.attempts)
        .where(
            _JOBS.c.kind == kind,
            _JOBS.c.case_id == case_id,
            _JOBS.c.source_id == source_id,  # IS NULL for None, as in the ORM query
            _JOBS.c.status != "done",
        )
        .order_by(_JOBS.c.id.desc())
    ).first()
    if row is not None:
        job_id, attempts = int(row[0]), int(row[1]) + 1
        session.execute(
            update(_JOBS)
            .where(_JOBS.c.id == job_id)
            .values(attempts=attempts, status="running", updated_at=utcnow())
        )
        audit.append_row(
            session,
            actor,
            f"{kind}.resume",
            case_id=case_id,
            details={"job_id": job_id, "attempt": attempts},
        )
        return job_id, attempts
    user_id, _agency = ensure_user(session, actor)
    job_id = int(
        session.execute(
            insert(_JOBS)
            .values(
                kind=kind,
                case_id=case_id,
                source_id=source_id,
                params=params,
                created_by_id=user_id,
            )
            .returning(_JOBS.c.id)
        ).scalar_one()
    )
    audit.append_row(
        session, actor, f"{kind}.start", case_id=case_id, details={"job_id": job_id, **params}
    )
    return job_id, 1


def finish_job(
    session: Session,
    job_id: int,
    *,
    status: str,
    stats: dict[str, Any],
    actor: str,
    error: str | None = None,
) -> None:
    """Close a job with its statistics, audited; a job that is gone is left alone."""
    row = session.execute(select(_JOBS.c.kind, _JOBS.c.case_id).where(_JOBS.c.id == job_id)).first()
    if row is None:
        return
    kind, case_id = str(row[0]), row[1]
    now = utcnow()
    values: dict[str, Any] = {"status": status, "stats": stats, "error": error, "updated_at": now}
    if status != "running":
        values["finished_at"] = now
    session.execute(update(_JOBS).where(_JOBS.c.id == job_id).values(**values))
    action = f"{kind}.{'interrupted' if status == 'running' else status}"
    audit.append_row(session, actor, action, case_id=case_id, details={"job_id": job_id, **stats})


def mark_source(
    session: Session,
    source_id: int,
    *,
    status: str | None = None,
    size: int | None = None,
    sha256: str | None = None,
) -> None:
    """Update a source's state (``status`` None keeps
    it); a source that is gone is left alone."""
    values: dict[str, Any] = {}
    if status is not None:
        values["status"] = status
        if status == "complete":
            values["completed_at"] = dt.datetime.now(dt.UTC)
    if size is not None:
        values["size"] = size
    if sha256 is not None:
        values["sha256"] = sha256
    if values:
        session.execute(update(_SOURCES).where(_SOURCES.c.id == source_id).values(**values))


def recorded_paths(session: Session, source_id: int) -> set[bytes]:
    """Raw paths already recorded for a source (to resume an interrupted ingest)."""
    stmt = select(_OCCURRENCES.c.raw_path).where(_OCCURRENCES.c.source_id == source_id)
    return {bytes(p) for p in session.execute(stmt).scalars()}


def items_by_sha256(session: Session, digests: Sequence[str]) -> dict[str, int]:
    """SHA-256 → item id of those already stored."""
    found: dict[str, int] = {}
    for start in range(0, len(digests), 500):
        rows = session.execute(_ITEMS_BY_SHA256, {"shas": list(digests[start : start + 500])})
        found.update({sha: int(item_id) for sha, item_id in rows.all()})
    return found


_ITEMS_BY_SHA256 = select(_ITEMS.c.sha256, _ITEMS.c.id).where(
    _ITEMS.c.sha256.in_(bindparam("shas", expanding=True))
)
"""One statement for every batch: the digests are one expanding parameter, not a literal each
(SQLAlchemy coerced and named every literal, ~2 per file and batch; issue 16)."""
