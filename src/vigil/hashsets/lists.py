"""Plain digest lists (MD5 / SHA-1 / SHA-256, one a line) and PDQ CSV (hash, quality, label)."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from vigil.errors import AmbiguousInput, InvalidInput, WrongFormat
from vigil.hashsets.common import decode_text, digest, note_encoding, to_int
from vigil.hashsets.model import Entry, ParsedSet

DIGEST_LIST = "digest_list"
SHA256_LIST = "sha256_list"
PDQ_CSV = "pdq_csv"

_BY_LEN = {32: "md5", 40: "sha1", 64: "sha256"}
_HEADERS = {"md5": "md5", "sha1": "sha1", "sha-1": "sha1", "sha256": "sha256", "sha-256": "sha256"}
_HEXLINE = re.compile(rb"^\s*[0-9a-fA-F]{32,64}\b")
_PDQ_ROW = re.compile(rb"^\s*[0-9a-fA-F]{64}\s*,")
_PDQ_DATA = re.compile(rb"^\s*[0-9a-fA-F]{64}\s*,\s*(\d{1,3}(\.0*)?)?\s*(,|$)")
_PDQ_HEADERS = ("pdq", "hash", "pdq_hash", "signal")
_SHA256_HEADERS = ("sha256", "sha-256", "sha256sum", "sha_256")
AMBIGUOUS_64 = (
    "64-hex values could be SHA-256 or PDQ (both are 256 bits written as 64 hex digits, and "
    "their content cannot tell them apart): pass --format sha256_list or --format pdq_csv, "
    "or put a header line 'sha256' above the list"
)


def sniff_digest_list(head: bytes) -> bool:
    """Whether the first non-comment line starts with a 32/40/64-digit hex digest."""
    for line in head.lstrip(b"\xef\xbb\xbf").splitlines():
        if not line.strip() or line.lstrip().startswith(b"#"):
            continue
        if line.strip().lower() in (b"md5", b"sha1", b"sha-1", b"sha256", b"sha-256", b"hash"):
            continue
        return bool(_HEXLINE.match(line)) and not _PDQ_ROW.match(line)
    return False


def read_digest_list(data: bytes) -> ParsedSet:
    """Parse a digest list: ``<hex>`` or ``<hex>  <label>`` per line, ``#`` comments; the kind
    of each digest comes from its length (32 MD5, 40 SHA-1). 64 digits could be SHA-256 or
    PDQ, so they are read as SHA-256 only below a header line ``sha256`` (or ``sha-256``).

    Raises:
        AmbiguousInput: a 64-hex value with no header saying SHA-256 (it could be PDQ).
        WrongFormat: no line holds a digest.
    """
    return _read_list(data, DIGEST_LIST, None)


def read_sha256_list(data: bytes) -> ParsedSet:
    """Parse a list of SHA-256 digests (the same layout as a digest list; other lengths warn)."""
    return _read_list(data, SHA256_LIST, "sha256")


def _read_list(data: bytes, name: str, kind_given: str | None) -> ParsedSet:
    decoded = decode_text(data)
    text = decoded.text
    ps = ParsedSet(name)
    note_encoding(decoded, ps)
    declared = kind_given
    ambiguous: list[int] = []
    content_lines = 0
    # split on "\n" only: str.splitlines() also breaks at form feeds, NEL, U+2028 ..., which
    # would shift every later line number a warning gives (found by the fuzzers)
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if content_lines == 0 and line.lower() in (*_HEADERS, "hash"):
            declared = declared or _HEADERS.get(line.lower())
            continue
        content_lines += 1
        token, _, rest = line.partition(" ")
        if "\t" in token:
            token, _, rest = line.partition("\t")
        if kind_given:
            kind = kind_given if len(token) == 64 else None
        else:
            kind = _BY_LEN.get(len(token))
            if kind == "sha256" and declared != "sha256":
                ambiguous.append(number)
                continue
        if kind is None:
            expected = "a SHA-256 digest" if kind_given else "an MD5, SHA-1 or SHA-256 digest"
            ps.warn(number, "bad_digest", f"not {expected}: {token!r:.80}")
            continue
        try:
            value = digest(kind, token)
        except InvalidInput as exc:
            ps.warn(number, "bad_digest", str(exc))
            continue
        entry = Entry(label=rest.strip().lstrip("*").strip() or None)
        setattr(entry, kind, value)
        ps.entries.append(entry)
    if ambiguous:
        where = ", ".join(map(str, ambiguous[:5])) + (" ..." if len(ambiguous) > 5 else "")
        raise AmbiguousInput(f"line {where}: {AMBIGUOUS_64}")
    bad = sum(1 for w in ps.warnings if w.code == "bad_digest")
    if not ps.entries and bad and bad == content_lines:
        raise WrongFormat("not a digest list: no line holds an MD5, SHA-1 or SHA-256 digest")
    return ps


def write_digest_list(entries: list[Entry], *, meta: dict[str, Any] | None = None) -> bytes:
    """One digest per entry (SHA-256, else SHA-1, else MD5), then its label if any; a header
    line ``sha256`` when SHA-256 digests are written, so that reading the list back is not
    ambiguous."""
    return _write_list(entries, ("sha256", "sha1", "md5"))


def write_sha256_list(entries: list[Entry], *, meta: dict[str, Any] | None = None) -> bytes:
    """One SHA-256 per entry, then its label if any (entries without SHA-256 are refused)."""
    return _write_list(entries, ("sha256",))


def _write_list(entries: list[Entry], order: tuple[str, ...]) -> bytes:
    out: list[str] = []
    for e in entries:
        kinds = [k for k in order if getattr(e, k)]
        if not kinds:
            raise InvalidInput(f"entry {e.media_id or '?'} has no digest to write")
        value = digest(kinds[0], getattr(e, kinds[0]))
        out.append(f"{value}  {e.label}" if e.label else str(value))
    if order != ("sha256",) and any(len(line.split(" ", 1)[0]) == 64 for line in out):
        out.insert(0, "sha256")  # the header settles the SHA-256-or-PDQ question on re-import
    return ("\n".join(out) + "\n").encode("utf-8") if out else b""


def sniff_pdq_csv(head: bytes) -> bool:
    """Whether the file is ``<64 hex>,<quality 0-100 or empty>[,...]`` rows, or has a PDQ
    header (``pdq,quality`` ...). A 64-hex column next to anything else (``sha256,size``) is
    not taken for PDQ."""
    lines = [ln for ln in head.lstrip(b"\xef\xbb\xbf").splitlines() if ln.strip()][:3]
    if not lines:
        return False
    first_cell = lines[0].split(b",", 1)[0].strip().lower()
    if first_cell.decode("ascii", "replace") in _PDQ_HEADERS and len(lines) > 1:
        return bool(_PDQ_ROW.match(lines[1]))
    data = [ln for ln in lines if _PDQ_ROW.match(ln)]
    return bool(data) and all(_quality_like(ln) for ln in data)


def _quality_like(line: bytes) -> bool:
    m = _PDQ_DATA.match(line)
    return m is not None and (m.group(1) is None or int(m.group(1).split(b".")[0]) <= 100)


def read_pdq_csv(data: bytes) -> ParsedSet:
    """Parse ``hash,quality[,label]`` rows (optional header; quality 0-100 may be empty).

    Raises:
        WrongFormat: no row starts with a 64-digit hash.
    """
    decoded = decode_text(data)
    text = decoded.text
    ps = ParsedSet(PDQ_CSV, scheme=None)
    note_encoding(decoded, ps)
    reader = csv.reader(io.StringIO(text, newline=""))
    seen_data = False
    for row in reader:
        line = reader.line_num
        if not row or not any(c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        first = row[0].strip()
        if not seen_data and first.lower() in _SHA256_HEADERS:
            raise WrongFormat(
                "not a PDQ CSV file: its header names SHA-256 (import the digests as a list "
                "with --format sha256_list)"
            )
        if not seen_data and first.lower() in _PDQ_HEADERS:
            continue
        seen_data = True
        try:
            value = digest("pdq", first)
        except InvalidInput as exc:
            ps.warn(line, "bad_pdq", str(exc))
            continue
        quality: int | None = None
        if len(row) > 1 and row[1].strip():
            try:
                quality = to_int(row[1])
            except InvalidInput as exc:
                ps.warn(line, "bad_quality", f"quality: {exc}")
            if quality is not None and quality > 100:
                ps.warn(line, "bad_quality", f"quality {quality} is above 100")
                quality = None
        label = row[2].strip() if len(row) > 2 and row[2].strip() else None
        ps.entries.append(Entry(pdq=value, pdq_quality=quality, label=label))
    if not ps.entries and not seen_data:
        raise WrongFormat("not a PDQ CSV file: no row starts with a 64-digit hash")
    return ps


def write_pdq_csv(entries: list[Entry], *, meta: dict[str, Any] | None = None) -> bytes:
    """``pdq,quality,label`` with a header line; entries without PDQ are refused."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["pdq", "quality", "label"])
    for e in entries:
        if not e.pdq:
            raise InvalidInput(f"entry {e.media_id or '?'} has no PDQ hash to write")
        writer.writerow(
            [digest("pdq", e.pdq), "" if e.pdq_quality is None else e.pdq_quality, e.label or ""]
        )
    return buf.getvalue().encode("utf-8")
