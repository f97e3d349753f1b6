"""The analyzer seam: per-item work that runs inside ingest workers on *new* content only.

An analyzer (PDQ hashing, face detection, scene features ...) sees each unique item once, in a
worker process, and returns a picklable result; the single writer process then hands that result
to the analyzer's ``persist`` inside the ingest transaction. Items ingested before an analyzer
existed are back-filled with ``vigil analyze CASE --analyzer NAME``, which re-reads the content
from the evidence (read-only) and calls the same two methods.

Analyzers register explicitly in :data:`ANALYZERS` from :func:`register_defaults` (no import
side effects); each must pass ``tests/contract/test_analyzers.py``.

**Decode once, analyse many** (issue 16): an analyzer of photos that also implements
:class:`ImageAnalyzer` (``image_needs`` + ``analyze_image``) is handed pixels decoded by the
worker, shared with every other analyzer that needs the same scale, instead of decoding the file
itself. :func:`run_analyzer` is the one place that does this, for ingest and back-fill alike.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, runtime_checkable

from vigil.errors import VigilError
from vigil.registry import Registry

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from vigil.content.decode import Decoded
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
        from vigil.evidence.readonly import open_readonly

        return open_readonly(self.path)  # evidence: O_NOATIME where allowed

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


@dataclass(frozen=True)
class ImageNeeds:
    """The decoded scale an image analyzer needs (analyzers with equal needs share one decode).

    ``min_side``: the decoded shorter side must be at least this many pixels, so a reduced-scale
    decode (JPEG DCT scaling, box reduction for other formats) is allowed down to it; ``None``
    asks for the full scale (capped by the worker's decode budget, see
    :mod:`vigil.content.decode`; ``Decoded.scale`` then says how far it was reduced).
    EXIF orientation is always applied.
    """

    min_side: int | None = None


ANALYSIS_MIN_SIDE = 640
"""The scale PDQ and scene features share, so that the default analyzers decode a photo once."""


@runtime_checkable
class ImageAnalyzer(Protocol):
    """Optional capability: analyse already decoded photo pixels (see :func:`run_analyzer`).

    ``analyze(blob)`` must stay equivalent to ``analyze_image(blob, decode(blob.source(),
    min_side=image_needs.min_side))`` (it is what back-fill of a single analyzer and tests use).
    """

    @property
    def image_needs(self) -> ImageNeeds:
        """The scale this analyzer's photo pixels must have."""
        ...

    def analyze_image(self, blob: Blob, image: Decoded) -> AnalyzerOutput:
        """Compute the result from decoded pixels (photos only). Must not touch the database."""
        ...


class PhotoPixels:
    """One photo's decodes in a worker, shared by its analyzers.

    Requests are keyed by the decode plan they lead to (:func:`~vigil.content.decode.plan_key`),
    so needs that give the same pixels share one decode (e.g. a 2 MP photo: full scale for
    faces, >= 640 px for PDQ and scenes). A box-reduced request of a non-JPEG photo is derived
    from a full-scale decode when one exists (same pixels); a JPEG needing both full and
    DCT-reduced pixels is decoded twice (the second at 1/2-1/8 scale, a fraction of the cost).
    A failed decode is remembered too, so a bomb or a damaged file is refused once, not once
    per analyzer. ``decodes`` counts real decodes (tests check that a photo is decoded once).
    """

    def __init__(self, blob: Blob) -> None:
        self.blob = blob
        self.decodes = 0
        self._cache: dict[tuple[int, int], Decoded | Exception] = {}
        self._header: tuple[tuple[int, int], str | None] | None = None

    def _key(self, needs: ImageNeeds) -> tuple[int, int]:
        from vigil.content import decode as decoding

        if self._header is None:
            img = decoding.open_image(self.blob.source())  # header only
            try:
                self._header = (img.size, img.format)
            finally:
                img.close()
        size, fmt = self._header
        return decoding.plan_key(size, fmt, min_side=needs.min_side)

    def at(self, needs: ImageNeeds) -> Decoded:
        """Pixels at ``needs`` (decoded on first request); raises what the decode raised."""
        from vigil.content import decode as decoding

        key = self._key(needs)
        if key not in self._cache:
            full = self._cache.get((1, 1))
            if key[0] == 1 and isinstance(full, decoding.Decoded):
                self._cache[key] = decoding.reduce_decoded(full, key[1])
            else:
                self.decodes += 1
                try:
                    self._cache[key] = decoding.decode(self.blob.source(), min_side=needs.min_side)
                except Exception as exc:  # noqa: BLE001 - kept and re-raised to every asker
                    self._cache[key] = exc
        found = self._cache[key]
        if isinstance(found, Exception):
            raise found
        return found


def run_analyzer(
    analyzer: Analyzer, blob: Blob, pixels: PhotoPixels | None = None
) -> AnalyzerOutput:
    """Run one analyzer on one item; failures become ``<name>_failed`` warnings, never raise.

    Photos go through the shared decode when the analyzer is an :class:`ImageAnalyzer`; when
    that decode fails the analyzer's own ``analyze`` runs instead, so it reports the failure
    in its own terms (e.g. PDQ stores ``pdq_decode_error``).
    """
    name = analyzer.name
    try:
        if blob.kind == "photo" and isinstance(analyzer, ImageAnalyzer):
            shared = pixels if pixels is not None else PhotoPixels(blob)
            try:
                image = shared.at(analyzer.image_needs)
            except Exception:  # noqa: BLE001 - the analyzer's own path reports it below
                return analyzer.analyze(blob)
            return analyzer.analyze_image(blob, image)
        return analyzer.analyze(blob)
    except VigilError as exc:
        return AnalyzerOutput(None, [(f"{name}_failed", str(exc))])
    except Exception as exc:  # noqa: BLE001 - third-party decoders/models may raise anything
        return AnalyzerOutput(None, [(f"{name}_failed", f"{type(exc).__name__}: {exc}")])


ANALYZERS: Registry[Analyzer] = Registry("analyzer")
