"""Persons constants that the CLI needs at start-up (for option defaults and help texts),
kept apart from the modules that load Splink, DuckDB and the store."""

from __future__ import annotations

DEFAULT_LINK_WEIGHT = 6.0
"""Match weight above which two records are linked (see :mod:`vigil.persons.linkage`)."""
DEFAULT_STRONG_WEIGHT = 14.0
"""Match weight of a strong link (see :mod:`vigil.persons.linkage`)."""

STAGES = (
    "identified",
    "referred",
    "suspect",
    "arrested",
    "charged",
    "convicted",
    "no_further_action",
    "cleared",
)
