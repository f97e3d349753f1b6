"""Fixtures for face tests: one shared pipeline (models load once per session), cached analyzer
outputs and a case builder that records items as ingest would and stores their faces."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from vigil.faces.analyzer import FaceAnalyzer
from vigil.faces.pipeline import FacePipeline, default_pipeline
from vigil.ingest.analyzers import AnalyzerOutput
from vigil.store.db import Database

from .helpers import add_item, blob_of

_OUTPUTS: dict[str, AnalyzerOutput] = {}


@pytest.fixture(scope="session")
def pipeline() -> FacePipeline:
    """The default dlib pipeline (loaded once)."""
    return default_pipeline()


@pytest.fixture(scope="session")
def analyzer(pipeline: FacePipeline) -> FaceAnalyzer:
    """The faces analyzer sharing the session pipeline."""
    a = FaceAnalyzer(every_s=1.0, max_frames=10)
    a._pipeline = pipeline
    return a


@pytest.fixture(scope="session")
def analyze_cached(analyzer: FaceAnalyzer) -> Callable[[bytes, str], AnalyzerOutput]:
    """Analyzer output per content (cached across tests: detection is the slow part)."""

    def run(data: bytes, name: str) -> AnalyzerOutput:
        key = hashlib.sha256(data).hexdigest()
        if key not in _OUTPUTS:
            _OUTPUTS[key] = analyzer.analyze(blob_of(data, name))
        return _OUTPUTS[key]

    return run


@pytest.fixture
def build_case(
    db: Database, analyzer: FaceAnalyzer, analyze_cached: Callable[[bytes, str], AnalyzerOutput]
) -> Callable[[str, dict[str, bytes]], dict[str, int]]:
    """Create a case whose photos were ingested with the faces analyzer; returns name → item id."""

    def build(case_name: str, photos: dict[str, bytes]) -> dict[str, int]:
        ids = {}
        for name, data in photos.items():
            output = analyze_cached(data, name)
            with db.write() as session:
                item_id = add_item(session, case_name, name, data)
                analyzer.persist(session, item_id, output)
            ids[name] = item_id
        return ids

    return build
