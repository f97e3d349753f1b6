"""Imports every table module so that ``Base.metadata`` is complete (migrations, tests).

Capability packages add their ``vigil.store.<capability>`` module here.
"""

from __future__ import annotations

from vigil.store import faces  # noqa: F401
from vigil.store import hashsets  # noqa: F401
from vigil.store import models  # noqa: F401
from vigil.store import persons  # noqa: F401
from vigil.store import places  # noqa: F401
from vigil.store import web  # noqa: F401
