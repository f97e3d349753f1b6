"""Column mapping files and row readers for record batches (CSV, JSON / JSON Lines, Parquet).

A mapping file (YAML) names, for each Vigil field, the column of the source file::

    columns:
      name: Cardholder Name        # or first_name / last_name
      address: Address1            # one address line, and/or the structured parts:
      street: Street               #   street (with house number), locality (suburb,
      locality: Suburb             #   village), town (city), region (state, county)
      town: City
      region: State
      postcode: Zip
      card_number: PAN
      timestamp: Created
    date_formats: {dob: "%d/%m/%Y"}          # optional; common formats are tried otherwise
    verification_failures: [fail, N]          # values of the verification column that mean failure
    chargeback_values: [Y, yes, true, 1]      # values meaning "charged back"

Reference batches (register, convictions, roles, compromised cards, breaches) use the same
format; each kind has a default mapping (its generator column names) so ``--mapping`` is optional.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vigil.errors import DamagedInput, InvalidInput, WrongFormat
from vigil.text import Encoding, open_text, sniff_encoding, unstorable

RECORD_FIELDS = (
    "record_ref",
    "name",
    "first_name",
    "last_name",
    "address",
    "street",
    "locality",
    "town",
    "region",
    "postcode",
    "country",
    "dob",
    "email",
    "phone",
    "card_number",
    "card_expiry",
    "ip",
    "ip_country",
    "user_agent",
    "timestamp",
    "amount",
    "site",
    "access_count",
    "last_access",
    "verification",
    "chargeback",
)
"""Vigil's record fields (the keys of a mapping's ``columns``)."""

ADDRESS_PARTS = ("street", "locality", "town", "region")
"""Structured address fields: a file with separate columns maps them instead of gluing them
into one ``address`` (see :func:`vigil.persons.normalise.compose_address`)."""

REFERENCE_FIELDS: dict[str, tuple[str, ...]] = {
    "register": (
        "ref",
        "name",
        "first_name",
        "last_name",
        "dob",
        "address",
        "street",
        "locality",
        "town",
        "region",
        "postcode",
        "country",
        "email",
        "phone",
        "registered_on",
    ),
    "convictions": (
        "ref",
        "name",
        "first_name",
        "last_name",
        "dob",
        "address",
        "street",
        "locality",
        "town",
        "region",
        "postcode",
        "country",
        "offence",
        "category",
        "convicted_on",
    ),
    "roles": (
        "ref",
        "name",
        "first_name",
        "last_name",
        "dob",
        "address",
        "street",
        "locality",
        "town",
        "region",
        "postcode",
        "country",
        "role",
        "source",
    ),
    "compromised_cards": ("card_number", "status", "breach", "reported_on"),
    "breaches": ("name", "start", "end", "site", "bins"),
}
REFERENCE_KINDS = tuple(REFERENCE_FIELDS)

DEFAULT_VERIFICATION_FAILURES = ("fail", "failed", "n", "no", "declined", "mismatch")
DEFAULT_CHARGEBACK_VALUES = ("y", "yes", "true", "1", "chargeback", "charged back")


@dataclass(frozen=True)
class Mapping:
    """A validated column mapping."""

    columns: dict[str, str]
    date_formats: dict[str, str] = field(default_factory=dict)
    verification_failures: tuple[str, ...] = DEFAULT_VERIFICATION_FAILURES
    chargeback_values: tuple[str, ...] = DEFAULT_CHARGEBACK_VALUES

    def as_dict(self) -> dict[str, Any]:
        return {
            "columns": dict(self.columns),
            "date_formats": dict(self.date_formats),
            "verification_failures": list(self.verification_failures),
            "chargeback_values": list(self.chargeback_values),
        }

    @classmethod
    def from_dict(
        cls, data: Any, *, fields: tuple[str, ...] = RECORD_FIELDS, origin: str = "mapping"
    ) -> Mapping:
        if not isinstance(data, dict) or not isinstance(data.get("columns"), dict):
            raise InvalidInput(f"{origin}: needs a 'columns' section (field: source column)")
        unknown_keys = set(data) - {
            "columns",
            "date_formats",
            "verification_failures",
            "chargeback_values",
            "format",
        }
        if unknown_keys:
            raise InvalidInput(f"{origin}: unknown keys {sorted(unknown_keys)}")
        cols = {str(k): str(v) for k, v in data["columns"].items() if v is not None}
        unknown = sorted(set(cols) - set(fields))
        if unknown:
            raise InvalidInput(
                f"{origin}: unknown fields {unknown}; known fields: {', '.join(fields)}"
            )
        formats = {str(k): str(v) for k, v in (data.get("date_formats") or {}).items()}
        vf = tuple(
            str(v).strip().lower()
            for v in data.get("verification_failures") or DEFAULT_VERIFICATION_FAILURES
        )
        cb = tuple(
            str(v).strip().lower()
            for v in data.get("chargeback_values") or DEFAULT_CHARGEBACK_VALUES
        )
        return cls(
            columns=cols, date_formats=formats, verification_failures=vf, chargeback_values=cb
        )

    @classmethod
    def load(cls, path: Path | str, *, fields: tuple[str, ...] = RECORD_FIELDS) -> Mapping:
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidInput(f"cannot read mapping file {p}: {exc}") from exc
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{p}: not valid YAML: {exc}") from exc
        return cls.from_dict(data, fields=fields, origin=str(p))

    @classmethod
    def identity(cls, fields: tuple[str, ...]) -> Mapping:
        """Every field read from the column of the same name."""
        return cls(columns={f: f for f in fields})


def detect_format(path: Path) -> str:
    """``csv``, ``json``, ``jsonl`` or ``parquet`` from the file name, then the first bytes."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        return "json"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    with path.open("rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return "parquet"
    if head.lstrip()[:1] in (b"[", b"{"):
        return "json"
    return "csv"


Row = tuple[int, dict[str, Any]]
"""(line number, column → value). Line numbers are 1-based physical lines for CSV/JSONL (the
header is line 1), element numbers for a JSON array and row numbers for Parquet."""


def read_rows(
    path: Path, fmt: str | None = None, encoding: Encoding | None = None
) -> Iterator[Row]:
    """Yield the rows of a batch file; raise :class:`WrongFormat`/:class:`DamagedInput` only
    when the file as a whole cannot be read (bad rows are the caller's warnings).

    Text is decoded row by row (see :mod:`vigil.text`): a row holding bytes that are not text in
    ``encoding`` (default: :func:`file_encoding`) comes back as an ``__error__`` row naming the
    byte, and every other row still reads.
    """
    fmt = fmt or detect_format(path)
    if fmt == "parquet":
        yield from _parquet_rows(path)
        return
    if fmt not in ("csv", "jsonl", "json"):
        raise InvalidInput(f"unknown batch format {fmt!r} (csv, json, jsonl, parquet)")
    enc = encoding or file_encoding(path)
    if fmt == "csv":
        yield from _csv_rows(path, enc)
    elif fmt == "jsonl":
        yield from _jsonl_rows(path, enc)
    else:
        yield from _json_rows(path, enc)


def file_encoding(path: Path, given: str | None = None) -> Encoding:
    """The text encoding of a batch file (BOM, else ``given``, else UTF-8)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise InvalidInput(f"cannot open {path}: {exc}") from exc
    return sniff_encoding(head, given)


def _unreadable(enc: Encoding, where: str) -> dict[str, Any]:
    if not where.startswith("byte"):
        return {"__error__": f"unreadable row: it holds {where}"}
    hint = (
        ""
        if enc.reason == "given"
        else "; if the file is in another encoding, name it with --encoding (e.g. cp1252)"
    )
    return {"__error__": f"unreadable row: {where} is not {enc.name} text{hint}"}


def _csv_rows(path: Path, enc: Encoding) -> Iterator[Row]:
    try:
        fh = open_text(path, enc)
    except OSError as exc:
        raise InvalidInput(f"cannot open {path}: {exc}") from exc
    with fh:
        sample = fh.read(65536)
        fh.seek(0)
        delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DamagedInput(f"{path}: unreadable header: {exc}") from exc
        header = [h.strip() for h in header]
        line = reader.line_num
        while True:
            start = line + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start, {"__error__": f"unreadable row: {exc}"}
                if reader.line_num <= line:  # the reader made no progress: never ask again
                    return
                line = reader.line_num
                continue
            line = reader.line_num
            if not values or all(not v.strip() for v in values):
                continue
            bad = next(((i, m) for i, m in enumerate(map(unstorable, values)) if m), None)
            if bad:
                col = header[bad[0]] if bad[0] < len(header) else f"#{bad[0] + 1}"
                yield start, _unreadable(enc, f"{bad[1]} of column {col!r}")
                continue
            if len(values) != len(header):
                yield (
                    start,
                    {"__error__": f"has {len(values)} fields, the header has {len(header)}"},
                )
                continue
            yield start, dict(zip(header, values, strict=True))


def _jsonl_rows(path: Path, enc: Encoding) -> Iterator[Row]:
    with open_text(path, enc) as fh:
        for n, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            bad = unstorable(text)
            if bad:
                yield n, _unreadable(enc, bad)
                continue
            try:
                obj = json.loads(text)
            except (json.JSONDecodeError, RecursionError) as exc:
                yield n, {"__error__": f"not valid JSON: {getattr(exc, 'msg', exc)}"}
                continue
            if not isinstance(obj, dict):
                yield n, {"__error__": "not a JSON object"}
                continue
            bad = _unstorable_in(obj)
            if bad:
                yield n, _unreadable(enc, bad)
                continue
            yield n, obj


def _unstorable_in(obj: Any) -> str | None:
    """The first text (key or value, at any depth) of a JSON value that cannot be stored."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            bad = unstorable(item)
            if bad:
                return bad
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _json_rows(path: Path, enc: Encoding) -> Iterator[Row]:
    with open_text(path, enc) as fh:
        text = fh.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        # perhaps JSON Lines with a .json name
        yield from _jsonl_rows(path, enc)
        return
    except RecursionError as exc:
        raise DamagedInput(f"{path}: JSON nested too deeply to read") from exc
    if isinstance(data, dict):
        for key in ("records", "data", "rows", "items"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
    if not isinstance(data, list):
        raise WrongFormat(f"{path}: expected a JSON array of objects (or records/data/rows)")
    for n, obj in enumerate(data, start=1):
        if not isinstance(obj, dict):
            yield n, {"__error__": "element is not a JSON object"}
            continue
        bad = _unstorable_in(obj)
        if bad:
            yield n, _unreadable(enc, bad)
            continue
        yield n, obj


def _parquet_rows(path: Path) -> Iterator[Row]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        raise DamagedInput(f"{path}: not a readable Parquet file: {exc}") from exc
    n = 0
    for batch in pf.iter_batches(batch_size=65536):
        for row in batch.to_pylist():
            n += 1
            yield n, row
