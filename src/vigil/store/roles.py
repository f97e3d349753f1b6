"""The roles a web account may hold, in a module light enough for the CLI to import at start-up
(the permission table lives in :mod:`vigil.web.perms`)."""

from __future__ import annotations

ROLES: tuple[str, ...] = (
    "administrator",
    "supervisor",
    "investigator",
    "analyst",
    "auditor",
    "partner",
)
"""Every role a web account may hold."""
