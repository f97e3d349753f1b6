"""The ``scene`` ingest analyzer: RootSIFT scene features of photos and sampled video frames.

Enabled by default. Cost measured on this class of CPU (one core): about 35 ms for a 2 MP photo
with few features and 95 ms for a textured room (SIFT on 480 px, ``rootsift/2``; docs/places.md),
i.e. of the same order as decoding and hashing the photo; videos are sampled every 10 s (at most
12 frames). Storage is 132 bytes per keypoint, at most 2000 keypoints (264 kB) per image. Switch it off for a quick first pass with
``vigil ingest --analyzer ...`` naming only the analyzers wanted, and back-fill later with
``vigil analyze CASE --analyzer scene`` (or ``vigil places scan CASE``).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from vigil.content.decode import Decoded, decode
from vigil.errors import VigilError
from vigil.ingest.analyzers import AnalyzerOutput, Blob, ImageNeeds
from vigil.places.features import (
    DEFAULT_PARAMS,
    EXTRACTOR_NAME,
    EXTRACTOR_VERSION,
    FeatureParams,
    extract,
)

EXTRACTOR = f"{EXTRACTOR_NAME}/{EXTRACTOR_VERSION}"
"""Stored with every feature row; rows of another extractor version are not mixed in searches."""


@dataclass
class SceneFrame:
    frame: int
    time_s: float | None
    width: int
    height: int
    n_keypoints: int
    data: bytes


@dataclass
class ScenePayload:
    """Picklable analyzer result."""

    extractor: str
    frames: list[SceneFrame] = field(default_factory=list)


def features_of_pixels(pixels: object, params: FeatureParams = DEFAULT_PARAMS) -> SceneFrame:
    import numpy as np

    arr = np.asarray(pixels, np.uint8)
    feats = extract(arr, params)
    h, w = arr.shape[:2]
    return SceneFrame(0, None, int(w), int(h), len(feats), feats.to_bytes())


class SceneAnalyzer:
    """Scene features for place linking (see module docstring for cost)."""

    name = "scene"
    version = f"{EXTRACTOR_VERSION}-k{DEFAULT_PARAMS.max_keypoints}"
    """The keypoint cap is part of the analysis version: when the default cap changes, items
    analysed before become pending again for ``vigil places scan`` and get fresh features."""
    kinds = frozenset({"photo", "video"})
    default_enabled = True

    @property
    def image_needs(self) -> ImageNeeds:
        """Shorter side >= the working size (640 by default, shared with PDQ: one decode)."""
        return ImageNeeds(self.params.max_side)

    def analyze_image(self, blob: Blob, image: Decoded) -> AnalyzerOutput:
        """Features of a photo from the worker's shared decode (keypoints in its pixels)."""
        warnings: list[tuple[str, str]] = []
        frame = features_of_pixels(image.pixels, self.params)
        if frame.n_keypoints == 0:
            warnings.append(("scene_no_features", "no scene features found (blank or tiny image)"))
        return AnalyzerOutput(ScenePayload(EXTRACTOR, [frame]), warnings)

    def __init__(self, params: FeatureParams = DEFAULT_PARAMS, *, every_s: float = 10.0,
                 max_frames: int = 12) -> None:  # fmt: skip
        self.params = params
        self.every_s = every_s
        self.max_frames = max_frames

    def analyze(self, blob: Blob) -> AnalyzerOutput:
        """Features of one photo or of a video's sampled frames; failures become warnings."""
        payload = ScenePayload(EXTRACTOR)
        warnings: list[tuple[str, str]] = []
        try:
            if blob.kind == "video":
                from vigil.content.video import sample_frames

                try:
                    for i, (t, pixels) in enumerate(
                        sample_frames(
                            blob.source(), every_s=self.every_s, max_frames=self.max_frames
                        )
                    ):
                        fr = features_of_pixels(pixels, self.params)
                        fr.frame, fr.time_s = i + 1, round(float(t), 3)
                        payload.frames.append(fr)
                except VigilError as exc:
                    warnings.append((f"scene_{exc.code}", f"video frames: {exc}"))
            else:
                # keypoints refer to the decoded pixels (same decode as for drawings)
                return self.analyze_image(
                    blob, decode(blob.source(), min_side=self.params.max_side)
                )
        except VigilError as exc:
            return AnalyzerOutput(None, [(f"scene_{exc.code}", str(exc))])
        if payload.frames and all(f.n_keypoints == 0 for f in payload.frames):
            warnings.append(("scene_no_features", "no scene features found (blank or tiny image)"))
        return AnalyzerOutput(payload, warnings)

    def persist(self, session: Session, item_id: int, output: AnalyzerOutput) -> None:
        """Store the features, replacing the item's earlier rows (a re-scan after the keypoint
        cap or the extractor version changed; a repeated analysis stores one set)."""
        payload = output.payload
        if not isinstance(payload, ScenePayload):
            return
        from vigil.store import places as store

        store.replace_item_features(session, item_id, None)
        for fr in payload.frames:
            store.add_scene_feature(
                session,
                item_id=item_id,
                frame=fr.frame,
                time_s=fr.time_s,
                data=fr.data,
                n_keypoints=fr.n_keypoints,
                width=fr.width,
                height=fr.height,
                extractor=payload.extractor,
            )

    def examples(self) -> Sequence[Blob]:
        """A generated textured photo (random rectangles) for the contract test."""
        import numpy as np
        from PIL import Image

        rng = np.random.default_rng(0)
        pixels = np.full((120, 160, 3), 200, np.uint8)
        for _ in range(25):
            x, y = int(rng.integers(0, 150)), int(rng.integers(0, 110))
            pixels[y : y + 12, x : x + 10] = rng.integers(0, 255, 3, dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="PNG")
        data = buf.getvalue()
        return [
            Blob(
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                content_type="png",
                kind="photo",
                data=data,
                display_path="rectangles.png",
            )
        ]


def register_defaults() -> None:
    """Register the ``scene`` analyzer and the places summary section (``load_defaults``)."""
    from vigil.ingest.analyzers import ANALYZERS
    from vigil.places.report import register_summary_section

    if "scene" not in ANALYZERS:
        ANALYZERS.register(SceneAnalyzer())
    register_summary_section()
