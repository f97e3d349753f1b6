"""Derived columns of the linkage table: the keys that the error-aware comparisons and the
blocking rules read (issue 15).

:func:`prepare` adds, to a table of :data:`vigil.persons.linkage.LINK_COLUMNS`:

* first and last name **put back in order** where a record has them swapped: when the batch
  uses a record's first name mostly as a surname and its surname mostly as a first name
  ("Burford Sophie" among many Burfords and Sophies), the two are exchanged
  (``names_swapped`` says so); the comparisons still have swap levels for the rest;
* ``first_roots`` — the formal names a first name can stand for (nickname table), so that
  "bill" meets "william";
* ``first_near_roots`` — for a first name the nickname table does not know, the formal names
  of the table's names one edit away ("bobb" → robert, through "bob"): a mistyped nickname;
* ``first_initials`` — the initials of the first name and of its formal names ("bill" →
  "bw"), so that the initial "W" can agree with Bill (not the initials of every diminutive:
  "T Atkinson" must not agree with Anthony through "Tony" in a household);
* ``first_sx`` / ``surname_sx`` — Soundex codes (phonetic agreement, surname blocking);
* ``first_initial`` — the first letter of the first name: the second key that keeps the
  postcode rules from pairing every two strangers who share a postcode (their number grows
  with the square of the records);
* ``pc_prefix`` — the postcode without its last three characters (the UK outward code) or
  the first three of a numeric code, for blocking that survives a typo in the inward part;
* ``addr_key`` — house number, first street word and last address word ("14 albert
  tonbridge"), for blocking on the address when the postcode is wrong or missing.

Every derived value is computed once per distinct input value, so a million records with a few
hundred thousand distinct names cost seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from vigil.persons import nicknames

DERIVED_COLUMNS = (
    "names_swapped",
    "first_roots",
    "first_near_roots",
    "first_initials",
    "first_sx",
    "surname_sx",
    "first_initial",
    "pc_prefix",
    "addr_key",
)

_SOUNDEX = {
    c: d
    for d, letters in (
        ("1", "bfpv"),
        ("2", "cgjkqsxz"),
        ("3", "dt"),
        ("4", "l"),
        ("5", "mn"),
        ("6", "r"),
    )
    for c in letters
}


def soundex(word: str | None) -> str | None:
    """American Soundex (``"robert"`` → ``"R163"``); None for a missing or letterless word."""
    if not word:
        return None
    letters = [c for c in word.lower() if "a" <= c <= "z"]
    if not letters:
        return None
    out = [letters[0].upper()]
    prev = _SOUNDEX.get(letters[0], "")
    for c in letters[1:]:
        code = _SOUNDEX.get(c, "")
        if code and code != prev:
            out.append(code)
            if len(out) == 4:
                break
        if c not in "hw":
            prev = code
    return "".join(out).ljust(4, "0")


def pc_prefix(postcode: str | None) -> str | None:
    """Postcode without the inward part (``"TN295FE"`` → ``"TN29"``), or the first three
    characters of another code (``"56814"`` → ``"568"``)."""
    if not postcode or len(postcode) < 4:
        return None
    if postcode[0].isalpha() and len(postcode) >= 5:
        return postcode[:-3]
    return postcode[:3]


def addr_key(address: str | None) -> str | None:
    """House number, first street word and last word of a normalised address, or None when
    the address has no number or fewer than three words."""
    if not address:
        return None
    tokens = address.split()
    nums = [t for t in tokens if t[:1].isdigit()]
    words = [t for t in tokens if not t[:1].isdigit()]
    if not nums or len(words) < 2:
        return None
    return f"{nums[0]} {words[0]} {words[-1]}"


def _map_unique(
    column: pa.ChunkedArray | pa.Array, fn: Callable[[Any], Any], typ: pa.DataType
) -> pa.Array:
    """Apply ``fn`` once per distinct value of a string column (nulls stay null)."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    enc = pc.dictionary_encode(arr)
    values = [fn(v) for v in enc.dictionary.to_pylist()]
    mapped = pa.array(values, type=typ)
    return pc.take(mapped, enc.indices)


def _initials(name: str | None) -> str | None:
    if not name:
        return None
    letters = {name[0]} | {root[0] for root in nicknames.roots(name)}
    return "".join(sorted(letters))


@dataclass
class NameCounts:
    """How often each name is used as a first name and as a surname across a batch (the
    evidence :func:`unswap` reads). Kept by incremental linkage so that a new batch's swap
    decisions need only the batch's own names, not a pass over every existing record."""

    as_first: dict[str, int] = field(default_factory=dict)
    as_last: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, first: Iterable[str | None], last: Iterable[str | None]) -> NameCounts:
        out = cls()
        out.add(first, last)
        return out

    def add(self, first: Iterable[str | None], last: Iterable[str | None]) -> None:
        for counts, names in ((self.as_first, first), (self.as_last, last)):
            for name in names:
                if name:
                    counts[name] = counts.get(name, 0) + 1

    def swapped(self, first: str | None, last: str | None) -> bool:
        """Whether a record named ``first last`` has the two swapped (see :func:`unswap`)."""
        if not first or not last or len(first) < 2:
            return False
        ff, fl = self.as_first.get(first, 0), self.as_last.get(first, 0)
        lf, ll = self.as_first.get(last, 0), self.as_last.get(last, 0)
        return (fl > ff and lf >= ll) or (fl >= ff and lf > ll)


def unswap(
    first: list[str | None], last: list[str | None], counts: NameCounts | None = None
) -> list[bool]:
    """Which records have their first and last name swapped, judged by the batch itself: the
    first name is used more often as a surname and the surname more often as a first name
    (at least one of the two strictly), across all records of the batch (or across
    ``counts``, which then must include these records)."""
    if counts is None:
        counts = NameCounts.of(first, last)
    return [counts.swapped(f, la) for f, la in zip(first, last, strict=True)]


def prepare(table: pa.Table, counts: NameCounts | None = None) -> pa.Table:
    """``table`` with swapped names put back in order and the :data:`DERIVED_COLUMNS`
    appended (replaced when already present). ``counts``: the name use to judge swaps by
    (default: this table's own; incremental linkage passes those of every record)."""
    for name in DERIVED_COLUMNS:
        if name in table.column_names:
            table = table.drop_columns([name])
    first_l = table.column("first_name").to_pylist()
    last_l = table.column("surname").to_pylist()
    swapped = unswap(first_l, last_l, counts)
    if any(swapped):
        for i in (i for i, s in enumerate(swapped) if s):
            first_l[i], last_l[i] = last_l[i], first_l[i]
        table = table.set_column(
            table.column_names.index("first_name"),
            "first_name",
            pa.array(first_l, type=pa.string()),
        )
        table = table.set_column(
            table.column_names.index("surname"), "surname", pa.array(last_l, type=pa.string())
        )
    first = table.column("first_name")
    surname = table.column("surname")
    roots = _map_unique(first, lambda v: list(nicknames.roots(v)) or None, pa.list_(pa.string()))
    near_roots = _map_unique(
        first, lambda v: list(nicknames.near_roots(v)) or None, pa.list_(pa.string())
    )
    cols = {
        "names_swapped": pa.array(swapped, type=pa.bool_()),
        "first_roots": roots,
        "first_near_roots": near_roots,
        "first_initials": _map_unique(first, _initials, pa.string()),
        "first_sx": _map_unique(first, soundex, pa.string()),
        "surname_sx": _map_unique(surname, soundex, pa.string()),
        "first_initial": _map_unique(first, lambda v: v[:1] or None, pa.string()),
        "pc_prefix": _map_unique(table.column("postcode"), pc_prefix, pa.string()),
        "addr_key": _map_unique(table.column("address"), addr_key, pa.string()),
    }
    for name in DERIVED_COLUMNS:
        table = table.append_column(name, cols[name])
    return table
