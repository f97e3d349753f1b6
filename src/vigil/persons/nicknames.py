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
