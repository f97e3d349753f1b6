"""Name registries for plug-ins (content types, signal types, importers, detectors ...).

A registry refuses a second plug-in under a name already taken, and names the known ones when
asked for an unknown one. Registration is explicit (``registry.register(obj)``) and done by the
module that owns the registry's defaults, never as a side effect of importing a plug-in module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar

from vigil.errors import Conflict, NotFound


class Named(Protocol):
    """Anything with a stable registry name."""

    @property
    def name(self) -> str:
        """The registry key: lower_snake_case, stable across releases."""
        ...


T = TypeVar("T", bound=Named)


class Registry(Generic[T]):
    """An ordered mapping of unique names to plug-ins of one kind."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, item: T) -> T:
        """Add ``item``; raise :class:`Conflict` if its name is already registered."""
        name = item.name
        if (
            not name
            or name != name.strip()
            or not name.replace("_", "").isalnum()
            or name.lower() != name
        ):
            raise Conflict(f"{self.kind} name {name!r} must be lower_snake_case")
        if name in self._items:
            raise Conflict(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        return item

    def get(self, name: str) -> T:
        """Return the plug-in called ``name`` or raise :class:`NotFound` listing the known ones."""
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise NotFound(f"unknown {self.kind} {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        """Registered names in registration order."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)
