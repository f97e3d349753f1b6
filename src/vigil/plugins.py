"""Registers Vigil's built-in plug-ins through the same registries third-party ones use.

Nothing registers itself on import; :func:`load_defaults` is called by the CLI, the web app and
tests. Each capability adds one ``_register_<capability>()`` call below.
"""

from __future__ import annotations

_LOADED = False


def load_defaults() -> None:
    """Register the built-in content types, signal types and analyzers (idempotent; a load that
    failed is tried again, and reports its failure again, at the next call)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True  # set first: a registration that calls back here finds it loading
    try:
        _register_all()
    except BaseException:
        _LOADED = False
        raise


def _register_all() -> None:
    from vigil.content import types as content_types

    content_types.register_defaults()
    # capability registrations (one call each) ------------------------------------------------
    from vigil.signals import register_defaults as register_signals

    register_signals()  # known vs fresh: md5/sha1/sha256/pdq/vpdq signal types, PDQ analyzers
    from vigil.faces.analyzer import register_defaults as register_faces

    register_faces()  # victim identification: the opt-in `faces` analyzer
    from vigil.persons import register_defaults as register_persons

    register_persons()  # offender identification: the `persons` case-summary section
    from vigil.places.analyzer import register_defaults as register_places

    register_places()  # location identification: the `scene` analyzer, `places` summary section
    # end of capability registrations ---------------------------------------------------------
