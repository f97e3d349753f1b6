"""Imports every table module so that ``Base.metadata`` is complete (migrations, tests).

Capability packages add their ``vigil.store.<capability>`` module here.
"""

from __future__ import annotations

from vigil.store import (
    faces,  # noqa: F401
    hashsets,  # noqa: F401
    models,  # noqa: F401
    persons,  # noqa: F401
    places,  # noqa: F401
    share,  # noqa: F401
    web,  # noqa: F401
    webcache,  # noqa: F401
)
