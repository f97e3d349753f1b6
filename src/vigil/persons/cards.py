"""Payment-card numbers: validation (Luhn, BIN → issuer country), encryption at rest, keyed
tokens for matching, and masking by role.

* The key is 32 random bytes from ``$VIGIL_CARD_KEY`` (hex or url-safe base64) or from
  ``<data_dir>/keys/card.key``, created with 0600 permissions on first use. It is never logged,
  printed or stored in the database.
* Two sub-keys are derived from it (HKDF-SHA256): one for AES-256-GCM encryption of the number,
  one for the HMAC-SHA256 token. Matching uses the token only, so linkage never sees a number.
* :func:`mask_card` shows ``BIN…last4`` only to roles in :data:`CARD_ROLES`; everyone else sees
  ``**** **** **** 1234``.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vigil.errors import IntegrityError, InvalidInput

ROLES = ("administrator", "supervisor", "investigator", "analyst", "auditor", "partner")
"""Roles known to Vigil (``users.role``)."""

CARD_ROLES = frozenset({"administrator", "supervisor", "investigator"})
"""Roles that may see a card number beyond its last four digits."""

KEY_ENV = "VIGIL_CARD_KEY"
_NONCE = 12


def can_see_cards(role: str) -> bool:
    """Whether ``role`` may see unmasked card details (BIN and full number on request)."""
    return role in CARD_ROLES


def digits_only(text: str) -> str:
    """The digits of ``text`` (spaces, dashes and dots removed)."""
    return "".join(ch for ch in text if ch.isdigit())


def luhn_valid(number: str) -> bool:
    """True if ``number`` (digits only) passes the Luhn check."""
    if not number.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_complete(prefix: str) -> str:
    """Append the Luhn check digit to ``prefix`` (used by the synthetic generator)."""
    for check in "0123456789":
        if luhn_valid(prefix + check):
            return prefix + check
    raise AssertionError("unreachable: one check digit always fits")  # pragma: no cover


@dataclass(frozen=True)
class CardCheck:
    """A validated card number with what can be said about it without revealing it."""

    number: str
    bin: str
    last4: str
    scheme: str
    issuer_country: str | None


def scheme_of(number: str) -> str:
    """The card scheme from the leading digits (coarse; for display and sanity only)."""
    if number.startswith("4"):
        return "visa"
    two = int(number[:2])
    four = int(number[:4])
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "mastercard"
    if two in (34, 37):
        return "amex"
    if number.startswith(("6011", "65")):
        return "discover"
    if 3528 <= four <= 3589:
        return "jcb"
    return "other"


@lru_cache(maxsize=4)
def load_bin_table(path: str | None = None) -> tuple[tuple[str, str], ...]:
    """BIN prefix → issuer country pairs, longest prefix first.

    The packaged ``bins.csv`` is an editable example (columns ``prefix,country``); a unit loads
    its own licensed BIN table by passing ``path``.
    """
    if path is None:
        text = resources.files("vigil.persons.data").joinpath("bins.csv").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    rows = [
        (r["prefix"].strip(), r["country"].strip().upper())
        for r in csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
        if r.get("prefix") and r.get("country")
    ]
    return tuple(sorted(rows, key=lambda r: -len(r[0])))


def issuer_country(number: str, table: tuple[tuple[str, str], ...] | None = None) -> str | None:
    """The issuer country of ``number`` by longest BIN prefix, or None when unknown."""
    for prefix, country in table if table is not None else load_bin_table():
        if number.startswith(prefix):
            return country
    return None


def check_card(raw: str) -> CardCheck:
    """Validate a card number; raise :class:`InvalidInput` saying why it is not one.

    The message never contains the number itself, only its length and last digit count.
    """
    number = digits_only(raw)
    if not 12 <= len(number) <= 19:
        raise InvalidInput(f"card number has {len(number)} digits (expected 12-19)")
    if not luhn_valid(number):
        raise InvalidInput("card number fails the Luhn check")
    return CardCheck(
        number=number,
        bin=number[:6],
        last4=number[-4:],
        scheme=scheme_of(number),
        issuer_country=issuer_country(number),
    )


def mask_card(last4: str | None, role: str, *, bin6: str | None = None) -> str:
    """How a card is shown to ``role``: BIN and last four for card roles, last four otherwise."""
    if not last4:
        return ""
    if can_see_cards(role) and bin6:
        return f"{bin6[:4]} {bin6[4:6]}** **** {last4}"
    return f"**** **** **** {last4}"


def _decode_key(text: str) -> bytes:
    text = text.strip()
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError) as exc:
            raise InvalidInput(f"{KEY_ENV} is neither hex nor base64") from exc
    if len(raw) < 32:
        raise InvalidInput(f"the card key must be at least 32 bytes (got {len(raw)})")
    return raw


def key_path(data_dir: Path) -> Path:
    """Where the card key file lives inside the data folder."""
    return data_dir / "keys" / "card.key"


def load_key(data_dir: Path) -> bytes:
    """The installation's card key: ``$VIGIL_CARD_KEY`` or the key file (created if missing)."""
    env = os.environ.get(KEY_ENV)
    if env:
        return _decode_key(env)
    path = key_path(data_dir)
    if path.is_file():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise IntegrityError(
                f"{path} is readable by other users (mode {mode:o}); run chmod 600 on it"
            )
        return _decode_key(path.read_text("ascii"))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key.hex() + "\n")
    return key


class CardVault:
    """Encrypts, decrypts and tokenises card numbers with one installation key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise InvalidInput("the card key must be at least 32 bytes")
        self._enc = _derive(key, b"vigil card encryption v1")
        self._mac = _derive(key, b"vigil card token v1")
        self._aead = AESGCM(self._enc)
        self.key_id = hashlib.sha256(_derive(key, b"vigil card key id v1")).hexdigest()[:16]
        """A public fingerprint of the key (stored with each batch; reveals nothing)."""

    def __repr__(self) -> str:
        return f"CardVault(key_id={self.key_id})"

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> CardVault:
        """The vault of the installation whose data folder is ``data_dir``."""
        return cls(load_key(data_dir))

    def token(self, number: str) -> str:
        """Keyed token (HMAC-SHA256, hex, 32 chars) of a digits-only card number."""
        return hmac.new(self._mac, number.encode("ascii"), hashlib.sha256).hexdigest()[:32]

    def encrypt(self, number: str) -> bytes:
        """AES-256-GCM ciphertext (nonce prefixed) of a digits-only card number."""
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._aead.encrypt(nonce, number.encode("ascii"), b"card")

    def decrypt(self, blob: bytes) -> str:
        """The card number from :meth:`encrypt`'s output; IntegrityError if tampered/wrong key."""
        from cryptography.exceptions import InvalidTag

        try:
            return self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], b"card").decode("ascii")
        except InvalidTag as exc:
            raise IntegrityError("card ciphertext does not verify under this key") from exc

    def reveal(self, blob: bytes, role: str) -> str:
        """The full number for roles allowed to see cards (callers audit the reveal)."""
        from vigil.errors import PermissionDenied

        if not can_see_cards(role):
            raise PermissionDenied(f"role {role!r} may not see card numbers")
        return self.decrypt(blob)


def _derive(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)
