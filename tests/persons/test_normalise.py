"""Normalisers used by linkage."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from vigil.persons import normalise as nz


@pytest.mark.parametrize(
    ("raw", "first", "last"),
    [
        ("Mr John A. Smith", "john", "smith"),
        ("SMITH, John", "john", "smith"),
        ("  José  O'Brien  ", "jose", "obrien"),
        ("Dr", None, None),
        ("", None, None),
    ],
)
def test_parse_name(raw: str, first: str | None, last: str | None) -> None:
    name = nz.parse_name(raw)
    assert (name.first, name.last) == (first, last)


def test_postcodes_addresses_emails_phones() -> None:
    assert nz.postcode("sw1a 1aa") == "SW1A1AA"
    assert nz.uk_postcode_parts("SW1A1AA") == ("SW", "SW1A")
    assert nz.uk_postcode_parts("12345") is None
    assert nz.address("12 High St.") == "12 high street"
    assert nz.email(" A.B@Example.COM ") == "a.b@example.com"
    assert nz.email("not-an-email") is None
    assert nz.phone("+44 7700 900123") == "07700900123"
    assert nz.phone("123") is None
    assert nz.country("uk") == "GB"
    assert nz.country("Narnia") is None


def test_dates() -> None:
    assert nz.parse_date("01/02/1980") == dt.date(1980, 2, 1)
    assert nz.parse_date("", None) is None
    with pytest.raises(ValueError, match="not a date"):
        nz.parse_date("31/02/1980")
    ts = nz.parse_timestamp("2025-03-04T05:06:07")
    assert ts is not None
    assert ts.tzinfo is not None


def test_compose_address_keeps_parts_for_display_and_matching() -> None:
    from vigil.persons.normalise import compose_address

    # the glued line and the structured parts of one address normalise alike
    glued = compose_address("12 High St, Kingsbury, Leeds")[1]
    parts = compose_address(None, "12 High Street", "Kingsbury", "Leeds", "W Yorks")
    assert parts == ("12 High Street, Kingsbury, Leeds, W Yorks", glued)
    # a part the line already holds is not repeated for matching
    assert compose_address("12 High St, Leeds", town="Leeds")[1] == "12 high street leeds"
    assert compose_address(None) == (None, None)


def test_near_roots_find_a_mistyped_nickname_and_leave_known_names_alone() -> None:
    from vigil.persons import nicknames

    assert nicknames.near_roots("bobb") == ("robert",)  # bob / bobby, one edit away
    assert nicknames.near_roots("wiliam") == ("william",)
    assert nicknames.near_roots("bob") == ()  # known: its roots are exact
    assert nicknames.near_roots("xq") == ()  # too short to mean anything
    assert nicknames.near_roots("zzzzzz") == ()
    # the edit test against a brute-force oracle (all strings one operation away)
    word, alphabet = "anna", "anbz"
    one = {word[:i] + word[i + 1 :] for i in range(len(word))}
    one |= {word[:i] + c + word[i:] for i in range(len(word) + 1) for c in alphabet}
    one |= {word[:i] + c + word[i + 1 :] for i in range(len(word)) for c in alphabet}
    one |= {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}
    one.discard(word)
    cands = {"".join(p) for n in (3, 4, 5) for p in itertools.product(alphabet, repeat=n)}
    assert {c for c in cands if nicknames.one_edit(word, c)} == one & cands
