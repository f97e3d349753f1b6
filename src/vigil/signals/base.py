"""Signal types: what a hash *is* (validation, comparison, index), independent of how it is made.

A signal type is a small class with a stable registry name. It knows how to put a value into
canonical form (:meth:`SignalType.validate`), how to compare two values and which index class
finds values quickly. Hashers (PDQ from pixels, vPDQ from video frames) return a
:data:`HashOutcome`: either :class:`Hashed` or an explicit :class:`Unhashable` that says why,
never an empty string.

Why is a signal value a ``str``? So that it can always be shared, stored and shown as text
(hash-set files carry hex strings); indexes convert to bytes internally.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from vigil.registry import Registry

if TYPE_CHECKING:
    from vigil.index.base import SignalIndex


@dataclass(frozen=True, slots=True)
class Comparison:
    """Result of comparing two signal values."""

    match: bool
    distance: int | None
    """Bits that differ for Hamming signals; ``None`` for exact-only signals."""


@dataclass(frozen=True, slots=True)
class Hashed:
    """A successfully computed signal value."""

    value: str
    quality: int | None = None
    """0..100 for PDQ (how much structure the image had); None where it does not apply."""


@dataclass(frozen=True, slots=True)
class Unhashable:
    """A signal could not be computed; ``code`` is stable, ``reason`` is for people."""

    code: str
    reason: str
    quality: int | None = None
    """PDQ quality when the hash was computed but fell below the floor."""


HashOutcome = Hashed | Unhashable


class SignalType(abc.ABC):
    """One kind of signal (``md5``, ``sha1``, ``sha256``, ``pdq``)."""

    name: ClassVar[str]
    """Registry key, lower_snake_case, stable across releases."""
    content_kinds: ClassVar[frozenset[str]]
    """Item kinds the signal is computed for (empty for digests: every item)."""
    default_threshold: ClassVar[int | None] = None
    """Default match threshold for distance signals; None for exact signals."""

    @classmethod
    @abc.abstractmethod
    def validate(cls, value: str) -> str:
        """Return the canonical form of ``value`` or raise :class:`vigil.errors.InvalidInput`."""

    @classmethod
    @abc.abstractmethod
    def compare(cls, a: str, b: str, *, threshold: int | None = None) -> Comparison:
        """Compare two canonical values."""

    @classmethod
    @abc.abstractmethod
    def index_cls(cls) -> type[SignalIndex]:
        """The index class that finds values of this type."""

    @classmethod
    @abc.abstractmethod
    def examples(cls) -> Sequence[str]:
        """Valid example values (used by the contract tests)."""


SIGNAL_TYPES: Registry[type[SignalType]] = Registry("signal type")
"""Every signal type Vigil knows; filled by :func:`vigil.signals.register_defaults`."""
