"""The hub's PDQ index per operation: a multi-index-hashing main part plus a linear tail.

Rebuilding a 10M-hash :class:`~vigil.index.hamming.MihIndex` on every push would cost more than
the push; instead new hashes go to a *tail* searched by brute force (exact), and the tail is
folded into the main index when it grows beyond a quarter of it. Both parts are exact, so the
union is exactly the brute-force result (``tests/hub/test_pdqindex.py`` checks it).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.index.hamming import MihIndex, Words, hex_to_words
from vigil.store.hub import HubSignal

I64 = npt.NDArray[np.int64]
MIN_REBUILD = 20_000


class PdqIndex:
    """All PDQ signals of one operation: ids, owning members, hashes."""

    def __init__(self, words: Words, ids: I64, members: I64, upto: int = 0) -> None:
        self.main = MihIndex(words, ids) if len(ids) else None
        self.main_members = members
        self.tail_words: Words = np.empty((0, 4), np.uint64)
        self.tail_ids: I64 = np.empty(0, np.int64)
        self.tail_members: I64 = np.empty(0, np.int64)
        self.upto = upto
        """Highest hub signal id already loaded."""

    def __len__(self) -> int:
        return (len(self.main) if self.main else 0) + len(self.tail_ids)

    def add(self, words: Words, ids: I64, members: I64) -> None:
        """Append new hashes to the tail; fold the tail in when it has grown large."""
        self.tail_words = np.concatenate([self.tail_words, words])
        self.tail_ids = np.concatenate([self.tail_ids, ids])
        self.tail_members = np.concatenate([self.tail_members, members])
        if len(ids):
            self.upto = max(self.upto, int(ids.max()))
        main_n = len(self.main) if self.main else 0
        if len(self.tail_ids) > max(MIN_REBUILD, main_n // 4):
            all_words = np.concatenate(
                [self.main.words if self.main else self.tail_words[:0], self.tail_words]
            )
            all_ids = np.concatenate(
                [self.main.ids if self.main else self.tail_ids[:0], self.tail_ids]
            )
            self.main_members = np.concatenate([self.main_members, self.tail_members])
            self.main = MihIndex(all_words, all_ids)
            self.tail_words, self.tail_ids = self.tail_words[:0], self.tail_ids[:0]
            self.tail_members = self.tail_members[:0]

    def search(
        self, queries: Words, max_distance: int, exclude_member: int
    ) -> tuple[I64, I64, I64]:
        """(query row, signal id, distance) of every hash of another member within the distance."""
        parts: list[tuple[I64, I64, I64]] = []
        if self.main is not None and len(queries):
            q = np.ascontiguousarray(queries, dtype=np.uint64)
            plan = self.main.plan(max_distance)
            step = self.main.search_batch
            for start in range(0, len(q), step):
                qi, rows, dist = self.main.search_arrays(
                    q[start : start + step], max_distance, plan
                )
                keep = self.main_members[rows] != exclude_member
                parts.append((qi[keep] + start, self.main.ids[rows[keep]], dist[keep]))
        if len(self.tail_ids) and len(queries):
            other = np.flatnonzero(self.tail_members != exclude_member)
            tw, tids = self.tail_words[other], self.tail_ids[other]
            step = max(1, min(64, (1 << 21) // max(len(tids), 1)))  # <= ~64 MB per block
            for start in range(0, len(queries), step):
                block = queries[start : start + step]
                d = np.bitwise_count(block[:, None, :] ^ tw[None, :, :]).sum(axis=2)
                qi, col = np.nonzero(d <= max_distance)
                parts.append((qi.astype(np.int64) + start, tids[col], d[qi, col].astype(np.int64)))
        if not parts:
            empty = np.empty(0, np.int64)
            return empty, empty, empty
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))  # type: ignore[return-value]


class PdqIndexes:
    """One :class:`PdqIndex` per operation, brought up to date from the store before a search."""

    def __init__(self) -> None:
        self._by_op: dict[int, PdqIndex] = {}

    def drop(self, operation_id: int) -> None:
        """Forget an operation's index (after a failed push, whose rows were rolled back)."""
        self._by_op.pop(operation_id, None)

    def get(self, session: Session, operation_id: int) -> PdqIndex:
        index = self._by_op.get(operation_id)
        upto = index.upto if index else 0
        rows = session.execute(
            select(HubSignal.id, HubSignal.value, HubSignal.member_id)
            .where(
                HubSignal.operation_id == operation_id,
                HubSignal.kind == "pdq",
                HubSignal.id > upto,
            )
            .order_by(HubSignal.id)
        ).all()
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        members = np.fromiter((r[2] for r in rows), np.int64, len(rows))
        words = hex_to_words([r[1] for r in rows]) if rows else np.empty((0, 4), np.uint64)
        if index is None:
            index = PdqIndex(words, ids, members, int(ids.max()) if len(ids) else 0)
            self._by_op[operation_id] = index
        elif len(ids):
            index.add(words, ids, members)
        return index
