"""Card validation, encryption, tokens and masking."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from vigil.errors import IntegrityError, InvalidInput, PermissionDenied
from vigil.persons.cards import (
    ROLES,
    CardVault,
    can_see_cards,
    check_card,
    key_path,
    load_key,
    luhn_complete,
    luhn_valid,
    mask_card,
)

VALID = "4921810000000000"


def test_luhn_accepts_valid_and_rejects_altered_numbers() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")
    number = luhn_complete("492181000000000")
    assert luhn_valid(number)
    assert not luhn_valid(number[:-1] + str((int(number[-1]) + 1) % 10))


def test_check_card_reports_issuer_country_and_hides_number_in_errors() -> None:
    card = check_card("4921 8100 0000 0000")
    assert (card.bin, card.last4, card.scheme, card.issuer_country) == (
        "492181",
        "0000",
        "visa",
        "GB",
    )
    with pytest.raises(InvalidInput) as err:
        check_card("4921810000000007")
    assert "4921810000000007" not in str(err.value)
    with pytest.raises(InvalidInput, match="digits"):
        check_card("1234")


def test_vault_round_trip_token_and_tamper() -> None:
    vault = CardVault(b"k" * 32)
    blob = vault.encrypt(VALID)
    assert VALID.encode() not in blob
    assert vault.decrypt(blob) == VALID
    assert vault.token(VALID) == vault.token(VALID)
    assert vault.token(VALID) != CardVault(b"j" * 32).token(VALID)
    assert VALID not in repr(vault)
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(IntegrityError):
        vault.decrypt(tampered)
    with pytest.raises(IntegrityError):
        CardVault(b"j" * 32).decrypt(blob)


def test_reveal_and_masking_follow_roles() -> None:
    vault = CardVault(b"k" * 32)
    blob = vault.encrypt(VALID)
    assert vault.reveal(blob, "investigator") == VALID
    with pytest.raises(PermissionDenied):
        vault.reveal(blob, "partner")
    seen = {role: mask_card("0000", role, bin6="492181") for role in ROLES}
    for role, text in seen.items():
        assert text.endswith("0000")
        assert ("4921" in text) == can_see_cards(role)
    assert not can_see_cards("analyst")
    assert mask_card(None, "administrator") == ""


def test_key_file_created_private_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VIGIL_CARD_KEY", raising=False)
    key = load_key(tmp_path)
    path = key_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(tmp_path) == key
    os.chmod(path, 0o644)
    with pytest.raises(IntegrityError, match="chmod 600"):
        load_key(tmp_path)


def test_key_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_CARD_KEY", "ab" * 32)
    assert load_key(tmp_path) == bytes.fromhex("ab" * 32)
    assert not key_path(tmp_path).exists()
    monkeypatch.setenv("VIGIL_CARD_KEY", "abcd")
    with pytest.raises(InvalidInput):
        load_key(tmp_path)
