"""Within-case clustering: separation, no chaining, constraints respected, ARI."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.errors import Conflict, InvalidInput
from vigil.faces.cluster import (
    DIFFERENT,
    SAME,
    Constraint,
    adjusted_rand_index,
    check_constraints,
    cluster,
)


def _blobs(
    seed: int = 0, people: int = 4, per: int = 6, spread: float = 0.08
) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (people, 16))
    centres *= 1.5 / np.linalg.norm(centres, axis=1, keepdims=True)
    x, y = [], []
    for p in range(people):
        for _ in range(per):
            x.append(centres[p] + rng.normal(0, spread, 16))
            y.append(p)
    order = rng.permutation(len(x))
    return np.asarray(x, dtype=np.float32)[order], [y[i] for i in order]


def test_separated_people_get_one_cluster_each() -> None:
    x, truth = _blobs()
    result = cluster(x, threshold=0.6)
    assert result.n_clusters == 4
    assert adjusted_rand_index(truth, result.labels.tolist()) == pytest.approx(1.0)
    for label, rep in enumerate(result.representatives):
        assert result.labels[rep] == label


def test_representative_is_the_member_nearest_the_mean() -> None:
    x = np.asarray([[0.0, 0.0], [0.1, 0.0], [0.2, 0.0]], dtype=np.float32)
    result = cluster(x, threshold=0.5)
    assert result.n_clusters == 1
    assert result.representatives == [1]


def test_a_chain_of_close_pairs_does_not_join_two_people() -> None:
    # two tight groups 1.0 apart, bridged by points every 0.25: single linkage would chain them
    left = [[0.0 + 0.01 * i, 0.0] for i in range(5)]
    right = [[1.0 + 0.01 * i, 0.0] for i in range(5)]
    bridge = [[0.25, 0.0], [0.5, 0.0], [0.75, 0.0]]
    x = np.asarray(left + right + bridge, dtype=np.float32)
    result = cluster(x, threshold=0.3)
    labels = result.labels
    assert len({labels[i] for i in range(5)}) == 1
    assert len({labels[i] for i in range(5, 10)}) == 1
    assert labels[0] != labels[5]


def test_constraints_override_distances() -> None:
    x, truth = _blobs(seed=3, people=3, per=4)
    plain = cluster(x, threshold=0.6)
    assert plain.n_clusters == 3
    a, b = [i for i, t in enumerate(truth) if t == 0][:2]
    c = next(i for i, t in enumerate(truth) if t == 1)
    split = cluster(x, threshold=0.6, constraints=[Constraint(a, b, DIFFERENT)])
    assert split.labels[a] != split.labels[b]
    joined = cluster(x, threshold=0.6, constraints=[Constraint(a, c, SAME)])
    assert joined.labels[a] == joined.labels[c]
    both = cluster(
        x, threshold=0.6, constraints=[Constraint(a, c, SAME), Constraint(a, b, DIFFERENT)]
    )
    assert both.labels[a] == both.labels[c]
    assert both.labels[a] != both.labels[b]


def test_different_constraint_holds_after_merges_through_third_faces() -> None:
    # three near-identical vectors: a-b "different"; c must join at most one of them
    x = np.asarray([[0.0, 0.0], [0.02, 0.0], [0.01, 0.0]], dtype=np.float32)
    result = cluster(x, threshold=0.5, constraints=[Constraint(0, 1, DIFFERENT)])
    assert result.labels[0] != result.labels[1]
    assert result.n_clusters == 2


def test_contradictory_constraints_are_refused() -> None:
    cons = [Constraint(0, 1, SAME), Constraint(1, 2, SAME), Constraint(0, 2, DIFFERENT)]
    with pytest.raises(Conflict):
        check_constraints(3, cons)
    with pytest.raises(Conflict):
        cluster(np.zeros((3, 2), dtype=np.float32), threshold=0.5, constraints=cons)
    with pytest.raises(InvalidInput):
        check_constraints(2, [Constraint(0, 5, SAME)])


def test_empty_and_single() -> None:
    assert cluster(np.zeros((0, 128), dtype=np.float32), threshold=0.5).n_clusters == 0
    one = cluster(np.ones((1, 128), dtype=np.float32), threshold=0.5)
    assert one.labels.tolist() == [0]
    assert one.representatives == [0]


def test_adjusted_rand_index_reference_values() -> None:
    assert adjusted_rand_index([0, 0, 1, 1], [5, 5, 7, 7]) == pytest.approx(1.0)
    # value from the scikit-learn documentation example
    assert adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(0.5714285714)
    assert adjusted_rand_index([0, 0, 0, 0], [0, 1, 2, 3]) == pytest.approx(0.0)
