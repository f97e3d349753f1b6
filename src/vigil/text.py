"""Reading text files whose encoding nobody declared (hash sets, record batches).

Files from other agencies and processors arrive as UTF-8 with or without a byte-order mark,
UTF-16/32 (Excel's "Unicode text", with or without a BOM) or a Windows code page. Two rules:

* **Decoding never raises and never loops.** Bytes that are not valid in the chosen encoding
  become *marks* (lone surrogates ``U+DC00 + byte``, see :data:`MARK_ERRORS`), so a reader can
  find the row that holds them, skip or re-read that row with a warning, and carry on. Python's
  strict decoders raise instead, and a row loop that catches the error and asks again for the
  same row never ends (issue 14).
* **The encoding used is always said.** :func:`decode_bytes` returns it with the lines it had to
  read in the legacy code page, and callers put both in their import report.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from vigil.errors import InvalidInput

MARK_ERRORS = "vigil.mark"
"""Codec error handler: each undecodable byte ``b`` becomes the lone surrogate ``U+DC00 + b``."""

LEGACY = "cp1252"
"""The legacy code page assumed for 8-bit text that is not UTF-8 (Windows Western, a superset
of Latin-1's printable range); bytes it leaves undefined are read as Latin-1."""

_MARK = re.compile("[\udc00-\udcff]")
_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (b"\x00\x00\xfe\xff", "utf-32-be", "utf-32"),
    (b"\xff\xfe\x00\x00", "utf-32-le", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8", "utf-8-sig"),
    (b"\xff\xfe", "utf-16-le", "utf-16"),
    (b"\xfe\xff", "utf-16-be", "utf-16"),
)


def _mark(exc: UnicodeError) -> tuple[str, int]:
    if isinstance(exc, UnicodeDecodeError):
        bad = exc.object[exc.start : exc.end]
        return "".join(chr(0xDC00 + b) for b in bad), exc.end
    raise exc


codecs.register_error(MARK_ERRORS, _mark)


def first_mark(text: str) -> str | None:
    """A description of the first undecodable byte in ``text`` (None when there is none)."""
    m = _MARK.search(text)
    if m is None:
        return None
    return f"byte 0x{ord(m.group()) - 0xDC00:02X} at character {m.start() + 1}"


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> str | None:
    """What in ``text`` no database can store, described (None when all is well): an
    undecodable byte (a mark), a lone surrogate (from a JSON ``\\udXXX`` escape) or NUL."""
    m = _UNSTORABLE.search(text)
    if m is None:
        return None
    ch = m.group()
    if ch == "\x00":
        return f"a NUL character at character {m.start() + 1}"
    if "\udc00" <= ch <= "\udcff":
        return f"byte 0x{ord(ch) - 0xDC00:02X} at character {m.start() + 1}"
    return f"a lone surrogate U+{ord(ch):04X} at character {m.start() + 1}"


def has_mark(text: str) -> bool:
    """Whether ``text`` holds an undecodable byte."""
    return _MARK.search(text) is not None


@dataclass(frozen=True)
class Encoding:
    """How a file will be decoded."""

    name: str
    """What the import report says (``utf-8``, ``utf-16-le``, ``cp1252`` ...)."""
    codec: str
    """The Python codec that reads the file from its first byte (skips a BOM)."""
    bom: bool = False
    reason: str = ""
    """Why this encoding (``byte-order mark``, ``given``, ``default`` ...)."""

    def describe(self) -> str:
        """``utf-8 (byte-order mark)`` and the like, for reports."""
        return f"{self.name} ({self.reason})" if self.reason else self.name


def _utf16_without_bom(head: bytes) -> str | None:
    """``utf-16-le``/``-be`` when ASCII-range text shows NULs in every other byte."""
    sample = head[:4096]
    if len(sample) < 8:
        return None
    pairs = len(sample) // 2
    odd = sample[1::2][:pairs].count(0)
    even = sample[0::2][:pairs].count(0)
    if odd >= 0.4 * pairs and even == 0:
        return "utf-16-le"
    if even >= 0.4 * pairs and odd == 0:
        return "utf-16-be"
    return None


def sniff_encoding(head: bytes, given: str | None = None) -> Encoding:
    """The encoding of a file from its first bytes (a BOM wins over ``given``).

    Raises:
        InvalidInput: ``given`` names no codec Python knows.
    """
    for bom, name, codec in _BOMS:
        if head.startswith(bom):
            return Encoding(name, codec, bom=True, reason="byte-order mark")
    if given:
        try:
            info = codecs.lookup(given)
        except LookupError as exc:
            raise InvalidInput(f"unknown text encoding {given!r} (e.g. utf-8, cp1252)") from exc
        if info.name in ("utf-8", "utf-8-sig"):
            return Encoding("utf-8", "utf-8-sig", reason="given")
        return Encoding(info.name, info.name, reason="given")
    wide = _utf16_without_bom(head)
    if wide:
        return Encoding(wide, wide, reason="no byte-order mark; NUL bytes between characters")
    return Encoding("utf-8", "utf-8-sig", reason="")


def open_text(path: Path, encoding: Encoding) -> io.TextIOWrapper:
    """``path`` as text in ``encoding``: undecodable bytes become marks, newlines are kept as
    they are (for :mod:`csv`)."""
    raw: BinaryIO = path.open("rb")
    return io.TextIOWrapper(raw, encoding=encoding.codec, errors=MARK_ERRORS, newline="")


def _legacy(line: bytes) -> str:
    try:
        return line.decode(LEGACY)
    except UnicodeDecodeError:
        return line.decode("latin-1")


@dataclass
class DecodedText:
    """A whole file as text, with how it was read."""

    text: str
    encoding: Encoding
    legacy_lines: list[int] = field(default_factory=list)
    """1-based lines that were not valid in ``encoding`` and were read in :data:`LEGACY`."""
    marked: str | None = None
    """The first byte that could not be decoded at all (now U+FFFD), if any."""


def decode_bytes(data: bytes, given: str | None = None) -> DecodedText:
    """Decode a whole file: BOM or ``given`` encoding, else UTF-8; lines that are not UTF-8
    are read in the legacy code page, one by one, so one odd byte changes one line.

    A file with no BOM whose only non-ASCII bytes are invalid UTF-8 is read as
    :data:`LEGACY` throughout (``encoding.name == "cp1252"``, reason says why); a file that
    elsewhere holds valid multi-byte UTF-8 (or a UTF-8 BOM) stays UTF-8 and only its broken
    lines are listed in ``legacy_lines``.
    """
    enc = sniff_encoding(data[:4096], given)
    if enc.codec not in ("utf-8-sig",):
        text = data.decode(enc.codec, errors=MARK_ERRORS)
        marked = first_mark(text)
        if marked is None:
            return DecodedText(text, enc)
        # marks must not reach a database (they cannot be encoded): keep a visible stand-in
        return DecodedText(_MARK.sub("\ufffd", text), enc, marked=marked)
    body = data[3:] if enc.bom else data
    try:
        return DecodedText(body.decode("utf-8"), enc)
    except UnicodeDecodeError:
        pass
    lines = body.split(b"\n")
    out: list[str] = []
    legacy: list[int] = []
    utf8_multibyte = False
    for number, line in enumerate(lines, start=1):
        try:
            decoded = line.decode("utf-8")
        except UnicodeDecodeError:
            decoded = _legacy(line)
            legacy.append(number)
        else:
            utf8_multibyte = utf8_multibyte or not line.isascii()
        out.append(decoded)
    text = "\n".join(out)
    if not enc.bom and not utf8_multibyte and enc.reason != "given":
        reason = (
            f"not UTF-8: {len(legacy)} line(s) hold bytes that are not UTF-8 and none holds "
            "multi-byte UTF-8; read as Windows-1252"
        )
        return DecodedText(text, Encoding(LEGACY, LEGACY, reason=reason))
    return DecodedText(text, enc, legacy_lines=legacy)


def legacy_notes(decoded: DecodedText, warn: Callable[[int, str, str], None]) -> None:
    """Report how ``decoded`` was read through ``warn(line, code, message)``: one
    ``encoding_legacy`` warning for a whole legacy file, one ``line_not_utf8`` per broken line
    of a UTF-8 file, one ``text_unreadable`` when undecodable bytes remain."""
    enc = decoded.encoding
    if enc.name == LEGACY and enc.reason.startswith("not UTF-8"):
        warn(0, "encoding_legacy", f"the file is {enc.reason}")
    for line in decoded.legacy_lines:
        warn(line, "line_not_utf8", "not UTF-8 text; this line was read as Windows-1252")
    if decoded.marked:
        warn(
            0,
            "text_unreadable",
            f"bytes that are not {enc.name} text ({decoded.marked}) were replaced by U+FFFD",
        )
