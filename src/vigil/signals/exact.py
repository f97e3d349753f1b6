"""Cryptographic digests as signal types (computed during ingest, matched exactly)."""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import ClassVar

from vigil.errors import InvalidInput
from vigil.index.base import SignalIndex
from vigil.index.exact import ExactIndex
from vigil.signals.base import Comparison, SignalType

_HEX = frozenset(string.hexdigits)


class _DigestSignal(SignalType):
    hex_len: ClassVar[int]
    content_kinds: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def validate(cls, value: str) -> str:
        if not isinstance(value, str):
            raise InvalidInput(f"{cls.name} must be text, got {type(value).__name__}")
        v = value.strip().lower()
        if len(v) != cls.hex_len or not set(v) <= _HEX:
            raise InvalidInput(f"not a {cls.name} digest ({cls.hex_len} hex digits): {value!r}")
        return v

    @classmethod
    def compare(cls, a: str, b: str, *, threshold: int | None = None) -> Comparison:
        return Comparison(cls.validate(a) == cls.validate(b), None)

    @classmethod
    def index_cls(cls) -> type[SignalIndex]:
        return ExactIndex


class Md5Signal(_DigestSignal):
    """MD5 of the file content (what most hash sets carry)."""

    name = "md5"
    hex_len = 32

    @classmethod
    def examples(cls) -> Sequence[str]:
        return ["d41d8cd98f00b204e9800998ecf8427e", "900150983cd24fb0d6963f7d28e17f72"]


class Sha1Signal(_DigestSignal):
    """SHA-1 of the file content."""

    name = "sha1"
    hex_len = 40

    @classmethod
    def examples(cls) -> Sequence[str]:
        return [
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "a9993e364706816aba3e25717850c26c9cd0d89d",
        ]


class Sha256Signal(_DigestSignal):
    """SHA-256 of the file content (the store's item key)."""

    name = "sha256"
    hex_len = 64

    @classmethod
    def examples(cls) -> Sequence[str]:
        return [
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ]
