"""Within-case clustering of face vectors with investigator constraints.

Algorithm (deterministic, no random restarts):

1. Faces joined by a "same person" constraint are merged first (union-find); a "not the same
   person" constraint between two faces that "same person" links join is a contradiction and is
   refused when the constraint is added (:func:`check_constraints`).
2. Candidate edges are each face's ``k`` nearest neighbours (exact faiss search) closer than the
   threshold, processed from the closest up.
3. An edge merges its two clusters only if (a) no "not the same person" constraint joins them and
   (b) the root-mean-square distance over *all* cross pairs of the two clusters is at most the
   threshold (average linkage; computed exactly from per-cluster sums, so one close pair cannot
   chain two people together the way single linkage or connected components would).

This is agglomerative average-linkage clustering restricted to the k-NN graph. Its threshold is
the same distance scale as the verification threshold (dlib descriptor: Euclidean distance).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vigil.errors import Conflict, InvalidInput

SAME = "same"
DIFFERENT = "different"


@dataclass(frozen=True)
class Constraint:
    """Investigator feedback between two faces (indices into the vector array)."""

    a: int
    b: int
    kind: str
    """``same`` or ``different``."""


@dataclass(frozen=True)
class Clustering:
    """Cluster label per face (0..n_clusters-1, largest cluster first) and representatives."""

    labels: npt.NDArray[np.int64]
    representatives: list[int]
    """Index of the representative face of each cluster (closest to the cluster mean, ties to
    the better quality)."""

    @property
    def n_clusters(self) -> int:
        """How many clusters (singletons included)."""
        return len(self.representatives)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        keep, drop = (ra, rb) if ra < rb else (rb, ra)
        self.parent[drop] = keep
        return keep


def check_constraints(n: int, constraints: Iterable[Constraint]) -> None:
    """Raise :class:`Conflict` if "same" links join two faces declared "different"."""
    items = list(constraints)
    uf = _UnionFind(n)
    for c in items:
        if not (0 <= c.a < n and 0 <= c.b < n):
            raise InvalidInput(f"constraint refers to face index outside 0..{n - 1}")
        if c.kind == SAME:
            uf.union(c.a, c.b)
        elif c.kind != DIFFERENT:
            raise InvalidInput(f"constraint kind must be 'same' or 'different', got {c.kind!r}")
    for c in items:
        if c.kind == DIFFERENT and uf.find(c.a) == uf.find(c.b):
            raise Conflict(
                f"faces {c.a} and {c.b} are marked 'not the same person' but 'same person' links "
                "join them; remove one of the conflicting constraints first"
            )


def knn_edges(
    vectors: npt.NDArray[np.float32], k: int, threshold: float
) -> list[tuple[float, int, int]]:
    """(distance, i, j) with i < j for each face's k nearest neighbours closer than threshold."""
    import faiss

    n = len(vectors)
    if n < 2:
        return []
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.IndexFlatL2(x.shape[1])
    index.add(x)
    kk = min(n, k + 1)
    dist2, nbrs = index.search(x, kk)
    edges: dict[tuple[int, int], float] = {}
    limit2 = threshold * threshold
    for i in range(n):
        for d2, j in zip(dist2[i], nbrs[i], strict=True):
            j = int(j)
            if j < 0 or j == i or d2 > limit2:
                continue
            key = (i, j) if i < j else (j, i)
            edges[key] = float(np.sqrt(max(0.0, float(d2))))
    return sorted((d, i, j) for (i, j), d in edges.items())


def cluster(
    vectors: npt.NDArray[np.float32],
    *,
    threshold: float,
    constraints: Sequence[Constraint] = (),
    quality: Sequence[float] | None = None,
    k: int = 30,
) -> Clustering:
    """Cluster ``vectors`` (n x dim) so that faces of one person share a label.

    ``threshold`` is the largest root-mean-square distance allowed between two merged clusters.
    """
    x = np.asarray(vectors, dtype=np.float64)
    n = len(x)
    if n == 0:
        return Clustering(np.zeros(0, dtype=np.int64), [])
    if x.ndim != 2:
        raise InvalidInput("vectors must be a 2-D array")
    check_constraints(n, constraints)
    uf = _UnionFind(n)
    sums = {i: x[i].copy() for i in range(n)}
    sq = {i: float(x[i] @ x[i]) for i in range(n)}
    count = dict.fromkeys(range(n), 1)
    cannot: dict[int, set[int]] = {}

    def merge(a: int, b: int) -> None:
        ra, rb = uf.find(a), uf.find(b)
        if ra == rb:
            return
        keep = uf.union(ra, rb)
        drop = rb if keep == ra else ra
        sums[keep] = sums[keep] + sums.pop(drop)
        sq[keep] = sq[keep] + sq.pop(drop)
        count[keep] = count[keep] + count.pop(drop)
        moved = cannot.pop(drop, set())
        cannot.setdefault(keep, set()).update(moved)
        for other in moved:
            peers = cannot.get(other)
            if peers is not None:
                peers.discard(drop)
                peers.add(keep)

    for c in constraints:
        if c.kind == SAME:
            merge(c.a, c.b)
    for c in constraints:
        if c.kind == DIFFERENT:
            ra, rb = uf.find(c.a), uf.find(c.b)
            cannot.setdefault(ra, set()).add(rb)
            cannot.setdefault(rb, set()).add(ra)

    limit2 = threshold * threshold
    for _d, i, j in knn_edges(np.asarray(vectors, dtype=np.float32), k, threshold):
        ra, rb = uf.find(i), uf.find(j)
        if ra == rb or rb in cannot.get(ra, set()):
            continue
        # mean over all cross pairs of |a - b|^2 = E|a|^2 + E|b|^2 - 2 E[a].E[b]
        na, nb = count[ra], count[rb]
        mean_sq = sq[ra] / na + sq[rb] / nb - 2.0 * float(sums[ra] @ sums[rb]) / (na * nb)
        if mean_sq <= limit2:
            merge(ra, rb)

    roots = [uf.find(i) for i in range(n)]
    members: dict[int, list[int]] = {}
    for i, r in enumerate(roots):
        members.setdefault(r, []).append(i)
    groups = sorted(members.values(), key=lambda m: (-len(m), m[0]))
    labels = np.zeros(n, dtype=np.int64)
    reps: list[int] = []
    for label, group in enumerate(groups):
        labels[group] = label
        centre = x[group].mean(axis=0)
        dists = np.linalg.norm(x[group] - centre, axis=1)
        q = [quality[g] if quality is not None else 0.0 for g in group]
        best = min(range(len(group)), key=lambda t: (round(float(dists[t]), 6), -q[t], group[t]))
        reps.append(group[best])
    return Clustering(labels, reps)


def adjusted_rand_index(truth: Sequence[int], predicted: Sequence[int]) -> float:
    """Adjusted Rand index of two labelings (1.0 = identical partitions, ~0 = chance)."""
    if len(truth) != len(predicted):
        raise InvalidInput("labelings differ in length")
    n = len(truth)
    if n < 2:
        return 1.0
    t_ids = {v: i for i, v in enumerate(sorted(set(truth)))}
    p_ids = {v: i for i, v in enumerate(sorted(set(predicted)))}
    table = np.zeros((len(t_ids), len(p_ids)), dtype=np.int64)
    for a, b in zip(truth, predicted, strict=True):
        table[t_ids[a], p_ids[b]] += 1

    def comb2(v: npt.NDArray[np.int64]) -> float:
        return float((v * (v - 1) // 2).sum())

    index = comb2(table.ravel())
    rows = comb2(table.sum(axis=1))
    cols = comb2(table.sum(axis=0))
    total = n * (n - 1) / 2
    expected = rows * cols / total
    maximum = (rows + cols) / 2
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)
