"""Conformance suite every registered ingest analyzer must pass."""

from __future__ import annotations

import pickle

import pytest

from vigil.content.types import KINDS
from vigil.ingest.analyzers import ANALYZERS, Analyzer, AnalyzerOutput
from vigil.plugins import load_defaults
from vigil.store.db import Database
from vigil.store.repo import add_item

load_defaults()


def test_registry_is_not_empty_or_explains() -> None:
    # The foundation ships no analyzer of its own; capabilities register theirs.
    assert all(isinstance(a, Analyzer) for a in ANALYZERS)


@pytest.mark.parametrize("name", ANALYZERS.names())
def test_analyzer_contract(name: str, db: Database) -> None:
    analyzer = ANALYZERS.get(name)
    assert analyzer.version
    assert analyzer.kinds and set(analyzer.kinds) <= set(KINDS)
    examples = list(analyzer.examples())
    assert examples, "an analyzer must ship examples for this suite"
    for blob in examples:
        assert blob.kind in analyzer.kinds
        output = analyzer.analyze(blob)
        assert isinstance(output, AnalyzerOutput)
        assert all(isinstance(c, str) and isinstance(m, str) and m for c, m in output.warnings)
        restored = pickle.loads(pickle.dumps(output))  # noqa: S301 - our own object, crossing a process pool
        with db.write() as s:
            item = add_item(
                s,
                sha256=blob.sha256,
                sha1="0" * 40,
                md5="0" * 32,
                size=blob.size,
                content_type=blob.content_type,
                kind=blob.kind,
                extractor_version="test",
            )
            if restored.payload is not None:
                analyzer.persist(s, item.id, restored)
