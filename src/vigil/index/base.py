"""The index protocol shared by every signal index.

Entries are ``(value, entry_id)`` pairs where ``entry_id`` is an integer that points into storage
(a hash-set entry or a case item). ``query`` returns every entry within ``max_distance``: indexes
are *exact* (the same result set as comparing against every entry), which the tests check against
the brute-force oracle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, Self


@dataclass(frozen=True, slots=True, order=True)
class IndexMatch:
    """One entry found by a query."""

    entry_id: int
    distance: int


class SignalIndex(Protocol):
    """Build once, query many times."""

    @classmethod
    def build(cls, entries: Iterable[tuple[str, int]]) -> Self:
        """Build an index over ``(canonical value, entry_id)`` pairs."""
        ...

    def query(self, value: str, *, max_distance: int | None = None) -> Sequence[IndexMatch]:
        """Every entry whose value is within ``max_distance`` of ``value`` (exact for digests)."""
        ...

    def __len__(self) -> int: ...
