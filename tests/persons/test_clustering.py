"""Constrained clustering: weak bridges, not-same decisions, vetoes (no Splink needed)."""

from __future__ import annotations

import numpy as np

from vigil.persons.linkage import COMPARISON_NAMES, Edges, LinkParams, cluster

PARAMS = LinkParams(link_weight=6.0, strong_weight=14.0)


def _edges(pairs: list[tuple[int, int, float]]) -> Edges:
    n = len(pairs)
    return Edges(
        left=np.array([p[0] for p in pairs], dtype=np.int64),
        right=np.array([p[1] for p in pairs], dtype=np.int64),
        weight=np.array([p[2] for p in pairs], dtype=np.float64),
        mw={name: np.zeros(n, dtype=np.float32) for name in COMPARISON_NAMES},
    )


def _sets(result: object) -> set[frozenset[int]]:
    return {frozenset(v) for v in result.groups().values()}  # type: ignore[attr-defined]


def test_two_groups_joined_by_one_weak_edge_are_split_and_flagged() -> None:
    # {1,2,3} and {4,5,6} are tight triangles; 3-4 is a single weak link between them
    pairs = [(1, 2, 30), (2, 3, 30), (1, 3, 30), (4, 5, 30), (5, 6, 30), (4, 6, 30), (3, 4, 8)]
    res = cluster(range(1, 7), _edges(pairs), params=PARAMS)
    assert _sets(res) == {frozenset({1, 2, 3}), frozenset({4, 5, 6})}
    assert [(w.left, w.right) for w in res.weak_links] == [(3, 4)]
    assert (res.weak_links[0].left_size, res.weak_links[0].right_size) == (3, 3)


def test_strong_bridge_and_weak_pendant_record_are_kept() -> None:
    pairs = [(1, 2, 30), (2, 3, 20), (3, 4, 30), (4, 5, 7)]
    res = cluster(range(1, 6), _edges(pairs), params=PARAMS)
    assert _sets(res) == {frozenset({1, 2, 3, 4, 5})}
    assert res.weak_links == []


def test_weak_edge_in_a_cycle_is_not_a_bridge() -> None:
    pairs = [(1, 2, 8), (2, 3, 8), (3, 4, 8), (4, 1, 8)]
    res = cluster(range(1, 5), _edges(pairs), params=PARAMS)
    assert _sets(res) == {frozenset({1, 2, 3, 4})}


def test_not_same_decision_is_never_merged_across_even_through_a_chain() -> None:
    pairs = [(1, 2, 40), (2, 3, 40), (3, 4, 40)]
    res = cluster(range(1, 5), _edges(pairs), params=PARAMS, cannot_link=[(1, 4)])
    groups = _sets(res)
    assert not any({1, 4} <= g for g in groups)
    assert len(res.blocked) == 1


def test_must_link_and_threshold() -> None:
    pairs = [(1, 2, 5.9), (3, 4, 6.0)]
    res = cluster(range(1, 6), _edges(pairs), params=PARAMS, must_link=[(2, 5)])
    assert _sets(res) == {frozenset({1}), frozenset({2, 5}), frozenset({3, 4})}


def test_veto_keeps_a_household_apart() -> None:
    # 1-2 same person, 3 a household member sharing the card: 2-3 scores above the threshold
    # but carries a first-name conflict, 1-3 too; 4 has no first name and links to 2 and 3
    pairs = [(1, 2, 30), (2, 3, 12), (1, 3, 12), (2, 4, 20), (3, 4, 19)]
    edges = _edges(pairs)
    veto = np.array([False, True, True, False, False])
    res = cluster(range(1, 5), edges, params=PARAMS, veto=veto)
    groups = _sets(res)
    assert not any({1, 3} <= g or {2, 3} <= g for g in groups)
    assert frozenset({1, 2, 4}) in groups


def test_one_misspelt_record_is_not_split_off_by_a_single_conflict() -> None:
    # records 1-4 agree; 5 is a misspelling that conflicts with 4 (two spelling variants)
    # but agrees with 1, 2 and 3: it stays with the person
    pairs = [
        (1, 2, 30),
        (1, 3, 30),
        (2, 3, 30),
        (1, 4, 30),
        (1, 5, 25),
        (2, 5, 25),
        (3, 5, 25),
        (4, 5, 11),
    ]
    veto = np.array([False] * 7 + [True])
    res = cluster(range(1, 6), _edges(pairs), params=PARAMS, veto=veto)
    assert _sets(res) == {frozenset({1, 2, 3, 4, 5})}
    assert res.blocked == []


def test_vectorised_path_matches_the_exact_procedure_on_random_graphs() -> None:
    from vigil.persons.linkage import _cluster_exact

    rng = np.random.default_rng(3)
    for _ in range(30):
        n = int(rng.integers(5, 60))
        m = int(rng.integers(0, 3 * n))
        pairs = [
            (int(a), int(b), float(w))
            for a, b, w in zip(
                rng.integers(0, n, m), rng.integers(0, n, m), rng.uniform(0, 40, m), strict=True
            )
            if a != b
        ]
        edges = _edges(pairs)
        veto = rng.random(len(pairs)) < 0.1
        cannot = [(int(a), int(b)) for a, b in rng.integers(0, n, (2, 2))]
        must = [(int(a), int(b)) for a, b in rng.integers(0, n, (1, 2)) if a != b]
        kw = {"params": PARAMS, "cannot_link": cannot, "must_link": must, "veto": veto}
        fast = cluster(range(n), edges, **kw)  # type: ignore[arg-type]
        exact = _cluster_exact(range(n), edges, **kw)  # type: ignore[arg-type]
        assert _sets(fast) == _sets(exact)
        assert sorted(fast.kept_edges.tolist()) == sorted(exact.kept_edges.tolist())
        assert {(w.left, w.right) for w in fast.weak_links} == {
            (w.left, w.right) for w in exact.weak_links
        }
