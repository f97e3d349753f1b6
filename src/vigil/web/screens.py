"""Extension points of the review app, so that each capability brings its own screens.

* :data:`SCREENS` — a capability's router (its routes use :class:`vigil.web.auth.Guard`, so the
  role-matrix test covers them automatically) plus its entry in the case navigation.
* :data:`TRIAGE` — the known-vs-fresh provider the item list uses to hide known material
  (unless asked for) and to show fresh items first.

Register built-in ones from :func:`vigil.plugins.load_defaults`, never on import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import APIRouter
from sqlalchemy import Select
from sqlalchemy.orm import Session

from vigil.registry import Registry


@dataclass(frozen=True)
class Screen:
    """One capability's pages."""

    name: str
    """Registry key (lower_snake)."""
    title: str
    """Label in the case navigation."""
    router: Callable[[], APIRouter]
    """Builds the router (called once per app)."""
    case_path: str | None = None
    """Navigation link inside a case, relative to ``/cases/{case_id}/`` (None: no link)."""
    permission: str = "case.view"
    """The permission a user needs to see the navigation link."""


SCREENS: Registry[Screen] = Registry("web screen")


class Triage(Protocol):
    """Known-vs-fresh facts for the item list."""

    @property
    def name(self) -> str: ...

    def known_ids(self, case_id: int) -> Select[Any] | None:
        """SELECT of the case's item ids that match known material (hidden by default)."""

    def fresh_ids(self, case_id: int) -> Select[Any] | None:
        """SELECT of the case's fresh item ids (listed first)."""

    def labels(self, session: Session, case_id: int, item_ids: list[int]) -> dict[int, str]:
        """A short label per item (``known: A1``, ``fresh``, ``conflict``)."""

    def version(self, session: Session, case_id: int) -> int:
        """A number that changes whenever the known/fresh results of the case change (the item
        list cache is rebuilt then)."""


TRIAGE: Registry[Triage] = Registry("web triage provider")


_BUILTIN = ("triage", "persons", "faces", "places", "share")


def register_defaults() -> None:
    """Register the built-in capability screens whose packages are present (idempotent)."""
    import importlib

    for name in _BUILTIN:
        if name in SCREENS:
            continue
        try:
            module = importlib.import_module(f"vigil.web.capabilities.{name}")
        except ImportError:
            continue
        SCREENS.register(module.screen())
        provider = getattr(module, "triage_provider", None)
        if provider is not None and provider().name not in TRIAGE:
            TRIAGE.register(provider())
