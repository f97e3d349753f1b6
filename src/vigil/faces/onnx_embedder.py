"""Bring your own face model: an ArcFace-class ONNX embedder loaded from a local file.

A unit may hold a licensed modern face model (ArcFace / SFace class, 112 x 112 RGB input,
one embedding per face). It is registered with ``vigil faces models add PATH --name N
--licence L`` (the file is read where it lies and hashed; nothing is downloaded or copied),
runs beside the default dlib model (its vectors are stored under its own model card and its
own index, never compared with another model's), and must be calibrated on the unit's own
labelled set before search or clustering use it (:func:`vigil.faces.service.require_usable`).

Input convention (ArcFace / InsightFace): a 112 x 112 RGB chip aligned on the 5 landmarks,
``(pixel - 127.5) / 127.5``, NCHW float32; output ``(N, dim)`` (L2-normalised here, so
distances lie in 0..2). dlib's 5 points (eye corners and nose) differ from ArcFace's (eye
centres, nose, mouth corners), so the chip is dlib's similarity alignment with padding 0.1:
close to, not exactly, the reference alignment - one more reason to calibrate.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vigil.errors import BackendError, InvalidInput
from vigil.faces.model import Detection, ModelCard, RGBImage, weights_sha256
from vigil.faces.onnxrt import cpu_session

CHIP = 112
PADDING = 0.1
MIN_DIM, MAX_DIM = 32, 4096
CARD_PREFIX = "onnx:"


class OnnxEmbedder:
    """An ArcFace-class ONNX face embedder from a local file (see the module doc)."""

    chip_size = CHIP

    def __init__(self, path: Path, name: str) -> None:
        self.path = Path(path)
        self.name = name
        if not self.path.is_file():
            raise InvalidInput(f"{self.path}: no such model file")
        # hashed afresh (weights_sha256 caches per path, and a unit's file may be replaced)
        self._sha256 = weights_sha256.__wrapped__(str(self.path.resolve()))
        self._lock = threading.Lock()
        self._sess = cpu_session(self.path)
        inputs = self._sess.get_inputs()
        if len(inputs) != 1:
            raise InvalidInput(
                f"{self.path}: the model must take one input, it takes {len(inputs)}"
            )
        shape = list(inputs[0].shape)
        if len(shape) != 4 or shape[1] not in (3, "3") or shape[2:] not in ([CHIP, CHIP],):
            raise InvalidInput(
                f"{self.path}: input shape {shape}, expected (N, 3, {CHIP}, {CHIP}) (ArcFace-class)"
            )
        self._input = str(inputs[0].name)
        probe = self._run(np.zeros((1, 3, CHIP, CHIP), np.float32))
        if probe.ndim != 2 or probe.shape[0] != 1 or not MIN_DIM <= probe.shape[1] <= MAX_DIM:
            raise InvalidInput(
                f"{self.path}: output shape {probe.shape}, expected (N, dim) with "
                f"{MIN_DIM} <= dim <= {MAX_DIM}"
            )
        self.dim = int(probe.shape[1])

    @property
    def card(self) -> ModelCard:
        """``onnx:<name>``, the input convention, and the SHA-256 of the file."""
        return ModelCard(
            name=f"{CARD_PREFIX}{self.name}",
            version=f"chip={CHIP};padding={PADDING};norm=arcface;l2",
            sha256=self._sha256,
            dim=self.dim,
        )

    def _run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        with self._lock:
            try:
                out = self._sess.run(None, {self._input: batch})[0]
            except Exception as exc:
                raise BackendError(f"{self.path}: inference failed: {exc}") from exc
        return np.asarray(out, dtype=np.float32)

    def align(self, image: RGBImage, detection: Detection) -> RGBImage:
        """112 x 112 chip by dlib's similarity alignment on the 5 landmarks."""
        from vigil.faces.dlib_models import _dlib

        dlib = _dlib()
        if len(detection.landmarks) != 5:
            raise BackendError(f"alignment needs 5 landmarks, got {len(detection.landmarks)}")
        left, top, right, bottom = detection.box
        points = dlib.points()
        for x, y in detection.landmarks:
            points.append(dlib.point(round(x), round(y)))
        shape = dlib.full_object_detection(dlib.rectangle(left, top, right - 1, bottom - 1), points)
        chip = dlib.get_face_chip(image, shape, size=CHIP, padding=PADDING)
        return np.ascontiguousarray(chip, dtype=np.uint8)

    def embed(self, crops: Sequence[RGBImage]) -> npt.NDArray[np.float32]:
        """L2-normalised embeddings, shape (n, dim)."""
        if not crops:
            return np.zeros((0, self.dim), np.float32)
        batch = np.stack([np.asarray(c, np.float32) for c in crops])
        if batch.shape[1:] != (CHIP, CHIP, 3):
            raise BackendError(f"face crops have shape {batch.shape[1:]}, expected 112x112x3")
        x = ((batch - 127.5) / 127.5).transpose(0, 3, 1, 2)
        out = self._run(np.ascontiguousarray(x, np.float32))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        vecs: npt.NDArray[np.float32] = (out / np.maximum(norms, 1e-12)).astype(np.float32)
        return vecs
