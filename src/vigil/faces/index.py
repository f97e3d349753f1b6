"""Vector index over face embeddings (faiss), with a brute-force twin as its test oracle.

One index per embedder model (vectors of different models are never compared). Exact search
(``IndexFlatL2``) is used up to :data:`IVF_FROM` vectors; above that an inverted-file index
(``IndexIVFFlat``, ``nlist`` ~ 4·sqrt(n), trained on a sample, 64 lists probed) answers in
milliseconds at a million faces (figures in docs/faces.md). The database is the truth: the
index file under ``<data>/indexes/`` is a cache, rebuilt when missing or unreadable and
extended with vectors added since it was written. Files are faiss's own format plus a JSON
sidecar; no pickle.
"""

from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.errors import BackendError, InvalidInput

IVF_FROM = 200_000
"""Below this many vectors the index is exact (flat); from here on IVF."""


@dataclass(frozen=True)
class Hit:
    """One neighbour: the embedding id and its Euclidean distance."""

    embedding_id: int
    distance: float


def brute_force(
    ids: npt.NDArray[np.int64],
    vectors: npt.NDArray[np.float32],
    queries: npt.NDArray[np.float32],
    k: int,
) -> list[list[Hit]]:
    """Exact k nearest neighbours by NumPy (ties broken by the smaller id): the oracle."""
    out: list[list[Hit]] = []
    if len(ids) == 0:
        return [[] for _ in range(len(queries))]
    x = np.asarray(vectors, dtype=np.float64)
    for q in np.asarray(queries, dtype=np.float64):
        d = np.sqrt(((x - q) ** 2).sum(axis=1))
        order = np.lexsort((ids, d))[:k]
        out.append([Hit(int(ids[i]), float(d[i])) for i in order])
    return out


class FaceIndex:
    """faiss index mapping embedding ids to vectors of one model."""

    def __init__(self, dim: int, *, nprobe: int = 64) -> None:
        import faiss

        if dim <= 0:
            raise InvalidInput("index dimension must be positive")
        self.dim = dim
        self.nprobe = nprobe
        self.max_id = 0
        self._index: Any = faiss.IndexIDMap2(faiss.IndexFlatL2(dim))

    @property
    def kind(self) -> str:
        """``flat`` (exact) or ``ivf``."""
        import faiss

        inner = faiss.downcast_index(self._index.index)
        return "ivf" if isinstance(inner, faiss.IndexIVF) else "flat"

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @classmethod
    def build(
        cls,
        ids: npt.NDArray[np.int64],
        vectors: npt.NDArray[np.float32],
        *,
        ivf_from: int = IVF_FROM,
        nlist: int | None = None,
        nprobe: int = 64,
    ) -> FaceIndex:
        """A new index over ``vectors`` (flat below ``ivf_from`` vectors, else IVF)."""
        import faiss

        x = np.ascontiguousarray(vectors, dtype=np.float32)
        if x.ndim != 2 or len(x) != len(ids):
            raise InvalidInput("vectors must be (n, dim) with one id each")
        index = cls(x.shape[1], nprobe=nprobe)
        if len(x) >= ivf_from:
            lists = nlist or max(16, int(4 * math.sqrt(len(x))))
            quantizer = faiss.IndexFlatL2(x.shape[1])
            ivf = faiss.IndexIVFFlat(quantizer, x.shape[1], lists, faiss.METRIC_L2)
            rng = np.random.default_rng(0)
            sample = x[rng.choice(len(x), size=min(len(x), lists * 64), replace=False)]
            ivf.train(sample)
            ivf.nprobe = nprobe
            index._index = faiss.IndexIDMap2(ivf)
        index.add(ids, x)
        return index

    def add(self, ids: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32]) -> None:
        """Add vectors with their embedding ids (ids must be new)."""
        if len(ids) == 0:
            return
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        if x.shape[1] != self.dim:
            raise InvalidInput(f"vector dimension {x.shape[1]} != index dimension {self.dim}")
        self._index.add_with_ids(x, np.ascontiguousarray(ids, dtype=np.int64))
        self.max_id = max(self.max_id, int(np.max(ids)))

    def search(self, queries: npt.NDArray[np.float32], k: int) -> list[list[Hit]]:
        """The k nearest stored vectors of each query, closest first (Euclidean distance)."""
        import faiss

        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if len(self) == 0 or len(q) == 0:
            return [[] for _ in range(len(q))]
        if q.shape[1] != self.dim:
            raise InvalidInput(f"query dimension {q.shape[1]} != index dimension {self.dim}")
        inner = faiss.downcast_index(self._index.index)
        if isinstance(inner, faiss.IndexIVF):
            inner.nprobe = self.nprobe
        kk = min(k, len(self))
        dist2, ids = self._index.search(q, kk)
        out = []
        for row_d, row_i in zip(dist2, ids, strict=True):
            hits = [
                Hit(int(i), float(math.sqrt(max(0.0, float(d)))))
                for d, i in zip(row_d, row_i, strict=True)
                if i >= 0
            ]
            out.append(hits)
        return out

    def save(self, path: Path, *, model_id: int) -> None:
        """Write the index and its sidecar (model id, highest embedding id, count)."""
        import faiss

        path.parent.mkdir(parents=True, exist_ok=True)
        tag = f".{os.getpid()}.{threading.get_ident()}.tmp"
        tmp = path.with_name(path.name + tag)
        faiss.write_index(self._index, str(tmp))
        meta = {"model_id": model_id, "dim": self.dim, "max_id": self.max_id, "count": len(self)}
        tmp_meta = path.with_name(path.name + ".json" + tag)
        tmp_meta.write_text(json.dumps(meta), encoding="utf-8")
        # two renames: a reader may briefly see a new index with the old sidecar; load() then
        # finds the counts disagree and the caller rebuilds from the database
        tmp.replace(path)
        tmp_meta.replace(path.with_suffix(".json"))

    @classmethod
    def load(cls, path: Path, *, model_id: int, nprobe: int = 64) -> FaceIndex:
        """Read an index written by :meth:`save`; :class:`BackendError` if it does not fit."""
        import faiss

        try:
            meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            raw = faiss.read_index(str(path))
        except (OSError, ValueError, RuntimeError) as exc:
            raise BackendError(f"face index {path} unreadable: {exc}") from exc
        if meta.get("model_id") != model_id or int(raw.ntotal) != int(meta.get("count", -1)):
            raise BackendError(f"face index {path} does not match its sidecar")
        index = cls(int(meta["dim"]), nprobe=nprobe)
        index._index = raw
        index.max_id = int(meta["max_id"])
        return index
