"""Jinja2 environment and the page renderer shared by every screen."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape

from vigil.store import web as store
from vigil.store.base import utcnow
from vigil.web.auth import Principal
from vigil.web.grading import unit_grading
from vigil.web.perms import mask
from vigil.web.screens import SCREENS
from vigil.web.state import app_state


def make_templates(extra_packages: tuple[str, ...] = ()) -> Jinja2Templates:
    """Templates from ``vigil.web/templates`` (and capability packages' ``templates`` folders)."""
    loaders = [PackageLoader("vigil.web", "templates")]
    loaders += [PackageLoader(pkg, "templates") for pkg in extra_packages]
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(default=True, default_for_string=True),
        auto_reload=False,
    )
    env.filters["ts"] = lambda v: v.strftime("%Y-%m-%d %H:%M:%S UTC") if v else ""
    env.filters["size"] = human_size
    env.filters["epoch"] = lambda v: dt.datetime.fromtimestamp(v, dt.UTC).strftime(
        "%Y-%m-%d %H:%M:%S UTC"
    )
    return Jinja2Templates(env=env)


def human_size(n: int | None) -> str:
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def start_of_today() -> dt.datetime:
    now = utcnow()
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def exposure(request: Request, user: Principal) -> dict[str, Any]:
    """Today's reveal count and whether to show the break reminder."""
    st = app_state(request)
    count = user.reveals_today
    if count is None or request.method != "GET":  # the guard read it with the session on GETs
        with st.db.read() as session:
            count = store.reveals_since(session, user.user_id, start_of_today())
    every = max(1, st.config.break_every_reveals)
    minutes = (utcnow() - user.logged_in_at).total_seconds() / 60
    remind = (count >= every) or minutes >= st.config.break_after_minutes
    return {"revealed_today": count, "break_reminder": remind, "session_minutes": int(minutes)}


def render(
    request: Request,
    template: str,
    user: Principal | None,
    *,
    status_code: int = 200,
    case_id: int | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a page (or an htmx fragment) with the common context."""
    st = app_state(request)
    ctx: dict[str, Any] = {
        "user": user,
        "csrf": user.csrf_token if user else "",
        "case_id": case_id,
        "mask": (lambda v: mask(v, user.role)) if user else (lambda v: "•••"),
        "nav": [s for s in SCREENS if s.case_path and user and user.can(s.permission)],
        "config": st.config,
        "screens": SCREENS.names(),
        "grade_scale": unit_grading(st.settings.data_dir),
    }
    if user is not None and not template.startswith("fragments/"):
        ctx.update(exposure(request, user))
    ctx.update(context)
    return st.templates.TemplateResponse(request, template, ctx, status_code=status_code)
