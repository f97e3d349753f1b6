"""Local scene features: capped RootSIFT keypoints stored as a compact, documented binary record.

Extraction (:func:`extract`) works on the canonical RGB pixels of :mod:`vigil.content.decode`:

1. the *feature image* is the image resized so that its longer side is at most ``max_side``
   pixels (default 640): keypoint positions are stored in its pixels;
2. OpenCV SIFT detects keypoints and computes their descriptors in one pass on the grey image
   resized to ``detect_side`` (default 480) on its longer side (optionally outside a mask of
   excluded regions such as detected people or faces), keeping the strongest responses but
   spread over a 4 x 4 grid so that a foreground person cannot take the whole keypoint budget;
   positions are mapped back into the feature image;
3. descriptors become RootSIFT (L1-normalise, square root: Arandjelović & Zisserman 2012) and are
   quantised to uint8 (``round(512 * value)``; SIFT's 0.2 clipping bounds every value below 0.45,
   so nothing saturates).

Binary record (``VSF1``, little-endian, never pickle)::

    offset size  field
    0      4     magic b"VSF1"
    4      2     uint16 width of the feature image (pixels, after resizing)
    6      2     uint16 height of the feature image
    8      4     float32 scale: feature-image pixels per original pixel
    12     4     uint32 n, number of keypoints
    16     4n    n x (uint16 x, uint16 y), keypoint position in 1/16 feature-image pixels
    16+4n  128n  n x 128 uint8 RootSIFT descriptors

So one keypoint costs 132 bytes; the default cap of 2000 keypoints keeps a record under 265 kB.

Extractor versions (stored with every feature row as ``rootsift/N``; features of two versions are
never searched together):

- ``rootsift/1``: detection on the 640-px feature image itself, ``detect`` then ``compute``
  (OpenCV SIFT doubles the image for its first octave, so the pyramid is built twice at
  1280 px): ~100 ms a photo on one core. ``FeatureParams(detect_side=640)`` gives the same
  features in one pass (bit for bit; tested).
- ``rootsift/2`` (default): detection on 480 px, one pass: ~2-3x cheaper (docs/places.md,
  "Scene extraction cost"), same record format and units, so a ``VSF1`` record of either version
  still verifies against the other (the hub's room proof); a store of version 1 shows its items
  as pending for ``vigil places scan`` and its collections are re-extracted on re-import.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from vigil.errors import DamagedInput, InvalidInput, WrongFormat

MAGIC = b"VSF1"
_HEADER = struct.Struct("<4sHHfI")
FIXED_POINT = 16.0
DESCRIPTOR_SCALE = 512.0
EXTRACTOR_NAME = "rootsift"
EXTRACTOR_VERSION = "2"

Array = npt.NDArray[np.float32]


@dataclass(frozen=True)
class FeatureParams:
    """Knobs of feature extraction (recorded with the stored features via the version)."""

    max_side: int = 640
    """Longer side of the image features are computed on."""
    max_keypoints: int = 2000
    """Cap on stored keypoints (storage is 132 bytes per keypoint). At 10k indexed images of the
    generated benchmark, 2000 instead of 1000 found the room for 94 % of the queries instead of
    89 % (more of a partly hidden room is described), for twice the storage."""
    grid: int = 4
    """Keypoints are balanced over a grid x grid layout of cells."""
    contrast_threshold: float = 0.02
    """SIFT contrast threshold (OpenCV default 0.04; lower finds more on flat synthetic walls)."""
    detect_side: int = 480
    """Longer side of the image SIFT runs on (0 = ``max_side``, as ``rootsift/1``). Keypoints
    are mapped back into the ``max_side`` feature image, so stored positions (and the
    verifier's pixel thresholds) keep their units whatever the detection size. 480 instead of
    640 skips SIFT's most expensive octave (the image doubled to 1280 px) and keeps about as
    many keypoints (~1,900 of the 2,000 cap on a generated room); place recall on three
    generated sets within half a point of 640's, as many links to unrelated rooms
    (docs/places.md, "Scene extraction cost")."""
    single_pass: bool = True
    """One ``detectAndCompute`` (one scale-space pyramid) instead of ``detect`` then ``compute``
    (which builds the pyramid again). Descriptors are computed for every detected keypoint
    before the grid selection, so the features are those of the two passes, bit for bit; that
    is cheaper up to ~5,000 keypoints on the detection image (a generated room has ~1,900 at
    480 px), dearer above."""


DEFAULT_PARAMS = FeatureParams()
QUERY_PARAMS = FeatureParams(max_keypoints=1000)
"""Extraction of a query image given as a file: half the stored cap halves the cost of
verifying each candidate, with the same recall on the benchmark (0.94 at 10k), and it matched
fewer unrelated rooms (28 against 55 with 2000 query keypoints)."""
RETRY_PARAMS = FeatureParams(max_keypoints=2000, detect_side=640)
"""Richer query features for the weak-result retry of a search
(:attr:`vigil.places.search.SearchParams.retry_below`): when no candidate verifies with many
inliers, the query is described again with up to 2000 keypoints detected on the whole
640-px feature image (the same feature image and units as :data:`QUERY_PARAMS`, so every stored
record is matched as it is). Only the query side changes. On a hard view (a third of the room,
half hidden) this finds the matches that 1000 keypoints detected at 480 px lack; used on every
query it verified more sibling and unrelated rooms, hence only for weak results
(docs/places.md, issue 18 point 4)."""


@dataclass(frozen=True)
class SceneFeatures:
    """Keypoints (feature-image pixels) and uint8 RootSIFT descriptors of one image."""

    xy: Array
    """n x 2 float32 positions in the feature image."""
    descriptors: npt.NDArray[np.uint8]
    """n x 128 uint8 quantised RootSIFT."""
    width: int
    height: int
    scale: float
    """Feature-image pixels per original-image pixel (<= 1)."""

    def __len__(self) -> int:
        return int(self.xy.shape[0])

    def unit_descriptors(self) -> Array:
        """Descriptors as float32 unit vectors (for dot-product matching)."""
        d = self.descriptors.astype(np.float32)
        norms = np.linalg.norm(d, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return np.ascontiguousarray(d / norms, dtype=np.float32)

    def original_xy(self) -> Array:
        """Keypoint positions in original-image pixels."""
        return np.asarray(self.xy / np.float32(self.scale), dtype=np.float32)

    def fixed_xy(self) -> npt.NDArray[np.uint16]:
        """Keypoint positions in 1/16 feature-image pixels, as ``VSF1`` stores them."""
        return np.clip(np.round(self.xy * FIXED_POINT), 0, 65535).astype(np.uint16)

    def to_bytes(self) -> bytes:
        """Encode as a ``VSF1`` record."""
        n = len(self)
        fixed = self.fixed_xy().astype("<u2")
        head = _HEADER.pack(MAGIC, self.width, self.height, float(self.scale), n)
        return head + fixed.tobytes() + np.ascontiguousarray(self.descriptors, np.uint8).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> SceneFeatures:
        """Decode a ``VSF1`` record; raise :class:`WrongFormat` / :class:`DamagedInput`."""
        if len(data) < _HEADER.size or data[:4] != MAGIC:
            raise WrongFormat("not a VSF1 scene-feature record")
        _, width, height, scale, n = _HEADER.unpack_from(data)
        expected = _HEADER.size + n * (4 + 128)
        if len(data) != expected:
            raise DamagedInput(f"VSF1 record has {len(data)} bytes, expected {expected}")
        off = _HEADER.size
        fixed = np.frombuffer(data, dtype="<u2", count=2 * n, offset=off).reshape(n, 2)
        desc = np.frombuffer(data, dtype=np.uint8, count=128 * n, offset=off + 4 * n)
        return cls(
            xy=(fixed.astype(np.float32) / np.float32(FIXED_POINT)),
            descriptors=desc.reshape(n, 128).copy(),
            width=int(width),
            height=int(height),
            scale=float(scale),
        )


def _grey(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    if pixels.ndim == 2:
        return pixels
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise InvalidInput(f"expected an H x W x 3 RGB image, got shape {pixels.shape}")
    return np.asarray(cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY), dtype=np.uint8)


def resize_for_features(
    pixels: npt.NDArray[np.uint8], max_side: int
) -> tuple[npt.NDArray[np.uint8], float]:
    """Resize so that the longer side is at most ``max_side``; return (image, scale)."""
    h, w = pixels.shape[:2]
    if h == 0 or w == 0:
        raise InvalidInput("empty image")
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        pixels = np.asarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), np.uint8)
    return pixels, scale


_SIFT_CACHE: dict[float, cv2.SIFT] = {}


def _sift(contrast: float) -> cv2.SIFT:
    sift = _SIFT_CACHE.get(contrast)
    if sift is None:
        sift = cv2.SIFT.create(nfeatures=0, contrastThreshold=contrast)
        _SIFT_CACHE[contrast] = sift
    return sift


def _select(kps: Sequence[cv2.KeyPoint], width: int, height: int, cap: int, grid: int
            ) -> list[int]:  # fmt: skip
    """Indices of at most ``cap`` keypoints: the strongest per grid cell in round-robin order."""
    if len(kps) <= cap:
        return list(range(len(kps)))
    cells: dict[int, list[int]] = {}
    for i in sorted(range(len(kps)), key=lambda j: -kps[j].response):
        kp = kps[i]
        cx = min(grid - 1, int(kp.pt[0] * grid / max(width, 1)))
        cy = min(grid - 1, int(kp.pt[1] * grid / max(height, 1)))
        cells.setdefault(cy * grid + cx, []).append(i)
    chosen: list[int] = []
    depth = 0
    queues = list(cells.values())
    while len(chosen) < cap:
        layer = [q[depth] for q in queues if len(q) > depth]
        if not layer:
            break
        layer.sort(key=lambda j: -kps[j].response)
        chosen.extend(layer[: cap - len(chosen)])
        depth += 1
    return chosen


def extract(
    pixels: npt.NDArray[np.uint8],
    params: FeatureParams = DEFAULT_PARAMS,
    exclude: list[tuple[int, int, int, int]] | None = None,
) -> SceneFeatures:
    """Compute capped RootSIFT features of an RGB (or grey) uint8 image.

    Args:
        pixels: H x W x 3 RGB uint8 (as :func:`vigil.content.decode.decode` returns) or H x W.
        params: extraction parameters.
        exclude: boxes ``(x0, y0, x1, y1)`` in original pixels where no keypoint may lie
            (people, faces), so that links come from the room rather than the person.
    """
    h0, w0 = pixels.shape[:2]
    if h0 == 0 or w0 == 0:
        raise InvalidInput("empty image")
    scale = min(1.0, params.max_side / max(h0, w0))
    w, h = (max(1, round(w0 * scale)), max(1, round(h0 * scale))) if scale < 1.0 else (w0, h0)
    small, det_scale = resize_for_features(pixels, params.detect_side or params.max_side)
    grey = _grey(small)
    dh, dw = grey.shape
    mask: npt.NDArray[np.uint8] | None = None
    if exclude:
        mask = np.full((dh, dw), 255, np.uint8)
        for x0, y0, x1, y1 in exclude:
            a0, b0 = max(0, int(x0 * det_scale)), max(0, int(y0 * det_scale))
            a1 = min(dw, int(np.ceil(x1 * det_scale)))
            b1 = min(dh, int(np.ceil(y1 * det_scale)))
            if a1 > a0 and b1 > b0:
                mask[b0:b1, a0:a1] = 0
    sift = _sift(params.contrast_threshold)
    kps_out: Sequence[cv2.KeyPoint]
    raw: object
    if params.single_pass:
        found, raw = sift.detectAndCompute(grey, mask)
        keep = _select(found, dw, dh, params.max_keypoints, params.grid)
        kps_out = [found[i] for i in keep]
        if raw is not None and kps_out:
            raw = np.asarray(raw)[keep]
    else:
        found = sift.detect(grey, mask)
        kps = [found[i] for i in _select(found, dw, dh, params.max_keypoints, params.grid)]
        kps_out, raw = sift.compute(grey, kps) if kps else ([], None)
    desc = None if raw is None else np.asarray(raw, np.float32)
    if desc is None or len(kps_out) == 0:
        return SceneFeatures(
            np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8), w, h, scale
        )
    d = desc.astype(np.float32)
    d /= np.maximum(d.sum(axis=1, keepdims=True), 1e-7)
    root = np.sqrt(d)
    quant = np.clip(np.round(root * DESCRIPTOR_SCALE), 0, 255).astype(np.uint8)
    xy = np.array([k.pt for k in kps_out], dtype=np.float32).reshape(-1, 2)
    if det_scale != scale:  # detection image -> feature image (pixel centres kept)
        ratio = np.float32(scale / det_scale)
        xy = (xy + np.float32(0.5)) * ratio - np.float32(0.5)
    return SceneFeatures(np.ascontiguousarray(xy, np.float32), quant, w, h, scale)
