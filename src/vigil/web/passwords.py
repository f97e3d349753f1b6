"""Password hashing with Argon2id (argon2-cffi defaults: RFC 9106 low-memory profile)."""

from __future__ import annotations

import contextlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from vigil.errors import InvalidInput

_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("vigil-dummy-password-for-timing")

MIN_LENGTH = 12


def check_strength(password: str) -> None:
    """Refuse passwords that are too short to protect this data."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_LENGTH} characters")
    if password.strip() != password:
        raise InvalidInput("a password may not start or end with spaces")


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password`` (after :func:`check_strength`)."""
    check_strength(password)
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; takes as long when there is no account."""
    if not stored:
        with contextlib.suppress(VerificationError):
            _HASHER.verify(_DUMMY, password + "x")
        return False
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
