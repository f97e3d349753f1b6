"""INTERPOL ICSE-style ``;``-separated CSV hash lists (tolerant reader, strict writer).

Header (column names matched case- and space-insensitively)::

    MD5;SHA1;PhotoDNA;Image ID;Is distributed;Victim identified;Offender identified;Series name;...

Further columns (category, notes, anything else) are kept per row and written back in the
file's own column order. Bad rows become warnings with their line number; good rows import.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from vigil.errors import InvalidInput, WrongFormat
from vigil.hashsets.common import decode_text, digest, note_encoding, to_bool, to_code, to_int
from vigil.hashsets.model import Entry, ParsedSet

NAME = "icse_csv"

CANONICAL = (
    "MD5",
    "SHA1",
    "PhotoDNA",
    "Image ID",
    "Is distributed",
    "Victim identified",
    "Offender identified",
    "Series name",
    "Category",
)
_ATTR = {
    "md5": "md5",
    "sha1": "sha1",
    "sha256": "sha256",
    "photodna": "photodna",
    "imageid": "media_id",
    "isdistributed": "is_distributed",
    "victimidentified": "victim_identified",
    "offenderidentified": "offender_identified",
    "seriesname": "series",
    "series": "series",
    "category": "category",
    "mediasize": "media_size",
    "filesize": "media_size",
}
_BOOLS = {"is_distributed", "victim_identified", "offender_identified"}


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def sniff(head: bytes) -> bool:
    """Whether the first line looks like an ICSE header."""
    first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].lower()
    return b";" in first and (b"md5" in first or b"sha1" in first)


def read(data: bytes) -> ParsedSet:
    """Parse an ICSE CSV file.

    Raises:
        WrongFormat: no header naming an MD5 or SHA1 column.
    """
    decoded = decode_text(data)
    text = decoded.text
    first = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first else ("," if "," in first else ";")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise WrongFormat("not an ICSE CSV file: no header line") from exc
    header = [h.strip() for h in header]
    attrs = [_ATTR.get(_norm(h)) for h in header]
    if "md5" not in attrs and "sha1" not in attrs:
        raise WrongFormat("not an ICSE CSV file: the header names no MD5 or SHA1 column")
    ps = ParsedSet(NAME, meta={"columns": header, "delimiter": delimiter})
    note_encoding(decoded, ps)
    if delimiter != ";":
        ps.warn(1, "delimiter", f"columns are separated by {delimiter!r}, not ';'")
    styles: dict[str, int] = {}
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            ps.warn(reader.line_num, "csv_syntax", f"unreadable row: {exc}")
            continue
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            ps.warn(
                line,
                "column_count",
                f"{len(row)} columns where the header has {len(header)}",
            )
            if len(row) > len(header):
                row = row[: len(header)]
            else:
                row = row + [""] * (len(header) - len(row))
        entry = Entry()
        extra: dict[str, Any] = {}
        for name, attr, cell in zip(header, attrs, row, strict=True):
            value = cell.strip()
            try:
                if attr in ("md5", "sha1", "sha256"):
                    setattr(entry, attr, digest(attr, value))
                elif attr in _BOOLS:
                    setattr(entry, attr, to_bool(value))
                    if value:
                        styles[value.lower()] = styles.get(value.lower(), 0) + 1
                elif attr == "media_size":
                    entry.media_size = to_int(value)
                elif attr == "category":
                    entry.category = to_code(value)
                elif attr is not None:
                    setattr(entry, attr, value or None)
                else:
                    extra[name] = value
            except InvalidInput as exc:
                ps.warn(line, f"bad_{_norm(name)}", f"{name}: {exc}")
        entry.record = {"columns": extra} if extra else {}
        if not entry.has_signal() and not entry.photodna:
            ps.warn(line, "no_hash", "no usable MD5 or SHA1 on this row; skipped")
            continue
        ps.entries.append(entry)
    ps.meta["bool_style"] = "yes" if any(k in ("yes", "no") for k in styles) else "true"
    return ps


def write(entries: list[Entry], *, meta: dict[str, Any] | None = None) -> bytes:
    """Write a strict ``;``-separated ICSE CSV (UTF-8, CRLF, minimal quoting).

    Raises:
        InvalidInput: an entry has a malformed digest.
    """
    meta = meta or {}
    header = list(meta.get("columns") or CANONICAL)
    attrs = [_ATTR.get(_norm(h)) for h in header]
    yes, no = ("Yes", "No") if meta.get("bool_style", "yes") == "yes" else ("true", "false")
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    for e in entries:
        for kind in ("md5", "sha1", "sha256"):
            value = getattr(e, kind)
            if value is not None:
                digest(kind, value)
        extra = e.record.get("columns", {})
        row: list[str] = []
        for name, attr in zip(header, attrs, strict=True):
            if attr is None:
                row.append(str(extra.get(name, "")))
                continue
            value = getattr(e, attr)
            if value is None:
                row.append("")
            elif attr in _BOOLS:
                row.append(yes if value else no)
            elif attr in ("md5", "sha1"):
                row.append(str(value).upper())
            else:
                row.append(str(value))
        writer.writerow(row)
    return buf.getvalue().encode("utf-8")
