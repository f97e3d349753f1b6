"""Fuzzing the hash-set readers (VICS JSON, ICSE CSV, digest lists, PDQ CSV): no traceback, a
bounded time per file, and one damaged row never costs a good one (see harness.py)."""

from __future__ import annotations

import contextlib
import json
import random

import pytest

from vigil.errors import VigilError
from vigil.hashsets.formats import detect, get_format
from vigil.hashsets.model import ParsedSet

from . import harness

N = 8
MD5 = ["%032x" % (i * 7919 + 1) for i in range(N)]
SHA1 = ["%040x" % (i * 104729 + 3) for i in range(N)]
PDQ = ["%064x" % (i * 982451653 + 11) for i in range(N)]


def _vics_lines() -> list[bytes]:
    media = [
        json.dumps(
            {
                "MediaID": i,
                "Category": i % 4,
                "MD5": MD5[i],
                "SHA1": SHA1[i],
                "IsDistributed": "true",
                "Series": f"Série {i}",
                "MediaFiles": [{"FileName": f"f{i}.jpg", "Created": "/Date(1514764800123)/"}],
                "AlternativeHashes": [{"HashName": "PDQ", "HashValue": PDQ[i]}],
            },
            ensure_ascii=False,
        ).encode()
        for i in range(N)
    ]
    head = b'{"@odata.context": "http://x/2.0.xml/US/$metadata#Media", "value": ['
    return [head] + [m + (b"," if i < N - 1 else b"") for i, m in enumerate(media)] + [b"]}"]


def _icse_lines() -> list[bytes]:
    rows = [f"{MD5[i]};{SHA1[i]};IMG-{i};Yes;Série {i};{i % 3}".encode() for i in range(N)]
    return [b"MD5;SHA1;Image ID;Is distributed;Series name;Category", *rows]


def _digest_lines() -> list[bytes]:
    return [b"# known", *(f"{MD5[i]}  photo {i}.jpg".encode() for i in range(N))]


def _pdq_lines() -> list[bytes]:
    return [b"pdq,quality,label", *(f"{PDQ[i]},{90 + i},img {i}".encode() for i in range(N))]


# format -> (seed lines, first data line index, structure bytes a damaged row must not gain,
#            where in a row the damage goes, the digest attribute that identifies an entry)
FORMATS = {
    "vics_json": (_vics_lines, 1, b'"\\\n\r' + bytes(range(32)), "md5", "md5"),
    "icse_csv": (_icse_lines, 1, b';"\n\r', "md5", "md5"),
    "digest_list": (_digest_lines, 1, b"#\n\r\t ", "md5", "md5"),
    "pdq_csv": (_pdq_lines, 1, b',"\n\r#', "pdq", "pdq"),
}


def _seeds(name: str) -> list[bytes]:
    lines = FORMATS[name][0]()
    plain = b"\n".join(lines) + b"\n"
    return [
        plain,
        b"\xef\xbb\xbf" + b"\r\n".join(lines),
        b"\n".join(lines).decode().encode("utf-16"),
        b"\n".join(lines[:3]),
    ]


def _damager(name: str) -> harness.Damager:
    make, first, forbidden, _where, attr = FORMATS[name]

    def damaged(rng: random.Random) -> tuple[bytes, harness.Check]:
        lines = make()
        bad = rng.randrange(first, first + N)
        row = lines[bad]
        value = (MD5 if attr == "md5" else PDQ)[bad - first].encode()
        lo = row.index(value)
        lines[bad] = harness.damage_between(row, rng, forbidden, lo, lo + len(value))
        good = {(MD5 if attr == "md5" else PDQ)[i] for i in range(N) if i != bad - first}
        bad_line = bad + 1

        def check(result: object) -> str | None:
            assert isinstance(result, ParsedSet)
            got = {getattr(e, attr) for e in result.entries}
            missing = good - got
            if missing:
                return f"{len(missing)} good entries lost (damaged line {bad_line})"
            # the damaged entry came through (perhaps as another valid value), or is warned about
            if not (got - good) and not any(w.line == bad_line for w in result.warnings):
                return f"damaged line {bad_line} dropped without a warning naming it"
            return None

        return b"\n".join(lines) + b"\n", check

    return damaged


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_hash_set_reader_fuzz(name: str) -> None:
    fmt = get_format(name)

    def target(data: bytes) -> ParsedSet:
        with contextlib.suppress(VigilError):
            detect(data)
        return fmt.read(data)

    report = harness.run(
        name, _seeds(name), target, n=harness.cases(150), damaged=_damager(name), max_case_s=5
    )
    report.check()
