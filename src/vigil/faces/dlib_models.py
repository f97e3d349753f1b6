"""The default face models: dlib's HOG detector, 5-point landmarks and ResNet descriptor.

Weights come from the installed ``face_recognition_models`` package (CC0: the 5-point shape
predictor and the ResNet face descriptor; the 68-point model is non-commercial and is not used).
Nothing is downloaded. Measured on this class of CPU (docs/faces.md): HOG with one upsampling
finds faces down to ~40 px in about 0.4 s per 1 MP photo; the descriptor takes ~0.1-0.2 s per
face. dlib's descriptor scores 99.38% on LFW (adults, mostly frontal); it is weaker on children,
profile views and low light.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.errors import BackendError
from vigil.faces.model import Detection, ModelCard, RGBImage, weights_sha256

_LOCK = threading.Lock()
_MODELS: dict[str, Any] = {}


def _dlib() -> Any:
    try:
        import dlib
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise BackendError(f"dlib is not installed (pip install dlib-bin): {exc}") from exc
    return dlib


def _model_path(which: str) -> str:
    try:
        import face_recognition_models as frm
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise BackendError(
            f"face_recognition_models is not installed (it needs setuptools<81): {exc}"
        ) from exc
    if which == "shape5":
        return str(frm.pose_predictor_five_point_model_location())
    if which == "resnet":
        return str(frm.face_recognition_model_location())
    raise ValueError(which)


def _load(which: str) -> Any:
    with _LOCK:
        if which not in _MODELS:
            dlib = _dlib()
            if which == "hog":
                _MODELS[which] = dlib.get_frontal_face_detector()
            elif which == "shape5":
                _MODELS[which] = dlib.shape_predictor(_model_path("shape5"))
            elif which == "resnet":
                _MODELS[which] = dlib.face_recognition_model_v1(_model_path("resnet"))
            else:
                raise ValueError(which)
        return _MODELS[which]


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def tiles(w: int, h: int, side: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(left, top, right, bottom) tiles of at most ``side`` px, evenly spread over a w x h
    image and overlapping their neighbours by at least ``overlap`` px (so a face narrower than
    that lies whole in one tile)."""

    def spans(n: int) -> list[tuple[int, int]]:
        if n <= side:
            return [(0, n)]
        count = -(-(n - overlap) // (side - overlap))
        size = -(-(n + (count - 1) * overlap) // count)
        starts = [round(i * (n - size) / (count - 1)) for i in range(count)]
        return [(s, s + size) for s in starts]

    return [(x0, y0, x1, y1) for y0, y1 in spans(h) for x0, x1 in spans(w)]


class DlibHogDetector:
    """dlib's HOG + linear SVM frontal face detector with 5-point landmarks.

    Large images are first scaled down to about ``max_pixels`` (detection cost grows with the
    pixel count), then upsampled ``upsample`` times inside dlib; boxes and landmarks are given in
    the coordinates of the image passed in. Landmarks are fitted on the full-resolution image.

    With ``small_faces`` (and ``upsample`` >= 1), an image larger than ``max_pixels`` is also
    searched at full resolution in overlapping tiles of ``tile`` px, so that faces down to ~40 px
    *of the original* are found (the scaled pass alone misses faces under ~40 px of the scaled
    image: ~120 px on a 12 MP photo). This costs about as much as detection on the full-size
    image (benchmarks/faces.py ``small_faces``); tiles bound the memory of dlib's upsampling.
    """

    def __init__(
        self,
        *,
        upsample: int = 1,
        min_score: float = 0.25,
        max_pixels: int = 1_300_000,
        small_faces: bool = False,
        tile: int = 2048,
    ) -> None:
        self.upsample = upsample
        self.min_score = min_score
        self.max_pixels = max_pixels
        self.small_faces = small_faces
        self.tile = tile

    @property
    def card(self) -> ModelCard:
        """Model card: the HOG model is compiled into dlib, the landmarks file is hashed."""
        dlib = _dlib()
        tiled = f";tiles={self.tile}" if self.small_faces and self.upsample >= 1 else ""
        return ModelCard(
            name="dlib_hog+shape_predictor_5",
            version=(
                f"dlib-{dlib.__version__};upsample={self.upsample};min_score={self.min_score};"
                f"max_pixels={self.max_pixels}{tiled}"
            ),
            sha256=weights_sha256(_model_path("shape5")),
        )

    def detect(self, image: RGBImage) -> list[Detection]:
        """Faces in ``image``, highest score first."""
        dlib = _dlib()
        hog = _load("hog")
        shape5 = _load("shape5")
        h, w = image.shape[:2]
        if h < 8 or w < 8:
            return []
        scale = 1.0
        work: Any = image
        if h * w > self.max_pixels:
            scale = (self.max_pixels / (h * w)) ** 0.5
            import cv2

            work = cv2.resize(
                image,
                (max(1, round(w * scale)), max(1, round(h * scale))),
                interpolation=cv2.INTER_AREA,
            )
        rects, scores, _ = hog.run(np.ascontiguousarray(work), self.upsample, 0.0)
        boxes: list[tuple[tuple[int, int, int, int], float]] = []
        for rect, score in zip(rects, scores, strict=True):
            if score < self.min_score:
                continue
            left = max(0, round(rect.left() / scale))
            top = max(0, round(rect.top() / scale))
            right = min(w, round((rect.right() + 1) / scale))
            bottom = min(h, round((rect.bottom() + 1) / scale))
            if right - left < 4 or bottom - top < 4:
                continue
            boxes.append(((left, top, right, bottom), float(score)))
        if self.small_faces and self.upsample >= 1 and scale < 1.0:
            boxes = self._merge(boxes, self._tiled(image, scale))
        found: list[Detection] = []
        for (left, top, right, bottom), score in boxes:
            full_rect = dlib.rectangle(left, top, right - 1, bottom - 1)
            shape = shape5(image, full_rect)
            points = tuple((float(p.x), float(p.y)) for p in shape.parts())
            found.append(Detection((left, top, right, bottom), score, points))
        found.sort(key=lambda d: -d.score)
        return found

    def _tiled(
        self, image: RGBImage, scale: float
    ) -> list[tuple[tuple[int, int, int, int], float]]:
        """Full-resolution pass over overlapping tiles, for faces the scaled pass cannot see."""
        hog = _load("hog")
        h, w = image.shape[:2]
        # the scaled pass finds faces from ~40 px of the scaled image: 40 / scale px here; the
        # overlap must hold any face smaller than that (with a margin) whole in one tile
        largest_missed = int(48 / scale)
        overlap = min(self.tile // 2, largest_missed)
        import cv2

        # grey: HOG over one channel instead of three, ~3x cheaper with the same faces found
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        out: list[tuple[tuple[int, int, int, int], float]] = []
        for left, top, right, bottom in tiles(w, h, self.tile, overlap):
            view = np.ascontiguousarray(grey[top:bottom, left:right])
            rects, scores, _ = hog.run(view, self.upsample, 0.0)
            for rect, score in zip(rects, scores, strict=True):
                if score < self.min_score:
                    continue
                box = (
                    max(0, left + rect.left()),
                    max(0, top + rect.top()),
                    min(w, left + rect.right() + 1),
                    min(h, top + rect.bottom() + 1),
                )
                if box[2] - box[0] >= 4 and box[3] - box[1] >= 4:
                    out.append((box, float(score)))
        return out

    @staticmethod
    def _merge(
        first: list[tuple[tuple[int, int, int, int], float]],
        more: list[tuple[tuple[int, int, int, int], float]],
    ) -> list[tuple[tuple[int, int, int, int], float]]:
        """Greedy non-maximum suppression over both passes (a face found twice is kept once,
        with its best score)."""
        kept: list[tuple[tuple[int, int, int, int], float]] = []
        for box, score in sorted(first + more, key=lambda b: -b[1]):
            if all(_iou(box, k[0]) < 0.3 for k in kept):
                kept.append((box, score))
        return kept


class DlibResNetEmbedder:
    """dlib's ResNet face descriptor (128-d, Euclidean distance; dlib's own threshold is 0.6)."""

    chip_size = 150

    def __init__(self, *, padding: float = 0.25, jitter: int = 0) -> None:
        self.padding = padding
        self.jitter = jitter

    @property
    def card(self) -> ModelCard:
        """Model card with the SHA-256 of ``dlib_face_recognition_resnet_model_v1.dat``."""
        return ModelCard(
            name="dlib_resnet_v1",
            version=f"chip=150;padding={self.padding};jitter={self.jitter}",
            sha256=weights_sha256(_model_path("resnet")),
            dim=128,
        )

    def align(self, image: RGBImage, detection: Detection) -> RGBImage:
        """Similarity-aligned 150 x 150 chip from the 5 landmarks (dlib.get_face_chip)."""
        dlib = _dlib()
        if len(detection.landmarks) != 5:
            raise BackendError(f"dlib alignment needs 5 landmarks, got {len(detection.landmarks)}")
        left, top, right, bottom = detection.box
        rect = dlib.rectangle(left, top, right - 1, bottom - 1)
        points = dlib.points()
        for x, y in detection.landmarks:
            points.append(dlib.point(round(x), round(y)))
        shape = dlib.full_object_detection(rect, points)
        chip = dlib.get_face_chip(image, shape, size=self.chip_size, padding=self.padding)
        return np.ascontiguousarray(chip, dtype=np.uint8)

    def embed(self, crops: Sequence[RGBImage]) -> npt.NDArray[np.float32]:
        """Descriptors of aligned chips, shape (n, 128), float32."""
        if not crops:
            return np.zeros((0, 128), dtype=np.float32)
        model = _load("resnet")
        chips = [np.ascontiguousarray(c, dtype=np.uint8) for c in crops]
        for chip in chips:
            if chip.shape != (self.chip_size, self.chip_size, 3):
                raise BackendError(f"face crop has shape {chip.shape}, expected 150x150x3")
        if self.jitter:
            vecs = [model.compute_face_descriptor(c, self.jitter) for c in chips]
        else:
            vecs = list(model.compute_face_descriptor(chips))
        return np.asarray([np.asarray(v) for v in vecs], dtype=np.float32).reshape(len(chips), 128)
