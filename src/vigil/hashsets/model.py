"""The normalised hash-set record every reader produces and every writer consumes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ENTRY_FIELDS = (
    "media_id",
    "md5",
    "sha1",
    "sha256",
    "pdq",
    "pdq_quality",
    "photodna",
    "category",
    "series",
    "label",
    "victim_identified",
    "offender_identified",
    "is_distributed",
    "is_precategorized",
    "media_size",
)


@dataclass
class Entry:
    """One known media record: hashes and case-work metadata, never media.

    ``record`` keeps every other field of the source (tags, media files, alternative hashes,
    EXIF rows, unknown columns) in a normalised form so that an export reproduces it.
    """

    media_id: str | None = None
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    pdq: str | None = None
    pdq_quality: int | None = None
    photodna: str | None = None
    category: str | None = None
    series: str | None = None
    label: str | None = None
    victim_identified: bool | None = None
    offender_identified: bool | None = None
    is_distributed: bool | None = None
    is_precategorized: bool | None = None
    media_size: int | None = None
    record: dict[str, Any] = field(default_factory=dict)

    def has_signal(self) -> bool:
        """Whether the entry carries anything Vigil can match on."""
        return any((self.md5, self.sha1, self.sha256, self.pdq))

    def as_dict(self) -> dict[str, Any]:
        """All fields as a plain dict (for comparisons and storage)."""
        return asdict(self)


@dataclass(frozen=True)
class ImportWarning:
    """A problem with one row or object of a hash-set file; the rest still imports."""

    line: int
    """1-based line number in the file (0 when the problem concerns the whole file)."""
    code: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        return f"{where}: {self.message} [{self.code}]"


@dataclass
class ParsedSet:
    """What a reader got out of one file."""

    format: str
    entries: list[Entry] = field(default_factory=list)
    warnings: list[ImportWarning] = field(default_factory=list)
    variant: str | None = None
    """Format version / flavour (``1.3``, ``2.0/US`` ...)."""
    scheme: str | None = None
    """Category scheme the file declares or implies; None when it says nothing."""
    meta: dict[str, Any] = field(default_factory=dict)
    encoding: str | None = None
    """How the file's text was decoded, with why (``utf-8 (byte-order mark)`` ...)."""

    def warn(self, line: int, code: str, message: str) -> None:
        """Record a warning."""
        self.warnings.append(ImportWarning(line, code, message))
