"""Alembic environment of the case store: every table registered on ``Base.metadata``."""

from __future__ import annotations

import vigil.store.schema  # noqa: F401 - registers every table on Base.metadata
from vigil.store.base import Base
from vigil.store.migrate_env import run_online

run_online(Base.metadata)
