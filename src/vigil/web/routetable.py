"""The app's route table with each route's guard: what the role-matrix test and the docs walk.

FastAPI may keep included routers as lazy branches; this walks them (with their prefixes and
router-level dependencies) so that every reachable route is listed exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from vigil.web.auth import Guard


@dataclass(frozen=True)
class RouteInfo:
    """One method + path of the app and the guard protecting it (None: public)."""

    method: str
    path: str
    guard: Guard | None

    @property
    def permission(self) -> str | None:
        return self.guard.permission if self.guard else None


def _guard_in(dependencies: Iterable[Any]) -> Guard | None:
    stack = list(dependencies)
    while stack:
        dep = stack.pop()
        call = getattr(dep, "call", None) or getattr(dep, "dependency", None)
        if isinstance(call, Guard):
            return call
        stack.extend(getattr(dep, "dependencies", []) or [])
    return None


def _walk(routes: Iterable[Any], prefix: str, inherited: list[Any]) -> Iterable[RouteInfo]:
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            ctx = route.include_context
            yield from _walk(original.routes, prefix + ctx.prefix, [*inherited, *ctx.dependencies])
            continue
        if isinstance(route, APIRoute):
            guard = _guard_in(route.dependant.dependencies) or _guard_in(inherited)
            for method in sorted((route.methods or set()) - {"HEAD"}):
                yield RouteInfo(method, prefix + route.path, guard)


def route_table(app: FastAPI) -> list[RouteInfo]:
    """Every (method, path) the app serves, with its guard."""
    return list(_walk(app.router.routes, "", []))
