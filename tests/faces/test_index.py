"""The faiss index returns the same top-k as brute force; save/load/extend round trips."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from vigil.errors import BackendError
from vigil.faces.index import FaceIndex, brute_force


def _data(n: int, q: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.1, (n, 128)).astype(np.float32)
    ids = rng.permutation(np.arange(10, 10 + 3 * n, 3))[:n].astype(np.int64)
    queries = (x[rng.choice(n, q, replace=False)] + rng.normal(0, 0.02, (q, 128))).astype(
        np.float32
    )
    return ids, x, queries


def _same(got: list, want: list, ids: np.ndarray, x: np.ndarray, q: np.ndarray) -> None:
    """Same top-k: identical distance profile, and every returned id really is at its distance
    (so only exact float ties may swap order); ids identical when no near-ties exist."""
    assert [h.distance for h in got] == pytest.approx([h.distance for h in want], abs=1e-4)
    pos = {int(i): n for n, i in enumerate(ids)}
    for h in got:
        true = float(np.linalg.norm(x[pos[h.embedding_id]].astype(np.float64) - q))
        assert h.distance == pytest.approx(true, abs=1e-4)
    dists = [h.distance for h in want]
    if all(b - a > 1e-4 for a, b in itertools.pairwise(dists)):
        assert [h.embedding_id for h in got] == [h.embedding_id for h in want]


def test_flat_index_equals_brute_force() -> None:
    ids, x, queries = _data(4000, 25)
    index = FaceIndex.build(ids, x)
    assert index.kind == "flat"
    got = index.search(queries, 10)
    want = brute_force(ids, x, queries, 10)
    for g, w, q in zip(got, want, queries, strict=True):
        _same(g, w, ids, x, q)


def test_ivf_index_with_all_lists_probed_equals_brute_force() -> None:
    ids, x, queries = _data(3000, 20, seed=1)
    index = FaceIndex.build(ids, x, ivf_from=1000, nlist=32, nprobe=32)
    assert index.kind == "ivf"
    want = brute_force(ids, x, queries, 5)
    for g, w, q in zip(index.search(queries, 5), want, queries, strict=True):
        _same(g, w, ids, x, q)


def test_ivf_default_probes_keep_the_true_neighbour_first() -> None:
    ids, x, queries = _data(6000, 40, seed=2)
    index = FaceIndex.build(ids, x, ivf_from=1000, nprobe=16)
    got = index.search(queries, 1)
    want = brute_force(ids, x, queries, 1)
    agree = sum(g[0].embedding_id == w[0].embedding_id for g, w in zip(got, want, strict=True))
    assert agree / len(queries) >= 0.95


def test_save_load_and_extend(tmp_path: Path) -> None:
    ids, x, queries = _data(500, 5, seed=3)
    index = FaceIndex.build(ids[:400], x[:400])
    path = tmp_path / "faces.faiss"
    index.save(path, model_id=7)
    loaded = FaceIndex.load(path, model_id=7)
    assert len(loaded) == 400
    assert loaded.max_id == int(ids[:400].max())
    loaded.add(ids[400:], x[400:])
    want = brute_force(ids, x, queries, 5)
    for g, w, q in zip(loaded.search(queries, 5), want, queries, strict=True):
        _same(g, w, ids, x, q)
    with pytest.raises(BackendError):
        FaceIndex.load(path, model_id=8)
    path.write_bytes(b"garbage")
    with pytest.raises(BackendError):
        FaceIndex.load(path, model_id=7)


def test_empty_index_and_k_larger_than_size() -> None:
    empty = FaceIndex(128)
    assert empty.search(np.zeros((2, 128), dtype=np.float32), 5) == [[], []]
    ids, x, queries = _data(3, 1, seed=4)
    small = FaceIndex.build(ids, x)
    assert len(small.search(queries, 10)[0]) == 3
