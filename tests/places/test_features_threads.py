"""Scene features do not depend on how many threads OpenCV uses (ingest workers run it with one
thread each, issue 16; a search or a single process may use more)."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import pytest

from vigil.places.features import DEFAULT_PARAMS, FeatureParams, extract

from .helpers import scene


@pytest.fixture
def restore_threads() -> Iterator[None]:
    before = cv2.getNumThreads()
    yield
    cv2.setNumThreads(before)


@pytest.mark.parametrize("params", [DEFAULT_PARAMS, FeatureParams(max_keypoints=300)])
def test_features_are_the_same_with_one_or_several_opencv_threads(
    restore_threads: None, params: FeatureParams
) -> None:
    for seed, (w, h) in enumerate([(1632, 1224), (1224, 1632), (900, 700)]):
        pixels = scene(seed, w, h)
        records = []
        for n in (1, 2, 4):
            cv2.setNumThreads(n)
            assert cv2.getNumThreads() == n
            records.append(extract(pixels, params).to_bytes())
        assert len(records[0]) > 16 + 132 * 100  # a textured scene: many keypoints
        assert records[1] == records[0]
        assert records[2] == records[0]
