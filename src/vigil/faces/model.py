"""The seams of the face pipeline: detector and embedder protocols, their results and model cards.

A unit may side-load another detector or embedder (a licensed model) by implementing
:class:`Detector` / :class:`Embedder`. Every stored vector names the :class:`ModelCard` of the
embedder that produced it, and vectors of different models are never compared.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

RGBImage = npt.NDArray[np.uint8]
"""H x W x 3 uint8 RGB pixels (as :func:`vigil.content.decode.decode` returns them)."""


@dataclass(frozen=True)
class ModelCard:
    """What produced a detection or a vector: name, version and the SHA-256 of the weights."""

    name: str
    version: str
    sha256: str
    """SHA-256 over the weight files (in order, each file's digest hashed again when several)."""
    dim: int = 0
    """Vector dimension for embedders, 0 for detectors."""

    def as_dict(self) -> dict[str, str | int]:
        """JSON-friendly form (CLI output, audit details)."""
        return {"name": self.name, "version": self.version, "sha256": self.sha256, "dim": self.dim}


@lru_cache(maxsize=16)
def weights_sha256(*paths: str) -> str:
    """SHA-256 of one weight file, or of the concatenated digests of several (cached per path)."""
    digests = []
    for path in paths:
        h = hashlib.sha256()
        with Path(path).open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        digests.append(h.hexdigest())
    if len(digests) == 1:
        return digests[0]
    return hashlib.sha256("".join(digests).encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Detection:
    """One face found in an image, in the coordinates of the image as given to the detector."""

    box: tuple[int, int, int, int]
    """(left, top, right, bottom) in pixels, clipped to the image."""
    score: float
    """Detector confidence (model-specific scale; dlib HOG: SVM margin, > 0 means a face)."""
    landmarks: tuple[tuple[float, float], ...]
    """Landmark points (dlib 5-point: right eye outer/inner, left eye outer/inner, nose)."""

    @property
    def size(self) -> int:
        """Shorter side of the box in pixels."""
        return min(self.box[2] - self.box[0], self.box[3] - self.box[1])


@runtime_checkable
class Detector(Protocol):
    """Finds faces and their landmarks."""

    @property
    def card(self) -> ModelCard:
        """The detector's model card."""
        ...

    def detect(self, image: RGBImage) -> list[Detection]:
        """Faces in ``image`` (best first). Must not fail on images without faces."""
        ...


@runtime_checkable
class Embedder(Protocol):
    """Turns aligned face crops into vectors comparable by Euclidean distance."""

    @property
    def card(self) -> ModelCard:
        """The embedder's model card (``dim`` set)."""
        ...

    @property
    def chip_size(self) -> int:
        """Side of the square aligned crop the embedder expects."""
        ...

    def align(self, image: RGBImage, detection: Detection) -> RGBImage:
        """The aligned ``chip_size`` x ``chip_size`` crop of ``detection`` in ``image``."""
        ...

    def embed(self, crops: Sequence[RGBImage]) -> npt.NDArray[np.float32]:
        """Vectors for aligned crops: float32 array of shape (len(crops), dim)."""
        ...
