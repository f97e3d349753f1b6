"""The analyzer seam: per-item work that runs inside ingest workers on *new* content only.

An analyzer (PDQ hashing, face detection, scene features ...) sees each unique item once, in a
worker process, and returns a picklable result; the single writer process then hands that result
to the analyzer's ``persist`` inside the ingest transaction. Items ingested before an analyzer
existed are back-filled with ``vigil analyze CASE --analyzer NAME``, which re-reads the content
from the evidence (read-only) and calls the same two methods.

Analyzers register explicitly in :data:`ANALYZERS` from :func:`register_defaults` (no import
side effects); each must pass ``tests/contract/test_analyzers.py``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

from sqlalchemy.orm import Session

from vigil.registry import Registry
from vigil.settings import Settings
from vigil.store.db import Database


@dataclass(frozen=True)
class Blob:
    """One item's content as an analyzer sees it (read-only).

    Exactly one of ``path`` and ``data`` is set: ``path`` for files read in place or spooled
    archive members, ``data`` for small archive members held in memory.
    """

    sha256: str
    size: int
    content_type: str
    kind: str
    path: Path | None = None
    data: bytes | None = None
    display_path: str = ""

    def open(self) -> BinaryIO:
        """A fresh binary stream over the content."""
        if self.data is not None:
            return io.BytesIO(self.data)
        if self.path is None:
            raise ValueError("blob has neither path nor data")
        return self.path.open("rb")

    def source(self) -> Path | bytes:
        """What :func:`vigil.content.decode.decode` and PyAV accept directly."""
        if self.data is not None:
            return self.data
        if self.path is None:
            raise ValueError("blob has neither path nor data")
        return self.path


@dataclass
class AnalyzerOutput:
    """What an analyzer returns for one item: a picklable payload plus warnings as data."""

    payload: Any = None
    warnings: list[tuple[str, str]] = field(default_factory=list)
    """(code, message) pairs stored as warnings on the item, e.g. ("pdq_low_quality", "...")."""


@runtime_checkable
class Analyzer(Protocol):
    """Per-item analysis run during ingest."""

    @property
    def name(self) -> str:
        """Registry name, lower_snake_case (``pdq``, ``faces``, ``scene``)."""
        ...

    @property
    def version(self) -> str:
        """Bumped whenever output for the same input may change; stored with results."""
        ...

    @property
    def kinds(self) -> frozenset[str]:
        """Item kinds this analyzer wants (``photo``, ``video``)."""
        ...

    @property
    def default_enabled(self) -> bool:
        """Whether ``vigil ingest`` runs it without being asked (keep expensive ones opt-in)."""
        ...

    def analyze(self, blob: Blob) -> AnalyzerOutput:
        """Compute the result in a worker process. Must not touch the database."""
        ...

    def persist(self, session: Session, item_id: int, output: AnalyzerOutput) -> None:
        """Store the result (called in the writer process, inside the ingest transaction)."""
        ...

    def examples(self) -> Sequence[Blob]:
        """Blobs built from generated content, for the contract test."""
        ...


class CaseFollowUp(Protocol):
    """Optional capability of an analyzer: case-level work once an ingest that ran it finishes.

    For example the faces analyzer re-clusters the case and searches it against earlier cases
    and the victim library, so a new seizure produces candidate links without anyone asking.
    """

    def after_case(self, settings: Settings, db: Database, case_name: str, actor: str) -> None:
        """Called in the writer process after a successful ingest (errors become warnings)."""
        ...


ANALYZERS: Registry[Analyzer] = Registry("analyzer")
