"""Faces from the worker's shared decode equal faces from the analyzer's own decode (issue 16)."""

from __future__ import annotations

from vigil.faces.analyzer import FaceAnalyzer
from vigil.ingest.analyzers import PhotoPixels, run_analyzer

from .helpers import blob_of, photo_bytes


def test_shared_decode_gives_the_same_faces(analyzer: FaceAnalyzer) -> None:
    blob = blob_of(photo_bytes("biden_1.jpg"), "biden.jpg")
    pixels = PhotoPixels(blob)
    shared = run_analyzer(analyzer, blob, pixels)
    alone = analyzer.analyze(blob)
    assert shared.payload is not None and alone.payload is not None
    assert len(shared.payload.faces) == len(alone.payload.faces) >= 1
    for a, b in zip(shared.payload.faces, alone.payload.faces, strict=True):
        assert a["box"] == b["box"]
        assert (a["vector"] == b["vector"]).all()
    assert pixels.decodes == 1
