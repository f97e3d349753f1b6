"""Screens of the capabilities (known vs fresh, faces, places, persons), one module each.

Each module exposes ``screen()`` returning a :class:`vigil.web.screens.Screen`; they are
registered by :func:`vigil.web.screens.register_defaults`. A capability whose package is not
installed simply has no screen.
"""
