"""Same room or the same object in another room: the layout verdict on synthetic two-camera
geometry (points on a wall and a floor seen by one camera motion, or each surface by its own)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from vigil.places.layout import (
    MIN_PARALLAX,
    MIN_PARALLAX_REGIONS,
    grid_counts,
    judge_layout,
    parallax_support,
    shared_with_stronger,
)
from vigil.places.search import Candidate

K = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])
W, H = 640, 480


def _rot(yaw_deg: float) -> npt.NDArray[np.float64]:
    a = np.radians(yaw_deg)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


def _project(pts: npt.NDArray[np.float64], r: npt.NDArray[np.float64], t: npt.NDArray[np.float64]
             ) -> npt.NDArray[np.float64]:  # fmt: skip
    cam = (r @ pts.T).T + t
    uv = (K @ cam.T).T
    return uv[:, :2] / uv[:, 2:3]


def _wall(rng: np.random.Generator, n: int, x: tuple[float, float] = (-2, 2)) -> npt.NDArray[np.float64]:  # fmt: skip
    return np.column_stack([rng.uniform(*x, n), rng.uniform(-1.4, 0.6, n), np.full(n, 4.0)])


def _floor(rng: np.random.Generator, n: int) -> npt.NDArray[np.float64]:
    return np.column_stack([rng.uniform(-2, 2, n), np.full(n, 1.2), rng.uniform(2.5, 4.0, n)])


def _pairs(
    surfaces: list[tuple[npt.NDArray[np.float64], float, tuple[float, float, float]]],
    rng: np.random.Generator,
    outliers: int = 40,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Query points (identity camera) and candidate points (per-surface camera motion)."""
    src, dst = [], []
    for pts, yaw, t in surfaces:
        src.append(_project(pts, np.eye(3), np.zeros(3)))
        dst.append(_project(pts, _rot(yaw), np.asarray(t)))
    src.append(np.column_stack([rng.uniform(0, W, outliers), rng.uniform(0, H, outliers)]))
    dst.append(np.column_stack([rng.uniform(0, W, outliers), rng.uniform(0, H, outliers)]))
    s = np.vstack(src) + rng.normal(0, 0.3, (sum(len(x) for x in src), 2))
    d = np.vstack(dst) + rng.normal(0, 0.3, (sum(len(x) for x in dst), 2))
    return s.astype(np.float32), d.astype(np.float32)


def _first_plane(
    src: npt.NDArray[np.float32], dst: npt.NDArray[np.float32]
) -> npt.NDArray[np.bool_]:
    import cv2

    _, mask = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, 3.0)
    return mask.ravel().astype(bool)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_camera_motion_over_two_surfaces_is_the_same_room(seed: int) -> None:
    rng = np.random.default_rng(seed)
    motion = (6.0, (0.3, 0.0, 0.2))
    src, dst = _pairs([(_wall(rng, 70), *motion), (_floor(rng, 50), *motion)], rng)
    lay = judge_layout(src, dst, _first_plane(src, dst), W, H, threshold=3.0)
    assert lay.verdict == "same_room", lay
    assert len(lay.planes) == 2 and min(lay.planes) >= 20
    assert min(lay.f_share) >= 0.7 and lay.regions >= 3
    assert sum(lay.region_inliers) == sum(lay.planes)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_same_decor_in_another_layout_is_never_the_same_room(seed: int) -> None:
    """A sibling room: the wallpaper and the carpet match, each under its own camera motion
    (the carpet lies elsewhere relative to the wall). Surfaces that disagree are "unsure"
    (on the generated chains they were more often a true room's than a sibling's)."""
    rng = np.random.default_rng(seed)
    src, dst = _pairs(
        [(_wall(rng, 70), 6.0, (0.3, 0.0, 0.2)), (_floor(rng, 50), -12.0, (-0.6, 0.1, 0.9))], rng
    )
    lay = judge_layout(src, dst, _first_plane(src, dst), W, H, threshold=3.0)
    assert lay.verdict == "unsure" and "disagree" in lay.reason, lay
    assert len(lay.planes) == 2 and min(lay.f_share) < 0.7


def test_one_small_surface_is_a_shared_object_and_one_wide_surface_is_unsure() -> None:
    rng = np.random.default_rng(4)
    print_ = np.column_stack([rng.uniform(-0.3, 0.2, 60), rng.uniform(-0.5, -0.1, 60),
                              np.full(60, 4.0)])  # fmt: skip
    src, dst = _pairs([(print_, 6.0, (0.3, 0.0, 0.2))], rng, outliers=30)
    lay = judge_layout(src, dst, _first_plane(src, dst), W, H, threshold=3.0)
    assert lay.verdict == "shared_object" and lay.regions <= 2, lay
    src, dst = _pairs([(_wall(rng, 90, x=(-2.5, 2.5)), 6.0, (0.3, 0.0, 0.2))], rng, outliers=30)
    lay = judge_layout(src, dst, _first_plane(src, dst), W, H, threshold=3.0)
    assert lay.verdict == "unsure" and lay.regions >= 3 and lay.f_share == [], lay


def test_grid_counts() -> None:
    pts = np.array([[1, 1], [639, 479], [320, 240], [320, 240]], np.float32)
    assert grid_counts(pts, W, H) == [1, 0, 0, 0, 2, 0, 0, 0, 1]


def _cloud(rng: np.random.Generator, n: int) -> npt.NDArray[np.float64]:
    """Points spread in depth (furniture, a bed, a floor ...), not on one surface."""
    return np.column_stack([rng.uniform(-2, 2, n), rng.uniform(-1.2, 1.2, n), rng.uniform(2, 5, n)])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_parallax_support_separates_one_plane_from_3d_spread(seed: int) -> None:
    rng = np.random.default_rng(seed)
    motion = (6.0, (0.3, 0.0, 0.2))
    # one plane: everything the fundamental matrix keeps is on the homography already
    src, dst = _pairs([(_wall(rng, 120, x=(-2.5, 2.5)), *motion)], rng)
    par, regions = parallax_support(src, dst, _first_plane(src, dst), W, H)
    assert par < MIN_PARALLAX, (par, regions)
    # a wall and points spread in depth under one camera motion: many off the plane, widely
    src, dst = _pairs([(_wall(rng, 60), *motion), (_cloud(rng, 80), *motion)], rng)
    par, regions = parallax_support(src, dst, _first_plane(src, dst), W, H)
    assert par >= MIN_PARALLAX and regions >= MIN_PARALLAX_REGIONS, (par, regions)
    lay = judge_layout(src, dst, _first_plane(src, dst), W, H, threshold=3.0)
    assert lay.parallax == par or lay.verdict != "same_room"
    # a sibling room: the same wallpaper and carpet, each where its own room puts it (every
    # surface under its own camera motion): little agrees with one motion off the main surface
    src, dst = _pairs([(_wall(rng, 70), *motion), (_floor(rng, 50), -12.0, (-0.6, 0.1, 0.9))], rng)
    par, regions = parallax_support(src, dst, _first_plane(src, dst), W, H)
    assert par < MIN_PARALLAX or regions < MIN_PARALLAX_REGIONS, (par, regions)


def test_two_surfaces_one_motion_report_their_parallax() -> None:
    rng = np.random.default_rng(5)
    motion = (6.0, (0.3, 0.0, 0.2))
    src, dst = _pairs([(_wall(rng, 70), *motion), (_floor(rng, 50), *motion)], rng)
    lay = judge_layout(src, dst, _first_plane(src, dst), W, H, threshold=3.0)
    assert lay.verdict == "same_room" and lay.parallax >= MIN_PARALLAX, lay
    assert lay.as_dict()["parallax_regions"] == lay.parallax_regions >= MIN_PARALLAX_REGIONS


def test_candidates_on_the_same_object_are_decided_by_the_remainder() -> None:
    rng = np.random.default_rng(6)
    bedspread = rng.uniform(200, 400, (40, 2))
    room_only = rng.uniform(0, 640, (30, 2))  # furniture, pictures, window: the true room only
    true_room = np.vstack([bedspread, room_only]).astype(np.float32)
    sibling = (bedspread[:30] + 0.5).astype(np.float32)  # the same bedspread, nothing else
    elsewhere = rng.uniform(600, 640, (20, 2)).astype(np.float32)  # unrelated: no overlap
    assert shared_with_stronger([true_room, sibling, elsewhere]) == [None, 0, None]
    # the order does not matter, and a sibling with more inliers still loses on the remainder
    many = np.vstack([bedspread, bedspread + 0.7]).astype(np.float32)
    assert shared_with_stronger([many, true_room]) == [1, None]
    # two candidates that share nothing are left alone; one candidate alone too
    assert shared_with_stronger([room_only.astype(np.float32), elsewhere]) == [None, None]
    assert shared_with_stronger([true_room]) == [None]
    # within the radius only
    assert shared_with_stronger([true_room, sibling + 5.0]) == [None, None]


def test_search_compares_the_verified_candidates_of_a_query() -> None:
    from vigil.places.layout import Layout
    from vigil.places.search import Candidate, compare_layouts
    from vigil.places.verify import Verification

    rng = np.random.default_rng(7)
    bedspread = rng.uniform(200, 400, (40, 2))
    own = rng.uniform(0, 640, (30, 2))

    def cand(key: int, pts: npt.NDArray[np.float64], verified: bool = True) -> Candidate:
        ver = Verification(
            matches=100, inliers=len(pts), model="homography",
            query_points=[(float(x), float(y)) for x, y in pts],
            layout=Layout("same_room", "two surfaces"),
        )  # fmt: skip
        return Candidate(key, 1.0, key, ver, verified)

    # query points in original pixels: a query scaled by 0.5 has a radius of 4 of them
    room, sibling = cand(1, np.vstack([bedspread, own])), cand(2, bedspread[:30] + 3.0)
    out = compare_layouts([sibling, room], query_scale=0.5)
    assert out[0].verification.layout.verdict == "shared_object"
    assert "#1" in out[0].verification.layout.reason
    assert out[1] is room and out[0].verified and out[0].inliers == 30
    # at full scale the sibling's points are 3 px off: not the same query points
    assert compare_layouts([sibling, room], query_scale=1.0) == [sibling, room]
    # unverified candidates take no part
    unverified = cand(2, bedspread[:30], verified=False)
    assert compare_layouts([unverified, room]) == [unverified, room]


def test_the_comparison_counts_both_surfaces_of_a_candidate() -> None:
    """A sibling's main surface can be the wallpaper that is the true room's *second* surface
    (seed 2 of the generated chains): compared on first surfaces alone the two share nothing and
    the sibling keeps "same room"; its evidence is both its surfaces, and so is the room's."""
    from vigil.places.layout import Layout
    from vigil.places.search import compare_layouts
    from vigil.places.verify import Verification

    rng = np.random.default_rng(10)
    bed = rng.uniform(100, 300, (60, 2))  # the true room's main surface: its own bed
    wallpaper = rng.uniform(350, 600, (35, 2))  # shared by the chain
    floor = rng.uniform(0, 200, (20, 2))  # the sibling's second surface, also in the room

    def cand(key: int, first: npt.NDArray[np.float64], second: npt.NDArray[np.float64]
             ) -> Candidate:  # fmt: skip
        lay = Layout("same_room", "two surfaces", planes=[len(first), len(second)],
                     second_plane_points=[(float(x), float(y)) for x, y in second])  # fmt: skip
        ver = Verification(
            matches=200, inliers=len(first), model="homography",
            query_points=[(float(x), float(y)) for x, y in first], layout=lay,
        )  # fmt: skip
        return Candidate(key, 1.0, key, ver, True)

    room = cand(1, np.vstack([bed, floor]), wallpaper)
    sibling = cand(2, wallpaper[:30] + 0.5, floor[:10] + 0.5)
    out = compare_layouts([room, sibling])
    assert out[0] is room
    lay = out[1].verification.layout
    assert lay.verdict == "shared_object" and lay.shared_with == 1, lay
    # without the room's second surface nothing of the sibling's main surface is shared: it
    # is not explained, but the room has more inliers partly on the same points (the floor),
    # so its "same room" is only "unsure" (the stronger rival, issue 18 point 4)
    bare = cand(1, np.vstack([bed, floor]), np.zeros((0, 2)))
    out = compare_layouts([bare, sibling])
    lay = out[1].verification.layout
    assert lay.shared_with is None and lay.verdict == "unsure" and lay.rival == 1, lay


def test_a_second_surface_of_its_own_does_not_dilute_a_main_surface_on_another() -> None:
    """Seed 3 --style alt: a sibling's main surface lies on the true room's points, its second
    surface (its own chance matches) on points nobody else matched. Counted over all its points
    the overlap falls under CROSS_OVERLAP; its main surface alone is over it."""
    rng = np.random.default_rng(11)
    wall = rng.uniform(300, 500, (60, 2))
    own = rng.uniform(0, 250, (40, 2))
    room = np.vstack([wall, own])
    main_surface = wall[:20] + 0.5  # all 20 on the room's wall
    second = rng.uniform(550, 640, (60, 2))  # 60 of its own elsewhere: 20 of 80 overlap
    sibling = np.vstack([main_surface, second])
    assert shared_with_stronger([room, sibling]) == [None, None]  # diluted: 25 % < 30 %
    assert shared_with_stronger([room, sibling], main=[len(room), 20]) == [None, 0]
    # the main surface does not help a candidate with more evidence of its own
    assert shared_with_stronger([room, sibling], main=[len(room), 20])[0] is None


def _ranked(key: int, inliers: int, verdict: str | None, *, verified: bool = True,
            shared_with: int | None = None, similarity: float = 1.0) -> Candidate:  # fmt: skip
    from vigil.places.layout import Layout
    from vigil.places.verify import Verification

    lay = None if verdict is None else Layout(verdict, "test", shared_with=shared_with)
    ver = Verification(matches=200, inliers=inliers, model="homography", layout=lay)
    return Candidate(key, similarity, key, ver, verified)


def test_rank_by_inliers_lists_verified_candidates_first_whatever_their_verdict() -> None:
    from vigil.places.search import rank

    # by inliers alone, verdicts only label (tests/places/test_retry_rank.py: by verdict)
    sibling = _ranked(1, 30, "shared_object")
    room = _ranked(2, 17, "same_room")
    wall = _ranked(3, 25, "unsure", similarity=0.5)
    tie = _ranked(6, 25, "unsure", similarity=0.9)
    near_miss = _ranked(4, 60, "shared_object", verified=False)
    weak = _ranked(5, 9, None, verified=False)
    out = rank([weak, room, near_miss, wall, sibling, tie], by_verdict=False)
    assert [c.key for c in out] == [1, 6, 3, 2, 4, 5]
    assert rank([], by_verdict=False) == []


def test_search_labels_a_sibling_on_the_same_object_and_keeps_it_listed() -> None:
    """compare_layouts then rank, as search() does: the sibling's inliers lie on the query points
    of the true room's bedspread, the true room also matches its own furniture. The sibling is
    labelled with the candidate that explains it and stays in the list at its inlier count."""
    from vigil.places.layout import Layout
    from vigil.places.search import compare_layouts, rank
    from vigil.places.verify import Verification

    rng = np.random.default_rng(8)
    bedspread = rng.uniform(200, 400, (40, 2))
    own = rng.uniform(0, 640, (20, 2))

    def cand(key: int, pts: npt.NDArray[np.float64]) -> Candidate:
        ver = Verification(
            matches=100, inliers=len(pts), model="homography",
            query_points=[(float(x), float(y)) for x, y in pts],
            layout=Layout("unsure", "one surface only"),
        )  # fmt: skip
        return Candidate(key, 1.0, key, ver, True)

    # the sibling: the bedspread, each point matched twice (a repeated motif), nothing else
    sibling = cand(1, np.vstack([bedspread[:35], bedspread[:35] + 0.6]))
    room = cand(2, np.vstack([bedspread[:30], own]))
    assert sibling.inliers > room.inliers
    out = rank(compare_layouts([room, sibling]), by_verdict=False)
    assert [c.key for c in out] == [1, 2]
    # ranked by verdict, the room comes first and the sibling stays listed below it
    assert [c.key for c in rank(compare_layouts([room, sibling]))] == [2, 1]
    lay = out[0].verification.layout
    assert lay.verdict == "shared_object" and lay.shared_with == 2
    assert lay.as_dict()["shared_with"] == 2 and out[1].verification.layout.shared_with is None
    assert all(c.verified for c in out)


def test_a_small_second_surface_leaves_two_consistent_surfaces_unsure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vigil.places import layout

    rng = np.random.default_rng(9)
    motion = (6.0, (0.3, 0.0, 0.2))
    src, dst = _pairs([(_wall(rng, 70), *motion), (_floor(rng, 50), *motion)], rng)
    first = _first_plane(src, dst)
    lay = judge_layout(src, dst, first, W, H, threshold=3.0)
    assert lay.verdict == "same_room" and lay.planes[1] >= layout.MIN_SECOND_SURFACE, lay
    # the same pair when the second surface must hold more than it has
    monkeypatch.setattr(layout, "MIN_SECOND_SURFACE", lay.planes[1] + 1)
    small = judge_layout(src, dst, first, W, H, threshold=3.0)
    assert small.verdict == "unsure" and "small second" in small.reason, small
    assert small.planes == lay.planes and small.parallax == lay.parallax
