"""Grading workflow data: several reviewers grade an item; a grade becomes *trusted* after N
independent agreeing votes (the UK CAID practice uses 3); disagreements stay visible.

Each reviewer has one current vote per item (a new vote replaces theirs; the audit log keeps
every change). A grade is trusted when at least ``required`` distinct reviewers' current votes
agree on it; an item is in *conflict* when current votes name more than one grade. Trust and
conflict are computed, never stored, so they always reflect the current votes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.errors import InvalidInput, NotFound
from vigil.hashsets.categories import GRADES
from vigil.store import audit, repo
from vigil.store.base import utcnow
from vigil.store.db import Database
from vigil.store.hashsets import Grade

TRUSTED_VOTES = 3
"""Independent agreeing votes needed for a trusted grade (UK CAID uses 3)."""


@dataclass
class GradeStatus:
    """The votes on one item and what they add up to."""

    item_id: int
    votes: dict[str, str] = field(default_factory=dict)
    """reviewer -> grade (current votes only)."""
    leading: str | None = None
    agreeing: int = 0
    trusted: bool = False
    conflict: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


def status_of(votes: dict[str, str], item_id: int, required: int = TRUSTED_VOTES) -> GradeStatus:
    """Tally current votes (reviewer -> grade)."""
    if required < 1:
        raise InvalidInput("at least one vote must be required for a trusted grade")
    counts = Counter(votes.values())
    st = GradeStatus(item_id, dict(sorted(votes.items())))
    if counts:
        (grade, n), *rest = counts.most_common()
        tie = bool(rest) and rest[0][1] == n
        st.leading = None if tie else grade
        st.agreeing = n
        st.trusted = not tie and n >= required
        st.conflict = len(counts) > 1
    return st


def record_grade(
    db: Database,
    case_name: str,
    item_id: int,
    reviewer: str,
    grade: str,
    *,
    system: str = "uk",
    note: str | None = None,
    required: int = TRUSTED_VOTES,
) -> GradeStatus:
    """Record ``reviewer``'s grade of an item (replacing their earlier vote) and audit it.

    Raises:
        InvalidInput: the grade is not one of the grading system's codes.
        NotFound: the item does not occur in the case.
    """
    if system not in GRADES:
        raise InvalidInput(f"grading system must be one of {sorted(GRADES)}, got {system!r}")
    grade = grade.strip().upper()
    if grade not in GRADES[system]:
        raise InvalidInput(f"{grade!r} is not a {system.upper()} grade {GRADES[system]}")
    reviewer = reviewer.strip()
    if not reviewer:
        raise InvalidInput("a grade needs a reviewer name")
    with db.write() as s:
        case = repo.get_case(s, case_name)
        if not repo.item_in_case(s, case.id, item_id):
            raise NotFound(f"item #{item_id} is not part of case {case_name!r}")
        row = s.execute(
            select(Grade).where(
                Grade.case_id == case.id, Grade.item_id == item_id, Grade.reviewer == reviewer
            )
        ).scalar_one_or_none()
        previous = row.grade if row else None
        if row is None:
            row = Grade(
                case_id=case.id, item_id=item_id, reviewer=reviewer, scheme=system, grade=grade
            )
            s.add(row)
        else:
            row.grade, row.scheme, row.graded_at = grade, system, utcnow()
        row.note = note
        s.flush()
        st = _status(s, case.id, item_id, required)
        audit.append(
            s,
            reviewer,
            "grade.vote",
            case_id=case.id,
            item_id=item_id,
            details={
                "grade": grade,
                "system": system,
                "previous": previous,
                "trusted": st.trusted,
                "conflict": st.conflict,
            },
        )
    return st


def _status(s: Session, case_id: int, item_id: int, required: int) -> GradeStatus:
    rows = s.execute(
        select(Grade.reviewer, Grade.grade).where(
            Grade.case_id == case_id, Grade.item_id == item_id
        )
    ).all()
    return status_of({r: g for r, g in rows}, item_id, required)


def case_grades(
    db: Database, case_name: str, *, required: int = TRUSTED_VOTES, conflicts_only: bool = False
) -> list[GradeStatus]:
    """The grade status of every graded item of the case (conflicts first)."""
    with db.read() as s:
        case = repo.get_case(s, case_name)
        votes: dict[int, dict[str, str]] = {}
        for item_id, reviewer, grade in s.execute(
            select(Grade.item_id, Grade.reviewer, Grade.grade).where(Grade.case_id == case.id)
        ).all():
            votes.setdefault(item_id, {})[reviewer] = grade
    out = [status_of(v, item_id, required) for item_id, v in votes.items()]
    if conflicts_only:
        out = [st for st in out if st.conflict]
    out.sort(key=lambda st: (not st.conflict, st.trusted, st.item_id))
    return out
