"""The registry of hash-set file formats (reader + writer + sniffer per format)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vigil.errors import WrongFormat
from vigil.hashsets import icse, lists, vics
from vigil.hashsets.model import Entry, ParsedSet
from vigil.registry import Registry
from vigil.text import decode_bytes


@dataclass(frozen=True)
class HashSetFormat:
    """One file format: how to recognise, read and write it."""

    name: str
    description: str
    extension: str
    sniff: Callable[[bytes], bool]
    reader: Callable[[bytes], ParsedSet]
    writer: Callable[[list[Entry], str | None, dict[str, Any]], bytes]

    def read(self, data: bytes) -> ParsedSet:
        """Parse ``data`` (tolerant: bad rows become warnings)."""
        return self.reader(data)

    def write(
        self,
        entries: list[Entry],
        *,
        variant: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> bytes:
        """Serialise ``entries`` (strict: malformed values raise)."""
        return self.writer(entries, variant, dict(meta or {}))


FORMATS: Registry[HashSetFormat] = Registry("hash-set format")


def register_defaults() -> None:
    """Register the built-in formats (idempotent); order is the detection order."""
    builtins = [
        HashSetFormat(
            vics.NAME,
            "Project VIC / VICS JSON 1.x and 2.0 (US, UK, Default)",
            "json",
            vics.sniff,
            vics.read,
            lambda e, v, m: vics.write(e, variant=v, meta=m),
        ),
        HashSetFormat(
            lists.PDQ_CSV,
            "PDQ CSV: hash,quality[,label]",
            "csv",
            lists.sniff_pdq_csv,
            lists.read_pdq_csv,
            lambda e, v, m: lists.write_pdq_csv(e, meta=m),
        ),
        HashSetFormat(
            icse.NAME,
            "INTERPOL ICSE-style ';'-separated CSV",
            "csv",
            icse.sniff,
            icse.read,
            lambda e, v, m: icse.write(e, meta=m),
        ),
        HashSetFormat(
            lists.DIGEST_LIST,
            "Plain MD5 / SHA-1 / SHA-256 list, one a line",
            "txt",
            lists.sniff_digest_list,
            lists.read_digest_list,
            lambda e, v, m: lists.write_digest_list(e, meta=m),
        ),
        HashSetFormat(
            lists.SHA256_LIST,
            "Plain SHA-256 list, one a line (never detected: name it with --format)",
            "txt",
            lambda head: False,
            lists.read_sha256_list,
            lambda e, v, m: lists.write_sha256_list(e, meta=m),
        ),
    ]
    for fmt in builtins:
        if fmt.name not in FORMATS:
            FORMATS.register(fmt)


def detect(data: bytes) -> HashSetFormat:
    """The format whose sniffer accepts the first 64 KiB of ``data``.

    Raises:
        WrongFormat: no known format recognises the data.
    """
    register_defaults()
    # sniffers read UTF-8: a UTF-16/32 or legacy head is transcoded first
    head = decode_bytes(data[:65536]).text.encode("utf-8", "replace")
    for fmt in FORMATS:
        if fmt.sniff(head):
            return fmt
    known = ", ".join(FORMATS.names())
    raise WrongFormat(
        f"unrecognised hash-set file (known formats: {known}); name one with --format"
    )


def get_format(name: str) -> HashSetFormat:
    """The format called ``name`` (NotFound lists the known ones)."""
    register_defaults()
    return FORMATS.get(name)
