"""The hub's PDQ index (MIH main part + linear tail) against the brute-force oracle."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from vigil.hub import pdqindex
from vigil.hub.pdqindex import PdqIndex
from vigil.index.hamming import MihIndex

Words = npt.NDArray[np.uint64]


def _flip(words: Words, rng: np.random.Generator, bits: int) -> Words:
    out = words.copy()
    for b in rng.choice(256, bits, replace=False):
        out[b // 64] ^= np.uint64(1) << np.uint64(b % 64)
    return out


def _oracle(words: Words, q: Words) -> npt.NDArray[np.int64]:
    return np.bitwise_count(words ^ q[None, :]).sum(axis=1).astype(np.int64)


def test_main_plus_tail_equals_brute_force(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdqindex, "MIN_REBUILD", 50)  # small, to exercise the fold-in
    rng = np.random.default_rng(3)
    n = 400
    words = rng.integers(0, 2**63, size=(n, 4), dtype=np.uint64)
    ids = np.arange(1, n + 1, dtype=np.int64)
    members = rng.integers(1, 4, size=n).astype(np.int64)
    index = PdqIndex(words[:200], ids[:200], members[:200], 200)
    index.add(words[200:230], ids[200:230], members[200:230])  # stays in the tail
    assert len(index.tail_ids) == 30
    picks = rng.choice(230, 40)
    queries = np.stack([_flip(words[i], rng, int(rng.integers(0, 40))) for i in picks])
    hits = 0
    for member in (1, 2):
        qi, got, _dist = index.search(queries, 31, member)
        for i, q in enumerate(queries):
            d = _oracle(words[:230], q)
            want = {int(ids[j]) for j in np.flatnonzero((d <= 31) & (members[:230] != member))}
            assert {int(x) for x in got[qi == i]} == want
            hits += len(want)
    assert hits > 10
    index.add(words[230:], ids[230:], members[230:])  # folds the tail into the main index
    assert len(index.tail_ids) == 0
    assert len(index) == n


@pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "compiled"])
def test_large_main_index_equals_brute_force(
    monkeypatch: pytest.MonkeyPatch, compiled: bool
) -> None:
    """A main index large enough to be probed (not scanned), both candidate checks; planted
    near-duplicates at 0..40 bits from hashes of every member."""
    monkeypatch.setattr(MihIndex, "compiled", compiled)
    rng = np.random.default_rng(11)
    n = 30_000
    words = rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64)
    ids = np.arange(1, n + 1, dtype=np.int64)
    members = rng.integers(1, 4, size=n).astype(np.int64)
    index = PdqIndex(words, ids, members, n)
    assert index.main is not None and index.main.plan(31) is not None
    picks = rng.choice(n, 82, replace=False)
    distances = np.arange(82) % 41
    queries = np.stack(
        [_flip(words[i], rng, int(d)) for i, d in zip(picks, distances, strict=True)]
        + [rng.integers(0, 2**64, size=4, dtype=np.uint64) for _ in range(20)]
    )
    qi, got, dist = index.search(queries, 31, 2)
    for i, q in enumerate(queries):
        d = _oracle(words, q)
        want = {(int(ids[j]), int(d[j])) for j in np.flatnonzero((d <= 31) & (members != 2))}
        assert {(int(g), int(x)) for g, x in zip(got[qi == i], dist[qi == i], strict=True)} == want
        if i < 82 and members[picks[i]] != 2:
            assert (int(ids[picks[i]]) in {w for w, _ in want}) == (distances[i] <= 31)
