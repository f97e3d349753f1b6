"""The review web app: ``vigil serve`` (FastAPI + Jinja2 + htmx on the case store).

Entry point: :func:`vigil.web.app.create_app`. Capability screens plug in through
:data:`vigil.web.screens.SCREENS`; the permission table is :data:`vigil.web.perms.PERMISSIONS`.
"""
