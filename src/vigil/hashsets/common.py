"""Helpers shared by the hash-set readers and writers: text decoding, tolerant value parsing."""

from __future__ import annotations

import bisect
import datetime as dt
import re
from typing import Any

from vigil.errors import InvalidInput
from vigil.hashsets.model import ParsedSet
from vigil.signals.exact import Md5Signal, Sha1Signal, Sha256Signal
from vigil.signals.pdq import PdqSignal
from vigil.text import DecodedText, decode_bytes, legacy_notes

_VALIDATORS = {
    "md5": Md5Signal.validate,
    "sha1": Sha1Signal.validate,
    "sha256": Sha256Signal.validate,
    "pdq": PdqSignal.validate,
}

_NET_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}


def decode_text(data: bytes) -> DecodedText:
    """Bytes to text, never failing: a BOM (UTF-8/16/32) or BOM-less UTF-16 decides, else
    UTF-8 with each line that is not UTF-8 read as Windows-1252 (a file with no valid
    multi-byte UTF-8 at all is Windows-1252 throughout). Pass the result to
    :func:`note_encoding` so the import says how it was read."""
    return decode_bytes(data)


def note_encoding(decoded: DecodedText, ps: ParsedSet) -> None:
    """Record in ``ps`` the encoding used and, first among its warnings, what it took."""
    ps.encoding = decoded.encoding.describe()
    notes = ParsedSet(ps.format)
    legacy_notes(decoded, notes.warn)
    ps.warnings[:0] = notes.warnings


def digest(kind: str, value: Any) -> str | None:
    """Canonical digest of ``kind`` or None for empty; :class:`InvalidInput` when malformed."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    return _VALIDATORS[kind](text)


def to_bool(value: Any) -> bool | None:
    """Tolerant boolean: true/false, yes/no, 1/0, null. Raises InvalidInput otherwise."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if value in (0, 1):
            return bool(value)
        raise InvalidInput(f"not a yes/no value: {value!r}")
    text = str(value).strip().lower()
    if not text or text == "null":
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidInput(f"not a yes/no value: {value!r}")


def to_int(value: Any) -> int | None:
    """Tolerant non-negative integer (``"1234"``, ``1234.0``); InvalidInput otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise InvalidInput(f"not a number: {value!r}")
    try:
        number = float(value) if isinstance(value, str) and "." in value else int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"not a number: {value!r}") from exc
    if number != int(number) or number < 0:
        raise InvalidInput(f"not a non-negative whole number: {value!r}")
    return int(number)


def to_code(value: Any) -> str | None:
    """A category code as text (``1`` and ``"1"`` are the same code); None for null/empty."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def net_date_to_iso(value: str) -> str | None:
    """``/Date(1514764800000)/`` (.NET JSON) to ISO-8601 UTC with milliseconds, else None."""
    m = _NET_DATE.match(value.strip())
    if not m:
        return None
    ms = int(m.group(1))
    try:
        when = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)
    except (OverflowError, ValueError):  # beyond year 9999: kept as the text it was
        return None
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def iso_to_net_date(value: str) -> str | None:
    """The inverse of :func:`net_date_to_iso` for values it produced; None otherwise."""
    try:
        when = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return f"/Date({(when - epoch) // dt.timedelta(milliseconds=1)})/"


def normalise_dates(value: Any) -> Any:
    """Recursively turn .NET ``/Date(ms)/`` strings into ISO-8601 strings."""
    if isinstance(value, str):
        return net_date_to_iso(value) or value
    if isinstance(value, list):
        return [normalise_dates(v) for v in value]
    if isinstance(value, dict):
        return {k: normalise_dates(v) for k, v in value.items()}
    return value


def dates_to_net(value: Any) -> Any:
    """Recursively turn ISO dates written by :func:`net_date_to_iso` back into .NET form."""
    if isinstance(value, str):
        return iso_to_net_date(value) or value
    if isinstance(value, list):
        return [dates_to_net(v) for v in value]
    if isinstance(value, dict):
        return {k: dates_to_net(v) for k, v in value.items()}
    return value


class LineIndex:
    """Maps character offsets of a text to 1-based line numbers."""

    def __init__(self, text: str) -> None:
        self._starts = [0]
        pos = text.find("\n")
        while pos != -1:
            self._starts.append(pos + 1)
            pos = text.find("\n", pos + 1)

    def line(self, offset: int) -> int:
        """Line number of the character at ``offset``."""
        return bisect.bisect_right(self._starts, offset)
