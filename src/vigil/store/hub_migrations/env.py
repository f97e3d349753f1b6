"""Alembic environment of the hub's own database (tables of :mod:`vigil.store.hub` only)."""

from __future__ import annotations

from vigil.store.hub import HubBase
from vigil.store.migrate_env import run_online

run_online(HubBase.metadata, version_table="hub_alembic_version")
