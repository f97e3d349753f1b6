"""Settings of the review web app (read from ``VIGIL_WEB_*`` environment variables)."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vigil.errors import InvalidInput


def _bool(value: str) -> bool:
    low = value.strip().lower()
    if low in {"1", "true", "yes", "on"}:
        return True
    if low in {"0", "false", "no", "off", ""}:
        return False
    raise InvalidInput(f"expected a yes/no value, got {value!r}")


@dataclass(frozen=True)
class WebConfig:
    """How the review server behaves. Defaults are the safe choice."""

    host: str = "127.0.0.1"
    """Bind address: localhost unless configured (``VIGIL_WEB_HOST``)."""
    port: int = 8470
    secure_cookies: bool = False
    """Mark cookies ``Secure`` (set when served over https, e.g. behind a TLS proxy)."""
    session_hours: float = 12.0
    """Absolute lifetime of a login."""
    idle_minutes: float = 60.0
    """A session unused this long is ended."""
    max_failures_per_user: int = 5
    """Failed logins for one user name within the window before it is locked for the window."""
    max_failures_per_client: int = 30
    """Failed logins from one client address within the window before it is locked."""
    throttle_minutes: float = 15.0
    """Length of the lock-out window (see docs/web.md, "Log-in lock-outs")."""
    password_checks: int = 2
    """Argon2 password checks allowed at once per server process (64 MiB each); up to
    ``password_queue`` more logins wait up to ``password_wait_seconds`` for a slot, the rest get
    503 with Retry-After at once (``VIGIL_WEB_PASSWORD_CHECKS``)."""
    password_wait_seconds: float = 5.0
    password_queue: int = 8
    forwarded_allow_ips: str | None = None
    """Addresses of reverse proxies whose ``X-Forwarded-For``/``-Proto`` headers are believed
    (comma-separated IPs or networks, ``VIGIL_WEB_FORWARDED_ALLOW_IPS``). None: no forwarded
    header is trusted from anyone, so a client cannot forge the address that lock-outs and the
    audit log record."""
    workers: int = 1
    """Server processes (``vigil serve --workers``; several need PostgreSQL)."""
    break_every_reveals: int = 40
    """Show the break reminder after this many reveals in a day (and every as many after)."""
    break_after_minutes: float = 90.0
    """Also remind after this long logged in."""
    evidence_roots: tuple[Path, ...] = ()
    """Folders the browser may ingest evidence from (``VIGIL_WEB_EVIDENCE_ROOTS``, separated
    by ``os.pathsep``); empty: adding evidence from the browser is off."""
    map_tiles: str = ""
    """Tile URL template for the GPS map (``VIGIL_WEB_MAP_TILES``, e.g. the unit's own tile
    server ``https://tiles.unit.example/{z}/{x}/{y}.png``); empty: no tiles are fetched and the
    map draws the clusters on a latitude/longitude grid."""
    page_size: int = 48
    thumb_size: int = 192
    blur_radius: float = 10.0

    @property
    def session_lifetime(self) -> dt.timedelta:
        return dt.timedelta(hours=self.session_hours)

    @property
    def idle_timeout(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.idle_minutes)

    @property
    def throttle_window(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.throttle_minutes)

    @classmethod
    def from_env(cls, **overrides: Any) -> WebConfig:
        """Defaults, then ``VIGIL_WEB_*`` variables (``HOST``, ``PORT``, ``SECURE_COOKIES``,
        ``EVIDENCE_ROOTS``, ``PASSWORD_CHECKS``, ``FORWARDED_ALLOW_IPS``, ``WORKERS``), then
        ``overrides``."""
        cfg = cls()
        env: dict[str, Any] = {}
        try:
            if os.environ.get("VIGIL_WEB_HOST"):
                env["host"] = os.environ["VIGIL_WEB_HOST"]
            if os.environ.get("VIGIL_WEB_PORT"):
                env["port"] = int(os.environ["VIGIL_WEB_PORT"])
            if os.environ.get("VIGIL_WEB_EVIDENCE_ROOTS"):
                roots = os.environ["VIGIL_WEB_EVIDENCE_ROOTS"].split(os.pathsep)
                env["evidence_roots"] = tuple(Path(r) for r in roots if r.strip())
            if os.environ.get("VIGIL_WEB_PASSWORD_CHECKS"):
                env["password_checks"] = int(os.environ["VIGIL_WEB_PASSWORD_CHECKS"])
            if os.environ.get("VIGIL_WEB_FORWARDED_ALLOW_IPS"):
                env["forwarded_allow_ips"] = os.environ["VIGIL_WEB_FORWARDED_ALLOW_IPS"].strip()
            if os.environ.get("VIGIL_WEB_WORKERS"):
                env["workers"] = int(os.environ["VIGIL_WEB_WORKERS"])
            if os.environ.get("VIGIL_WEB_MAP_TILES"):
                env["map_tiles"] = os.environ["VIGIL_WEB_MAP_TILES"].strip()
            if os.environ.get("VIGIL_WEB_SECURE_COOKIES"):
                env["secure_cookies"] = _bool(os.environ["VIGIL_WEB_SECURE_COOKIES"])
        except ValueError as exc:
            raise InvalidInput(f"bad VIGIL_WEB_* setting: {exc}") from exc
        env.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cfg, **env)
