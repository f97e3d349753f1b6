"""Shortlisting by local-feature votes: an inverted file of visual words with Hamming embedding.

A global descriptor (VLAD, :mod:`vigil.places.vlad`) summarises a whole image, so a query that
shows a third of a room with half of it hidden behind people scores poorly against the full view.
Here every local feature votes instead (Jégou, Douze & Schmid, "Hamming embedding and weak
geometric consistency", ECCV 2008):

* each RootSIFT descriptor is assigned to its nearest of ``k`` visual words (faiss k-means) and
  gets a 64-bit signature: the signs of a fixed random orthogonal projection of the descriptor,
  thresholded at per-word medians learnt with the vocabulary;
* a query descriptor matches an indexed one when they share a word and their signatures differ
  in at most ``ht`` bits; the match is worth ``idf(word)**2 * exp(-h**2 / sigma**2)`` with the
  smoothed ``idf = log(1 + n / df)``;
* each query descriptor votes at most once per indexed image, with its best match there (so a
  repeated wallpaper motif cannot outvote the rest of the room: "burstiness"), and its votes
  are divided by the number of images it votes for, to the power 1.5 (a generic stripe on a
  foreground person's clothes matches everywhere and should weigh little anywhere);
  query descriptors may be assigned to their ``multiple_assignment`` nearest words;
* an image's score is the sum of its votes divided by the square root of its descriptor count.

Optionally (``rerank > 0``) the best-voted images are re-ordered by how many of their matches
one similarity transform explains (RANSAC over the keypoint positions kept in the postings: a
cheap geometric check, ~20 us per image), which lifts the room over images that merely share
its wallpaper, prints or bedding. The score only ranks the shortlist; geometric verification
(:mod:`vigil.places.verify`) decides.
:func:`brute_force_scores` computes the same scores by comparing the query with every indexed
image directly; the tests hold the inverted file to it.

Index file (``VHE2``, little-endian, never pickle; mapped, not read, so a search process holds
no private copy of the postings)::

    b"VHE2" | uint32 L | L bytes of UTF-8 JSON header | padding to 16 KiB |
    sections, each 4 KiB-aligned at the offset the header names, in this order:
      coarse     float32 k1 x 128
      centroids  float32 k x 128    (k = k1 * k2)
      projection float32 64 x 128
      medians    float32 k x 64
      keys       int64   n          (scene-feature row id of each indexed image)
      counts     uint32  n          (descriptors of each indexed image)
      df         uint32  k          (indexed images holding each word)
      offsets    int64   k + 1      (postings of word w are [offsets[w], offsets[w+1]))
      owners     int32   p          (image slot of each posting, 0..n-1)
      signatures uint64  p
      xy         uint16  p x 2      (keypoint position in 1/16 feature-image pixels)

The header holds ``version``, ``k1``, ``k2``, ``n``, ``p``, ``ht``, ``sigma``, ``multiple_assignment``,
``trained_on``, the file ``size`` and each section's ``offset`` and ``sha256``. Disk (and page
cache while searching) cost 16 bytes per indexed descriptor (~32 kB per image at the stored cap
of 2,000 keypoints). Building streams: queued postings spill to temporary files per word range
and the file is written one range at a time (:meth:`HammingIndex.save`); the vocabulary is learnt
from a capped, seeded sample (:func:`training_sample`). See docs/places.md, "Index memory".
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Sized
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from vigil.errors import DamagedInput, InvalidInput, NotReady
from vigil.places import indexfile
from vigil.places.features import FIXED_POINT, SceneFeatures

MAGIC = b"VHE2"
VERSION = 2
BITS = 64
DEFAULT_COARSE = 128
DEFAULT_FINE = 128
"""Vocabulary tree of 128 x 128 = 16,384 visual words (Jégou et al. use ~20k with HE)."""
DEFAULT_HT = 12
"""Hamming threshold on 64-bit signatures. On the generated benchmark at 10k images 12 bits put
the room in the top 50 for 0.88 of the queries, 16 bits 0.865 and 20 bits 0.835 (Jégou et al.
use 22-24 with 20k flat words on real photos)."""
DEFAULT_SIGMA = 16.0
DEFAULT_RERANK = 0
"""Best-voted images re-ranked by geometric consistency in :meth:`HammingIndex.search` (0 = off).
On the generated benchmark at 10k images a re-rank of 300 put the room first more often (0.73
against 0.66) but in the top 30 less often (0.90 against 0.92): worth it when the shortlist is
read as it is, not when every candidate of the shortlist is verified anyway."""
RERANK_THRESHOLD = 12.0
"""Reprojection error (feature-image pixels) of the re-rank's similarity transform: loose,
because a similarity only approximates a change of viewpoint. (On the generated benchmark at 10k
images, 8 or 20 pixels, a full affine model or a RANSAC homography all ranked the same within
one query in a hundred; the homography cost seven times as much.)"""
RERANK_ITERATIONS = 200
SPREAD_POWER = 1.5
"""A query feature's votes are divided by (images it votes for) ** SPREAD_POWER. On the generated
benchmark at 10k images the room was in the top 30 for 0.85 of the queries without this,
0.92 with 0.5, 0.948 with 1.0, 0.953 with 1.5 and 0.955 with 2.0 (tuned on that set: check
it on real reference photos)."""
MIN_CONSISTENT = 4
VOTE_POSTINGS = 2_000_000
"""Postings a search scans at once (~60 bytes each of temporaries): at 100k images of 2,000
keypoints a query of 1,000 keypoints reads ~12 million postings."""
TRAIN_PER_IMAGE = 400
"""Descriptors of each image sampled to learn the vocabulary: 2,000 images give the 800,000
of :data:`TRAIN_MAX_DESCRIPTORS`, ~49 per fine word (faiss k-means asks for 39 to 256)."""
TRAIN_MAX_DESCRIPTORS = 800_000

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]


@dataclass
class HammingVocabulary:
    """A two-level vocabulary (``k1`` coarse words, each split into ``k2`` fine words: a
    vocabulary tree), the signature projection and its per-word medians.

    Assigning a descriptor costs ``k1 + k2`` dot products instead of ``k1 * k2``, so 16,384
    words cost what 256 flat words would, and the vocabulary trains in seconds."""

    coarse: F32
    """k1 x 128 coarse centroids."""
    centroids: F32
    """(k1 * k2) x 128 fine centroids; fine word ``c * k2 + j`` lies in coarse cell ``c``."""
    projection: F32
    medians: F32

    @property
    def k1(self) -> int:
        return int(self.coarse.shape[0])

    @property
    def k2(self) -> int:
        return int(self.centroids.shape[0]) // max(1, self.k1)

    @property
    def k(self) -> int:
        return int(self.centroids.shape[0])

    def assign(self, desc: F32, multiple: int = 1) -> I64:
        """Nearest ``multiple`` fine words (within the nearest coarse cell) of each descriptor
        (n x multiple), nearest first."""
        n = len(desc)
        multiple = max(1, min(multiple, self.k2))
        out = np.zeros((n, multiple), np.int64)
        if n == 0:
            return out
        c = self.coarse
        # |d - c|^2 = |d|^2 - 2 d.c + |c|^2; |d|^2 is the same for every word of a descriptor
        cell = np.argmin((c * c).sum(1)[None, :] - 2.0 * (desc @ c.T), axis=1)
        k2 = self.k2
        order = np.argsort(cell, kind="stable")
        bounds = np.searchsorted(cell[order], np.arange(self.k1 + 1))
        for ci in np.flatnonzero(np.diff(bounds)):
            rows = order[bounds[ci] : bounds[ci + 1]]
            fine = self.centroids[ci * k2 : (ci + 1) * k2]
            d2 = (fine * fine).sum(1)[None, :] - 2.0 * (desc[rows] @ fine.T)
            if multiple == 1:
                best = np.argmin(d2, axis=1)[:, None]
            else:
                part = np.argpartition(d2, multiple - 1, axis=1)[:, :multiple]
                best = np.take_along_axis(
                    part, np.take_along_axis(d2, part, axis=1).argsort(axis=1), axis=1
                )
            out[rows] = best + ci * k2
        return out

    def signatures(self, desc: F32, words: I64) -> U64:
        """64-bit signatures of ``desc`` (n) relative to the medians of ``words`` (n)."""
        if len(desc) == 0:
            return np.zeros(0, np.uint64)
        # in float64: a float32 product's rounding depends on how many rows BLAS multiplies at
        # once, so a value next to its median flipped its bit between a batch of one image and
        # a batch of several (the same image got another signature by how it was added)
        proj = np.asarray(desc, np.float64) @ np.asarray(self.projection, np.float64).T
        bits = proj > self.medians[words]
        # bit b of the signature is projection b: pack 8 bits a byte, lowest first, then read
        # the 8 bytes as one little-endian uint64 (~30x faster than summing powers of two)
        packed = np.packbits(bits, axis=1, bitorder="little")
        return np.ascontiguousarray(packed).view("<u8").ravel().astype(np.uint64)


def _kmeans(data: F32, k: int, seed: int) -> F32:
    import faiss

    k = max(1, min(k, len(data)))
    if len(data) < k * 39:  # faiss warns below 39 points per centroid: take what is there
        k = max(1, len(data) // 39)
    if len(data) <= k:
        return np.ascontiguousarray(data[:k], np.float32)
    km = faiss.Kmeans(128, k, niter=15, seed=seed, verbose=False, max_points_per_centroid=256)
    km.train(np.ascontiguousarray(data, np.float32))
    return np.asarray(km.centroids, np.float32).reshape(k, 128)


def training_sample(
    samples: Iterable[SceneFeatures],
    *,
    per_image: int | None = None,
    max_descriptors: int = TRAIN_MAX_DESCRIPTORS,
    seed: int = 7,
) -> F32:
    """A seeded sample of unit descriptors: at most ``per_image`` of each image, at most
    ``max_descriptors`` in all.

    Taking every descriptor of 2,000 images of 2,000 keypoints first held 4 million float32
    descriptors (2 GB, twice while concatenating) to keep 800,000 of them; capping each image as
    it streams by keeps the peak to the sample itself. ``per_image`` defaults to
    :data:`TRAIN_PER_IMAGE`, or to an even share of ``max_descriptors`` when ``samples`` has a
    length and that share is larger (a small collection keeps all its descriptors, and the
    vocabulary it supports)."""
    if per_image is None:
        share = max_descriptors // len(samples) if isinstance(samples, Sized) and samples else 0
        per_image = max(TRAIN_PER_IMAGE, share)
    rng = np.random.default_rng(seed)
    parts: list[F32] = []
    for s in samples:
        if len(s) == 0:
            continue
        if len(s) > per_image:
            pick = np.sort(rng.choice(len(s), per_image, replace=False))
            s = SceneFeatures(s.xy[pick], s.descriptors[pick], s.width, s.height, s.scale)
        parts.append(s.unit_descriptors())
    if not parts:
        raise NotReady("no scene features to learn a vocabulary from")
    alld = np.concatenate(parts)
    del parts
    if len(alld) > max_descriptors:
        alld = alld[np.sort(rng.choice(len(alld), max_descriptors, replace=False))]
    return np.ascontiguousarray(alld, np.float32)


def _nearest(data: F32, centres: F32, rows: int = 65_536) -> I64:
    """Nearest centre of each row, in blocks (the full distance matrix of 800,000 descriptors
    to 128 centres would be another 400 MB)."""
    norms = (centres * centres).sum(1)[None, :]
    out = np.zeros(len(data), np.int64)
    for lo in range(0, len(data), rows):
        out[lo : lo + rows] = np.argmin(norms - 2.0 * (data[lo : lo + rows] @ centres.T), axis=1)
    return out


def train_hamming_vocabulary(
    samples: Iterable[SceneFeatures],
    *,
    k1: int = DEFAULT_COARSE,
    k2: int = DEFAULT_FINE,
    per_image: int | None = None,
    max_descriptors: int = TRAIN_MAX_DESCRIPTORS,
    seed: int = 7,
) -> HammingVocabulary:
    """Learn a ``k1 x k2`` vocabulary tree (faiss k-means per level) and the signature medians
    from a capped sample of the images' descriptors (:func:`training_sample`; ``samples`` may
    be a generator, it is read once).

    Both levels shrink to what the sample supports (at least 39 descriptors per word); a cell
    with too few descriptors for ``k2`` words repeats its coarse centroid (the extra words stay
    empty), so every cell has exactly ``k2`` fine words.
    """
    import faiss

    alld = training_sample(samples, per_image=per_image, max_descriptors=max_descriptors, seed=seed)
    rng = np.random.default_rng(seed)
    threads = faiss.omp_get_max_threads()
    if len(alld) < 50_000:
        faiss.omp_set_num_threads(1)  # small jobs: thread start-up and spinning cost more
    try:
        coarse = _kmeans(alld, min(k1, max(1, len(alld) // (39 * 4))), seed)
        k1 = len(coarse)
        k2 = max(1, min(k2, len(alld) // (39 * k1)))
        cell = _nearest(alld, coarse)
        fine = np.repeat(coarse, k2, axis=0)
        for ci in range(k1):
            part = alld[cell == ci]
            if len(part) >= 2:
                got = _kmeans(part, k2, seed + ci)
                fine[ci * k2 : ci * k2 + len(got)] = got
            del part
    finally:
        faiss.omp_set_num_threads(threads)
    del cell
    q, _ = np.linalg.qr(rng.normal(size=(128, 128)))
    projection = np.ascontiguousarray(q[:BITS], np.float32)
    vocab = HammingVocabulary(coarse, fine, projection, np.zeros((k1 * k2, BITS), np.float32))
    words = np.concatenate(
        [vocab.assign(alld[lo : lo + 65_536])[:, 0] for lo in range(0, len(alld), 65_536)]
    )
    proj = alld @ projection.T
    del alld
    medians = np.tile(np.median(proj, axis=0), (vocab.k, 1)).astype(np.float32)
    order = np.argsort(words, kind="stable")
    bounds = np.searchsorted(words[order], np.arange(vocab.k + 1))
    for w in np.flatnonzero(np.diff(bounds) >= 8):  # too few samples: the collection median
        medians[w] = np.median(proj[order[bounds[w] : bounds[w + 1]]], axis=0)
    vocab.medians = medians
    return vocab


@dataclass(frozen=True)
class _Encoded:
    words: I64
    """n x m word ids (m = 1 for indexed images)."""
    signatures: U64
    """n x m signatures."""


def _encode(vocab: HammingVocabulary, features: SceneFeatures, multiple: int) -> _Encoded:
    return _encode_unit(vocab, features.unit_descriptors(), multiple)


def _encode_unit(vocab: HammingVocabulary, desc: F32, multiple: int) -> _Encoded:
    words = vocab.assign(desc, multiple)
    m = words.shape[1]
    sigs = vocab.signatures(np.repeat(desc, m, axis=0), words.ravel()).reshape(-1, m)
    return _Encoded(words, sigs)


ENCODE_BATCH = 65_536
"""Descriptors assigned at once by :meth:`HammingIndex.add_many`. The fine level of the
vocabulary tree is one matrix product per coarse cell; one image's 2,000 descriptors give each
cell ~16 rows, so a per-image loop spends its time in Python and tiny products. 65,536 rows
(32 MB as float32) give each cell ~500 and cut the assignment of an image from ~23 ms to
~7 ms of CPU on the benchmark machine."""


def _weights(h: npt.NDArray[np.int64], idf2: F32, sigma: float) -> F32:
    return np.asarray(
        idf2 * np.exp(-(h.astype(np.float32) ** 2) / np.float32(sigma**2)), np.float32
    )


@dataclass(frozen=True)
class _Votes:
    slots: I64
    """Image slots with at least one vote."""
    scores: F32
    """Their vote scores."""
    match_owner: I64
    """Per counted match (one per query descriptor and image): the image slot ..."""
    match_query: I64
    """... the query descriptor ..."""
    match_posting: I64
    """... and the posting it matched."""

    @classmethod
    def empty(cls) -> _Votes:
        z = np.zeros(0, np.int64)
        return cls(z, np.zeros(0, np.float32), z, z, z)


_RECORD = np.dtype([("word", "<i4"), ("owner", "<i4"), ("sig", "<u8"), ("xy", "<u2", (2,))])
"""One queued posting; ``owner`` counts the queued images (0 = first queued)."""
BUCKETS = 1024
"""Word ranges (16 words each at 16,384 words) a build is written in: one range's postings are in
memory at a time, so a skewed vocabulary (a few very common words) cannot blow the budget."""
SPILL_POSTINGS = 4_000_000
"""Queued postings held in memory (80 MB) before they are spilled to bucket files."""


class _Pending:
    """Images queued for the inverted file, as posting records.

    Past :data:`SPILL_POSTINGS` the records go to one temporary file per word range
    (:data:`BUCKETS`), so building an index of 100k images of 2,000 keypoints (200 million
    postings, 4 GB of records) holds one range at a time, not the lot."""

    def __init__(self, k: int, spill_dir: Path | None) -> None:
        self.k = k
        self.keys: list[int] = []
        self.counts: list[int] = []
        self.total = 0
        self._mem: list[npt.NDArray[np.void]] = []
        self._in_mem = 0
        self._spill_dir = spill_dir
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def bounds(self) -> I64:
        """First word of each bucket, and ``k``."""
        first = np.arange(self.k, dtype=np.int64) * BUCKETS // max(1, self.k)
        return np.searchsorted(first, np.arange(BUCKETS + 1)).astype(np.int64)

    def add(self, key: int, words: I64, sigs: U64, xy: npt.NDArray[np.uint16]) -> None:
        rec = np.empty(len(words), _RECORD)
        rec["word"], rec["owner"], rec["sig"], rec["xy"] = words, len(self.keys), sigs, xy
        self.keys.append(key)
        self.counts.append(len(words))
        self.total += len(words)
        self._mem.append(rec)
        self._in_mem += len(rec)
        if self._in_mem > SPILL_POSTINGS:
            self._spill()

    def _spill(self) -> None:
        if self._dir is None:
            if self._spill_dir is not None:
                self._spill_dir.mkdir(parents=True, exist_ok=True)
            self._dir = tempfile.TemporaryDirectory(prefix="vhe-build-", dir=self._spill_dir)
        rec = np.concatenate(self._mem)
        self._mem, self._in_mem = [], 0
        order = np.argsort(rec["word"], kind="stable")
        rec = rec[order]
        cut = np.searchsorted(rec["word"], self.bounds())
        for b in np.flatnonzero(np.diff(cut)):
            with (Path(self._dir.name) / f"{b}.rec").open("ab") as fh:
                fh.write(rec[cut[b] : cut[b + 1]].tobytes())

    def bucket(self, b: int) -> npt.NDArray[np.void]:
        """Queued postings of bucket ``b``'s words, in the order they were queued."""
        bounds = self.bounds()
        lo, hi = int(bounds[b]), int(bounds[b + 1])
        parts = []
        if self._dir is not None:
            path = Path(self._dir.name) / f"{b}.rec"
            if path.exists():
                parts.append(np.fromfile(path, _RECORD))
        for rec in self._mem:
            parts.append(rec[(rec["word"] >= lo) & (rec["word"] < hi)])
        return np.concatenate(parts) if parts else np.empty(0, _RECORD)

    def everything(self) -> npt.NDArray[np.void]:
        parts = [self.bucket(b) for b in range(BUCKETS)]
        return np.concatenate(parts) if parts else np.empty(0, _RECORD)

    def close(self) -> None:
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
        self._mem = []


@dataclass
class HammingIndex:
    """Inverted file of (word, signature) postings, keyed by scene-feature row id."""

    vocab: HammingVocabulary
    ht: int = DEFAULT_HT
    sigma: float = DEFAULT_SIGMA
    multiple_assignment: int = 1
    trained_on: int = 0
    keys: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    counts: npt.NDArray[np.uint32] = field(default_factory=lambda: np.zeros(0, np.uint32))
    df: npt.NDArray[np.uint32] = field(default_factory=lambda: np.zeros(0, np.uint32))
    offsets: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    owners: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    sigs: U64 = field(default_factory=lambda: np.zeros(0, np.uint64))
    xy: npt.NDArray[np.uint16] = field(default_factory=lambda: np.zeros((0, 2), np.uint16))
    """Keypoint position of each posting in 1/16 feature-image pixels (as in ``VSF1``)."""
    rerank: int = DEFAULT_RERANK
    """Best-voted images whose matches are checked for a consistent geometry (0 = votes only)."""
    spill_dir: Path | None = None
    """Where a large build spills its queued postings (a temporary folder; default: the system's)."""
    _pending: _Pending | None = field(default=None, repr=False)
    _dead: set[int] = field(default_factory=set, repr=False)
    """Slots removed from the posting arrays but not yet compacted (by :meth:`save` or a search)."""
    _source: tuple[Path, int, dict[str, int]] | None = field(default=None, repr=False)
    """(file, inode, section offsets) the posting arrays are mapped from, read by :meth:`save`."""
    _slot: dict[int, int] = field(default_factory=dict, repr=False)
    """Slot of every key, queued ones included (provisional until the next compaction)."""

    def __post_init__(self) -> None:
        k = self.vocab.k
        if self.df.size == 0:
            self.df = np.zeros(k, np.uint32)
        if self.offsets.size == 0:
            self.offsets = np.zeros(k + 1, np.int64)
        self._slot = {int(key): i for i, key in enumerate(self.keys.tolist())}

    # -- contents ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._slot)

    def key_set(self) -> set[int]:
        return set(self._slot)

    @property
    def postings(self) -> int:
        dead = int(self.counts[sorted(self._dead)].sum()) if self._dead else 0
        queued = self._pending.total if self._pending else 0
        return int(self.counts.sum(dtype=np.int64)) - dead + queued

    def add(self, key: int, features: SceneFeatures) -> None:
        """Queue one image for the inverted file (merged on the next search or save)."""
        if key in self._slot:
            raise InvalidInput(f"scene features #{key} are already indexed")
        enc = _encode(self.vocab, features, 1)
        if self._pending is None:
            self._pending = _Pending(self.vocab.k, self.spill_dir)
        self._slot[int(key)] = len(self.keys) + len(self._pending)
        self._pending.add(int(key), enc.words[:, 0], enc.signatures[:, 0], features.fixed_xy())

    def add_many(self, items: Iterable[tuple[int, SceneFeatures]]) -> int:
        """Queue many images (as :meth:`add`, same result), assigning their descriptors to
        words in batches of about :data:`ENCODE_BATCH` (see there); returns how many."""
        batch: list[tuple[int, SceneFeatures]] = []
        queued: set[int] = set()
        rows = added = 0
        for key, features in items:
            if key in self._slot or key in queued:
                raise InvalidInput(f"scene features #{key} are already indexed")
            batch.append((key, features))
            queued.add(key)
            rows += len(features)
            if rows >= ENCODE_BATCH:
                added += self._add_batch(batch)
                batch, rows, queued = [], 0, set()
        return added + self._add_batch(batch)

    def _add_batch(self, batch: list[tuple[int, SceneFeatures]]) -> int:
        if not batch:
            return 0
        units = [f.unit_descriptors() for _, f in batch]
        enc = _encode_unit(self.vocab, np.concatenate(units), 1)
        if self._pending is None:
            self._pending = _Pending(self.vocab.k, self.spill_dir)
        lo = 0
        for (key, features), unit in zip(batch, units, strict=True):
            hi = lo + len(unit)
            self._slot[int(key)] = len(self.keys) + len(self._pending)
            self._pending.add(
                int(key), enc.words[lo:hi, 0], enc.signatures[lo:hi, 0], features.fixed_xy()
            )
            lo = hi
        return len(batch)

    def remove(self, keys: set[int]) -> None:
        """Drop images (and their postings) from the index (compacted on the next save or
        search, so removing from a mapped index copies nothing)."""
        if self._pending and any(k in self._slot for k in keys):
            self._merge()  # queued additions first: their slots follow the current ones
        for key in keys:
            slot = self._slot.pop(int(key), None)
            if slot is not None:
                self._dead.add(slot)

    def _compact(self) -> None:
        """Apply queued removals to the posting arrays in memory."""
        if not self._dead:
            return
        dead = np.array(sorted(self._dead), np.int64)
        self._dead = set()
        alive = np.ones(len(self.keys), bool)
        alive[dead] = False
        remap = np.cumsum(alive) - 1
        keep = alive[self.owners]
        words = np.repeat(np.arange(self.vocab.k), np.diff(self.offsets))[keep]
        self.owners = remap[self.owners[keep]].astype(np.int32)
        self.sigs, self.xy = np.asarray(self.sigs[keep]), np.asarray(self.xy[keep])
        self.keys, self.counts = self.keys[alive], self.counts[alive]
        self.offsets = np.searchsorted(words, np.arange(self.vocab.k + 1)).astype(np.int64)
        self.df = self._document_frequency(words, self.owners)
        self._slot = {int(key): i for i, key in enumerate(self.keys.tolist())}
        self._source = None

    def _document_frequency(
        self, words: I64, owners: npt.NDArray[np.int32]
    ) -> npt.NDArray[np.uint32]:
        if len(words) == 0:
            return np.zeros(self.vocab.k, np.uint32)
        pair = np.unique(words.astype(np.int64) * max(1, len(self.keys)) + owners)
        return np.bincount(pair // max(1, len(self.keys)), minlength=self.vocab.k).astype(np.uint32)

    def _merge(self) -> None:
        """Fold queued removals and additions into the posting arrays, in memory (a search
        before the next save; :meth:`save` streams instead)."""
        self._compact()
        pend = self._pending
        if not pend:
            return
        base = len(self.keys)
        rec = pend.everything()
        new_words = rec["word"].astype(np.int64)
        new_owner = (base + rec["owner"]).astype(np.int32)
        if len(rec):
            npend = len(pend)
            pair = np.unique(new_words * npend + rec["owner"])
            self.df = self.df + np.bincount(pair // npend, minlength=self.vocab.k).astype(np.uint32)
        old_words = np.repeat(np.arange(self.vocab.k), np.diff(self.offsets))
        words = np.concatenate([old_words, new_words])
        order = np.argsort(words, kind="stable")
        self.owners = np.concatenate([self.owners, new_owner])[order]
        self.sigs = np.concatenate([self.sigs, rec["sig"]])[order]
        self.xy = np.concatenate([self.xy, rec["xy"]])[order]
        self.offsets = np.searchsorted(words[order], np.arange(self.vocab.k + 1)).astype(np.int64)
        self.keys = np.concatenate([self.keys, np.asarray(pend.keys, np.int64)])
        self.counts = np.concatenate([self.counts, np.asarray(pend.counts, np.uint32)])
        self._slot = {int(key): i for i, key in enumerate(self.keys.tolist())}
        self._source = None
        pend.close()
        self._pending = None

    # -- search --------------------------------------------------------------------------------
    def idf2(self) -> F32:
        """Squared smoothed inverse document frequency, ``log(1 + n / df)``, of every word.

        The smoothing keeps a word held by every image worth something: in a small collection
        all words are, and plain ``log(n / df)`` would silence every vote."""
        n = max(1, len(self.keys))
        idf = np.log1p(n / np.maximum(self.df.astype(np.float64), 1.0))
        return np.asarray(idf**2, np.float32)

    def _votes(self, features: SceneFeatures) -> _Votes:
        self._merge()
        enc = _encode(self.vocab, features, self.multiple_assignment)
        qwords, qsigs = enc.words.ravel(), enc.signatures.ravel()
        m = enc.words.shape[1]
        qdesc = np.repeat(np.arange(enc.words.shape[0]), m)
        lengths = self.offsets[qwords + 1] - self.offsets[qwords]
        total = int(lengths.sum())
        if len(self.keys) == 0 or total == 0:
            return _Votes.empty()
        # the posting lists of the query's words, VOTE_POSTINGS at a time (whole query
        # descriptors per block: its votes depend on all of a descriptor's matches); the blocks'
        # votes are concatenated in the order one pass would give, so the sums are the same
        per_desc = np.cumsum(lengths.reshape(-1, m).sum(axis=1))
        cuts = np.unique(np.searchsorted(per_desc, np.arange(VOTE_POSTINGS, total, VOTE_POSTINGS)))
        edges = [0, *(int(c) + 1 for c in cuts if c + 1 < len(per_desc)), len(per_desc)]
        idf2 = self.idf2()
        parts = [
            self._block_votes(qwords[lo * m : hi * m], qsigs[lo * m : hi * m],
                              qdesc[lo * m : hi * m], idf2)
            for lo, hi in pairwise(edges)
            if hi > lo
        ]  # fmt: skip
        owner, qd, run, wb = (np.concatenate([p[i] for p in parts]) for i in range(4))
        if len(owner) == 0:
            return _Votes.empty()
        total_w = np.bincount(owner, weights=wb, minlength=len(self.keys))
        score = total_w / np.sqrt(np.maximum(self.counts.astype(np.float64), 1.0))
        slots = np.flatnonzero(total_w > 0)
        return _Votes(slots.astype(np.int64), score[slots].astype(np.float32), owner, qd, run)

    def _block_votes(
        self, qwords: I64, qsigs: U64, qdesc: I64, idf2: F32
    ) -> tuple[I64, I64, I64, npt.NDArray[np.float64]]:
        """(image slot, query descriptor, posting, weight) of each counted vote of a block."""
        starts = self.offsets[qwords]
        lengths = self.offsets[qwords + 1] - starts
        total = int(lengths.sum())
        z = np.zeros(0, np.int64)
        if total == 0:
            return z, z, z, np.zeros(0)
        # positions of every posting of every query word, without a Python loop
        run = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
        which = np.repeat(np.arange(len(qwords)), lengths)
        h = np.bitwise_count(self.sigs[run] ^ qsigs[which]).astype(np.int64)
        close = h <= self.ht
        run, which, h = run[close], which[close], h[close]
        if len(run) == 0:
            return z, z, z, np.zeros(0)
        w = _weights(h, idf2[qwords[which]], self.sigma)
        owner = self.owners[run].astype(np.int64)
        # one vote per (query descriptor, image): its best match there
        pair = qdesc[which].astype(np.int64) * len(self.keys) + owner
        order = np.lexsort((-w, pair))
        first = np.ones(len(order), bool)
        first[1:] = pair[order[1:]] != pair[order[:-1]]
        best = order[first]
        # a query feature that matches in many images (a generic stripe or dot on someone's
        # clothes) says little about any of them: divide its votes by the number of images it
        # votes for (to the power SPREAD_POWER)
        qb = qdesc[which[best]].astype(np.int64)
        spread = np.bincount(qb, minlength=int(qb.max()) + 1)[qb].astype(np.float32)
        wb = w[best] / spread**SPREAD_POWER
        return owner[best], qb, run[best], wb.astype(np.float64)

    def scores(self, features: SceneFeatures) -> tuple[I64, F32]:
        """(slot, vote score) of every indexed image with at least one vote."""
        if len(features) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        v = self._votes(features)
        return v.slots, v.scores

    def search(self, features: SceneFeatures, top: int = 50) -> list[tuple[int, float]]:
        """The ``top`` most promising keys as (key, score), best first.

        Without re-ranking (``rerank = 0``) the score is the vote score. Otherwise the
        ``max(rerank, top)`` best-voted images are re-ranked by how many of their matches one
        similarity transform explains (RANSAC over the matched keypoint positions, an
        inexpensive stand-in for the full check of :mod:`vigil.places.verify`); the score is
        then that count plus the vote score divided by the best vote score (so 37.8 means 37
        consistent matches, and votes break ties).
        """
        if len(features) == 0:
            return []
        v = self._votes(features)
        if len(v.slots) == 0:
            return []
        pool = max(top, self.rerank) if self.rerank > 0 else top
        want = min(pool, len(v.slots))
        part = (
            np.argpartition(-v.scores, want - 1)[:want]
            if want < len(v.slots)
            else np.arange(len(v.slots))
        )
        order = part[np.lexsort((self.keys[v.slots[part]], -v.scores[part]))]
        if self.rerank <= 0:
            return [(int(self.keys[v.slots[i]]), float(v.scores[i])) for i in order[:top]]
        consistent = self._consistent(features, v, v.slots[order])
        best_vote = float(v.scores[order[0]]) or 1.0
        ranked = [
            (int(self.keys[v.slots[i]]), float(n) + float(v.scores[i]) / (best_vote * 1.0001))
            for i, n in zip(order, consistent, strict=True)
        ]
        ranked.sort(key=lambda ks: (-ks[1], ks[0]))
        return ranked[:top]

    def _consistent(self, features: SceneFeatures, v: _Votes, slots: I64) -> list[int]:
        """Matches of each of ``slots`` explained by one similarity transform (RANSAC)."""
        import cv2

        wanted = np.zeros(len(self.keys), bool)
        wanted[slots] = True
        keep = wanted[v.match_owner]
        owner, qd, posting = v.match_owner[keep], v.match_query[keep], v.match_posting[keep]
        order = np.argsort(owner, kind="stable")
        owner, qd, posting = owner[order], qd[order], posting[order]
        bounds = np.searchsorted(owner, slots), np.searchsorted(owner, slots, side="right")
        src_all = np.ascontiguousarray(features.xy[qd], np.float32)
        dst_all = self.xy[posting].astype(np.float32) / np.float32(FIXED_POINT)
        out: list[int] = []
        for lo, hi in zip(bounds[0].tolist(), bounds[1].tolist(), strict=True):
            if hi - lo < MIN_CONSISTENT:
                out.append(0)
                continue
            _, mask = cv2.estimateAffinePartial2D(
                src_all[lo:hi], dst_all[lo:hi], method=cv2.RANSAC,
                ransacReprojThreshold=RERANK_THRESHOLD, maxIters=RERANK_ITERATIONS,
                confidence=0.99, refineIters=0,
            )  # fmt: skip
            out.append(0 if mask is None else int(mask.sum()))
        return out

    # -- file format ---------------------------------------------------------------------------
    def _layout(self, n: int, p: int) -> list[tuple[str, int, str]]:
        k1, k = self.vocab.k1, self.vocab.k
        return [
            ("coarse", k1 * 128, "<f4"), ("centroids", k * 128, "<f4"), ("projection", BITS * 128, "<f4"),
            ("medians", k * BITS, "<f4"), ("keys", n, "<i8"), ("counts", n, "<u4"),
            ("df", k, "<u4"), ("offsets", k + 1, "<i8"), ("owners", p, "<i4"), ("sigs", p, "<u8"), ("xy", 2 * p, "<u2"),
        ]  # fmt: skip

    def _base_postings(
        self, fh: BinaryIO | None, lo: int, hi: int
    ) -> tuple[npt.NDArray[np.int32], U64, npt.NDArray[np.uint16]]:
        """Postings ``lo:hi`` of the posting arrays; read from the file they are mapped from
        when there is one (plain reads leave no mapped pages behind in this process)."""
        if fh is None or self._source is None:
            return (np.asarray(self.owners[lo:hi]), np.asarray(self.sigs[lo:hi]),
                    np.asarray(self.xy[lo:hi]).reshape(-1, 2))  # fmt: skip
        at = self._source[2]
        out = []
        for name, dt, width in (("owners", "<i4", 1), ("sigs", "<u8", 1), ("xy", "<u2", 2)):
            size = np.dtype(dt).itemsize * width
            fh.seek(at[name] + lo * size)
            out.append(np.fromfile(fh, dt, count=(hi - lo) * width))
        return out[0].astype(np.int32), out[1].astype(np.uint64), out[2].reshape(-1, 2)

    def _source_file(self) -> BinaryIO | None:
        """The mapped file, opened again, if it is still the one mapped (same inode)."""
        if self._source is None:
            return None
        try:
            fh = self._source[0].open("rb")
        except OSError:
            return None
        if os.fstat(fh.fileno()).st_ino != self._source[1]:
            fh.close()
            return None
        return fh

    def save(self, path: Path) -> None:
        """Write the ``VHE2`` file atomically, one word range (:data:`BUCKETS`) at a time, then
        map it: the postings of the old file and of the queued images are never all in memory.

        Per range: the kept postings of the current arrays, then the queued ones in the order
        they were queued (a stable sort by word), which is the order of an in-memory merge, so
        a saved and reloaded index searches exactly as the in-memory one."""
        k = self.vocab.k
        pend = self._pending or _Pending(k, None)
        alive = np.ones(len(self.keys), bool)
        alive[sorted(self._dead)] = False
        n_alive = int(alive.sum())
        remap = (np.cumsum(alive) - 1).astype(np.int32)
        keys = np.concatenate([self.keys[alive], np.asarray(pend.keys, np.int64)])
        counts = np.concatenate([self.counts[alive], np.asarray(pend.counts, np.uint32)])
        n, p = len(keys), int(counts.sum(dtype=np.int64))
        layout = self._layout(n, p)
        at = indexfile.section_offsets([(nm, c * np.dtype(dt).itemsize) for nm, c, dt in layout])
        cursor = {nm: at[nm] for nm, _, _ in layout}
        sha = {nm: hashlib.sha256() for nm, _, _ in layout}
        offsets = np.zeros(k + 1, np.int64)
        df = np.zeros(k, np.uint32)
        tmp = path.with_name(path.name + ".tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        src = self._source_file()
        try:
            with tmp.open("wb") as fh:

                def put(name: str, arr: npt.ArrayLike, dt: str) -> None:
                    data = np.ascontiguousarray(arr, dt).tobytes()
                    fh.seek(cursor[name])
                    fh.write(data)
                    cursor[name] += len(data)
                    sha[name].update(data)

                v = self.vocab
                for name, arr in (("coarse", v.coarse), ("centroids", v.centroids),
                                  ("projection", v.projection), ("medians", v.medians)):  # fmt: skip
                    put(name, arr, "<f4")
                put("keys", keys, "<i8")
                put("counts", counts, "<u4")
                bounds = pend.bounds()
                for b in range(BUCKETS):
                    lo, hi = int(bounds[b]), int(bounds[b + 1])
                    if lo == hi:
                        continue
                    s, e = int(self.offsets[lo]), int(self.offsets[hi])
                    own, sig, xy = self._base_postings(src, s, e)
                    keep = alive[own]
                    base_words = np.repeat(np.arange(lo, hi), np.diff(self.offsets[lo : hi + 1]))
                    rec = pend.bucket(b)
                    words = np.concatenate([base_words[keep], rec["word"].astype(np.int64)])
                    order = np.argsort(words, kind="stable")
                    words = words[order] - lo
                    owners = np.concatenate([remap[own[keep]], n_alive + rec["owner"]])[order]
                    put("owners", owners, "<i4")
                    put("sigs", np.concatenate([sig[keep], rec["sig"]])[order], "<u8")
                    put("xy", np.concatenate([xy[keep], rec["xy"]])[order], "<u2")
                    offsets[lo + 1 : hi + 1] = np.bincount(words, minlength=hi - lo)
                    if len(words):
                        pair = np.unique(words * n + owners)
                        df[lo:hi] = np.bincount(pair // n, minlength=hi - lo)
                put("df", df, "<u4")
                put("offsets", np.cumsum(offsets), "<i8")
                fh.truncate(at[""])
                header = {
                    "version": VERSION, "k1": v.k1, "k2": v.k2, "n": n, "p": p, "ht": self.ht,
                    "sigma": self.sigma, "multiple_assignment": self.multiple_assignment,
                    "trained_on": self.trained_on, "size": at[""],
                    "sections": {nm: {"offset": at[nm], "sha256": sha[nm].hexdigest()}
                                 for nm, _, _ in layout},
                }  # fmt: skip
                indexfile.write_header(fh, MAGIC, header)
                fh.flush()
                os.fsync(fh.fileno())
        finally:
            if src is not None:
                src.close()
        os.replace(tmp, path)
        pend.close()
        self._attach(HammingIndex.load(path, verify=False))

    def _attach(self, other: HammingIndex) -> None:
        """Take ``other``'s (mapped) arrays in place of this index's."""
        self.keys, self.counts, self.df, self.offsets = (
            other.keys,
            other.counts,
            other.df,
            other.offsets,
        )
        self.owners, self.sigs, self.xy = other.owners, other.sigs, other.xy
        self._source, self._pending, self._dead = other._source, None, set()
        self._slot = dict(other._slot)  # fmt: skip

    @classmethod
    def load(cls, path: Path, *, verify: bool = True) -> HammingIndex:
        """Map a ``VHE2`` file read-only: the postings stay in the file (and the page cache,
        shared by every process that opens it); only the vocabulary and the per-image and
        per-word arrays are read. ``verify`` checks every section's SHA-256 (and that every
        posting names an indexed image) with plain reads first.

        Raises :class:`NotReady` (no file), :class:`WrongFormat` (another magic, e.g. a
        ``VHE1`` file of an older version: rebuild it) or :class:`DamagedInput`."""
        header = indexfile.read_header(path, MAGIC)
        try:
            k1, k2, n, p = (int(header[x]) for x in ("k1", "k2", "n", "p"))
            k = k1 * k2
            ht, sigma, ma = (
                int(header["ht"]),
                float(header["sigma"]),
                int(header["multiple_assignment"]),
            )
            sections = dict(header["sections"])
            size = int(header["size"])
        except (ValueError, KeyError, TypeError) as exc:
            raise DamagedInput(f"{path}: bad VHE2 header: {exc}") from exc
        if path.stat().st_size != size:
            raise DamagedInput(f"{path}: VHE2 file is truncated or has trailing bytes")
        if header.get("version") != VERSION:
            raise InvalidInput(f"{path}: unsupported VHE2 version {header.get('version')}")
        if min(k1, k2, n + 1, p + 1) < 1:
            raise DamagedInput(f"{path}: bad VHE2 header: negative sizes")
        vocab = HammingVocabulary(np.zeros((k1, 128), np.float32), np.zeros((k, 128), np.float32),
                                  np.zeros((BITS, 128), np.float32), np.zeros((k, BITS), np.float32))  # fmt: skip
        probe = cls(vocab)
        arrays = indexfile.checked_sections(
            path, MAGIC, sections, probe._layout(n, p), verify=verify
        )
        offsets = np.array(arrays["offsets"], np.int64)
        owners = arrays["owners"]
        if offsets[0] != 0 or offsets[-1] != p or np.any(np.diff(offsets) < 0):
            raise DamagedInput(f"{path}: VHE2 posting lists are inconsistent")
        if verify and p:
            at = int(sections["owners"]["offset"])
            with path.open("rb") as fh:
                for lo in range(0, p, 1 << 24):
                    fh.seek(at + 4 * lo)
                    part = np.fromfile(fh, "<i4", count=min(1 << 24, p - lo))
                    if part.min() < 0 or part.max() >= n:
                        raise DamagedInput(f"{path}: VHE2 posting lists are inconsistent")
        vocab = HammingVocabulary(
            np.array(arrays["coarse"], np.float32).reshape(k1, 128),
            np.array(arrays["centroids"], np.float32).reshape(k, 128),
            np.array(arrays["projection"], np.float32).reshape(BITS, 128),
            np.array(arrays["medians"], np.float32).reshape(k, BITS),
        )
        index = cls(
            vocab, ht=ht, sigma=sigma, multiple_assignment=ma,
            trained_on=int(header.get("trained_on", 0)),
            keys=np.array(arrays["keys"], np.int64), counts=np.array(arrays["counts"], np.uint32),
            df=np.array(arrays["df"], np.uint32), offsets=offsets, owners=owners,
            sigs=arrays["sigs"], xy=arrays["xy"].reshape(p, 2),
        )  # fmt: skip
        index._source = (
            path,
            os.stat(path).st_ino,
            {nm: int(sections[nm]["offset"]) for nm in ("owners", "sigs", "xy")},
        )
        return index


def brute_force_scores(
    index: HammingIndex, query: SceneFeatures, collection: dict[int, SceneFeatures]
) -> dict[int, float]:
    """The index's scores computed the slow way: the query against each image in turn.

    The oracle for the inverted file's tests; ``collection`` must hold exactly what is indexed.
    """
    index._merge()
    idf2 = index.idf2()
    q = _encode(index.vocab, query, index.multiple_assignment)
    keys = list(collection)
    best = np.zeros((q.words.shape[0], len(keys)))
    for j, key in enumerate(keys):
        db = _encode(index.vocab, collection[key], 1)
        for i in range(q.words.shape[0]):
            for word, sig in zip(q.words[i], q.signatures[i], strict=True):
                same = db.words[:, 0] == word
                if not same.any():
                    continue
                h = np.bitwise_count(db.signatures[same, 0] ^ sig).astype(np.int64)
                h = h[h <= index.ht]
                if len(h):
                    weight = float(_weights(h, idf2[np.full(len(h), word)], index.sigma).max())
                    best[i, j] = max(best[i, j], weight)
    spread = (best > 0).sum(axis=1)
    out: dict[int, float] = {}
    for j, key in enumerate(keys):
        voted = best[:, j] > 0
        total = float((best[voted, j] / spread[voted].astype(np.float64) ** SPREAD_POWER).sum())
        if total > 0:
            out[key] = total / float(np.sqrt(max(len(collection[key]), 1)))
    return out
