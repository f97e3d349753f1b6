"""PDQ hashing on generated images: outcomes, decode policy, reduced scale, analyzers."""

from __future__ import annotations

import io

import numpy as np
import pdqhash
import pytest
from PIL import Image

from vigil.errors import InvalidInput
from vigil.ingest.analyzers import AnalyzerOutput, Blob
from vigil.signals.analyzers import PdqAnalyzer
from vigil.signals.base import Hashed, Unhashable
from vigil.signals.pdq import (
    REDUCED_MAX_BITS,
    PdqSignal,
    bits_to_hex,
    dihedral_hashes,
    distance,
    hash_image,
    hash_pixels,
)
from vigil.signals.synthetic import jpeg_bytes, png_bytes, scene


def test_hash_is_64_hex_with_quality() -> None:
    got = hash_image(jpeg_bytes(scene(1)))
    assert isinstance(got, Hashed)
    assert PdqSignal.validate(got.value) == got.value
    assert got.quality is not None
    assert 50 <= got.quality <= 100


def test_garbage_bytes_are_unhashable_not_empty() -> None:
    got = hash_image(b"this is not an image at all")
    assert isinstance(got, Unhashable)
    assert got.code == "pdq_not_an_image"


def test_truncated_jpeg_is_unhashable_decode_error() -> None:
    data = jpeg_bytes(scene(2, 800, 600))
    got = hash_image(data[: len(data) // 3])
    assert isinstance(got, Unhashable | Hashed)
    if isinstance(got, Unhashable):
        assert got.code == "pdq_decode_error"


def test_flat_image_is_low_quality() -> None:
    flat = np.full((300, 400, 3), 127, np.uint8)
    got = hash_pixels(flat)
    assert isinstance(got, Unhashable)
    assert got.code == "pdq_low_quality"
    assert got.quality is not None
    assert got.quality < 50


def test_quality_floor_is_configurable() -> None:
    px = scene(3)
    ok = hash_pixels(px, quality_floor=0)
    assert isinstance(ok, Hashed)
    too_strict = hash_pixels(px, quality_floor=101)
    assert isinstance(too_strict, Unhashable)
    assert too_strict.quality == ok.quality


@pytest.mark.parametrize("mode", ["CMYK", "P", "L", "RGBA", "I;16"])
def test_modes_hash_like_rgb(mode: str) -> None:
    px = scene(4, 512, 384)
    ref = hash_pixels(px)
    assert isinstance(ref, Hashed)
    img = Image.fromarray(px, "RGB")
    if mode == "I;16":
        grey = np.asarray(img.convert("L"), dtype=np.uint16) * 257
        conv = Image.fromarray(grey)
        assert conv.mode == "I;16"
        data = png_bytes(conv)
        ref = hash_pixels(np.asarray(img.convert("L").convert("RGB")))
        assert isinstance(ref, Hashed)
    elif mode == "CMYK":
        buf = io.BytesIO()
        img.convert("CMYK").save(buf, "JPEG", quality=95)
        data = buf.getvalue()
    elif mode == "P":
        data = png_bytes(img.convert("P", palette=Image.Palette.ADAPTIVE, colors=256))
    else:
        data = png_bytes(img.convert(mode))
    got = hash_image(data, reduced=False)
    assert isinstance(got, Hashed)
    assert distance(ref.value, got.value) <= 20, mode


def test_reduced_scale_bound_on_generated_photos() -> None:
    worst = 0
    for seed in range(3):
        data = jpeg_bytes(scene(100 + seed, 2048, 1536), quality=85)
        full = hash_image(data, reduced=False)
        red = hash_image(data, reduced=True)
        assert isinstance(full, Hashed)
        assert isinstance(red, Hashed)
        worst = max(worst, distance(full.value, red.value))
    assert worst <= REDUCED_MAX_BITS


def test_dihedral_hashes_match_flipped_copy() -> None:
    px = scene(5, 640, 480)
    variants = dihedral_hashes(px)
    assert len(set(variants.values())) == 8
    flipped = hash_pixels(np.ascontiguousarray(px[:, ::-1]))
    assert isinstance(flipped, Hashed)
    assert min(distance(flipped.value, v) for v in variants.values()) <= 31
    original = hash_pixels(px)
    assert isinstance(original, Hashed)
    assert variants["original"] == original.value


def test_signal_validate_and_compare() -> None:
    a, b = PdqSignal.examples()[:2]
    assert PdqSignal.validate(a.upper()) == a
    assert PdqSignal.compare(a, a).match
    assert PdqSignal.compare(a, a).distance == 0
    cmp = PdqSignal.compare(a, b)
    assert cmp.distance == distance(a, b)
    assert cmp.match == (cmp.distance is not None and cmp.distance <= 31)
    with pytest.raises(InvalidInput):
        PdqSignal.validate("xyz")


def test_pdq_analyzer_outputs_and_warnings() -> None:
    analyzer = PdqAnalyzer()
    good, flat = analyzer.examples()
    out = analyzer.analyze(good)
    assert out.warnings == []
    assert PdqSignal.validate(out.payload["value"]) == out.payload["value"]
    low = analyzer.analyze(flat)
    assert low.warnings
    assert low.warnings[0][0] == "pdq_low_quality"
    assert "value" not in low.payload
    broken = analyzer.analyze(Blob("0" * 64, 3, "jpeg", "photo", data=b"\xff\xd8\xff"))
    assert broken.warnings
    assert isinstance(broken, AnalyzerOutput)


def _contents(h: int, w: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    ramp = np.linspace(0, 255, w, dtype=np.float32)[None, :, None] * np.ones((h, 1, 3), np.float32)
    smooth = np.clip(ramp + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)
    return [noise, smooth, np.ascontiguousarray(scene(seed, w, h))]


@pytest.mark.parametrize(
    "shape",
    [(1224, 1632), (612, 816), (1536, 2048), (480, 640), (5, 5), (5, 9), (63, 64), (64, 65),
     (37, 100), (1001, 333), (130, 129)],
)  # fmt: skip
def test_compiled_pdq_is_bit_identical_to_pdqhash(shape: tuple[int, int]) -> None:
    """The compiled kernel hash_pixels uses gives pdqhash's bits, quality and DCT values."""
    from vigil.signals import _pdqkernel

    h, w = shape
    for px in _contents(h, w, h * 7 + w):
        ref_bits, ref_quality = pdqhash.compute(px)
        ref_float, _q = pdqhash.compute_float(px)
        dct, quality = _pdqkernel.pdq_float(px)
        # pdqhash returns the 256 values reversed (most significant first), as floats
        assert np.array_equal(
            np.asarray(ref_float, np.float32).view(np.uint32),
            dct.reshape(256)[::-1].view(np.uint32),
        )
        assert quality == ref_quality
        got = hash_pixels(px, quality_floor=0)
        assert isinstance(got, Hashed)
        assert got.value == bits_to_hex(ref_bits) and got.quality == ref_quality


@pytest.mark.parametrize("shape", [(64, 64), (4, 40), (1, 1)])
def test_reference_shortcuts_still_hash_like_pdqhash(shape: tuple[int, int]) -> None:
    """64 x 64 (no filtering) and images under 5 px (hash cleared) go to pdqhash itself."""
    px = np.random.default_rng(3).integers(0, 256, (*shape, 3), dtype=np.uint8)
    ref_bits, ref_quality = pdqhash.compute(px)
    got = hash_pixels(px, quality_floor=0)
    assert isinstance(got, Hashed)
    assert got.value == bits_to_hex(ref_bits) and got.quality == ref_quality
