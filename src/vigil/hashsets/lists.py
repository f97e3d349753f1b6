"""Plain digest lists (MD5 / SHA-1 / SHA-256, one a line) and PDQ CSV (hash, quality, label)."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from vigil.errors import InvalidInput, WrongFormat
from vigil.hashsets.common import decode_text, digest, to_int
from vigil.hashsets.model import Entry, ParsedSet

DIGEST_LIST = "digest_list"
PDQ_CSV = "pdq_csv"

_BY_LEN = {32: "md5", 40: "sha1", 64: "sha256"}
_HEXLINE = re.compile(rb"^\s*[0-9a-fA-F]{32,64}\b")
_PDQ_ROW = re.compile(rb"^\s*[0-9a-fA-F]{64}\s*,")


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
    """Parse a digest list: ``<hex>`` or ``<hex>  <label>`` per line, ``#`` comments.

    Raises:
        WrongFormat: no line holds a digest.
    """
    text = decode_text(data)
    ps = ParsedSet(DIGEST_LIST)
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if number == 1 and line.lower() in ("md5", "sha1", "sha-1", "sha256", "sha-256", "hash"):
            continue
        token, _, rest = line.partition(" ")
        if "\t" in token:
            token, _, rest = line.partition("\t")
        kind = _BY_LEN.get(len(token))
        if kind is None:
            ps.warn(number, "bad_digest", f"not an MD5, SHA-1 or SHA-256 digest: {token!r:.80}")
            continue
        try:
            value = digest(kind, token)
        except InvalidInput as exc:
            ps.warn(number, "bad_digest", str(exc))
            continue
        entry = Entry(label=rest.strip().lstrip("*").strip() or None)
        setattr(entry, kind, value)
        ps.entries.append(entry)
    if (
        not ps.entries
        and ps.warnings
        and len(ps.warnings)
        == sum(1 for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#"))
    ):
        raise WrongFormat("not a digest list: no line holds an MD5, SHA-1 or SHA-256 digest")
    return ps


def write_digest_list(entries: list[Entry], *, meta: dict[str, Any] | None = None) -> bytes:
    """One digest per entry (SHA-256, else SHA-1, else MD5), then its label if any."""
    out: list[str] = []
    for e in entries:
        kinds = [k for k in ("sha256", "sha1", "md5") if getattr(e, k)]
        if not kinds:
            raise InvalidInput(f"entry {e.media_id or '?'} has no digest to write")
        value = digest(kinds[0], getattr(e, kinds[0]))
        out.append(f"{value}  {e.label}" if e.label else str(value))
    return ("\n".join(out) + "\n").encode("utf-8") if out else b""


def sniff_pdq_csv(head: bytes) -> bool:
    """Whether a data row is ``<64 hex>,...`` (a header line may come first)."""
    lines = [ln for ln in head.lstrip(b"\xef\xbb\xbf").splitlines() if ln.strip()][:2]
    return any(_PDQ_ROW.match(ln) for ln in lines)


def read_pdq_csv(data: bytes) -> ParsedSet:
    """Parse ``hash,quality[,label]`` rows (optional header; quality 0-100 may be empty).

    Raises:
        WrongFormat: no row starts with a 64-digit hash.
    """
    text = decode_text(data)
    ps = ParsedSet(PDQ_CSV, scheme=None)
    reader = csv.reader(io.StringIO(text, newline=""))
    seen_data = False
    for row in reader:
        line = reader.line_num
        if not row or not any(c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        first = row[0].strip()
        if not seen_data and first.lower() in ("pdq", "hash", "pdq_hash", "signal"):
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
