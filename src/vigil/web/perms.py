"""Roles and the permission table, as data.

Every guarded endpoint names one permission; :data:`PERMISSIONS` says which roles hold it. Case
content additionally needs membership of the case (checked by :class:`vigil.web.auth.Guard`),
whatever the role: an administrator manages accounts and memberships but sees no case material
unless made a member. The role-matrix test walks every route of the app against this table.
"""

from __future__ import annotations

from vigil.store.web import ROLES

ALL = frozenset(ROLES)
_CASE_WORKERS = frozenset({"supervisor", "investigator", "analyst"})

PERMISSIONS: dict[str, frozenset[str]] = {
    # seeing cases and their metadata (no pixels)
    "case.list": ALL,
    "case.view": frozenset({"supervisor", "investigator", "analyst", "auditor", "partner"}),
    "item.view": frozenset({"supervisor", "investigator", "analyst", "partner"}),
    # pixels: blurred greyscale thumbnails, and a deliberate one-at-a-time reveal
    "media.thumb": frozenset({"supervisor", "investigator", "analyst", "partner"}),
    "media.reveal": _CASE_WORKERS,
    "media.known": frozenset({"supervisor", "investigator"}),
    # sensitive fields (card numbers, camera serials, GPS positions ...)
    "sensitive.view": frozenset({"supervisor", "investigator"}),
    # review work
    "review.write": _CASE_WORKERS,
    "notes.view": frozenset({"supervisor", "investigator", "analyst", "auditor"}),
    "notes.write": _CASE_WORKERS,
    "report.export": frozenset({"supervisor", "investigator", "auditor"}),
    "custody.view": frozenset({"supervisor", "investigator", "auditor"}),
    "members.manage": frozenset({"administrator", "supervisor"}),
    "ingest.run": frozenset({"administrator", "supervisor", "investigator"}),
    # start a face / place scan of a case in the server (heavy: minutes of CPU)
    "analysis.run": frozenset({"supervisor", "investigator"}),
    "persons.view": _CASE_WORKERS,
    "persons.act": frozenset({"supervisor", "investigator"}),
    # overlaps with other agencies (vigil share): see them, confirm / reject them at the hub
    "share.view": _CASE_WORKERS,
    "share.decide": frozenset({"supervisor", "investigator"}),
    "share.push": frozenset({"supervisor", "investigator"}),
    # installation-wide
    "case.create": frozenset({"administrator", "supervisor"}),
    "audit.view": frozenset({"administrator", "auditor"}),
    "users.manage": frozenset({"administrator"}),
    "account.self": ALL,
}

SENSITIVE_FIELDS: frozenset[str] = frozenset(
    {"camera_serial", "gps_lat", "gps_lon", "gps_alt", "card_number", "iban", "phone", "email"}
)
"""Fields shown only to roles holding ``sensitive.view``; others see them masked."""


def allowed(role: str, permission: str) -> bool:
    """Whether ``role`` holds ``permission`` (unknown permissions are held by nobody)."""
    return role in PERMISSIONS.get(permission, frozenset())


def mask(value: object, role: str) -> str:
    """A sensitive value as the role may see it: in full, or masked to its last 4 characters."""
    text = "" if value is None else str(value)
    if allowed(role, "sensitive.view") or not text:
        return text
    return "•" * max(0, len(text) - 4) + text[-4:] if len(text) > 6 else "•" * len(text)
