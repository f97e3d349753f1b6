"""Bounded memory of the inverted file: a capped, seeded training sample, a build that spills
its queued postings, and a mapped index that searches exactly as the in-memory one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vigil.errors import InvalidInput
from vigil.places import ivf
from vigil.places.features import FeatureParams, SceneFeatures, extract
from vigil.places.ivf import HammingIndex, train_hamming_vocabulary, training_sample

from .helpers import scene, variant

PARAMS = FeatureParams(max_keypoints=300)


def _random_features(n: int, keypoints: int, seed: int) -> list[SceneFeatures]:
    rng = np.random.default_rng(seed)
    return [
        SceneFeatures(
            rng.uniform(0, 400, (keypoints, 2)).astype(np.float32),
            rng.integers(0, 256, (keypoints, 128), dtype=np.uint8),
            400,
            300,
            1.0,
        )
        for _ in range(n)
    ]


def test_training_sample_is_capped_per_image_and_in_all() -> None:
    feats = _random_features(30, 500, 1)
    per_image = training_sample(iter(feats), per_image=40, max_descriptors=10_000, seed=3)
    assert per_image.shape == (30 * 40, 128)
    capped = training_sample(iter(feats), per_image=40, max_descriptors=700, seed=3)
    assert capped.shape == (700, 128)
    # every sampled row is one of the images' descriptors, as a unit vector
    assert np.allclose(np.linalg.norm(capped, axis=1), 1.0, atol=1e-5)
    every = np.concatenate([f.unit_descriptors() for f in feats])
    assert {r.tobytes() for r in capped} <= {r.tobytes() for r in every}


def test_small_collections_keep_their_descriptors() -> None:
    feats = _random_features(4, 500, 4)  # a list: an even share of the cap is 250 per image
    assert training_sample(feats, max_descriptors=1000).shape == (1000, 128)
    assert training_sample(feats, max_descriptors=100_000).shape == (2000, 128)
    # a generator has no length: the fixed per-image cap applies
    assert len(training_sample(iter(feats), max_descriptors=100_000)) == 4 * ivf.TRAIN_PER_IMAGE


def test_training_is_seeded() -> None:
    feats = _random_features(20, 300, 2)
    one = training_sample(feats, per_image=50, max_descriptors=800, seed=5)
    two = training_sample(iter(feats), per_image=50, max_descriptors=800, seed=5)
    other = training_sample(feats, per_image=50, max_descriptors=800, seed=6)
    assert np.array_equal(one, two) and not np.array_equal(one, other)
    va = train_hamming_vocabulary(feats, k1=4, k2=4, per_image=50, seed=5)
    vb = train_hamming_vocabulary(iter(feats), k1=4, k2=4, per_image=50, seed=5)
    assert np.array_equal(va.centroids, vb.centroids) and np.array_equal(va.medians, vb.medians)


@pytest.fixture(scope="module")
def collection() -> dict[int, SceneFeatures]:
    return {100 + i: extract(scene(i, 400, 300), PARAMS) for i in range(16)}


@pytest.fixture(scope="module")
def vocab(collection: dict[int, SceneFeatures]) -> ivf.HammingVocabulary:
    return train_hamming_vocabulary(collection.values(), k1=8, k2=8)


def _queries() -> list[SceneFeatures]:
    return [extract(variant(scene(i, 400, 300), 7 + i, occluded=0.3), PARAMS) for i in (2, 9)]


def _in_memory(vocab: ivf.HammingVocabulary, feats: dict[int, SceneFeatures]) -> HammingIndex:
    index = HammingIndex(vocab)
    for key, f in feats.items():
        index.add(key, f)
    index._merge()
    return index


def test_mapped_index_searches_as_the_in_memory_one(
    collection, vocab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ivf, "SPILL_POSTINGS", 500)  # spill to bucket files every few images
    oracle = _in_memory(vocab, collection)
    built = HammingIndex(vocab, spill_dir=tmp_path / "spill")
    for key, f in collection.items():
        built.add(key, f)
    assert built.postings == oracle.postings
    built.save(tmp_path / "scenes.vhe")
    assert list((tmp_path / "spill").iterdir()) == []  # the spill is cleaned up
    mapped = HammingIndex.load(tmp_path / "scenes.vhe")
    for index in (built, mapped):
        assert isinstance(index.sigs, np.memmap) and isinstance(index.owners, np.memmap)
        for name in ("keys", "counts", "df", "offsets", "owners", "sigs", "xy"):
            assert np.array_equal(getattr(index, name), getattr(oracle, name)), name
        for q in _queries():
            assert index.search(q, top=10) == oracle.search(q, top=10)


def test_removal_and_additions_on_a_mapped_index(collection, vocab, tmp_path: Path) -> None:
    path = tmp_path / "scenes.vhe"
    first = dict(list(collection.items())[:12])
    built = HammingIndex(vocab)
    for key, f in first.items():
        built.add(key, f)
    built.save(path)
    mapped = HammingIndex.load(path)
    mapped.remove({101, 105})
    later = {k: f for k, f in collection.items() if k not in first}
    for key, f in later.items():
        mapped.add(key, f)
    assert len(mapped) == 14
    mapped.save(path)
    held = {k: f for k, f in first.items() if k not in {101, 105}} | later
    oracle = _in_memory(vocab, held)
    again = HammingIndex.load(path)
    for name in ("keys", "counts", "df", "offsets", "owners", "sigs", "xy"):
        assert np.array_equal(getattr(again, name), getattr(oracle, name)), name
    for q in _queries():
        assert again.search(q, top=10) == oracle.search(q, top=10)


def test_votes_in_blocks_equal_one_pass(collection, vocab, monkeypatch: pytest.MonkeyPatch) -> None:
    index = _in_memory(vocab, collection)
    whole = [(index.scores(q), index.search(q, top=10)) for q in _queries()]
    monkeypatch.setattr(ivf, "VOTE_POSTINGS", 300)  # many blocks per query
    for q, (scores, ranked) in zip(_queries(), whole, strict=True):
        got = index.scores(q)
        assert np.array_equal(got[0], scores[0]) and np.array_equal(got[1], scores[1])
        assert index.search(q, top=10) == ranked


def test_add_many_equals_one_at_a_time(collection, vocab, monkeypatch: pytest.MonkeyPatch) -> None:
    oracle = _in_memory(vocab, collection)
    monkeypatch.setattr(ivf, "ENCODE_BATCH", 700)  # several images per batch, several batches
    batched = HammingIndex(vocab)
    assert batched.add_many(iter(collection.items())) == len(collection)
    batched._merge()
    for name in ("keys", "counts", "df", "offsets", "owners", "sigs", "xy"):
        assert np.array_equal(getattr(batched, name), getattr(oracle, name)), name
    for q in _queries():
        assert batched.search(q, top=10) == oracle.search(q, top=10)
    first = next(iter(collection.items()))
    with pytest.raises(InvalidInput, match="already indexed"):
        batched.add_many([first])
    with pytest.raises(InvalidInput, match="already indexed"):
        HammingIndex(vocab).add_many([first, first])


def test_signatures_are_the_projection_signs_as_bits(vocab) -> None:
    rng = np.random.default_rng(3)
    desc = rng.normal(size=(500, 128)).astype(np.float32)
    words = rng.integers(0, vocab.k, 500)
    bits = (desc.astype(np.float64) @ vocab.projection.T.astype(np.float64)) > vocab.medians[words]
    expected = [sum(1 << b for b in range(ivf.BITS) if row[b]) for row in bits]
    assert vocab.signatures(desc, words).tolist() == expected
