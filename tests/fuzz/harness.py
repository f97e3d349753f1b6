"""A small, seeded byte-mutation fuzzer shared by the parser fuzz tests.

Each parser test builds valid seed files (generated here, never real material), mutates them
(bit flips, "interesting" bytes such as a lone UTF-8 lead byte or a quote, inserted, deleted,
duplicated or spliced ranges, truncation) and feeds them to the parser's public entry point.
Mutating valid seeds, not random bytes, gets the parsers past their first checks.

A case **passes** when the parser returns or raises a :class:`vigil.errors.VigilError` within
the time bound (a library's Python warning about the bad file is counted, not failed; a
``ResourceWarning`` - a leaked file - is a finding). Anything else is a crash, a case over the bound a hang; the offending input is
written to ``$VIGIL_FUZZ_OUT`` (default: a temporary folder) so it can become a regression test.
Peak RSS of the process is read after each batch.

The number of cases per parser is small in the normal test run (seconds in all) and set with
``VIGIL_FUZZ_CASES`` for long runs (``make fuzz`` uses 10,000); ``VIGIL_FUZZ_SEED`` changes the
seed. Each run appends one JSON line per parser to ``$VIGIL_FUZZ_REPORT`` when that is set.
"""

from __future__ import annotations

import json
import os
import random
import resource
import tempfile
import time
import traceback
import warnings
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vigil.errors import VigilError

RSS_LIMIT_MB = 1536
"""Peak RSS allowed for the test process (issue 14: < 1.5 GB per worker)."""

INTERESTING = [
    b"\x00",
    b"\xff",
    b"\xc3",  # a UTF-8 lead byte with nothing after it
    b"\x80",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b'"',
    b";",
    b",",
    b"\n",
    b"\r",
    b"\t",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\\",
    b"\xed\xa0\x80",  # an encoded surrogate
    b"\\ud800",
    b"\\u0000",
    b"9" * 20,
    b"-1",
    b"\xff\xff\xff\xff",
    b"\x7f\xff\xff\xff",
    b"\x00\x00\x00\x00",
]


def cases(default: int) -> int:
    """How many cases to run: ``$VIGIL_FUZZ_CASES`` or ``default`` (the quick CI number)."""
    value = os.environ.get("VIGIL_FUZZ_CASES")
    return int(value) if value else default


def _rng(name: str) -> random.Random:
    base = int(os.environ.get("VIGIL_FUZZ_SEED", "1"))
    return random.Random(zlib.crc32(name.encode()) ^ base)


def _offset(data: bytes, rng: random.Random, hot: Sequence[int]) -> int:
    """A position to mutate: mostly where the seed has structure (``hot``), else anywhere."""
    if hot and rng.random() < 0.8:
        return min(rng.choice(hot), max(len(data) - 1, 0))
    return rng.randrange(len(data) + 1) if data else 0


def mutate(
    data: bytes, rng: random.Random, others: Sequence[bytes] = (), hot: Sequence[int] = ()
) -> bytes:
    """One to four random mutations of ``data``."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        at = _offset(bytes(buf), rng, hot)
        if op == 0 and buf:  # bit flip
            i = min(at, len(buf) - 1)
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1:  # interesting bytes, overwriting
            chunk = rng.choice(INTERESTING)
            buf[at : at + len(chunk)] = chunk
        elif op == 2:  # interesting bytes, inserted
            buf[at:at] = rng.choice(INTERESTING)
        elif op == 3 and buf:  # delete a range
            buf[at : at + rng.randint(1, 64)] = b""
        elif op == 4 and buf:  # duplicate a range
            j = rng.randrange(len(buf))
            buf[at:at] = buf[j : j + rng.randint(1, 256)]
        elif op == 5 and buf:  # random bytes
            n = rng.randint(1, 16)
            buf[at : at + n] = rng.randbytes(n)
        elif op == 6 and others:  # splice with another seed
            other = rng.choice(others)
            if other:
                j = rng.randrange(len(other))
                buf[at:] = other[j : j + rng.randint(1, 4096)] + buf[at:]
        elif op == 7:  # truncate
            del buf[at:]
        elif op == 8 and buf:  # a byte set to an extreme
            buf[min(at, len(buf) - 1)] = rng.choice((0, 0x7F, 0x80, 0xFF))
    return bytes(buf)


def hot_offsets(data: bytes, limit: int = 20000) -> list[int]:
    """Offsets of non-zero bytes (structure), sampled evenly down to ``limit``."""
    nonzero = [i for i, b in enumerate(data) if b]
    step = max(1, len(nonzero) // limit)
    return nonzero[::step]


@dataclass
class FuzzReport:
    """What one parser's run found."""

    parser: str
    cases: int = 0
    rejected: int = 0
    """Cases that ended in a VigilError (a clear refusal: fine)."""
    warned: int = 0
    """Python warnings from a library (e.g. Pillow's "Truncated File Read"): allowed."""
    crashes: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    """Good items next to a bad one that did not come through (or bad ones without warning)."""
    slowest_s: float = 0.0
    peak_rss_mb: float = 0.0
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "parser": self.parser,
            "cases": self.cases,
            "rejected": self.rejected,
            "library_warnings": self.warned,
            "crashes": len(self.crashes),
            "hangs": len(self.hangs),
            "lost_good_items": len(self.lost),
            "slowest_case_s": round(self.slowest_s, 3),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "elapsed_s": round(self.elapsed_s, 1),
            "first_problems": (self.crashes + self.hangs + self.lost)[:3],
        }

    def check(self) -> None:
        """Record the run (``$VIGIL_FUZZ_REPORT``) and fail on any finding."""
        target = os.environ.get("VIGIL_FUZZ_REPORT")
        if target:
            with open(target, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(self.as_dict()) + "\n")
        problems = self.crashes + self.hangs + self.lost
        assert not problems, f"{self.parser}: {len(problems)} findings, first: {problems[:3]}"
        assert self.peak_rss_mb < RSS_LIMIT_MB, f"{self.parser}: peak RSS {self.peak_rss_mb} MB"


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _progress(report: FuzzReport, started: float) -> None:
    """Where a long run stands (``$VIGIL_FUZZ_REPORT.progress``), in case it is cut short."""
    target = os.environ.get("VIGIL_FUZZ_REPORT")
    if target:
        report.elapsed_s = time.monotonic() - started
        report.peak_rss_mb = peak_rss_mb()
        Path(target + ".progress").write_text(json.dumps(report.as_dict()) + "\n")


def _save(parser: str, index: int, data: bytes) -> str:
    out = Path(os.environ.get("VIGIL_FUZZ_OUT") or tempfile.gettempdir()) / "vigil-fuzz"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{parser}-{index}.bin"
    path.write_bytes(data)
    return str(path)


Check = Callable[[object], str | None]
"""Looks at a parser's result and names what was lost (None when all good items came through
and the bad one, if dropped, was warned about)."""
Damager = Callable[[random.Random], tuple[bytes, Check]]
"""Makes a file of good items with exactly one damaged, and the check for its result."""


def damage_between(
    line: bytes, rng: random.Random, forbidden: bytes, lo: int = 0, hi: int | None = None
) -> bytes:
    """``line`` with 1-8 bytes in ``[lo, hi)`` overwritten or inserted, never with a byte from
    ``forbidden`` (the format's structure: separators, quotes, newlines)."""
    allowed = [b for b in range(256) if b not in forbidden]
    buf = bytearray(line)
    hi = len(buf) if hi is None else hi
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(lo, max(hi, lo + 1))
        byte = rng.choice([0xC3, 0xFF, 0x80, 0x00, rng.choice(allowed)])
        if byte in forbidden:
            byte = rng.choice(allowed)
        if rng.random() < 0.5 and at < len(buf):
            buf[at] = byte
        else:
            buf.insert(at, byte)
            hi += 1
    return bytes(buf)


def run(
    parser: str,
    seeds: Sequence[bytes],
    target: Callable[[bytes], object],
    *,
    n: int,
    max_case_s: float = 5.0,
    damaged: Damager | None = None,
) -> FuzzReport:
    """Feed ``n`` inputs to ``target``: the seeds themselves, then mutants of them, and (when
    ``damaged`` is given) every third case a file of good items with exactly one damaged, whose
    result must keep every good item and warn about the bad one."""
    rng = _rng(parser)
    report = FuzzReport(parser)
    hot = [hot_offsets(s) for s in seeds]
    started = time.monotonic()
    for index in range(n):
        check: Check | None = None
        if index < len(seeds):
            data = seeds[index]
        elif damaged is not None and index % 3 == 0:
            data, check = damaged(rng)
        else:
            k = rng.randrange(len(seeds))
            data = mutate(seeds[k], rng, seeds, hot[k])
        t0 = time.monotonic()
        result: object = None
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = target(data)
            for w in caught:
                if issubclass(w.category, ResourceWarning):  # a leaked file is a defect
                    report.crashes.append(f"case {index}: {w.category.__name__}: {w.message}")
                else:  # a library's warning about a bad file: allowed, counted
                    report.warned += 1
        except VigilError as exc:
            report.rejected += 1
            if check is not None:  # one bad item must never cost the good ones
                report.lost.append(f"case {index} ({_save(parser, index, data)}): refused: {exc}")
        except Exception as exc:  # noqa: BLE001 - a crash is exactly what we look for
            tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
            report.crashes.append(f"case {index} ({_save(parser, index, data)}): {tb}")
        else:
            if check is not None:
                lost = check(result)
                if lost:
                    report.lost.append(f"case {index} ({_save(parser, index, data)}): {lost}")
        took = time.monotonic() - t0
        report.slowest_s = max(report.slowest_s, took)
        if took > max_case_s:
            report.hangs.append(f"case {index} ({_save(parser, index, data)}): {took:.1f}s")
        report.cases += 1
        if report.cases % 500 == 0:
            _progress(report, started)
    report.elapsed_s = time.monotonic() - started
    report.peak_rss_mb = peak_rss_mb()
    return report
