"""The multi-index-hashing PDQ index returns exactly the brute-force result set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.errors import IntegrityError, InvalidInput, WrongFormat
from vigil.index.exact import ExactIndex
from vigil.index.hamming import (
    LinearHammingIndex,
    MihIndex,
    hex_to_words,
    load_hashes,
    words_to_hex,
)

hashes = st.binary(min_size=32, max_size=32).map(bytes.hex)


def _flip(value: str, bits: list[int]) -> str:
    n = int(value, 16)
    for b in bits:
        n ^= 1 << (255 - b)
    return f"{n:064x}"


@st.composite
def near(draw: st.DrawFn, base: list[str]) -> str:
    """A hash a few bits away from one of ``base`` (so that matches are plentiful)."""
    value = draw(st.sampled_from(base))
    bits = draw(st.lists(st.integers(0, 255), max_size=48, unique=True))
    return _flip(value, bits)


@pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "compiled"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), base=st.lists(hashes, min_size=1, max_size=200), t=st.integers(0, 64))
def test_mih_equals_brute_force(
    compiled: bool, data: st.DataObject, base: list[str], t: int
) -> None:
    queries = data.draw(st.lists(st.one_of(hashes, near(base)), min_size=1, max_size=20))
    entries = [(h, i * 7) for i, h in enumerate(base)]
    oracle = LinearHammingIndex.build(entries)
    mih = MihIndex.build(entries)
    mih.compiled = compiled
    plan = mih.plan(t)
    expected = oracle.query_batch(queries, max_distance=t)
    assert mih.query_batch(queries, max_distance=t) == expected
    # force the probing path even where the planner would scan, so both are checked
    if plan is None:
        forced = mih.search_arrays(hex_to_words(queries), t, plan=_full_plan(mih, t))
        assert mih._group(len(queries), *forced) == expected


def _full_plan(mih: MihIndex, t: int) -> list[tuple[int, int]]:
    m = len(mih.chunk_spans)
    need = t + 1
    radius = [-1] * m
    i = 0
    while need > 0:
        radius[i % m] += 1
        need -= 1
        i += 1
    return [(c, r) for c, r in enumerate(radius) if r >= 0]


@pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "compiled"])
@pytest.mark.parametrize("chunks", [11, 16, 32])
def test_mih_equals_brute_force_on_clustered_data(chunks: int, compiled: bool) -> None:
    rng = np.random.default_rng(chunks)
    centres = rng.integers(0, 2**63, size=(20, 4), dtype=np.uint64)
    n = 3000
    words = centres[rng.integers(0, 20, n)].copy()
    for _ in range(20):  # up to 20 flipped bits per row (repeats may cancel)
        bit = rng.integers(0, 256, n)
        words[np.arange(n), bit // 64] ^= np.uint64(1) << (63 - bit % 64).astype(np.uint64)
    ids = np.arange(len(words), dtype=np.int64) + 100
    mih = MihIndex(words, ids, chunks=chunks)
    mih.compiled = compiled
    oracle = LinearHammingIndex(words, ids)
    queries = np.concatenate([words[:50], rng.integers(0, 2**63, size=(10, 4), dtype=np.uint64)])
    for t in (0, 10, 31, 40):
        plan = mih.plan(t) or _full_plan(mih, t)
        got = mih._group(len(queries), *mih.search_arrays(queries, t, plan=plan))
        assert got == oracle.query_batch(queries, max_distance=t)


def _flip_words(row: npt.NDArray[np.uint64], bits: npt.NDArray[np.int64]) -> None:
    for b in bits:
        row[b // 64] ^= np.uint64(1) << np.uint64(63 - b % 64)


@pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "compiled"])
def test_planted_near_duplicates_at_every_distance(compiled: bool) -> None:
    """Random hashes plus copies of some of them at exactly 0..40 bits: at threshold 31 the
    index finds every one at 0..31 and none at 32..40, exactly as the brute-force scan."""
    rng = np.random.default_rng(31)
    n = 40_000
    words = rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64)
    words[n - 50 :] = words[:50]  # exact duplicate hashes under other ids
    ids = np.arange(n, dtype=np.int64) * 5 + 1
    sources = rng.choice(n - 50, 41 * 3, replace=False)
    queries = words[sources].copy()
    planted = np.repeat(np.arange(41), 3)
    for row, d in zip(queries, planted, strict=True):
        _flip_words(row, rng.choice(256, int(d), replace=False))
    queries = np.concatenate([queries, words[:5], rng.integers(0, 2**64, (40, 4), np.uint64)])
    mih = MihIndex(words, ids)
    mih.compiled = compiled
    oracle = LinearHammingIndex(words, ids)
    for t in (0, 7, 31, 32, 40):
        plan = mih.plan(t)
        assert plan is not None, "the probing path is the one under test"
        got = mih.query_batch(queries, max_distance=t)
        assert got == oracle.query_batch(queries, max_distance=t)
        if t == 31:
            for i, d in enumerate(planted):
                found = {m.entry_id: m.distance for m in got[i]}
                if d <= 31:
                    assert found[int(ids[sources[i]])] == d
                else:
                    assert int(ids[sources[i]]) not in found
            dup = {m.entry_id for m in got[len(planted)]}
            assert {int(ids[0]), int(ids[n - 50])} <= dup  # both copies, each once
            assert len(got[len(planted)]) == len(set(m.entry_id for m in got[len(planted)]))


def test_compiled_and_numpy_paths_return_the_same_arrays() -> None:
    rng = np.random.default_rng(8)
    words = rng.integers(0, 2**64, size=(20_000, 4), dtype=np.uint64)
    queries = words[rng.integers(0, 20_000, 200)].copy()
    for row in queries:
        _flip_words(row, rng.choice(256, int(rng.integers(0, 41)), replace=False))
    mih = MihIndex(words, np.arange(20_000, dtype=np.int64))
    mih.compiled = True
    fast = mih.search_arrays(queries, 31)
    mih.compiled = False
    slow = mih.search_arrays(queries, 31)
    assert len(fast[0]) > 100
    for a, b in zip(fast, slow, strict=True):
        assert np.array_equal(a, b)


def test_results_sorted_and_distance_exact() -> None:
    base = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    entries = [(base, 1), (_flip(base, [0, 1, 2]), 2), (_flip(base, list(range(40))), 3)]
    mih = MihIndex.build(entries)
    got = mih.query(base)
    assert [(m.entry_id, m.distance) for m in got] == [(1, 0), (2, 3)]
    assert [m.entry_id for m in mih.query(base, max_distance=40)] == [1, 2, 3]
    with pytest.raises(InvalidInput):
        mih.query(base, max_distance=300)
    with pytest.raises(InvalidInput):
        MihIndex.build([("abc", 1)])


def test_empty_index() -> None:
    mih = MihIndex.build([])
    assert len(mih) == 0
    assert mih.query("0" * 64) == []


def test_hex_roundtrip() -> None:
    values = ["00" * 32, "ff" * 32, "0123456789abcdef" * 4]
    assert words_to_hex(hex_to_words(values)) == values


def test_file_roundtrip_and_tamper_detection(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    words = rng.integers(0, 2**63, size=(500, 4), dtype=np.uint64)
    ids = np.arange(500, dtype=np.int64) * 3
    path = tmp_path / "pdq.vhix"
    MihIndex(words, ids).save(path, meta={"sets": [1, 2]})
    loaded, header = MihIndex.load(path)
    assert header["count"] == 500
    assert header["meta"] == {"sets": [1, 2]}
    assert np.array_equal(loaded.words, words)
    assert np.array_equal(loaded.ids, ids)
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError):
        load_hashes(path)
    path.write_bytes(bytes(raw[:-8]))
    with pytest.raises(IntegrityError):
        load_hashes(path)
    path.write_bytes(b"\x80\x04pickle")
    with pytest.raises(WrongFormat):
        load_hashes(path)


def test_exact_index() -> None:
    idx = ExactIndex.build([("a" * 32, 1), ("b" * 32, 2), ("a" * 32, 3)])
    assert len(idx) == 3
    assert [m.entry_id for m in idx.query("a" * 32)] == [1, 3]
    assert idx.query("c" * 32) == []


def test_row_distances_including_extremes() -> None:
    from vigil.index.hamming import hamming, row_distances

    rng = np.random.default_rng(9)
    a = rng.integers(0, 2**64, size=(1000, 4), dtype=np.uint64)
    b = rng.integers(0, 2**64, size=(1000, 4), dtype=np.uint64)
    b[0] = ~a[0]  # 256 bits apart
    b[1] = a[1]  # identical
    b[2] = a[2] ^ np.asarray([2**64 - 1, 0, 0, 0], dtype=np.uint64)  # exactly 64
    got = row_distances(a, b)
    assert np.array_equal(got, hamming(a, b))
    assert got[:3].tolist() == [256, 0, 64]
