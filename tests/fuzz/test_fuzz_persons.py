"""Fuzzing the record-batch and reference-data readers (CSV, JSON, JSON Lines): no traceback, a
bounded time per file, and a damaged row costs only itself, with a warning naming its line."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from vigil.errors import InvalidInput
from vigil.persons import records
from vigil.persons.cards import CardVault
from vigil.persons.mapping import REFERENCE_FIELDS, Mapping, read_rows
from vigil.store.db import Database

from . import harness

N = 8
VAULT = CardVault(b"k" * 32)
MAPPING = Mapping.from_dict(
    {
        "columns": {
            "name": "Name",
            "email": "Email",
            "postcode": "Zip",
            "card_number": "Card",
            "dob": "DOB",
            "timestamp": "When",
            "amount": "Amount",
            "access_count": "Logins",
            "country": "Country",
        },
        "date_formats": {"dob": "%d/%m/%Y"},
    }
)
HEADER = "Name,Email,Zip,Card,DOB,When,Amount,Logins,Country"
CARDS = ["4921810000000000", "4921810000000018", "5105105105105100", "378282246310005"]


def _record(i: int) -> dict[str, str]:
    return {
        "Name": f"Zoë Person{i} Brontë",
        "Email": f"person{i}@example.com",
        "Zip": "SW1A 1AA",
        "Card": CARDS[i % len(CARDS)],
        "DOB": f"{1 + i % 28:02d}/0{1 + i % 9}/198{i % 10}",
        "When": f"2025-01-0{1 + i % 9}T10:00:00",
        "Amount": f"£{i}.99",
        "Logins": str(i),
        "Country": "GB",
    }


def _csv_lines() -> list[bytes]:
    return [HEADER.encode()] + [",".join(_record(i).values()).encode() for i in range(N)]


def _json_lines() -> list[bytes]:
    return (
        [b'{"records": [']
        + [
            json.dumps(_record(i), ensure_ascii=False).encode() + (b"," if i < N - 1 else b"")
            for i in range(N)
        ]
        + [b"]}"]
    )


def _jsonl_lines() -> list[bytes]:
    return [json.dumps(_record(i), ensure_ascii=False).encode() for i in range(N)]


# format -> (seed lines, index of the first data line, bytes a damaged row must not gain)
FORMATS = {
    "csv": (_csv_lines, 1, b',"\n\r\t'),
    "json": (_json_lines, 1, b'"\\\n\r' + bytes(range(32))),
    "jsonl": (_jsonl_lines, 0, b'"\\\n\r' + bytes(range(32))),
}


def _reader(fmt: str, folder: Path) -> Any:
    path = folder / f"batch.{fmt}"

    def target(data: bytes) -> list[tuple[int, dict[str, Any], Any]]:
        path.write_bytes(data)
        out = []
        for line, raw in read_rows(path, fmt):
            parsed = None if "__error__" in raw else records.parse_record(raw, MAPPING, VAULT)
            out.append((line, raw, parsed))
        return out

    return target


def _damager(fmt: str) -> harness.Damager:
    make, first, forbidden = FORMATS[fmt]

    def damaged(rng: random.Random) -> tuple[bytes, harness.Check]:
        lines = make()
        bad = rng.randrange(first, first + N)
        row = lines[bad]
        i = bad - first
        lo = row.index(f"person{i}@".encode())
        lines[bad] = harness.damage_between(row, rng, forbidden, lo, lo + 12)
        good = {f"person{j}@example.com" for j in range(N) if j != i}
        # a JSON array's elements are numbered from 1; CSV/JSONL rows by physical line
        bad_no = i + 1 if fmt == "json" else bad + 1

        def check(result: object) -> str | None:
            assert isinstance(result, list)
            got = {p.values["email"] for _line, _raw, p in result if p is not None}
            missing = good - got
            if missing:
                return f"{len(missing)} good rows lost (damaged row {bad_no})"
            rows_at_bad = [(raw, p) for line, raw, p in result if line == bad_no]
            if not rows_at_bad:
                return f"damaged row {bad_no} vanished without a warning"
            return None

        return b"\n".join(lines) + b"\n", check

    return damaged


def _seeds(fmt: str) -> list[bytes]:
    lines = FORMATS[fmt][0]()
    text = b"\n".join(lines) + b"\n"
    return [text, b"\xef\xbb\xbf" + text, text.decode().encode("utf-16"), b"\r\n".join(lines)]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_record_reader_fuzz(fmt: str, tmp_path: Path) -> None:
    report = harness.run(
        f"persons_{fmt}",
        _seeds(fmt),
        _reader(fmt, tmp_path),
        n=harness.cases(150),
        damaged=_damager(fmt),
    )
    report.check()


def _reference_seeds() -> list[bytes]:
    values = {
        "ref": "R1",
        "name": "Ann Example",
        "first_name": "Ann",
        "last_name": "Example",
        "dob": "1980-02-01",
        "address": "1 High St",
        "street": "High St",
        "locality": "Whitechapel",
        "town": "London",
        "region": "Greater London",
        "postcode": "E1 6AN",
        "country": "GB",
        "email": "ann@example.com",
        "phone": "+44 20 7946 0000",
        "registered_on": "2020-01-01",
        "offence": "x",
        "category": "images",
        "convicted_on": "2019-05-05",
        "role": "teacher",
        "source": "DBS",
        "card_number": CARDS[0],
        "status": "compromised",
        "breach": "B1",
        "reported_on": "2024-01-01",
        "start": "2024-01-01T00:00:00",
        "end": "2024-02-01T00:00:00",
        "site": "shop.example",
        "bins": "492181|510510",
    }
    seeds = []
    for fields in REFERENCE_FIELDS.values():
        row = ",".join(values.get(f, f"value of {f}") for f in fields)  # fields added later too
        rows = [",".join(fields)] + [row] * 4
        seeds.append(("\n".join(rows) + "\n").encode())
    return seeds


def test_reference_reader_fuzz(tmp_path: Path) -> None:
    """Reference data: every case is read once and parsed as each of the five kinds."""
    path = tmp_path / "ref.csv"
    mappings = {kind: Mapping.identity(fields) for kind, fields in REFERENCE_FIELDS.items()}

    def target(data: bytes) -> int:
        path.write_bytes(data)
        rows = [raw for _line, raw in read_rows(path, "csv") if "__error__" not in raw]
        for kind, mapping in mappings.items():
            for raw in rows:
                records._parse_reference(kind, raw, mapping, VAULT)
        return len(rows)

    harness.run("persons_reference", _reference_seeds(), target, n=harness.cases(150)).check()


def test_full_import_of_fuzzed_batches(tmp_path: Path) -> None:
    """A few mutants all the way into the store: whatever the readers pass can be stored, and
    a file with nothing usable is refused with InvalidInput (never stored as an empty batch)."""
    db = Database(f"sqlite:///{tmp_path}/v.db")
    rng = random.Random(5)
    seeds = _seeds("csv") + _seeds("jsonl")
    counter = iter(range(10**9))
    refusals: list[str] = []

    def target(data: bytes) -> records.ImportReport | None:
        n = next(counter)
        suffix = "jsonl" if data.lstrip(b"\xef\xbb\xbf")[:1] == b"{" else "csv"
        path = tmp_path / f"b{n}.{suffix}"
        path.write_bytes(data + str(n).encode())  # unique SHA-256: no "already imported"
        try:
            return records.import_records(
                db,
                VAULT,
                path,
                case_name="op",
                mapping=MAPPING,
                provenance=records.Provenance("fuzz", "test", "suite"),
                actor="t",
            )
        except InvalidInput as exc:
            refusals.append(str(exc))
            raise

    report = harness.run(
        "persons_import",
        [harness.mutate(s, rng) for s in seeds],
        target,
        n=max(12, harness.cases(150) // 10),
    )
    report.check()
    expected = ("no usable row", "no rows", "unreadable", "not a", "expected a JSON")
    assert all(any(e in r for e in expected) for r in refusals), refusals[:3]
