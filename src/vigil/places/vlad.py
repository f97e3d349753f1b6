"""Global descriptors for shortlisting: VLAD over RootSIFT, PCA-whitened, in a documented file.

VLAD (Jégou et al. 2010) sums, per visual word of a k-means vocabulary, the residuals of the
descriptors assigned to it; each word's block is L2-normalised ("intra-normalisation",
Arandjelović & Zisserman 2013), the whole vector is L2-normalised, projected by a PCA-whitening
learnt on the indexed collection and normalised again. Similarity is the dot product.

Optionally (``regions=True``) an indexed image also gets *region* vectors (VLAD of the keypoints
inside overlapping 0.6 x 0.6 windows at the four corners and the centre), for queries that are
crops; an image's score is then the best of its vectors. On the generated benchmark at 1k images
regions did not help (shortlist recall@50 0.925 with, 0.933 without) and cost 6x the vectors,
so Vigil's index is built without them.

Index file (``VGI1``, little-endian, never pickle)::

    b"VGI1" | uint32 L | L bytes of UTF-8 JSON header | arrays in this order:
      centroids  float32 k x 128
      pca_mean   float32 k*128           (only if header["pca_dim"] > 0)
      pca_matrix float32 pca_dim x k*128 (only if header["pca_dim"] > 0)
      keys       int64   n               (the scene-feature row id each vector belongs to)
      vectors    float16 n x dim         (unit vectors)

The header holds ``k``, ``pca_dim``, ``dim``, ``n``, ``regions``, ``trained_on`` and ``version``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vigil.errors import DamagedInput, InvalidInput, NotReady
from vigil.places import indexfile
from vigil.places.features import SceneFeatures

MAGIC = b"VGI1"
VERSION = 1
REGIONS: tuple[tuple[float, float, float, float], ...] = (
    (0.0, 0.0, 0.6, 0.6),
    (0.4, 0.0, 1.0, 0.6),
    (0.0, 0.4, 0.6, 1.0),
    (0.4, 0.4, 1.0, 1.0),
    (0.2, 0.2, 0.8, 0.8),
)
"""Region windows (x0, y0, x1, y1) as fractions of the feature image."""
MIN_REGION_KEYPOINTS = 20

F32 = npt.NDArray[np.float32]


def _unit_rows(x: F32) -> F32:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    n[n == 0] = 1.0
    return np.asarray(x / n, np.float32)


def root_descriptors(features: SceneFeatures) -> F32:
    """RootSIFT descriptors of ``features`` as float32 unit vectors."""
    return features.unit_descriptors()


@dataclass
class Vocabulary:
    """Visual words plus the PCA-whitening learnt on the indexed collection."""

    centroids: F32
    pca_mean: F32 | None = None
    pca_matrix: F32 | None = None

    @property
    def k(self) -> int:
        return int(self.centroids.shape[0])

    @property
    def dim(self) -> int:
        return int(self.pca_matrix.shape[0]) if self.pca_matrix is not None else self.k * 128

    def raw_vlad(self, desc: F32) -> F32:
        """Intra-normalised, L2-normalised VLAD (k*128) of unit descriptors ``desc``."""
        k = self.k
        out = np.zeros((k, 128), np.float32)
        if len(desc) == 0:
            return out.ravel()
        c = self.centroids
        d2 = (desc * desc).sum(1, keepdims=True) - 2 * desc @ c.T + (c * c).sum(1)[None, :]
        assign = np.argmin(d2, axis=1)
        np.add.at(out, assign, desc - c[assign])
        out = _unit_rows(out)
        return np.asarray(_unit_rows(out.ravel()[None, :])[0], np.float32)

    def project(self, raw: F32) -> F32:
        """Apply the PCA-whitening (if learnt) and L2-normalise; works on one row or many."""
        x = raw if raw.ndim == 2 else raw[None, :]
        if self.pca_matrix is not None and self.pca_mean is not None:
            x = np.asarray((x - self.pca_mean) @ self.pca_matrix.T, np.float32)
        x = _unit_rows(np.asarray(x, np.float32))
        return x if raw.ndim == 2 else x[0]

    def encode(self, features: SceneFeatures, regions: bool = False) -> F32:
        """Global vector(s) of ``features``: one row, or full frame plus region rows."""
        desc = features.unit_descriptors()
        rows = [self.raw_vlad(desc)]
        if regions and len(features) > 0:
            w, h = float(features.width), float(features.height)
            x, y = features.xy[:, 0] / w, features.xy[:, 1] / h
            for x0, y0, x1, y1 in REGIONS:
                inside = (x >= x0) & (x < x1) & (y >= y0) & (y < y1)
                if int(inside.sum()) >= MIN_REGION_KEYPOINTS:
                    rows.append(self.raw_vlad(desc[inside]))
        return self.project(np.stack(rows))


def train_vocabulary(
    samples: list[SceneFeatures],
    *,
    k: int = 128,
    pca_dim: int = 256,
    max_descriptors: int = 200_000,
    seed: int = 7,
) -> Vocabulary:
    """Learn visual words (k-means, faiss) and a PCA-whitening from a sample of images.

    The PCA keeps at most half as many dimensions as there are sample images (and at most
    ``pca_dim``); below 64 sample images no PCA is learnt and the raw VLAD (k*128 dims) is kept.
    """
    import faiss

    rng = np.random.default_rng(seed)
    descs = [s.unit_descriptors() for s in samples if len(s) > 0]
    if not descs:
        raise NotReady("no scene features to learn a vocabulary from")
    alld = np.concatenate(descs)
    if len(alld) > max_descriptors:
        alld = alld[rng.choice(len(alld), max_descriptors, replace=False)]
    k = max(1, min(k, len(alld) // 39))  # faiss wants >= 39 points per centroid
    threads = faiss.omp_get_max_threads()
    if len(alld) < 50_000:
        faiss.omp_set_num_threads(1)  # small jobs: thread start-up and spinning cost more
    try:
        km = faiss.Kmeans(128, k, niter=20, seed=seed, verbose=False, spherical=False)
        km.train(np.ascontiguousarray(alld, np.float32))
    finally:
        faiss.omp_set_num_threads(threads)
    vocab = Vocabulary(np.asarray(km.centroids, np.float32).reshape(k, 128))
    pca_dim = min(pca_dim, len(samples) // 2)
    if pca_dim >= 32:
        raw = np.stack([vocab.raw_vlad(s.unit_descriptors()) for s in samples])
        mean = raw.mean(axis=0)
        _, s, vt = np.linalg.svd(raw - mean, full_matrices=False)
        eig = (s[:pca_dim] ** 2) / max(1, len(raw) - 1)
        eig = eig + 0.1 * float(eig.mean())
        vocab.pca_mean = mean.astype(np.float32)
        vocab.pca_matrix = (vt[:pca_dim] / np.sqrt(eig)[:, None]).astype(np.float32)
    return vocab


@dataclass
class GlobalIndex:
    """Vectors of indexed images, keyed by scene-feature row id, searchable by dot product."""

    vocab: Vocabulary
    regions: bool = True
    keys: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    vectors: F32 = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    trained_on: int = 0
    """How many images the vocabulary and PCA were learnt from."""

    def __post_init__(self) -> None:
        if self.vectors.size == 0:
            self.vectors = np.zeros((0, self.vocab.dim), np.float32)

    def __len__(self) -> int:
        return len(set(self.keys.tolist()))

    def key_set(self) -> set[int]:
        return set(self.keys.tolist())

    def add(self, key: int, features: SceneFeatures) -> None:
        """Encode and add one image (full frame plus regions when enabled)."""
        self.add_vectors(key, self.vocab.encode(features, regions=self.regions))

    def add_vectors(self, key: int, rows: F32) -> None:
        self.keys = np.concatenate([self.keys, np.full(len(rows), key, np.int64)])
        self.vectors = np.concatenate([self.vectors, rows.astype(np.float32)])

    def remove(self, keys: set[int]) -> None:
        keep = ~np.isin(self.keys, np.fromiter(keys, np.int64, len(keys)))
        self.keys, self.vectors = self.keys[keep], self.vectors[keep]

    def search(self, features: SceneFeatures, top: int = 50) -> list[tuple[int, float]]:
        """The ``top`` keys most similar to ``features`` as (key, similarity), best first."""
        if len(self.keys) == 0:
            return []
        q = self.vocab.encode(features, regions=False)[0]
        return self.search_vector(q, top)

    def search_vector(self, q: F32, top: int = 50) -> list[tuple[int, float]]:
        sims = self.vectors @ q.astype(np.float32)
        # best vector per key: sort descending and keep first occurrence of each key
        want = min(len(sims), top * (len(REGIONS) + 1) if self.regions else top)
        part = np.argpartition(-sims, want - 1)[:want] if want < len(sims) else np.arange(len(sims))
        order = part[np.argsort(-sims[part])]
        out: list[tuple[int, float]] = []
        seen: set[int] = set()
        for i in order:
            key = int(self.keys[i])
            if key in seen:
                continue
            seen.add(key)
            out.append((key, float(sims[i])))
            if len(out) >= top:
                break
        return out

    # -- file format -------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the ``VGI1`` file atomically."""
        pca_dim = 0 if self.vocab.pca_matrix is None else int(self.vocab.pca_matrix.shape[0])
        header = {
            "version": VERSION,
            "k": self.vocab.k,
            "pca_dim": pca_dim,
            "dim": self.vocab.dim,
            "n": len(self.keys),
            "regions": self.regions,
            "trained_on": self.trained_on,
        }
        parts: list[tuple[npt.ArrayLike, str]] = [(self.vocab.centroids, "<f4")]
        if pca_dim and self.vocab.pca_mean is not None and self.vocab.pca_matrix is not None:
            parts += [(self.vocab.pca_mean, "<f4"), (self.vocab.pca_matrix, "<f4")]
        parts += [(self.keys, "<i8"), (self.vectors, "<f2")]
        indexfile.write(path, MAGIC, header, parts)

    @classmethod
    def load(cls, path: Path) -> GlobalIndex:
        """Read a ``VGI1`` file; raise :class:`WrongFormat` / :class:`DamagedInput`."""
        header, data, offset = indexfile.read(path, MAGIC)
        try:
            k, pca_dim, dim, n = (int(header[x]) for x in ("k", "pca_dim", "dim", "n"))
            regions = bool(header["regions"])
        except (ValueError, KeyError, TypeError) as exc:
            raise DamagedInput(f"{path}: bad VGI1 header: {exc}") from exc
        if header.get("version") != VERSION:
            raise InvalidInput(f"{path}: unsupported VGI1 version {header.get('version')}")
        raw_dim = k * 128
        layout = [("centroids", k * 128, "<f4")]
        if pca_dim:
            layout += [("pca_mean", raw_dim, "<f4"), ("pca_matrix", pca_dim * raw_dim, "<f4")]
        layout += [("keys", n, "<i8"), ("vectors", n * dim, "<f2")]
        arr = indexfile.arrays(path, MAGIC, data, offset, layout)
        vocab = Vocabulary(arr["centroids"].reshape(k, 128).astype(np.float32))
        if pca_dim:
            vocab.pca_mean = arr["pca_mean"].astype(np.float32)
            vocab.pca_matrix = arr["pca_matrix"].reshape(pca_dim, raw_dim).astype(np.float32)
        keys = arr["keys"].astype(np.int64)
        vectors = arr["vectors"].reshape(n, dim).astype(np.float32)
        return cls(vocab=vocab, regions=regions, keys=keys, vectors=vectors,
                   trained_on=int(header.get("trained_on", 0)))  # fmt: skip
