"""The shortlist indexes (VLAD and the Hamming-embedding inverted file): one conformance suite
that both pass, each held to its brute-force oracle, and their file formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vigil.errors import DamagedInput, InvalidInput, NotReady, WrongFormat
from vigil.places.features import FeatureParams, SceneFeatures, extract
from vigil.places.ivf import HammingIndex, brute_force_scores, train_hamming_vocabulary
from vigil.places.search import SearchParams, Shortlister, search
from vigil.places.vlad import GlobalIndex, train_vocabulary

from .helpers import scene, variant

PARAMS = FeatureParams(max_keypoints=300)
KINDS = ("vlad", "ivf")
LOADERS = {"vlad": GlobalIndex.load, "ivf": HammingIndex.load}


@pytest.fixture(scope="module")
def collection() -> dict[int, SceneFeatures]:
    return {100 + i: extract(scene(i, 400, 300), PARAMS) for i in range(24)}


def build(kind: str, collection: dict[int, SceneFeatures]) -> Shortlister:
    idx: Shortlister
    if kind == "vlad":
        idx = GlobalIndex(train_vocabulary(list(collection.values()), k=16), regions=True,
                          trained_on=len(collection))  # fmt: skip
    else:
        idx = HammingIndex(train_hamming_vocabulary(list(collection.values()), k1=8, k2=8),
                           trained_on=len(collection))  # fmt: skip
    for key, f in collection.items():
        idx.add(key, f)
    return idx


@pytest.fixture(scope="module", params=KINDS)
def index(request: pytest.FixtureRequest, collection: dict[int, SceneFeatures]) -> Shortlister:
    return build(request.param, collection)


def _kind(index: Shortlister) -> str:
    return "vlad" if isinstance(index, GlobalIndex) else "ivf"


def test_vlad_search_ranks_like_brute_force(collection) -> None:
    index = build("vlad", collection)
    assert isinstance(index, GlobalIndex)
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


@pytest.mark.parametrize("seed", [3, 5, 19])
def test_ivf_scores_equal_the_brute_force_oracle(collection, seed: int) -> None:
    index = build("ivf", collection)
    assert isinstance(index, HammingIndex)
    q = extract(variant(scene(seed, 400, 300), seed, occluded=0.3), PARAMS)
    oracle = brute_force_scores(index, q, collection)
    slots, scores = index.scores(q)
    got = {int(index.keys[s]): float(v) for s, v in zip(slots, scores, strict=True)}
    assert set(got) == set(oracle)
    for key, value in oracle.items():
        assert got[key] == pytest.approx(value, rel=1e-4)
    ranked = sorted(oracle, key=lambda k: (-oracle[k], k))[:10]
    index.rerank = 0
    assert [k for k, _ in index.search(q, top=10)] == ranked


def _scrambled(img: np.ndarray, seed: int, n: int = 4) -> np.ndarray:
    """The image's tiles shuffled: the same local features in an impossible geometry."""
    h, w = img.shape[:2]
    th, tw = h // n, w // n
    tiles = [img[r * th : (r + 1) * th, c * tw : (c + 1) * tw] for r in range(n) for c in range(n)]
    order = np.random.default_rng(seed).permutation(len(tiles))
    rows = [np.concatenate([tiles[order[r * n + c]] for c in range(n)], 1) for r in range(n)]
    return np.ascontiguousarray(np.concatenate(rows, 0))


def test_ivf_geometric_rerank_puts_the_scene_above_a_scrambled_copy(
    collection, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vigil.places.ivf as ivf

    # a milder vote normalisation, under which the scrambled copy out-votes the scene
    monkeypatch.setattr(ivf, "SPREAD_POWER", 0.5)
    held = dict(collection)
    held[900] = extract(_scrambled(scene(5, 400, 300), 1), PARAMS)
    index = build("ivf", held)
    assert isinstance(index, HammingIndex)
    q = extract(variant(scene(5, 400, 300), 12, occluded=0.35, crop=0.4), PARAMS)
    index.rerank = 0
    by_votes = [k for k, _ in index.search(q, top=25)]
    assert by_votes[0] == 900  # the shuffled tiles collect the most votes ...
    index.rerank = 25
    reranked = index.search(q, top=25)
    assert reranked[0][0] == 105  # ... but only the real scene holds together
    assert sorted(k for k, _ in reranked) == sorted(by_votes)  # same images, new order
    assert [s for _, s in reranked] == sorted((s for _, s in reranked), reverse=True)


def test_ivf_oracle_holds_after_removal_and_more_additions(collection) -> None:
    index = build("ivf", collection)
    assert isinstance(index, HammingIndex)
    index.remove({100, 107, 123})
    extra = {200 + i: extract(scene(40 + i, 400, 300), PARAMS) for i in range(3)}
    for key, f in extra.items():
        index.add(key, f)
    held = {k: f for k, f in collection.items() if k not in {100, 107, 123}} | extra
    assert index.key_set() == set(held)
    q = extract(variant(scene(41, 400, 300), 3, occluded=0.3), PARAMS)
    oracle = brute_force_scores(index, q, held)
    index.rerank = 0
    got = dict(index.search(q, top=len(held)))
    assert set(got) == set(oracle)
    for key, value in oracle.items():
        assert got[key] == pytest.approx(value, rel=1e-4)
    assert max(got, key=lambda k: got[k]) == 201
    with pytest.raises(InvalidInput):
        index.add(201, extra[201])


def test_two_stage_search_finds_the_scene_first(index: Shortlister, collection) -> None:
    hits = 0
    for i in (3, 8, 17):
        q = extract(variant(scene(i, 400, 300), i + 50, occluded=0.35), PARAMS)
        cands = search(q, index, lambda keys: {k: collection[k] for k in keys},
                       SearchParams(shortlist=10, top=5))  # fmt: skip
        hits += bool(cands) and cands[0].key == 100 + i and cands[0].verified
        assert all(c.verified for c in cands)
        assert [c.inliers for c in cands] == sorted((c.inliers for c in cands), reverse=True)
    assert hits == 3


def test_unrelated_query_gets_no_verified_candidate(index: Shortlister, collection) -> None:
    q = extract(scene(999, 400, 300), PARAMS)
    cands = search(q, index, lambda keys: {k: collection[k] for k in keys},
                   SearchParams(shortlist=24, top=5, include_unverified=True))  # fmt: skip
    assert cands
    assert not any(c.verified for c in cands)


@pytest.mark.parametrize(
    ("field", "value"),
    [("shortlist", 0), ("top", 0), ("min_inliers", 3), ("min_seed", 2), ("min_coverage", -0.1),
     ("min_coverage", 1.5), ("threshold", 0.0), ("threads", 0), ("early_stop", -1),
     ("model", "affine")],
)  # fmt: skip
def test_search_params_out_of_range_are_refused(field: str, value: object) -> None:
    with pytest.raises(InvalidInput, match=field):
        SearchParams(**{field: value})  # type: ignore[arg-type]


def test_search_params_accept_their_bounds() -> None:
    edge = SearchParams(shortlist=1, top=1, min_inliers=4, min_seed=4, min_coverage=1.0)
    assert edge.min_coverage == 1.0 and SearchParams(min_coverage=0.0).min_coverage == 0.0


def test_excluded_keys_are_not_returned(index: Shortlister, collection) -> None:
    q = collection[103]
    cands = search(q, index, lambda keys: {k: collection[k] for k in keys},
                   SearchParams(shortlist=10, top=5), exclude_keys={103})  # fmt: skip
    assert 103 not in [c.key for c in cands]


def test_file_roundtrip(index: Shortlister, tmp_path: Path) -> None:
    path = tmp_path / "scenes.idx"
    index.save(path)
    back = LOADERS[_kind(index)](path)
    assert back.trained_on == 24
    assert back.key_set() == index.key_set()
    q = extract(scene(7, 400, 300), PARAMS)
    got, want = back.search(q, 5), index.search(q, 5)
    assert [k for k, _ in got] == [k for k, _ in want]
    assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=2e-3)
    back.remove({100, 101})
    assert len(back) == 22 and 100 not in back.key_set()
    assert 100 not in [k for k, _ in back.search(collection_query(), 24)]


def collection_query() -> SceneFeatures:
    return extract(variant(scene(0, 400, 300), 9, occluded=0.3), PARAMS)


def test_damaged_files_are_refused(index: Shortlister, tmp_path: Path) -> None:
    load = LOADERS[_kind(index)]
    path = tmp_path / "scenes.idx"
    index.save(path)
    data = path.read_bytes()
    path.write_bytes(data[:-7])
    with pytest.raises(DamagedInput):
        load(path)
    path.write_bytes(b"nope" + data[4:])
    with pytest.raises(WrongFormat):
        load(path)
    with pytest.raises(NotReady):
        load(tmp_path / "missing.idx")


def _rewrite_section(path: Path, name: str, arr: np.ndarray) -> None:
    """Overwrite one VHE2 section and its checksum: damage that only the consistency checks see."""
    import hashlib
    import json
    import struct

    data = bytearray(path.read_bytes())
    (hlen,) = struct.unpack_from("<I", data, 4)
    header = json.loads(bytes(data[8 : 8 + hlen]))
    at = header["sections"][name]["offset"]
    raw = arr.tobytes()
    data[at : at + len(raw)] = raw
    header["sections"][name]["sha256"] = hashlib.sha256(raw).hexdigest()
    head = json.dumps(header, sort_keys=True).encode()
    data[4 : 8 + len(head)] = struct.pack("<I", len(head)) + head
    path.write_bytes(bytes(data))


def test_ivf_inconsistent_postings_are_refused(collection, tmp_path: Path) -> None:
    path = tmp_path / "bad.vhe"
    build("ivf", collection).save(path)
    index = HammingIndex.load(path)
    offsets = np.array(index.offsets, "<i8")
    offsets[3] = offsets[4] + 1  # a list that ends before it starts
    _rewrite_section(path, "offsets", offsets)
    with pytest.raises(DamagedInput, match="inconsistent"):
        HammingIndex.load(path)
    build("ivf", collection).save(path)
    owners = np.array(HammingIndex.load(path).owners, "<i4")
    owners[-1] = len(collection)  # a posting of an image that is not indexed
    _rewrite_section(path, "owners", owners)
    with pytest.raises(DamagedInput, match="inconsistent"):
        HammingIndex.load(path)


def test_ivf_altered_section_fails_its_checksum(collection, tmp_path: Path) -> None:
    path = tmp_path / "scenes.vhe"
    index = build("ivf", collection)
    assert isinstance(index, HammingIndex)
    index.save(path)
    data = bytearray(path.read_bytes())
    at = HammingIndex.load(path)._source[2]["sigs"]  # type: ignore[index]
    data[at + 5] ^= 0x10  # one bit of one signature
    path.write_bytes(bytes(data))
    with pytest.raises(DamagedInput, match="sigs fails its checksum"):
        HammingIndex.load(path)
    assert len(HammingIndex.load(path, verify=False)) == len(collection)  # checked elsewhere


@pytest.mark.parametrize("train", [train_vocabulary, train_hamming_vocabulary])
def test_vocabulary_needs_features(train) -> None:
    empty = extract(np.full((50, 50, 3), 9, np.uint8), PARAMS)
    with pytest.raises(NotReady):
        train([empty])


def test_threaded_verification_gives_the_same_ranking(index: Shortlister, collection) -> None:
    q = extract(variant(scene(8, 400, 300), 77, occluded=0.35), PARAMS)

    def load(keys):
        return {k: collection[k] for k in keys}

    one = search(q, index, load, SearchParams(shortlist=12, top=12, include_unverified=True))
    two = search(q, index, load, SearchParams(shortlist=12, top=12, include_unverified=True,
                                              threads=3))  # fmt: skip
    assert [(c.key, c.inliers, c.verified) for c in one] == [
        (c.key, c.inliers, c.verified) for c in two
    ]


@pytest.mark.parametrize(("kind", "magic"), [("vlad", b"VGI1"), ("ivf", b"VHE2")])
@pytest.mark.parametrize("head", [b"[1, 2]", b"{not json", b'{"version": 1}'])
def test_bad_headers_are_refused(kind: str, magic: bytes, head: bytes, tmp_path: Path) -> None:
    import struct

    path = tmp_path / "scenes.idx"
    path.write_bytes(magic + struct.pack("<I", len(head)) + head)
    with pytest.raises(DamagedInput, match=r"bad V[GH][IE][12] header"):
        LOADERS[kind](path)
