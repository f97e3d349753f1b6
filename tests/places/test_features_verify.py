"""Local features (VSF1 records) and geometric verification on generated scenes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vigil.errors import DamagedInput, WrongFormat
from vigil.places.draw import draw_pair, encode_png
from vigil.places.features import DESCRIPTOR_SCALE, FeatureParams, SceneFeatures, extract
from vigil.places.verify import (
    Verification,
    distance_ratios,
    guided_matches,
    mutual_matches,
    mutual_matches_scored,
    verify,
)

from .helpers import occlude, scene, variant

PARAMS = FeatureParams(max_keypoints=400)


def test_record_roundtrip_is_exact_and_compact() -> None:
    f = extract(scene(1), PARAMS)
    assert 100 < len(f) <= 400
    data = f.to_bytes()
    assert len(data) == 16 + 132 * len(f)
    back = SceneFeatures.from_bytes(data)
    np.testing.assert_array_equal(back.descriptors, f.descriptors)
    assert np.abs(back.xy - f.xy).max() <= 1 / 32
    assert (back.width, back.height) == (f.width, f.height)
    assert back.scale == pytest.approx(f.scale)


def test_damaged_and_foreign_records_are_refused() -> None:
    data = extract(scene(2), PARAMS).to_bytes()
    with pytest.raises(DamagedInput):
        SceneFeatures.from_bytes(data[:-5])
    with pytest.raises(WrongFormat):
        SceneFeatures.from_bytes(b"PK\x03\x04" + data[4:])


def test_rootsift_descriptors_are_unit_vectors_without_saturation() -> None:
    f = extract(scene(3), PARAMS)
    assert f.descriptors.max() < 255
    norms = np.linalg.norm(f.unit_descriptors(), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_large_image_is_reduced_and_points_map_back() -> None:
    big = np.repeat(np.repeat(scene(4), 3, axis=0), 3, axis=1)  # 1440 x 1080
    f = extract(big, PARAMS)
    assert max(f.width, f.height) == PARAMS.max_side
    assert f.scale == pytest.approx(640 / 1440)
    pts = f.original_xy()
    assert pts[:, 0].max() <= 1440 and pts[:, 1].max() <= 1080


def test_excluded_boxes_get_no_keypoints() -> None:
    img = scene(5)
    f = extract(img, PARAMS, exclude=[(0, 0, 240, 360)])
    assert len(f) > 50
    assert f.original_xy()[:, 0].min() >= 240 - 1


def test_blank_image_has_no_features() -> None:
    f = extract(np.full((100, 120, 3), 128, np.uint8), PARAMS)
    assert len(f) == 0
    assert SceneFeatures.from_bytes(f.to_bytes()).descriptors.shape == (0, 128)
    assert verify(f, f).inliers == 0


def test_keypoints_are_spread_so_a_busy_foreground_cannot_take_them_all() -> None:
    img = scene(6)
    noisy = occlude(img, 0.45, seed=3)
    f = extract(noisy, FeatureParams(max_keypoints=200))
    xs = f.xy[:, 0] / f.width
    ys = f.xy[:, 1] / f.height
    cells = {(int(x * 4), int(y * 4)) for x, y in zip(xs, ys, strict=True)}
    assert len(cells) >= 12


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_same_scene_is_verified_under_occlusion_crop_warp_light_and_jpeg(seed: int) -> None:
    base = scene(seed)
    query = variant(base, seed, crop=0.45, occluded=0.4, quality=60)
    fq, fb = extract(query, PARAMS), extract(base, PARAMS)
    same = verify(fq, fb)
    assert same.inliers >= 25, same
    assert same.verified()
    assert len(same.query_points) == same.inliers == len(same.candidate_points)
    assert 0 < same.coverage <= 1
    others = [verify(fq, extract(scene(seed + 100 + k), PARAMS)).inliers for k in range(3)]
    assert max(others) < 15
    assert same.inliers > 2 * max(others)


def test_inlier_points_are_where_the_scene_really_maps() -> None:
    base = scene(21)
    shifted = np.ascontiguousarray(base[40:, 60:])  # a pure crop: candidate = query + (60, 40)
    v = verify(extract(shifted, PARAMS), extract(base, PARAMS))
    q = np.array(v.query_points)
    c = np.array(v.candidate_points)
    assert v.inliers > 50
    err = np.linalg.norm(c - q - np.array([60, 40]), axis=1)
    assert float(np.median(err)) < 0.5
    assert float(err.max()) < 6.0  # within the 4 px model threshold (+ fixed-point rounding)
    assert v.matrix is not None


def test_fundamental_model_also_verifies() -> None:
    base = scene(31)
    v = verify(extract(variant(base, 3), PARAMS), extract(base, PARAMS), model="fundamental")
    assert v.model == "fundamental"
    assert v.inliers >= 20


def test_mutual_matches_are_mutual() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 128)).astype(np.float32)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b = np.concatenate([a[:30] + 0.01, rng.normal(size=(20, 128)).astype(np.float32)])
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    pairs = mutual_matches(a, b.astype(np.float32))
    assert {(int(i), int(j)) for i, j in pairs} == {(i, i) for i in range(30)}
    # identical descriptors tie: one candidate point is never matched twice
    twins = np.concatenate([a[:1], a[:1], a[1:5]])
    tied = mutual_matches(twins, a[:5].copy())
    assert len({int(j) for _, j in tied}) == len(tied)
    assert {(int(i), int(j)) for i, j in tied} == {(0, 0), (2, 1), (3, 2), (4, 3), (5, 4)}


def test_distance_ratios_match_a_sorted_oracle() -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(size=(40, 128)).astype(np.float32)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b = np.concatenate([a[:25] + rng.normal(0, 0.05, (25, 128)), rng.normal(size=(30, 128))])
    b = (b / np.linalg.norm(b, axis=1, keepdims=True)).astype(np.float32)
    sim = a @ b.T
    pairs = mutual_matches(a, b)
    got = distance_ratios(sim, pairs)
    for (i, j), r in zip(pairs, got, strict=True):
        d = np.sort(np.linalg.norm(b - a[i], axis=1))
        assert np.linalg.norm(b[j] - a[i]) == pytest.approx(d[0], abs=1e-5)
        assert r == pytest.approx(d[0] / d[1], abs=1e-3)
    assert np.all(got < 1)  # a mutual nearest neighbour is nearer than the second neighbour
    assert distance_ratios(sim, pairs[:0]).shape == (0,)


def _synthetic_pair(
    rng: np.random.Generator, true: int, motif: int
) -> tuple[SceneFeatures, SceneFeatures]:
    """``true`` distinctive correspondences under a shift, and ``motif`` repeated-pattern matches
    (each query motif descriptor has two near-identical twins in the candidate, at random
    places): the motif matches are *more* similar than the true ones, but ambiguous."""

    def unit(x: np.ndarray) -> np.ndarray:
        x = np.abs(x)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    base = unit(rng.normal(size=(true + motif, 128)))
    q_desc = base.copy()
    c_true = unit(base[:true] + rng.normal(0, 0.035, (true, 128)))
    c_motif = np.concatenate([unit(base[true:] + rng.normal(0, 0.004, (motif, 128)))
                              for _ in range(2)])  # fmt: skip
    q_xy = rng.uniform(20, 600, (true + motif, 2)).astype(np.float32)
    shift = np.array([15.0, -10.0], np.float32)
    c_xy = np.concatenate([q_xy[:true] + shift, rng.uniform(20, 600, (2 * motif, 2))])

    def feats(desc: np.ndarray, xy: np.ndarray) -> SceneFeatures:
        quant = np.clip(np.round(desc * DESCRIPTOR_SCALE), 0, 255).astype(np.uint8)
        return SceneFeatures(xy.astype(np.float32), quant, 640, 640, 1.0)

    return feats(q_desc, q_xy), feats(np.concatenate([c_true, c_motif]), c_xy)


def test_distinctive_matches_are_sampled_first_so_a_repeated_motif_cannot_hide_the_room() -> None:
    # 30 true matches among 430 (7 %): drawn in order of similarity, RANSAC would spend its
    # iterations on the motif (a 4-sample of true matches only comes up once in ~40,000 draws)
    q, c = _synthetic_pair(np.random.default_rng(11), true=30, motif=400)
    pairs, sims = mutual_matches_scored(q.unit_descriptors(), c.unit_descriptors())
    true_sims = sims[pairs[:, 0] < 30]
    assert len(true_sims) == 30 and true_sims.max() < np.median(sims[pairs[:, 0] >= 30])
    v = verify(q, c)
    assert v.inliers >= 28
    assert v.verified(min_coverage=0.0)
    shift = np.array(v.candidate_points) - np.array(v.query_points)
    assert np.allclose(np.median(shift, axis=0), [15.0, -10.0], atol=0.5)


@pytest.mark.parametrize(
    ("rounds", "expected_calls", "expected_inliers"),
    [([40, 12], 2, 40), ([12, 10, 20, 5], 4, 20), ([3, 2], 2, 3), ([31, 0, 33, 0], 4, 33)],
)
def test_a_fit_near_the_threshold_gets_a_second_round(
    monkeypatch: pytest.MonkeyPatch, rounds: list[int], expected_calls: int,
    expected_inliers: int,
) -> None:  # fmt: skip
    """Two fits per pair (ratio and similarity order); a best fit within [min_inliers // 2,
    2 * min_inliers) is close to the decision, so both run again with new draws."""
    import vigil.places.verify as vmod

    q, c = _synthetic_pair(np.random.default_rng(2), true=30, motif=40)
    calls: list[int] = []

    def fake_fit(src, dst, model, threshold, seed):  # type: ignore[no-untyped-def]
        k = rounds[len(calls)]
        calls.append(seed)
        inliers = np.zeros(len(src), bool)
        inliers[:k] = True
        return np.eye(3), inliers

    monkeypatch.setattr(vmod, "_fit", fake_fit)
    v = verify(q, c, min_inliers=16, seed=5)
    assert len(calls) == expected_calls
    assert calls == [5, 5, 6, 6][:expected_calls]  # the second round draws anew
    assert v.inliers == expected_inliers


def test_drawing_shows_both_images_lines_and_caption() -> None:
    base = scene(41)
    query = variant(base, 41)
    v = verify(extract(query, PARAMS), extract(base, PARAMS), layout=True)
    assert v.layout is not None and v.layout.verdict in ("same_room", "shared_object", "unsure")
    img = draw_pair(query, base, v, height=240, label="rank 1", names=("q.jpg", "item #7 b.jpg"))
    assert img.shape[0] == 22 + 240 + 46  # names above, counts and the verdict below
    assert img.dtype == np.uint8
    assert (img[:22] > 200).any()  # the names are written in the header
    # inlier lines are drawn in green between the two halves
    left_w = round(query.shape[1] * 240 / query.shape[0])
    gap = img[22 : 22 + 240, left_w : left_w + 8]
    assert (gap[..., 1].astype(int) - gap[..., 0] > 100).any()
    import dataclasses

    plain = draw_pair(query, base, dataclasses.replace(v, layout=None), height=240)
    # the same drawing without the layout lacks the region grid over the query
    assert not np.array_equal(plain[22:262, :left_w], img[22:262, :left_w])
    png = encode_png(img)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("size", [70, 90])
def test_one_shared_object_is_a_small_region_not_a_verified_place(size: int) -> None:
    """The same print hung in two different rooms: many inliers, all inside the print."""

    from .helpers import jpeg_roundtrip

    picture = cv2.resize(scene(99, 300, 300), (size, size), interpolation=cv2.INTER_AREA)
    room_a, room_b = scene(1, 480, 360).copy(), scene(2, 480, 360).copy()
    room_a[40 : 40 + size, 60 : 60 + size] = picture
    room_b[200 : 200 + size, 300 : 300 + size] = picture
    v = verify(extract(jpeg_roundtrip(room_a, 80)), extract(jpeg_roundtrip(room_b, 80)))
    assert v.inliers >= 15  # the print itself is matched ...
    assert v.coverage < 0.04  # ... but it spans a small part of the image
    assert not v.verified() and v.small_region()
    assert v.verified(min_coverage=0.0)  # without the coverage rule it would be a link


def test_guided_matching_prefers_the_predicted_repeat_of_a_motif() -> None:
    """Each query point has its true match near where H puts it and a slightly more similar
    repeat of the same motif elsewhere: plain nearest neighbours pick the repeat, guided
    matching the true one."""
    rng = np.random.default_rng(5)
    q = rng.uniform(20, 300, (40, 2)).astype(np.float32)
    h = np.array([[1.1, 0.05, 12.0], [-0.03, 0.95, -7.0], [1e-4, 0.0, 1.0]])
    proj = cv2.perspectiveTransform(q.reshape(-1, 1, 2).astype(np.float64), h).reshape(-1, 2)
    true_c = proj + rng.normal(0, 1.0, proj.shape)  # within the 6 px radius
    repeat_c = proj + np.array([60.0, 0.0])  # the same motif, one repeat to the right
    cand = np.concatenate([true_c, repeat_c]).astype(np.float32)
    sim = np.full((40, 80), 0.3, np.float32)
    sim[np.arange(40), np.arange(40)] = 0.90
    sim[np.arange(40), 40 + np.arange(40)] = 0.95  # the repeat looks more similar
    sim[7, 7] = 0.70  # below the similarity floor: never a match
    pairs, sims = guided_matches(q, cand, sim, h)
    got = {(int(i), int(j)) for i, j in pairs}
    assert got == {(i, i) for i in range(40) if i != 7}
    assert np.all(sims >= 0.8) and np.all(np.diff(sims) <= 0)
    # the plain nearest neighbour would have taken the repeat
    assert np.all(np.argmax(sim, axis=1)[np.arange(40) != 7] >= 40)
    # one candidate point cannot serve two query points: the more similar one keeps it
    q2 = q.copy()
    q2[1] = q[0] + 1.0  # query points 0 and 1 now both land next to candidate point 0
    sim2 = sim.copy()
    sim2[1, 0] = 0.99
    pairs2, _ = guided_matches(q2, cand, sim2, h)
    owners = [int(i) for i, j in pairs2 if j == 0]
    assert owners == [1]


def test_guided_verification_keeps_the_first_fit_as_evidence() -> None:
    rng = np.random.default_rng(3)
    motif = scene(503, 48, 48)
    base = np.tile(motif, (9, 11, 1))[:360, :480].copy()  # wallpaper: one motif repeated
    unique = scene(903, 480, 360)
    for _ in range(6):
        x, y = int(rng.integers(0, 420)), int(rng.integers(0, 300))
        base[y : y + 60, x : x + 60] = unique[y : y + 60, x : x + 60]
    query = variant(base, 3, crop=0.5, occluded=0.35, quality=70)
    fq, fb = extract(query, PARAMS), extract(base, PARAMS)
    plain = verify(fq, fb, guided=False)
    guided = verify(fq, fb, min_seed=8, guided=True)
    assert plain.seed_inliers is None and not plain.guided
    assert plain.first_fit_inliers == plain.inliers >= 8
    assert guided.guided and guided.seed_inliers == plain.inliers
    assert guided.seed_coverage == pytest.approx(plain.coverage)
    assert guided.inliers > plain.inliers
    assert len(guided.query_points) == guided.inliers
    # guided inliers sit where the fitted homography maps them
    hm = np.array(guided.matrix)
    qp = np.array(guided.query_points, np.float64) * fq.scale
    cp = np.array(guided.candidate_points, np.float64) * fb.scale
    err = np.linalg.norm(cv2.perspectiveTransform(qp.reshape(-1, 1, 2), hm).reshape(-1, 2) - cp,
                         axis=1)  # fmt: skip
    assert float(np.median(err)) < 4.0
    # below the seed, guided matching does not run
    assert not verify(fq, fb, min_seed=plain.inliers + 1, guided=True).guided


def test_a_pair_needs_its_first_fit_to_reach_the_seed_to_be_verified() -> None:
    strong = Verification(matches=80, inliers=40, model="homography", coverage=0.3, seed_inliers=12)
    weak = Verification(matches=80, inliers=40, model="homography", coverage=0.3, seed_inliers=9)
    plain = Verification(matches=80, inliers=16, model="homography", coverage=0.3)
    assert strong.verified() and strong.first_fit_inliers == 12
    assert not weak.verified()  # 40 guided inliers but the geometry came from 9 matches
    assert weak.verified(min_seed=9)
    assert plain.verified() and plain.first_fit_inliers == 16
    assert not plain.verified(min_inliers=17)
    # a first fit packed on one small object (a shared print) cannot grow into a room
    print_grown = Verification(matches=80, inliers=40, model="homography", coverage=0.3,
                               seed_inliers=14, seed_coverage=0.01)  # fmt: skip
    assert not print_grown.verified()
    assert print_grown.verified(min_coverage=0.02)


def test_local_distortion_matches_finite_differences_and_catches_folds() -> None:
    from vigil.places.verify import MAX_ANISOTROPY, local_distortion

    sim = np.array([[0.8, -0.6, 30.0], [0.6, 0.8, -10.0], [0.0, 0.0, 1.0]])  # rotation, scale 1
    pts = np.array([[0, 0], [300, 0], [0, 200], [300, 200], [150, 100]], np.float32)
    assert local_distortion(sim, pts) == pytest.approx((1.0, 1.0))
    stretch = np.diag([3.5, 1.0, 1.0])
    assert local_distortion(stretch, pts)[1] == pytest.approx(3.5) and MAX_ANISOTROPY < 3.5
    persp = np.array([[1.0, 0.1, 5.0], [0.05, 1.1, 3.0], [8e-4, 3e-4, 1.0]])

    def area_scale(x: float, y: float) -> float:  # determinant of the numeric Jacobian
        eps = 1e-3
        p = np.array([[x, y], [x + eps, y], [x, y + eps]], np.float64).reshape(-1, 1, 2)
        m = cv2.perspectiveTransform(p, persp).reshape(-1, 2)
        return float(np.linalg.det(np.stack([m[1] - m[0], m[2] - m[0]]) / eps))

    dets = [area_scale(float(x), float(y)) for x, y in pts]
    ratio, _ = local_distortion(persp, pts)
    assert ratio == pytest.approx(max(dets) / min(dets), rel=1e-4)
    # a homography whose vanishing line crosses the matched region folds it: never a view
    fold = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [-0.01, 0.0, 1.0]])  # line x = 100
    assert local_distortion(fold, pts) == (float("inf"), float("inf"))


def test_one_pass_gives_the_features_of_detect_then_compute() -> None:
    """``single_pass`` only saves the second scale-space pyramid: the same keypoints and
    descriptors as ``detect`` + ``compute`` while an image has at most the pool of keypoints."""
    img = scene(41)
    one = extract(img, FeatureParams(max_keypoints=200))
    two = extract(img, FeatureParams(max_keypoints=200, single_pass=False))
    assert len(one) == 200
    np.testing.assert_array_equal(one.xy, two.xy)
    np.testing.assert_array_equal(one.descriptors, two.descriptors)


@pytest.mark.parametrize("side", [320, 480])
def test_smaller_detection_image_keeps_feature_image_units(side: int) -> None:
    """Detection on a smaller image maps keypoints back into the 640-px feature image: sizes,
    scale and positions (a pure crop still maps by its offset) are those of that image."""
    big = np.repeat(np.repeat(scene(42), 2, axis=0), 2, axis=1)  # 960 x 720
    params = FeatureParams(max_keypoints=400, detect_side=side)
    f = extract(big, params)
    full = extract(big, PARAMS)
    assert (f.width, f.height, f.scale) == (full.width, full.height, full.scale)
    assert f.xy[:, 0].max() < f.width and f.xy[:, 1].max() < f.height
    shifted = np.ascontiguousarray(big[96:, 144:])  # a pure crop: candidate = query + (144, 96)
    v = verify(extract(shifted, params), f)
    assert v.inliers > 40
    q, c = np.array(v.query_points), np.array(v.candidate_points)  # original pixels
    err = np.linalg.norm(c - q - np.array([144, 96]), axis=1)
    assert float(np.median(err)) < 1.5


def test_excluded_boxes_hold_with_a_smaller_detection_image() -> None:
    params = FeatureParams(max_keypoints=400, detect_side=320)
    f = extract(scene(5), params, exclude=[(0, 0, 240, 360)])
    assert len(f) > 20
    assert f.original_xy()[:, 0].min() >= 240 - 3
