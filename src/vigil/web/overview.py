"""The case overview's capability cards: each summary section's numbers as cards that link to
the screen where the work is done (instead of the CLI's text lines)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SCREEN_OF_SECTION = {
    "known_vs_fresh": "triage",
    "faces": "faces",
    "places": "places",
    "persons": "persons",
}
"""Summary section name → case screen path that shows its records."""

_LINKS: dict[str, dict[str, str]] = {
    # key of a section's data → a more precise target on its screen
    "known_vs_fresh": {"groups": "triage", "items": "items"},
    "places": {"items_with_gps": "places#gps", "devices": "places#devices"},
}


@dataclass
class SectionCards:
    """One capability's figures for the overview."""

    name: str
    title: str
    screen: str | None
    cards: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(label, value, link path inside the case or None)."""
    empty: bool = True
    error: str = ""


_CLI_TAIL = re.compile(r"[:;,]?\s*run `vigil [^`]*`(?: first)?\.?$")


def _screen_text(value: str) -> str:
    """A summary's text without its trailing "run `vigil …`" advice: the overview offers the
    action itself (the scan / match buttons under the section)."""
    return _CLI_TAIL.sub("", value)


def _label(key: str) -> str:
    return key.replace("_", " ")


def _scalar(value: Any) -> bool:
    return isinstance(value, (int, float, str)) and not isinstance(value, bool)


def section_cards(name: str, title: str, data: dict[str, Any]) -> SectionCards:
    """Cards for one section's data: scalars as one card each, small dicts of counts as one card
    listing them, lists as their length. Unknown shapes are skipped, never shown as raw text."""
    screen = SCREEN_OF_SECTION.get(name)
    links = _LINKS.get(name, {})
    out = SectionCards(name=name, title=title, screen=screen)
    for key, value in data.items():
        link = links.get(key, screen)
        if isinstance(value, bool) or value is None:
            continue
        if _scalar(value):
            out.cards.append((_label(key), _screen_text(str(value)), link))
            out.empty = out.empty and value in (0, "", 0.0)
        elif isinstance(value, dict) and value and all(_scalar(v) for v in value.values()):
            text = ", ".join(f"{_label(str(k))} {v}" for k, v in list(value.items())[:8])
            out.cards.append((_label(key), text, link))
            out.empty = False
        elif isinstance(value, list):
            out.cards.append((_label(key), str(len(value)), link))
            out.empty = out.empty and not value
    return out


def case_section_cards(session: Any, case_id: int) -> list[SectionCards]:
    """Every registered summary section of the case as cards (a failing one says so)."""
    try:
        from vigil.reports.summary import SECTIONS
    except ImportError:
        return []
    out: list[SectionCards] = []
    for section in sorted(SECTIONS, key=lambda sec: sec.order):
        title = str(getattr(section, "title", "") or section.name)
        try:
            out.append(section_cards(section.name, title, section.build(session, case_id)))
        except Exception as exc:  # noqa: BLE001 - one failing section must not hide the case
            out.append(
                SectionCards(section.name, title, None, error=f"{type(exc).__name__}: {exc}")
            )
    return out


def cards_to_json(sections: list[SectionCards]) -> list[dict[str, Any]]:
    """The sections as JSON-able data (the shared cache stores this)."""
    return [
        {
            "name": s.name,
            "title": s.title,
            "screen": s.screen,
            "cards": [list(card) for card in s.cards],
            "empty": s.empty,
            "error": s.error,
        }
        for s in sections
    ]


def cards_from_json(data: list[dict[str, Any]]) -> list[SectionCards]:
    """The inverse of :func:`cards_to_json`."""
    return [
        SectionCards(
            name=str(d["name"]),
            title=str(d["title"]),
            screen=None if d["screen"] is None else str(d["screen"]),
            cards=[
                (str(label), str(value), None if link is None else str(link))
                for label, value, link in d["cards"]
            ],
            empty=bool(d["empty"]),
            error=str(d["error"]),
        )
        for d in data
    ]


CARDS_CODEC = (cards_to_json, cards_from_json)
"""What :meth:`vigil.web.caseindex.CaseIndex.sections` needs to share the cards between
processes."""
