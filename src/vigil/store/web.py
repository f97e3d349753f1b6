"""Tables and repository functions of the review web app: accounts, server-side sessions, login
attempts (throttling), reveals (exposure control) and examiner notes.

Users, agencies, cases and case membership are foundation tables (:mod:`vigil.store.models`);
this module adds the account operations on them. Every function takes a ``Session``; callers
own the transaction and write the audit entry in it.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Text,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from vigil.errors import Conflict, InvalidInput, NotFound
from vigil.store.base import Base, utcnow
from vigil.store.models import (
    Agency,
    AuditEntry,
    Case,
    CaseMember,
    EvidenceSource,
    ItemWarning,
    MediaItem,
    Occurrence,
    User,
)
from vigil.store.roles import ROLES as ROLES  # re-exported: the one list of roles


class WebSession(Base):
    """A logged-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    client: Mapped[str | None] = mapped_column(String(100))
    revoked_at: Mapped[dt.datetime | None]


class LoginAttempt(Base):
    """One login try (kept for throttling and for the audit of who tried what)."""

    __tablename__ = "web_login_attempts"
    __table_args__ = (
        Index("ix_web_login_attempts_username_at", "username", "at"),
        Index("ix_web_login_attempts_client_at", "client", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(120))
    client: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    success: Mapped[bool] = mapped_column(default=False)
    cleared_at: Mapped[dt.datetime | None]
    """Set when an administrator lifted the lock-out this failure counted towards (the row is
    kept for the record; cleared failures no longer count)."""


class Reveal(Base):
    """A deliberate reveal of one item's unblurred image by one user."""

    __tablename__ = "web_reveals"
    __table_args__ = (Index("ix_web_reveals_user_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("media_items.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ExaminerNote(Base):
    """A note an examiner writes on a case (optionally about one item); goes into the report."""

    __tablename__ = "web_examiner_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("media_items.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- accounts ----------------------------------------------------------------------------------


def _check_username(username: str) -> str:
    name = username.strip()
    if not name or len(name) > 120 or not all(c.isalnum() or c in "._-@" for c in name):
        raise InvalidInput(
            f"user name {username!r} must be 1-120 letters, digits or . _ - @ (no spaces)"
        )
    return name


def check_role(role: str) -> str:
    """Return ``role`` if it is a known role, else raise :class:`InvalidInput` naming them."""
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    return role


def get_user(session: Session, username: str) -> User:
    """The user called ``username`` (raises :class:`NotFound`)."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def find_user(session: Session, username: str) -> User | None:
    """The user called ``username`` or None."""
    return session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def ensure_agency(session: Session, name: str) -> Agency:
    """The agency called ``name``, created if missing."""
    agency = session.execute(select(Agency).where(Agency.name == name)).scalar_one_or_none()
    if agency is None:
        agency = Agency(name=name)
        session.add(agency)
        session.flush()
    return agency


def create_user(
    session: Session,
    username: str,
    role: str,
    password_hash: str,
    *,
    display_name: str | None = None,
    agency: str | None = None,
) -> User:
    """Create an account (the caller hashes the password with :mod:`vigil.web.passwords`)."""
    name = _check_username(username)
    check_role(role)
    if find_user(session, name) is not None:
        raise Conflict(f"user {name!r} already exists")
    user = User(username=name, role=role, password_hash=password_hash, display_name=display_name)
    if agency:
        user.agency_id = ensure_agency(session, agency).id
    session.add(user)
    session.flush()
    return user


def list_users(session: Session) -> list[User]:
    """All accounts, by name."""
    return list(session.execute(select(User).order_by(User.username)).scalars())


def count_login_users(session: Session) -> int:
    """How many active accounts can log in (have a password)."""
    stmt = select(func.count()).select_from(User)
    stmt = stmt.where(User.password_hash.is_not(None), User.active.is_(True))
    return int(session.execute(stmt).scalar_one())


# --- case membership ---------------------------------------------------------------------------


def is_member(session: Session, case_id: int, user_id: int) -> bool:
    """Whether the user is a member of the case."""
    stmt = select(CaseMember.id).where(CaseMember.case_id == case_id, CaseMember.user_id == user_id)
    return session.execute(stmt).first() is not None


def add_member(session: Session, case_id: int, user_id: int) -> bool:
    """Make the user a member of the case; False if they already were."""
    if is_member(session, case_id, user_id):
        return False
    session.add(CaseMember(case_id=case_id, user_id=user_id))
    session.flush()
    return True


def remove_member(session: Session, case_id: int, user_id: int) -> bool:
    """Remove a membership; False if there was none."""
    row = session.execute(
        select(CaseMember).where(CaseMember.case_id == case_id, CaseMember.user_id == user_id)
    ).scalar_one_or_none()
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def member_cases(session: Session, user_id: int) -> list[Case]:
    """The cases the user is a member of, by name."""
    stmt = (
        select(Case)
        .join(CaseMember, CaseMember.case_id == Case.id)
        .where(CaseMember.user_id == user_id)
        .order_by(Case.name)
    )
    return list(session.execute(stmt).scalars())


def case_members(session: Session, case_id: int) -> list[User]:
    """The members of a case, by name."""
    stmt = (
        select(User)
        .join(CaseMember, CaseMember.user_id == User.id)
        .where(CaseMember.case_id == case_id)
        .order_by(User.username)
    )
    return list(session.execute(stmt).scalars())


# --- sessions ----------------------------------------------------------------------------------


def token_digest(token: str) -> str:
    """SHA-256 of a session token (what is stored)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewSession:
    """A freshly created session: the cookie token is only known here, never stored."""

    token: str
    row: WebSession


def create_session(
    session: Session, user_id: int, lifetime: dt.timedelta, client: str | None = None
) -> NewSession:
    """Start a browser session for ``user_id``."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = WebSession(
        token_hash=token_digest(token),
        user_id=user_id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        client=(client or "")[:100] or None,
    )
    session.add(row)
    session.flush()
    return NewSession(token, row)


def lookup_session(session: Session, token: str) -> tuple[WebSession, User] | None:
    """The live (not revoked, not expired) session for a cookie token and its user."""
    stmt = (
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == token_digest(token))
    )
    row = session.execute(stmt).first()
    if row is None:
        return None
    web_session, user = row
    if web_session.revoked_at is not None or web_session.expires_at <= utcnow():
        return None
    if not user.active:
        return None
    return web_session, user


@dataclass(frozen=True)
class LiveSession:
    """What a request needs of its live session and user (columns only, no ORM objects)."""

    session_id: int
    csrf_token: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    user_id: int
    username: str
    role: str


def _session_columns() -> list[Any]:
    """The columns :func:`_live` reads: the session row and its user."""
    return [
        WebSession.id,
        WebSession.csrf_token,
        WebSession.created_at,
        WebSession.last_seen_at,
        WebSession.expires_at,
        WebSession.revoked_at,
        User.id,
        User.username,
        User.role,
        User.active,
    ]


_SESSION_WIDTH = 10
"""How many of a row's first columns are :func:`_session_columns`."""


def _live(row: Sequence[Any]) -> LiveSession | None:
    """The live session of a row starting with :func:`_session_columns` (None when revoked,
    expired or its user is inactive)."""
    sid, csrf, created, seen, expires, revoked, uid, username, role, active = row[:_SESSION_WIDTH]
    if revoked is not None or expires <= utcnow() or not active:
        return None
    return LiveSession(int(sid), str(csrf), created, seen, int(uid), str(username), str(role))


def live_session(session: Session, token: str) -> LiveSession | None:
    """:func:`lookup_session` as one column query (the guard runs it on every request)."""
    row = session.execute(
        select(*_session_columns())
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == token_digest(token))
    ).first()
    return None if row is None else _live(row)


@dataclass(frozen=True)
class GuardView:
    """What the guard reads for one request, in one statement (:func:`guard_view`)."""

    live: LiveSession | None
    """The live session and its user (None: no such session, revoked, expired or inactive)."""
    case_access: bool | None
    """With a case id: None when the case does not exist, else whether the user is a member."""
    reveals_today: int
    """How many items the user revealed since the ``since`` given (the exposure counter)."""


@functools.cache
def _guard_statement(with_case: bool) -> Select[Any]:
    """The guard's one statement, built once (bound parameters ``token``, ``since`` and, with a
    case, ``case_id``): the session row and its user, the reveal count and the membership as
    scalar sub-queries (index look-ups)."""
    reveals = (
        select(func.count())
        .select_from(Reveal)
        .where(Reveal.user_id == User.id, Reveal.at >= bindparam("since"))
        .scalar_subquery()
    )
    columns: list[Any] = [*_session_columns(), reveals]
    if with_case:
        case_id = bindparam("case_id", type_=Integer)
        columns.append(select(Case.id).where(Case.id == case_id).scalar_subquery())
        columns.append(
            select(CaseMember.id)
            .where(CaseMember.case_id == case_id, CaseMember.user_id == User.id)
            .limit(1)
            .scalar_subquery()
        )
    return (
        select(*columns)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == bindparam("token"))
    )


def guard_view(session: Session, token: str, case_id: int | None, since: dt.datetime) -> GuardView:
    """:func:`live_session`, :func:`case_access` (with ``case_id``) and :func:`reveals_since`
    as one statement: the guard runs it on every request."""
    params: dict[str, Any] = {"token": token_digest(token), "since": since}
    if case_id is not None:
        params["case_id"] = case_id
    row = session.execute(_guard_statement(case_id is not None), params).first()
    if row is None:
        return GuardView(None, None, 0)
    access: bool | None = None
    if case_id is not None:
        exists, member = row[_SESSION_WIDTH + 1], row[_SESSION_WIDTH + 2]
        access = None if exists is None else member is not None
    live = _live(row)
    if live is None:
        return GuardView(None, access, 0)
    return GuardView(live, access, int(row[_SESSION_WIDTH] or 0))


def case_access(session: Session, case_id: int, user_id: int) -> bool | None:
    """None when the case does not exist, else whether the user is a member (one query)."""
    row = session.execute(
        select(Case.id, CaseMember.id)
        .outerjoin(CaseMember, (CaseMember.case_id == Case.id) & (CaseMember.user_id == user_id))
        .where(Case.id == case_id)
    ).first()
    if row is None:
        return None
    return row[1] is not None


def touch_session(session: Session, session_id: int, at: dt.datetime) -> None:
    """Record activity on a session (for the idle timeout): one UPDATE."""
    session.execute(update(WebSession).where(WebSession.id == session_id).values(last_seen_at=at))


def revoke_session(session: Session, session_id: int) -> None:
    """End a session (log out)."""
    row = session.get(WebSession, session_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()


def revoke_user_sessions(session: Session, user_id: int) -> int:
    """End every live session of a user (after a password change); returns how many."""
    rows = session.execute(
        select(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
    ).scalars()
    count = 0
    for row in rows:
        row.revoked_at = utcnow()
        count += 1
    return count


# --- login throttling --------------------------------------------------------------------------


def record_login_attempt(session: Session, username: str, client: str, success: bool) -> None:
    """Store one login try."""
    session.add(LoginAttempt(username=username[:120], client=client[:100], success=success))
    session.flush()


def recent_failures(
    session: Session, *, since: dt.datetime, username: str | None = None, client: str | None = None
) -> int:
    """Failed logins since ``since`` for a user name or a client address that still count (not
    cleared by an administrator, and for a user name after its last success, so a good login
    clears the count)."""
    return len(_failure_times(session, since=since, username=username, client=client))


def _failure_times(
    session: Session, *, since: dt.datetime, username: str | None = None, client: str | None = None
) -> list[dt.datetime]:
    stmt = select(LoginAttempt.at).where(
        LoginAttempt.at >= since,
        LoginAttempt.success.is_(False),
        LoginAttempt.cleared_at.is_(None),
    )
    if username is not None:
        last_ok = session.execute(
            select(func.max(LoginAttempt.at)).where(
                LoginAttempt.username == username, LoginAttempt.success.is_(True)
            )
        ).scalar_one_or_none()
        stmt = stmt.where(LoginAttempt.username == username)
        if last_ok is not None:
            stmt = stmt.where(LoginAttempt.at > last_ok)
    if client is not None:
        stmt = stmt.where(LoginAttempt.client == client)
    return sorted(session.execute(stmt).scalars())


@dataclass(frozen=True)
class Lockout:
    """Why and until when log-ins are refused."""

    by: str
    """``"user"`` (too many failures for the user name) or ``"client"`` (for the address)."""
    until: dt.datetime


def lockout(
    session: Session,
    *,
    username: str,
    client: str,
    window: dt.timedelta,
    max_per_user: int,
    max_per_client: int,
    now: dt.datetime | None = None,
) -> Lockout | None:
    """The lock-out in force for this user name or address, or None.

    A key is locked while it has at least ``max`` counting failures within ``window``; the lock
    ends when the oldest of the failures that make up the threshold leaves the window. Attempts
    refused *during* a lock-out are not stored as failures (see the login route), so retrying
    never extends a lock: it ends ``window`` after the failure that started it at the latest.
    """
    now = now or utcnow()
    since = now - window
    found: list[Lockout] = []
    for by, limit, key in (
        ("user", max_per_user, {"username": username}),
        ("client", max_per_client, {"client": client}),
    ):
        times = _failure_times(session, since=since, **key) if limit > 0 else []
        if limit > 0 and len(times) >= limit:
            found.append(Lockout(by, times[len(times) - limit] + window))
    return max(found, key=lambda lock: lock.until) if found else None


def clear_failures(
    session: Session, *, username: str | None = None, client: str | None = None
) -> int:
    """Lift a lock-out: mark the counting failures of a user name and/or an address as cleared
    (kept, no longer counted). Returns how many failures were cleared."""
    if username is None and client is None:
        raise InvalidInput("name a user or a client address to unlock")
    stmt = select(LoginAttempt).where(
        LoginAttempt.success.is_(False), LoginAttempt.cleared_at.is_(None)
    )
    if username is not None:
        stmt = stmt.where(LoginAttempt.username == username)
    if client is not None:
        stmt = stmt.where(LoginAttempt.client == client)
    now = utcnow()
    count = 0
    for row in session.execute(stmt).scalars():
        row.cleared_at = now
        count += 1
    session.flush()
    return count


# --- reveals -----------------------------------------------------------------------------------


def record_reveal(session: Session, user_id: int, case_id: int, item_id: int) -> Reveal:
    """Store one deliberate reveal."""
    row = Reveal(user_id=user_id, case_id=case_id, item_id=item_id)
    session.add(row)
    session.flush()
    return row


def reveals_since(session: Session, user_id: int, since: dt.datetime) -> int:
    """How many items the user revealed since ``since`` (the UI passes the start of today)."""
    stmt = (
        select(func.count())
        .select_from(Reveal)
        .where(Reveal.user_id == user_id, Reveal.at >= since)
    )
    return int(session.execute(stmt).scalar_one())


def last_reveal_at(session: Session, user_id: int) -> dt.datetime | None:
    """When the user last revealed an item."""
    return session.execute(
        select(func.max(Reveal.at)).where(Reveal.user_id == user_id)
    ).scalar_one_or_none()


# --- examiner notes ----------------------------------------------------------------------------


def add_note(
    session: Session, case_id: int, user_id: int, text: str, item_id: int | None = None
) -> ExaminerNote:
    """Store an examiner's note on a case (or one of its items)."""
    body = text.strip()
    if not body:
        raise InvalidInput("a note cannot be empty")
    if len(body) > 20_000:
        raise InvalidInput(f"a note is limited to 20,000 characters (got {len(body)})")
    note = ExaminerNote(case_id=case_id, user_id=user_id, text=body, item_id=item_id)
    session.add(note)
    session.flush()
    return note


def list_notes(
    session: Session, case_id: int, item_id: int | None = None
) -> list[tuple[ExaminerNote, str]]:
    """Notes of a case (or of one item) with their author's user name, oldest first."""
    stmt = (
        select(ExaminerNote, User.username)
        .join(User, User.id == ExaminerNote.user_id)
        .where(ExaminerNote.case_id == case_id)
        .order_by(ExaminerNote.created_at, ExaminerNote.id)
    )
    if item_id is not None:
        stmt = stmt.where(ExaminerNote.item_id == item_id)
    return [(note, name) for note, name in session.execute(stmt)]


# --- case views (read-only queries the review screens and the court report use) ----------------


@dataclass(frozen=True)
class CaseCounts:
    """Headline numbers of a case."""

    sources: int
    occurrences: int
    items: int
    by_kind: dict[str, int]
    by_status: dict[str, int]
    warnings: int
    warnings_by_code: dict[str, int]


def case_item_ids(case_id: int) -> Select[Any]:
    """A SELECT of the distinct ids of items found in a case's evidence sources."""
    return (
        select(Occurrence.item_id)
        .join(EvidenceSource, EvidenceSource.id == Occurrence.source_id)
        .where(EvidenceSource.case_id == case_id, Occurrence.item_id.is_not(None))
        .distinct()
    )


def case_counts(session: Session, case_id: int) -> CaseCounts:
    """Counts of a case: sources, file occurrences, unique items by kind and status, warnings."""
    sources = session.execute(
        select(func.count()).select_from(EvidenceSource).where(EvidenceSource.case_id == case_id)
    ).scalar_one()
    occurrences = session.execute(
        select(func.count())
        .select_from(Occurrence)
        .join(EvidenceSource, EvidenceSource.id == Occurrence.source_id)
        .where(EvidenceSource.case_id == case_id)
    ).scalar_one()
    ids = case_item_ids(case_id).subquery()
    by_kind: dict[str, int] = {}
    by_status: dict[str, int] = {}
    rows = session.execute(
        select(MediaItem.kind, MediaItem.status, func.count())
        .join(ids, ids.c.item_id == MediaItem.id)
        .group_by(MediaItem.kind, MediaItem.status)
    )
    for kind, status, n in rows:
        by_kind[kind] = by_kind.get(kind, 0) + n
        by_status[status] = by_status.get(status, 0) + n
    warn_rows = session.execute(
        select(ItemWarning.code, func.count())
        .where(ItemWarning.case_id == case_id)
        .group_by(ItemWarning.code)
    )
    warnings_by_code = {code: n for code, n in warn_rows}
    return CaseCounts(
        sources=int(sources),
        occurrences=int(occurrences),
        items=sum(by_kind.values()),
        by_kind=dict(sorted(by_kind.items())),
        by_status=dict(sorted(by_status.items())),
        warnings=sum(warnings_by_code.values()),
        warnings_by_code=dict(sorted(warnings_by_code.items())),
    )


def case_items_page(
    session: Session,
    case_id: int,
    *,
    offset: int = 0,
    limit: int = 50,
    kind: str | None = None,
    exclude: Select[Any] | None = None,
    first: Select[Any] | None = None,
) -> list[MediaItem]:
    """One page of a case's items: ``first`` (e.g. fresh items) before the rest, then by id;
    items in ``exclude`` (e.g. known material) left out."""
    ids = case_item_ids(case_id).subquery()
    stmt = select(MediaItem).join(ids, ids.c.item_id == MediaItem.id)
    if kind:
        stmt = stmt.where(MediaItem.kind == kind)
    if exclude is not None:
        stmt = stmt.where(MediaItem.id.not_in(exclude))
    if first is not None:
        stmt = stmt.order_by(MediaItem.id.in_(first).desc(), MediaItem.id)
    else:
        stmt = stmt.order_by(MediaItem.id)
    return list(session.execute(stmt.offset(max(0, offset)).limit(max(1, limit))).scalars())


def iter_case_items(session: Session, case_id: int, batch: int = 2000) -> Iterator[MediaItem]:
    """Every item of a case, by id (streamed)."""
    ids = case_item_ids(case_id).subquery()
    stmt = select(MediaItem).join(ids, ids.c.item_id == MediaItem.id).order_by(MediaItem.id)
    yield from session.execute(stmt.execution_options(yield_per=batch)).scalars()


def item_in_case(session: Session, case_id: int, item_id: int) -> MediaItem:
    """The item if it was found in the case's evidence; :class:`NotFound` otherwise (an item of
    another case is reported exactly like one that does not exist)."""
    found = (
        select(Occurrence.id)
        .join(EvidenceSource, EvidenceSource.id == Occurrence.source_id)
        .where(EvidenceSource.case_id == case_id, Occurrence.item_id == MediaItem.id)
        .exists()
    )
    item = session.execute(
        select(MediaItem).where(MediaItem.id == item_id, found)
    ).scalar_one_or_none()
    if item is None:
        raise NotFound(f"no item {item_id} in case {case_id}")
    return item


def item_occurrences(
    session: Session, case_id: int, item_id: int
) -> list[tuple[Occurrence, EvidenceSource]]:
    """Where an item was found within one case."""
    stmt = (
        select(Occurrence, EvidenceSource)
        .join(EvidenceSource, EvidenceSource.id == Occurrence.source_id)
        .where(EvidenceSource.case_id == case_id, Occurrence.item_id == item_id)
        .order_by(Occurrence.id)
    )
    return [(occ, src) for occ, src in session.execute(stmt)]


def first_paths(session: Session, case_id: int, item_ids: list[int]) -> dict[int, str]:
    """One display path per item (the first occurrence in the case)."""
    if not item_ids:
        return {}
    stmt = (
        select(Occurrence.item_id, func.min(Occurrence.path))
        .join(EvidenceSource, EvidenceSource.id == Occurrence.source_id)
        .where(EvidenceSource.case_id == case_id, Occurrence.item_id.in_(item_ids))
        .group_by(Occurrence.item_id)
    )
    return {int(i): str(p) for i, p in session.execute(stmt) if i is not None}


def item_source_paths(
    session: Session, case_id: int, item_ids: list[int]
) -> list[tuple[int, str, str, bytes]]:
    """Where each item was recorded: (item id, source path, source kind, raw path inside it)."""
    if not item_ids:
        return []
    stmt = (
        select(Occurrence.item_id, EvidenceSource.path, EvidenceSource.kind, Occurrence.raw_path)
        .join(EvidenceSource, EvidenceSource.id == Occurrence.source_id)
        .where(EvidenceSource.case_id == case_id, Occurrence.item_id.in_(item_ids))
        .order_by(Occurrence.depth, Occurrence.id)
    )
    return [(int(i), str(p), str(k), bytes(r)) for i, p, k, r in session.execute(stmt) if i]


def item_warnings(session: Session, case_id: int, item_id: int) -> list[ItemWarning]:
    """Warnings stored for one item in a case."""
    stmt = select(ItemWarning).where(ItemWarning.case_id == case_id, ItemWarning.item_id == item_id)
    return list(session.execute(stmt.order_by(ItemWarning.id)).scalars())


def case_warnings(session: Session, case_id: int, limit: int = 200) -> list[ItemWarning]:
    """The first warnings of a case."""
    stmt = select(ItemWarning).where(ItemWarning.case_id == case_id).order_by(ItemWarning.id)
    return list(session.execute(stmt.limit(limit)).scalars())


def case_sources(session: Session, case_id: int) -> list[EvidenceSource]:
    """The evidence sources of a case, in the order they were added."""
    stmt = select(EvidenceSource).where(EvidenceSource.case_id == case_id)
    return list(session.execute(stmt.order_by(EvidenceSource.id)).scalars())


def list_cases(session: Session) -> list[Case]:
    """Every case, by name."""
    return list(session.execute(select(Case).order_by(Case.name)).scalars())


def get_case_by_id(session: Session, case_id: int) -> Case:
    """The case with this id (raises :class:`NotFound`)."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


def user_names(session: Session, user_ids: set[int]) -> dict[int, str]:
    """User names by id."""
    if not user_ids:
        return {}
    stmt = select(User.id, User.username).where(User.id.in_(user_ids))
    return {int(i): str(n) for i, n in session.execute(stmt)}


def case_item_facts(session: Session, case_id: int) -> list[tuple[int, str, str]]:
    """(item id, kind, status) of every distinct item of a case, by id (one pass)."""
    sources = select(EvidenceSource.id).where(EvidenceSource.case_id == case_id)
    stmt = (
        select(MediaItem.id, MediaItem.kind, MediaItem.status)
        .join(Occurrence, Occurrence.item_id == MediaItem.id)
        .where(Occurrence.source_id.in_(sources))
        .distinct()
        .order_by(MediaItem.id)
    )
    return [(int(i), str(k), str(s)) for i, k, s in session.execute(stmt)]


def case_signature(
    session: Session, case_id: int, extra: Select[Any] | None = None
) -> tuple[int, ...]:
    """Cheap fingerprint of the store's evidence contents (newest occurrence, newest warning,
    number of evidence sources): it changes whenever an ingest adds files or warnings to any
    case. Three index look-ups, whatever the size of the case, sent as one statement; ``extra``
    (a one-value SELECT, e.g. a triage provider's version) is appended to the tuple."""
    stmt = case_signature_statement(extra)
    return run_case_signature(session, stmt, case_id)


def case_signature_statement(extra: Select[Any] | None = None) -> Select[Any]:
    """The statement of :func:`case_signature` with the case id as the bound parameter
    ``case_id`` (``extra`` may use it too): build it once, run it with
    :func:`run_case_signature` on every request."""
    parts = [
        select(func.max(Occurrence.id)).scalar_subquery(),
        select(func.max(ItemWarning.id)).scalar_subquery(),
        select(func.count())
        .select_from(EvidenceSource)
        .where(EvidenceSource.case_id == bindparam("case_id", type_=Integer))
        .scalar_subquery(),
    ]
    if extra is not None:
        parts.append(extra.scalar_subquery())
    return select(*parts)


def run_case_signature(session: Session, stmt: Select[Any], case_id: int) -> tuple[int, ...]:
    """The fingerprint tuple of a :func:`case_signature_statement` for one case."""
    row = session.execute(stmt, {"case_id": case_id}).one()
    return tuple(int(x or 0) for x in row)


def case_light_counts(session: Session, case_id: int) -> tuple[int, int, dict[str, int]]:
    """(evidence sources, file occurrences, warnings by code) of a case."""
    sources = session.execute(
        select(func.count()).select_from(EvidenceSource).where(EvidenceSource.case_id == case_id)
    ).scalar_one()
    occurrences = session.execute(
        select(func.count())
        .select_from(Occurrence)
        .where(
            Occurrence.source_id.in_(
                select(EvidenceSource.id).where(EvidenceSource.case_id == case_id)
            )
        )
    ).scalar_one()
    warn_rows = session.execute(
        select(ItemWarning.code, func.count())
        .where(ItemWarning.case_id == case_id)
        .group_by(ItemWarning.code)
    )
    return int(sources), int(occurrences), {c: int(n) for c, n in warn_rows}


def items_by_ids(session: Session, ids: list[int]) -> list[MediaItem]:
    """Items with these ids, in the order given."""
    if not ids:
        return []
    found = {
        m.id: m for m in session.execute(select(MediaItem).where(MediaItem.id.in_(ids))).scalars()
    }
    return [found[i] for i in ids if i in found]


def id_set(session: Session, stmt: Select[Any] | None) -> set[int]:
    """The ids a SELECT of one id column returns (empty for None)."""
    if stmt is None:
        return set()
    return {int(i) for i in session.execute(stmt).scalars() if i is not None}


def recent_audit(session: Session, limit: int = 200) -> list[AuditEntry]:
    """The newest audit entries, newest first."""
    stmt = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(max(1, limit))
    return list(session.execute(stmt).scalars())


def ingest_events(
    session: Session, case_ids: list[int], limit: int = 5
) -> dict[int, list[AuditEntry]]:
    """The newest browser-ingest entries (start, done, failed) per case, newest first.

    The case set-up page shows them so whoever started an ingest sees its outcome without the
    custody log (which an administrator may not read). Uses the (action) and (case_id) indexes.
    """
    out: dict[int, list[AuditEntry]] = {cid: [] for cid in case_ids}
    if not case_ids:
        return out
    actions = ("web.ingest_start", "web.ingest_done", "web.ingest_failed")
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.case_id.in_(case_ids), AuditEntry.action.in_(actions))
        .order_by(AuditEntry.seq.desc())
        .limit(limit * len(case_ids) * 4)
    )
    for entry in session.execute(stmt).scalars():
        rows = out[int(entry.case_id or 0)]
        if len(rows) < limit:
            rows.append(entry)
    return out


# --- the item page as the hub of its evidence -------------------------------------------------
# Read-only look-ups across the capabilities' tables, each bounded and by indexed columns, so the
# item page stays one cheap request. Capability models are imported inside the functions: this
# module must not depend on capability packages being installed.


def item_triage(session: Session, case_id: int, item_id: int) -> dict[str, Any] | None:
    """Known / near-known / fresh for the item, with the matching set, category and distance."""
    from vigil.store.hashsets import HashSet, TriageGroup, TriageOutcome

    row = session.execute(
        select(TriageOutcome, HashSet.name, HashSet.scheme)
        .outerjoin(HashSet, HashSet.id == TriageOutcome.best_set_id)
        .where(TriageOutcome.case_id == case_id, TriageOutcome.item_id == item_id)
    ).first()
    if row is None:
        return None
    outcome, set_name, scheme = row
    group = session.get(TriageGroup, outcome.group_id) if outcome.group_id else None
    return {
        "outcome": outcome.outcome,
        "perceptual": outcome.perceptual,
        "set": set_name,
        "scheme": scheme,
        "category": outcome.category,
        "series": outcome.series,
        "distance": outcome.distance,
        "group_id": outcome.group_id,
        "group_size": group.member_count if group else 1,
        "group_distance": outcome.group_distance,
        "representative": group.representative_item_id if group else item_id,
    }


def item_duplicates(
    session: Session, case_id: int, group_id: int | None, item_id: int, limit: int = 48
) -> list[tuple[int, int | None, str]]:
    """Other items of the item's triage group: (item id, PDQ distance to the group's
    representative, outcome), nearest first."""
    from vigil.store.hashsets import TriageOutcome

    if group_id is None:
        return []
    rows = session.execute(
        select(TriageOutcome.item_id, TriageOutcome.group_distance, TriageOutcome.outcome)
        .where(
            TriageOutcome.case_id == case_id,
            TriageOutcome.group_id == group_id,
            TriageOutcome.item_id != item_id,
        )
        .order_by(TriageOutcome.group_distance, TriageOutcome.item_id)
        .limit(limit)
    )
    return [(int(i), d, str(o)) for i, d, o in rows]


def item_faces(session: Session, case_id: int, item_id: int) -> list[dict[str, Any]]:
    """Faces detected in the item with their cluster label in this case and candidate links."""
    from vigil.store.faces import FaceCluster, FaceClusterMember, FaceLink, FaceRow, Identity

    faces = list(
        session.execute(
            select(FaceRow).where(FaceRow.item_id == item_id).order_by(FaceRow.id).limit(100)
        ).scalars()
    )
    if not faces:
        return []
    ids = [f.id for f in faces]
    labels = {
        int(face_id): int(label)
        for face_id, label in session.execute(
            select(FaceClusterMember.face_id, FaceCluster.label)
            .join(FaceCluster, FaceCluster.id == FaceClusterMember.cluster_id)
            .where(FaceCluster.case_id == case_id, FaceClusterMember.face_id.in_(ids))
        )
    }
    links: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for link, code in session.execute(
        select(FaceLink, Identity.code)
        .outerjoin(Identity, Identity.id == FaceLink.identity_id)
        .where(FaceLink.case_id == case_id, FaceLink.face_id.in_(ids))
        .order_by(FaceLink.rank)
    ):
        links[link.face_id].append(
            {
                "id": link.id,
                "identity": code,
                "matched_face": link.matched_face_id,
                "distance": round(link.distance, 4),
                "threshold": link.threshold,
                "status": link.status,
            }
        )
    return [
        {
            "id": f.id,
            "quality": round(f.quality, 2),
            "size": f.size,
            "frame_time": f.frame_time,
            "cluster": labels.get(f.id),
            "links": links[f.id],
        }
        for f in faces
    ]


def item_place_links(session: Session, item_id: int) -> list[dict[str, Any]]:
    """Places the item was attached to by a person (candidate / confirmed / rejected)."""
    from vigil.store.places import Place, PlaceLink

    rows = session.execute(
        select(PlaceLink, Place.name, Place.key)
        .join(Place, Place.id == PlaceLink.place_id)
        .where(PlaceLink.item_id == item_id)
        .order_by(PlaceLink.id)
        .limit(50)
    )
    return [
        {
            "place": name,
            "key": key,
            "status": link.status,
            "inliers": (link.evidence or {}).get("inliers"),
            "by": link.decided_by or link.created_by,
        }
        for link, name, key in rows
    ]


def item_custody(session: Session, case_id: int, item_id: int, limit: int = 50) -> list[AuditEntry]:
    """The item's audit entries except page views, newest first."""
    stmt = (
        select(AuditEntry)
        .where(
            AuditEntry.case_id == case_id,
            AuditEntry.item_id == item_id,
            AuditEntry.action != "web.view",
        )
        .order_by(AuditEntry.seq.desc())
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())


# --- grid review ------------------------------------------------------------------------------

REVIEW_STATUSES = ("all", "fresh", "near_known", "known", "ungraded", "conflict")
"""Filters of the review grid: triage outcomes, items nobody graded, items with disagreeing
votes."""

REVIEW_SORTS = ("triage", "time", "series", "cluster", "place", "id")
"""Orders of the review grid: fresh first (default), capture time, hash-set series, visual
cluster (triage group), GPS position, item number."""


@dataclass(frozen=True)
class ReviewRow:
    """One tile of the review grid."""

    item_id: int
    kind: str
    outcome: str | None
    series: str | None
    group_id: int | None
    captured_at: str | None


def review_page(
    session: Session,
    case_id: int,
    *,
    status: str = "all",
    sort: str = "triage",
    include_known: bool = False,
    offset: int = 0,
    limit: int = 120,
) -> tuple[list[ReviewRow], int]:
    """One page of the case's items for grid review, and how many match the filter.

    Filtering and ordering run in the database (the case's item set, the triage outcome by its
    (case, item) key, grades by their (case, item, reviewer) key), so a page costs the same at
    100k items as at 100. Known material is left out unless ``include_known``."""
    from sqlalchemy import case as sql_case
    from sqlalchemy import exists

    from vigil.store.hashsets import Grade, TriageOutcome

    if status not in REVIEW_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(REVIEW_STATUSES)}")
    if sort not in REVIEW_SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(REVIEW_SORTS)}")
    in_case = exists().where(
        Occurrence.item_id == MediaItem.id,
        Occurrence.source_id.in_(
            select(EvidenceSource.id).where(EvidenceSource.case_id == case_id)
        ),
    )
    q = (
        select(
            MediaItem.id,
            MediaItem.kind,
            TriageOutcome.outcome,
            TriageOutcome.series,
            TriageOutcome.group_id,
            MediaItem.captured_at,
        )
        .where(in_case)
        .outerjoin(
            TriageOutcome,
            (TriageOutcome.case_id == case_id) & (TriageOutcome.item_id == MediaItem.id),
        )
    )
    if not include_known:
        q = q.where((TriageOutcome.outcome.is_(None)) | (TriageOutcome.outcome != "known"))
    if status in ("fresh", "near_known", "known"):
        q = q.where(TriageOutcome.outcome == status)
    elif status == "ungraded":
        q = q.where(~exists().where(Grade.case_id == case_id, Grade.item_id == MediaItem.id))
    elif status == "conflict":
        conflicted = (
            select(Grade.item_id)
            .where(Grade.case_id == case_id)
            .group_by(Grade.item_id)
            .having(func.count(func.distinct(Grade.grade)) > 1)
        )
        q = q.where(MediaItem.id.in_(conflicted))
    total = int(session.execute(select(func.count()).select_from(q.subquery())).scalar_one())
    rank = sql_case(
        (TriageOutcome.outcome == "fresh", 0),
        (TriageOutcome.outcome == "near_known", 1),
        (TriageOutcome.outcome.is_(None), 2),
        else_=3,
    )
    orders: dict[str, list[Any]] = {
        "triage": [rank],
        "time": [MediaItem.captured_at.is_(None), MediaItem.captured_at],
        "series": [TriageOutcome.series.is_(None), TriageOutcome.series, TriageOutcome.group_id],
        "cluster": [
            TriageOutcome.group_id.is_(None),
            TriageOutcome.group_id,
            TriageOutcome.group_distance,
        ],
        "place": [MediaItem.gps_lat.is_(None), MediaItem.gps_lat, MediaItem.gps_lon],
        "id": [],
    }
    rows = session.execute(
        q.order_by(*orders[sort], MediaItem.id).offset(max(0, offset)).limit(max(1, limit))
    )
    return [ReviewRow(int(i), str(k), o, s, g, t) for i, k, o, s, g, t in rows], total


def item_votes(session: Session, case_id: int, item_ids: list[int]) -> dict[int, dict[str, str]]:
    """Current grade votes (reviewer → grade) of the given items."""
    from vigil.store.hashsets import Grade

    out: dict[int, dict[str, str]] = {i: {} for i in item_ids}
    if not item_ids:
        return out
    for item_id, reviewer, grade in session.execute(
        select(Grade.item_id, Grade.reviewer, Grade.grade).where(
            Grade.case_id == case_id, Grade.item_id.in_(item_ids)
        )
    ):
        out[int(item_id)][str(reviewer)] = str(grade)
    return out


# --- pages of the lists that grow -------------------------------------------------------------


def face_cluster_page(
    session: Session, case_id: int, offset: int, limit: int
) -> tuple[list[tuple[Any, list[int]]], int]:
    """One page of the case's face clusters, largest first, with their member face ids."""
    from vigil.store.faces import FaceCluster, FaceClusterMember

    total = session.execute(
        select(func.count()).select_from(FaceCluster).where(FaceCluster.case_id == case_id)
    ).scalar_one()
    clusters = list(
        session.execute(
            select(FaceCluster)
            .where(FaceCluster.case_id == case_id)
            .order_by(FaceCluster.size.desc(), FaceCluster.label)
            .offset(offset)
            .limit(limit)
        ).scalars()
    )
    members: dict[int, list[int]] = {c.id: [] for c in clusters}
    if clusters:
        for cid, fid in session.execute(
            select(FaceClusterMember.cluster_id, FaceClusterMember.face_id)
            .where(FaceClusterMember.cluster_id.in_(list(members)))
            .order_by(FaceClusterMember.face_id)
        ):
            members[int(cid)].append(int(fid))
    return [(c, members[c.id]) for c in clusters], int(total)


def face_links_page(
    session: Session, case_id: int, offset: int, limit: int
) -> tuple[list[Any], int]:
    """One page of the case's candidate face links, undecided first, best rank first."""
    from vigil.store.faces import FaceLink

    where = FaceLink.case_id == case_id
    total = session.execute(select(func.count()).select_from(FaceLink).where(where)).scalar_one()
    rows = session.execute(
        select(FaceLink)
        .where(where)
        .order_by((FaceLink.status != "candidate"), FaceLink.rank, FaceLink.id)
        .offset(offset)
        .limit(limit)
    ).scalars()
    return list(rows), int(total)


def audit_page(
    session: Session,
    *,
    case_id: int | None = None,
    before: int | None = None,
    limit: int = 100,
    skip_views: bool = False,
) -> tuple[list[AuditEntry], int | None]:
    """Newest audit entries first, ``limit`` at a time: pages by sequence number (``before``)
    so a page costs one index range scan however long the log; returns the next page's cursor."""
    stmt = select(AuditEntry)
    if case_id is not None:
        stmt = stmt.where(AuditEntry.case_id == case_id)
    if skip_views:
        stmt = stmt.where(AuditEntry.action != "web.view")
    if before is not None:
        stmt = stmt.where(AuditEntry.seq < before)
    rows = list(session.execute(stmt.order_by(AuditEntry.seq.desc()).limit(limit + 1)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].seq if more and rows else None)


def count_views(session: Session, case_id: int) -> int:
    """Page views recorded for a case (the custody screen lists everything else)."""
    return int(
        session.execute(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.case_id == case_id, AuditEntry.action == "web.view")
        ).scalar_one()
    )


def place_links_page(
    session: Session, case_id: int, offset: int, limit: int
) -> tuple[list[Any], int]:
    """One page of the item-to-place links of the case's items (newest first) and the total."""
    from vigil.store.places import PlaceLink

    ids = case_item_ids(case_id).subquery()
    q = select(PlaceLink).join(ids, ids.c.item_id == PlaceLink.item_id)
    total = session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = session.execute(q.order_by(PlaceLink.id.desc()).offset(offset).limit(limit)).scalars()
    return list(rows), int(total)
