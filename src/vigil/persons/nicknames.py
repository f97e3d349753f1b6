"""Given names and their diminutives ("bill" → william, "peggy" → margaret), from the packaged
``data/nicknames.csv`` (``name,nickname``; an editable list of common English forms).

Linkage compares the *roots* of two first names: "bill" and "william" share the root william,
"harry" has the roots harold and henry. A name absent from the table is its own root.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def table() -> dict[str, tuple[str, ...]]:
    """name or nickname → the formal names it can stand for (sorted; a formal name maps to
    itself)."""
    text = resources.files("vigil.persons.data").joinpath("nicknames.csv").read_text("utf-8")
    roots: dict[str, set[str]] = defaultdict(set)
    for row in csv.DictReader(io.StringIO(text)):
        name, nick = row["name"].strip().lower(), row["nickname"].strip().lower()
        if not name or not nick:
            continue
        roots[name].add(name)
        roots[nick].add(name)
    return {k: tuple(sorted(v)) for k, v in roots.items()}


def roots(name: str | None) -> tuple[str, ...]:
    """The formal names ``name`` can stand for (``()`` for a missing name)."""
    if not name:
        return ()
    return table().get(name, (name,))


def diminutives(name: str) -> list[str]:
    """The nicknames of the formal name ``name`` (for the generator)."""
    return sorted(k for k, v in table().items() if name in v and k != name)


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


@lru_cache(maxsize=1)
def _delete_index() -> dict[str, tuple[str, ...]]:
    """Each table name and each of its one-letter deletions → the table names it comes from."""
    index: dict[str, set[str]] = defaultdict(set)
    for name in table():
        index[name].add(name)
        for d in _deletes(name):
            index[d].add(name)
    return {k: tuple(sorted(v)) for k, v in index.items()}


def one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are one insertion, deletion, substitution or adjacent
    transposition apart (not equal)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def near_roots(name: str | None) -> tuple[str, ...]:
    """For a name the table does not know (a typo), the formal names of the table's names one
    edit away ("bobb" → robert through "bob" and "bobby"); ``()`` for a known name, a missing
    one or one shorter than three letters (too many neighbours to mean anything)."""
    if not name or len(name) < 3 or name in table():
        return ()
    index = _delete_index()
    near: set[str] = set()
    for key in {name} | _deletes(name):
        for cand in index.get(key, ()):
            if one_edit(name, cand):
                near.add(cand)
    found = {root for cand in near for root in table()[cand]}
    return tuple(sorted(found))
