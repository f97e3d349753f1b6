"""PRNU fingerprints on synthetic cameras: clean generated scenes times a fixed multiplicative
noise pattern per camera (plus shot noise, 8-bit rounding and optional JPEG)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from vigil.camera import prnu
from vigil.errors import DamagedInput, InvalidInput, WrongFormat

H, W = 144, 176
U8 = npt.NDArray[np.uint8]


def _clean(rng: np.random.Generator) -> npt.NDArray[np.float64]:
    base = cv2.GaussianBlur(rng.normal(0, 1, (H, W, 3)), (0, 0), 10)
    base = (base - base.min()) / (np.ptp(base) + 1e-9)
    xx = np.mgrid[0:H, 0:W][1] / W
    img = 40 + 150 * base + 25 * np.sin(xx[..., None] * rng.uniform(2, 8))
    for _ in range(4):
        centre = (int(rng.integers(0, W)), int(rng.integers(0, H)))
        colour = tuple(float(v) for v in rng.uniform(30, 220, 3))
        cv2.circle(img, centre, int(rng.integers(5, 30)), colour, -1)
    return np.asarray(img, np.float64)


def shoot(k: npt.NDArray[np.float64], rng: np.random.Generator, quality: int | None = 92) -> U8:
    img = _clean(rng) * (1 + k) + rng.normal(0, 1.0, (H, W, 3))
    out = np.clip(np.round(img), 0, 255).astype(np.uint8)
    if quality:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        out = np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR), np.uint8)
    return out


@pytest.fixture(scope="module")
def cameras() -> tuple[list[npt.NDArray[np.float64]], list[prnu.Fingerprint]]:
    rng = np.random.default_rng(11)
    patterns = [rng.normal(0, 0.012, (H, W, 3)) for _ in range(2)]
    fps = [prnu.estimate_fingerprint([shoot(k, rng) for _ in range(20)]) for k in patterns]
    return patterns, fps


def test_same_camera_well_above_60_and_different_well_below(cameras) -> None:
    patterns, fps = cameras
    rng = np.random.default_rng(5)
    for i, k in enumerate(patterns):
        for _ in range(2):
            img = shoot(k, rng)
            own = prnu.check_image(img, fps[i])
            other = prnu.check_image(img, fps[1 - i])
            assert own.pce > 200, own
            assert own.match
            assert other.pce < 20, other
            assert not other.match
            assert not own.searched


def test_unrelated_image_without_prnu_gives_no_match(cameras) -> None:
    _, fps = cameras
    rng = np.random.default_rng(6)
    flat = np.clip(np.round(_clean(rng) + rng.normal(0, 1, (H, W, 3))), 0, 255).astype(np.uint8)
    assert prnu.check_image(flat, fps[0]).pce < 20


def test_offset_search_finds_crop_position(cameras) -> None:
    patterns, fps = cameras
    rng = np.random.default_rng(7)
    img = shoot(patterns[0], rng, quality=95)
    crop = np.ascontiguousarray(img[23 : 23 + 100, 41 : 41 + 120])
    res = prnu.check_image(crop, fps[0])
    assert res.searched
    assert res.offset == (41, 23)
    assert res.pce > prnu.PCE_THRESHOLD
    wrong = prnu.check_image(crop, fps[1])
    assert wrong.pce < prnu.PCE_THRESHOLD


def test_rotated_image_is_turned_back(cameras) -> None:
    patterns, fps = cameras
    img = np.ascontiguousarray(np.rot90(shoot(patterns[1], np.random.default_rng(8)), -1))
    res = prnu.check_image(img, fps[1])
    assert res.rotated == 1
    assert res.match


def test_resized_image_is_refused_or_unmatched_with_plain_note(cameras) -> None:
    patterns, fps = cameras
    img = shoot(patterns[0], np.random.default_rng(9))
    half = np.asarray(cv2.resize(img, (W // 2, H // 2), interpolation=cv2.INTER_AREA), np.uint8)
    res = prnu.check_image(half, fps[0])
    assert not res.match
    assert any("resized" in n for n in res.notes)
    big = np.asarray(cv2.resize(img, (W * 2, H * 2)), np.uint8)
    with pytest.raises(InvalidInput, match="larger than the fingerprint"):
        prnu.check_image(big, fps[0])


def test_fingerprint_file_roundtrip_and_damage(cameras, tmp_path: Path) -> None:
    _, fps = cameras
    path = tmp_path / "cam.vpf"
    digest = fps[0].save(path)
    assert len(digest) == 64
    back = prnu.Fingerprint.load(path)
    assert back.shape == fps[0].shape
    assert back.n_images == 20
    np.testing.assert_array_equal(back.k, fps[0].k)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DamagedInput):
        prnu.Fingerprint.load(path)
    other = tmp_path / "x.vpf"
    other.write_bytes(b"not a fingerprint")
    with pytest.raises(WrongFormat):
        prnu.Fingerprint.load(other)


def test_builder_rejects_mixed_sizes() -> None:
    b = prnu.FingerprintBuilder()
    b.add(np.zeros((32, 48, 3), np.uint8) + 100)
    with pytest.raises(InvalidInput, match="fingerprint images are"):
        b.add(np.zeros((48, 32, 3), np.uint8) + 100)


def test_residual_of_flat_image_is_near_zero() -> None:
    res = prnu.noise_residual(np.full((64, 64, 3), 128, np.uint8))
    assert res.shape == (64, 64, 3)
    assert float(np.abs(res).max()) < 1e-3
