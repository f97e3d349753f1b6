"""The global shortlist index: VLAD encoding, search against a brute-force oracle, file format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vigil.errors import DamagedInput, NotReady, WrongFormat
from vigil.places.features import FeatureParams, SceneFeatures, extract
from vigil.places.search import SearchParams, search
from vigil.places.vlad import GlobalIndex, train_vocabulary

from .helpers import scene, variant

PARAMS = FeatureParams(max_keypoints=300)


@pytest.fixture(scope="module")
def collection() -> dict[int, SceneFeatures]:
    return {100 + i: extract(scene(i, 400, 300), PARAMS) for i in range(24)}


@pytest.fixture(scope="module")
def index(collection: dict[int, SceneFeatures]) -> GlobalIndex:
    vocab = train_vocabulary(list(collection.values()), k=16)
    idx = GlobalIndex(vocab, regions=True, trained_on=len(collection))
    for key, f in collection.items():
        idx.add(key, f)
    return idx


def test_search_ranks_like_brute_force(index: GlobalIndex, collection) -> None:
    q = extract(variant(scene(5, 400, 300), 5, occluded=0.3), PARAMS)
    got = index.search(q, top=10)
    qv = index.vocab.encode(q)[0]
    sims: dict[int, float] = {}
    for key, f in collection.items():
        rows = index.vocab.encode(f, regions=True)
        sims[key] = float((rows @ qv).max())
    oracle = sorted(sims, key=lambda k: -sims[k])[:10]
    assert [k for k, _ in got] == oracle
    for k, s in got:
        assert s == pytest.approx(sims[k], abs=2e-3)  # float16 storage


def test_two_stage_search_finds_the_scene_first(index: GlobalIndex, collection) -> None:
    hits = 0
    for i in (3, 8, 17):
        q = extract(variant(scene(i, 400, 300), i + 50, occluded=0.35), PARAMS)
        cands = search(q, index, lambda keys: {k: collection[k] for k in keys},
                       SearchParams(shortlist=10, top=5))  # fmt: skip
        hits += bool(cands) and cands[0].key == 100 + i and cands[0].verified
        assert all(c.verified for c in cands)
        assert [c.inliers for c in cands] == sorted((c.inliers for c in cands), reverse=True)
    assert hits == 3


def test_unrelated_query_gets_no_verified_candidate(index: GlobalIndex, collection) -> None:
    q = extract(scene(999, 400, 300), PARAMS)
    cands = search(q, index, lambda keys: {k: collection[k] for k in keys},
                   SearchParams(shortlist=24, top=5, include_unverified=True))  # fmt: skip
    assert cands
    assert not any(c.verified for c in cands)


def test_excluded_keys_are_not_returned(index: GlobalIndex, collection) -> None:
    q = collection[103]
    cands = search(q, index, lambda keys: {k: collection[k] for k in keys},
                   SearchParams(shortlist=10, top=5), exclude_keys={103})  # fmt: skip
    assert 103 not in [c.key for c in cands]


def test_file_roundtrip(index: GlobalIndex, tmp_path: Path) -> None:
    path = tmp_path / "scenes.vgi"
    index.save(path)
    back = GlobalIndex.load(path)
    assert back.regions and back.trained_on == 24
    np.testing.assert_array_equal(back.keys, index.keys)
    np.testing.assert_allclose(back.vectors, index.vectors, atol=1e-3)
    np.testing.assert_array_equal(back.vocab.centroids, index.vocab.centroids)
    q = extract(scene(7, 400, 300), PARAMS)
    assert [k for k, _ in back.search(q, 5)] == [k for k, _ in index.search(q, 5)]
    back.remove({100, 101})
    assert len(back) == 22


def test_damaged_files_are_refused(index: GlobalIndex, tmp_path: Path) -> None:
    path = tmp_path / "scenes.vgi"
    index.save(path)
    data = path.read_bytes()
    path.write_bytes(data[:-7])
    with pytest.raises(DamagedInput):
        GlobalIndex.load(path)
    path.write_bytes(b"nope" + data[4:])
    with pytest.raises(WrongFormat):
        GlobalIndex.load(path)
    with pytest.raises(NotReady):
        GlobalIndex.load(tmp_path / "missing.vgi")


def test_vocabulary_needs_features() -> None:
    empty = extract(np.full((50, 50, 3), 9, np.uint8), PARAMS)
    with pytest.raises(NotReady):
        train_vocabulary([empty])


def test_threaded_verification_gives_the_same_ranking(index: GlobalIndex, collection) -> None:
    q = extract(variant(scene(8, 400, 300), 77, occluded=0.35), PARAMS)

    def load(keys):
        return {k: collection[k] for k in keys}

    one = search(q, index, load, SearchParams(shortlist=12, top=12, include_unverified=True))
    two = search(q, index, load, SearchParams(shortlist=12, top=12, include_unverified=True,
                                              threads=3))  # fmt: skip
    assert [(c.key, c.inliers, c.verified) for c in one] == [
        (c.key, c.inliers, c.verified) for c in two
    ]
