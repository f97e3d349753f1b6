"""Face and place scans (and known/fresh matching) started from the browser: the same work as
``vigil faces scan``, ``vigil places scan`` and ``vigil match``, run as a background job of the
server process that received the request.

The job's state lives in the store's ``jobs`` table (kind ``web.faces_scan`` /
``web.places_scan``), not in process memory, so every worker of ``vigil serve --workers N``
shows the same progress and refuses a second scan of the same kind while one runs. Progress is
written after each item (a heartbeat): a job whose server process died stops beating, and after
:data:`STALE_AFTER` it is closed as interrupted so that the scan can be started again (items
already scanned are kept; a new scan does only the rest)."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.errors import Conflict
from vigil.store import audit
from vigil.store.base import utcnow
from vigil.store.models import Case, Job, User

if TYPE_CHECKING:
    from vigil.web.state import AppState

log = logging.getLogger(__name__)

STALE_AFTER = dt.timedelta(minutes=15)
"""A running job with no progress for this long is taken for one whose server process died."""
BEAT_SECONDS = 1.0
"""Progress is written at most this often (and after the last item)."""


@dataclass(frozen=True)
class ScanKind:
    """One kind of scan the browser may start."""

    name: str
    title: str
    job_kind: str
    screen: str
    """The case screen (path inside the case) where the results are reviewed."""


KINDS: dict[str, ScanKind] = {
    "faces": ScanKind("faces", "Face scan", "web.faces_scan", "faces"),
    "places": ScanKind("places", "Place scan", "web.places_scan", "places"),
    "match": ScanKind("match", "Known / fresh matching", "web.match", "triage"),
}


@dataclass(frozen=True)
class ScanState:
    """What the status line shows: the latest scan of one kind for one case."""

    kind: ScanKind
    job_id: int | None = None
    status: str = "none"
    """``none`` (never run from the browser), ``running``, ``done`` or ``failed``."""
    started_by: str = ""
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def running(self) -> bool:
        return self.status == "running"


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _expire_stale(session: Session, case_id: int, kind: ScanKind, now: dt.datetime) -> None:
    for job in session.execute(
        select(Job).where(
            Job.kind == kind.job_kind, Job.case_id == case_id, Job.status == "running"
        )
    ).scalars():
        if now - _aware(job.updated_at) > STALE_AFTER:
            job.status = "failed"
            job.error = (
                f"interrupted: no progress since {_aware(job.updated_at):%Y-%m-%d %H:%M} UTC "
                "(the server process stopped); items already scanned are kept, start the "
                "scan again for the rest"
            )
            job.finished_at = now
            audit.append(
                session,
                "vigil",
                f"{kind.job_kind}_interrupted",
                case_id=case_id,
                details={"job_id": job.id, **(job.stats or {})},
            )


def latest(session: Session, case_id: int, kind: ScanKind) -> ScanState:
    """The latest browser-started scan of ``kind`` for the case (read from the store)."""
    row = session.execute(
        select(Job, User.username)
        .outerjoin(User, User.id == Job.created_by_id)
        .where(Job.kind == kind.job_kind, Job.case_id == case_id)
        .order_by(Job.id.desc())
        .limit(1)
    ).first()
    return ScanState(kind) if row is None else _state(kind, row[0], row[1])


def latest_of(session: Session, case_id: int, kinds: list[ScanKind]) -> dict[str, ScanState]:
    """:func:`latest` of each of ``kinds`` (by name), in one statement."""
    if not kinds:
        return {}
    by_job_kind = {k.job_kind: k for k in kinds}
    newest = (
        select(func.max(Job.id))
        .where(Job.case_id == case_id, Job.kind.in_(list(by_job_kind)))
        .group_by(Job.kind)
    )
    found = {
        job.kind: _state(by_job_kind[job.kind], job, username)
        for job, username in session.execute(
            select(Job, User.username)
            .outerjoin(User, User.id == Job.created_by_id)
            .where(Job.id.in_(newest))
        )
    }
    return {k.name: found.get(k.job_kind) or ScanState(k) for k in kinds}


def _state(kind: ScanKind, job: Job, username: str | None) -> ScanState:
    status, error = job.status, job.error or ""
    if status == "running" and utcnow() - _aware(job.updated_at) > STALE_AFTER:
        status, error = "failed", "interrupted: the server process stopped (start it again)"
    return ScanState(
        kind,
        job.id,
        status,
        username or "",
        _aware(job.started_at),
        _aware(job.finished_at) if job.finished_at else None,
        dict(job.stats or {}),
        error,
    )


def start(st: AppState, case_id: int, kind: ScanKind, user_id: int, actor: str) -> tuple[int, Any]:
    """Record a new running scan job (refused while one of the kind runs for the case) and
    start it in a background thread of this process (``st.spawn``). Returns the job id."""
    with st.writing() as session:
        # lock the case row: two workers starting the same scan at once queue here (PostgreSQL;
        # SQLite write transactions are exclusive anyway)
        case = session.execute(
            select(Case).where(Case.id == case_id).with_for_update()
        ).scalar_one()
        now = utcnow()
        _expire_stale(session, case_id, kind, now)
        running = latest(session, case_id, kind)
        if running.running:
            done = running.stats.get("done", 0) + running.stats.get("failed", 0)
            raise Conflict(
                f"a {kind.title.lower()} of this case is already running (started by "
                f"{running.started_by or 'someone'} at {running.started_at:%H:%M} UTC, "
                f"{done} of {running.stats.get('pending', '?')} items so far): wait for it "
                "to finish; its progress shows on this page"
            )
        job = Job(
            kind=kind.job_kind,
            case_id=case_id,
            source_id=None,
            status="running",
            params={"scan": kind.name},
            stats={"pending": None, "done": 0, "failed": 0},
            created_by_id=user_id,
            started_at=now,
            updated_at=now,
        )
        session.add(job)
        session.flush()
        job_id = job.id
        case_name = case.name
        audit.append(
            session, actor, f"{kind.job_kind}_start", case_id=case_id, details={"job_id": job_id}
        )
    worker = st.spawn(
        lambda: run(st, job_id, case_id, case_name, kind, actor), f"vigil-{kind.name}-{case_id}"
    )
    return job_id, worker


class _Beat:
    """Writes a job's running counts (at most every :data:`BEAT_SECONDS`, and after the last
    item): the job's progress and its heartbeat."""

    def __init__(self, st: AppState, job_id: int) -> None:
        self.st, self.job_id, self.last = st, job_id, 0.0

    def __call__(self, report: Any) -> None:
        now = time.monotonic()
        finished = report.done + report.failed >= report.pending
        if not (finished or now - self.last >= BEAT_SECONDS):
            return
        self.last = now
        with self.st.writing() as session:
            job = session.get(Job, self.job_id)
            if job is not None:
                job.stats = {
                    **(job.stats or {}),
                    "pending": report.pending,
                    "done": report.done,
                    "failed": report.failed,
                }
                job.updated_at = utcnow()


def _faces(st: AppState, case_name: str, actor: str, beat: _Beat) -> dict[str, Any]:
    from vigil.faces.pipeline import default_pipeline
    from vigil.faces.service import refresh_case, scan_case

    report = scan_case(st.settings, st.db, case_name, actor, progress=beat)
    stats: dict[str, Any] = {
        "pending": report.pending,
        "done": report.scanned,
        "failed": report.failed,
        "faces": report.faces,
    }
    if report.faces:  # as `vigil faces scan`: re-cluster and search other cases and the library
        if "face_pipeline" not in st.extras:
            st.extras["face_pipeline"] = default_pipeline()
        refreshed = refresh_case(
            st.settings, st.db, case_name, actor, pipeline=st.extras["face_pipeline"]
        )
        if refreshed is not None:
            stats["clusters"] = len(refreshed.clusters)
            stats["candidate_links"] = len(refreshed.links)
    return stats


def _places(st: AppState, case_name: str, actor: str, beat: _Beat) -> dict[str, Any]:
    from vigil.errors import NotReady
    from vigil.ingest.backfill import backfill
    from vigil.places.service import refresh_index

    rep = backfill(st.settings, st.db, case_name, "scene", actor, progress=beat)
    stats: dict[str, Any] = {"pending": rep.pending, "done": rep.done, "failed": rep.failed}
    if rep.done:  # bring the scene index up to date now, not on the first search
        with contextlib.suppress(NotReady):
            stats["indexed"] = refresh_index(st.settings, st.db).images
    return stats


def _match(st: AppState, case_name: str, actor: str, _beat: _Beat) -> dict[str, Any]:
    from vigil.hashsets.categories import CategoryMap
    from vigil.triage.matching import run_matching

    report = run_matching(
        st.db,
        case_name,
        actor,
        category_map=CategoryMap.load(st.settings.data_dir / "category-map.json"),
        index_dir=st.settings.index_dir,
    )
    return {
        "pending": report.items,
        "done": report.items,
        "failed": 0,
        "sets": report.sets,
        "groups": dict(report.groups),
    }


RUNNERS: dict[str, Callable[[AppState, str, str, _Beat], dict[str, Any]]] = {
    "faces": _faces,
    "places": _places,
    "match": _match,
}


def run(
    st: AppState, job_id: int, case_id: int, case_name: str, kind: ScanKind, actor: str
) -> None:
    """The job itself (in the background): scan, then close the job with its outcome."""
    from vigil.plugins import load_defaults

    status, error, stats = "done", "", {}
    try:
        load_defaults()
        stats = RUNNERS[kind.name](st, case_name, actor, _Beat(st, job_id))
    except Exception as exc:  # a background job records every failure
        log.exception("%s of case %s failed", kind.title, case_name)
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    try:
        with st.writing() as session:
            job = session.get(Job, job_id)
            if job is None:
                return
            job.status = status
            job.error = error or None
            job.stats = {**(job.stats or {}), **stats}
            job.updated_at = job.finished_at = utcnow()
            audit.append(
                session,
                actor,
                f"{kind.job_kind}_{status}",
                case_id=case_id,
                details={"job_id": job_id, **stats, **({"error": error} if error else {})},
            )
    except Exception:  # nothing else can report it; the job then goes stale
        log.exception("could not record the end of %s job %s", kind.title, job_id)
