"""Normalisers for the fields linkage compares: names, addresses, postcodes, e-mails, phones,
dates. Each returns ``None`` for "nothing usable" (never ``""``), so that Splink's null levels
treat a missing value as no evidence rather than as a mismatch.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

TITLES = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "prof",
        "rev",
        "sir",
        "dame",
        "lord",
        "lady",
        "master",
        "capt",
        "col",
        "sgt",
    ]
)
SUFFIXES = frozenset(["jr", "jnr", "sr", "snr", "ii", "iii", "iv", "phd", "esq"])
ADDRESS_ABBREVIATIONS = {
    "rd": "road",
    "st": "street",
    "ln": "lane",
    "ave": "avenue",
    "av": "avenue",
    "cl": "close",
    "dr": "drive",
    "cres": "crescent",
    "cresc": "crescent",
    "ct": "court",
    "pl": "place",
    "sq": "square",
    "gdns": "gardens",
    "gr": "grove",
    "pk": "park",
    "ter": "terrace",
    "terr": "terrace",
    "hse": "house",
    "apt": "flat",
    "strasse": "strasse",
    "str": "strasse",
}
_NON_ALNUM = re.compile(r"[^a-z0-9' ]+")
_SPACES = re.compile(r"\s+")
_UK_POSTCODE = re.compile(r"^([A-Z]{1,2})([0-9][0-9A-Z]?)([0-9])([A-Z]{2})$")


def fold(text: str) -> str:
    """Lower-case ASCII folding: accents removed, punctuation to spaces, spaces collapsed."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = _NON_ALNUM.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


@dataclass(frozen=True)
class Name:
    """A parsed personal name."""

    first: str | None
    last: str | None
    full: str | None


def parse_name(raw: str | None, *, first: str | None = None, last: str | None = None) -> Name:
    """Parse ``"Mr John A. Smith"``, ``"SMITH, John"`` or separate first/last fields."""
    if first or last:
        f = fold(first or "").replace("'", "") or None
        la = fold(last or "").replace("'", "") or None
        f = f.split()[0] if f else None
        full = " ".join(p for p in (f, la) if p) or None
        return Name(f, la, full)
    if not raw or not raw.strip():
        return Name(None, None, None)
    text = raw.strip()
    if "," in text:
        surname, _, given = text.partition(",")
        text = f"{given} {surname}"
    tokens = [t.replace("'", "") for t in fold(text).split()]
    tokens = [t for t in tokens if t and t not in TITLES and t not in SUFFIXES]
    if not tokens:
        return Name(None, None, None)
    if len(tokens) == 1:
        return Name(None, tokens[0], tokens[0])
    given_name, surname = tokens[0], tokens[-1]
    return Name(given_name, surname, " ".join(tokens))


def postcode(raw: str | None, country: str | None = None) -> str | None:
    """Upper-case, spaces removed (``"sw1a 1aa"`` → ``"SW1A1AA"``)."""
    if not raw:
        return None
    text = "".join(ch for ch in raw.upper() if ch.isalnum())
    return text or None


def uk_postcode_parts(pc: str | None) -> tuple[str, str] | None:
    """``(area, district)`` of a normalised UK postcode (``"SW1A1AA"`` → ``("SW", "SW1A")``)."""
    if not pc:
        return None
    m = _UK_POSTCODE.match(pc)
    if not m:
        return None
    return m.group(1), m.group(1) + m.group(2)


def address(raw: str | None) -> str | None:
    """Folded address, abbreviations expanded (``"12 High St."`` → ``"12 high street"``)."""
    if not raw:
        return None
    tokens = [ADDRESS_ABBREVIATIONS.get(t, t) for t in fold(raw).replace("'", "").split()]
    return " ".join(tokens) or None


def compose_address(
    line: str | None,
    street: str | None = None,
    locality: str | None = None,
    town: str | None = None,
    region: str | None = None,
) -> tuple[str | None, str | None]:
    """(display address, normalised address for matching) from an address line and/or the
    structured parts.

    The display keeps every part ("12 High St, Kingsbury, Leeds, West Yorkshire"); the
    normalised form keeps line, street, locality and town, in that order, without the region
    (often missing or abbreviated, it would only add noise to the address comparison) and
    without a part the line already contains.
    """
    parts = [p.strip() for p in (line, street, locality, town, region) if p and p.strip()]
    display = ", ".join(parts) or None
    matching: list[str] = []
    for p in (line, street, locality, town):
        folded = address(p)
        if folded and not any(folded in m for m in matching):
            matching.append(folded)
    return display, " ".join(matching) or None


def house_number(addr: str | None) -> str | None:
    """The first number in a normalised address, or None."""
    if not addr:
        return None
    for token in addr.split():
        if token[:1].isdigit():
            return "".join(ch for ch in token if ch.isdigit()) or None
    return None


def email(raw: str | None) -> str | None:
    """Lower-cased, trimmed e-mail address; None unless it has one ``@`` and a dot after it."""
    if not raw:
        return None
    text = raw.strip().lower()
    local, at, domain = text.partition("@")
    if not at or not local or "." not in domain or "@" in domain or " " in text:
        return None
    return text


def phone(raw: str | None, country: str | None = None) -> str | None:
    """Digits only, UK ``+44``/``0044`` turned to a leading ``0``; None if fewer than 7 digits."""
    if not raw:
        return None
    digits = "".join(ch for ch in raw if ch.isdigit())
    if raw.strip().startswith("+44") or digits.startswith("0044"):
        digits = "0" + digits[(4 if digits.startswith("0044") else 2) :]
    if len(digits) < 7:
        return None
    return digits


def country(raw: str | None) -> str | None:
    """Two-letter upper-case country code (``"uk"`` → ``"GB"``); None when not a code."""
    if not raw:
        return None
    text = raw.strip().upper()
    if text in ("UK", "UNITED KINGDOM", "GREAT BRITAIN", "ENGLAND", "SCOTLAND", "WALES"):
        return "GB"
    if text in ("USA", "UNITED STATES", "UNITED STATES OF AMERICA"):
        return "US"
    if len(text) == 2 and text.isalpha():
        return text
    return None


DATE_FORMATS = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%d %b %Y",
    "%d %B %Y",
    "%Y%m%d",
)
TIMESTAMP_FORMATS = (
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
)


def parse_date(raw: str | None, fmt: str | None = None) -> dt.date | None:
    """A date from ``raw`` (explicit ``fmt`` or common formats); ValueError if unparseable."""
    if raw is None or not str(raw).strip():
        return None
    text = str(raw).strip()
    for f in (fmt,) if fmt else DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, f).date()
        except ValueError:
            continue
    raise ValueError(f"not a date: {text!r}")


def parse_timestamp(raw: str | None, fmt: str | None = None) -> dt.datetime | None:
    """A UTC timestamp from ``raw`` (naive values are taken as UTC); ValueError if unparseable."""
    if raw is None or not str(raw).strip():
        return None
    text = str(raw).strip()
    if fmt:
        value = dt.datetime.strptime(text, fmt)
    else:
        try:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            for f in TIMESTAMP_FORMATS + DATE_FORMATS:
                try:
                    value = dt.datetime.strptime(text, f)
                    break
                except ValueError:
                    continue
            else:
                raise ValueError(f"not a timestamp: {text!r}") from None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)
