"""Exact index for digests (MD5, SHA-1, SHA-256): a dictionary from value to entry ids."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Self

from vigil.index.base import IndexMatch


class ExactIndex:
    """Finds entries whose canonical value is identical to the query."""

    def __init__(self) -> None:
        self._map: dict[str, list[int]] = {}
        self._count = 0

    @classmethod
    def build(cls, entries: Iterable[tuple[str, int]]) -> Self:
        """Build from ``(canonical value, entry_id)`` pairs (values must already be canonical)."""
        index = cls()
        for value, entry_id in entries:
            index.add(value, entry_id)
        return index

    def add(self, value: str, entry_id: int) -> None:
        """Add one entry."""
        self._map.setdefault(value, []).append(entry_id)
        self._count += 1

    def query(self, value: str, *, max_distance: int | None = None) -> Sequence[IndexMatch]:
        """Entries equal to ``value`` (``max_distance`` is ignored: digests match or do not)."""
        return [IndexMatch(entry_id, 0) for entry_id in self._map.get(value, ())]

    def __len__(self) -> int:
        return self._count
