"""Fixtures for signal tests: the shared PDQ/vPDQ reference vectors (skip when absent)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest


def shared_dir() -> Path | None:
    """``$VIGIL_SHARED`` or ``../shared`` next to the repository, if it exists."""
    env = os.environ.get("VIGIL_SHARED")
    cand = Path(env) if env else Path(__file__).resolve().parents[2] / ".." / "shared"
    return cand.resolve() if (cand / "data" / "pdq-vectors").is_dir() else None


@pytest.fixture(scope="session")
def pdq_vectors() -> Path:
    """The ``data/pdq-vectors`` folder (tests using it skip cleanly when it is missing)."""
    root = shared_dir()
    if root is None:
        pytest.skip("shared PDQ reference vectors not available (set VIGIL_SHARED)")
    return root / "data" / "pdq-vectors"


@pytest.fixture(scope="session")
def expected_rows(pdq_vectors: Path) -> list[dict[str, str]]:
    """Rows of ``expected.csv``."""
    with (pdq_vectors / "expected.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
