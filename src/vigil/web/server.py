"""Running the review app under uvicorn: one process, or several worker processes.

Two things are decided here rather than left to uvicorn's defaults:

* **Forwarded headers.** uvicorn believes ``X-Forwarded-For`` / ``-Proto`` from 127.0.0.1 by
  default, so anyone able to reach a localhost server (or any local process) could choose the
  client address that the per-address lock-out counts and the audit log records (issue 14,
  defect 8). Vigil trusts no forwarded header unless ``forwarded_allow_ips`` names the reverse
  proxies (``vigil serve --forwarded-allow-ips``), see docs/deploy.md.
* **Workers.** ``--workers N`` runs N uvicorn processes. Each builds its own app through
  :func:`app_from_env` from a spec the parent puts in ``$VIGIL_SERVE_SPEC``. All shared state
  (sessions, CSRF tokens, lock-outs, reveals, audit) lives in the store, the per-process caches
  re-validate against it on every use, and there is no signing secret to share, so workers need
  nothing but the same database, which must be PostgreSQL (SQLite allows one writer).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from vigil.errors import InvalidInput
from vigil.settings import Settings
from vigil.store.db import Database
from vigil.web.config import WebConfig

SPEC_ENV = "VIGIL_SERVE_SPEC"


def uvicorn_options(cfg: WebConfig) -> dict[str, Any]:
    """The uvicorn keyword arguments for ``cfg`` (shared by every way Vigil starts a server)."""
    options: dict[str, Any] = {
        "host": cfg.host,
        "port": cfg.port,
        "log_level": "warning",
        "access_log": False,
        "server_header": False,
        "proxy_headers": cfg.forwarded_allow_ips is not None,
    }
    if cfg.forwarded_allow_ips is not None:
        options["forwarded_allow_ips"] = cfg.forwarded_allow_ips
    return options


def check_workers(cfg: WebConfig, database_url: str) -> None:
    """Refuse several workers on SQLite (one writer: they would queue on its lock)."""
    if cfg.workers < 1:
        raise InvalidInput(f"--workers must be at least 1, got {cfg.workers}")
    if cfg.workers > 1 and database_url.startswith("sqlite"):
        raise InvalidInput(
            "several workers need a PostgreSQL store (set VIGIL_DATABASE_URL, see docs/deploy.md);"
            " SQLite allows one writer at a time, so run one worker on it"
        )


def _spec(settings: Settings, cfg: WebConfig) -> str:
    config = {
        k: (list(map(str, v)) if k == "evidence_roots" else v)
        for k, v in dataclasses.asdict(cfg).items()
    }
    return json.dumps(
        {
            "data_dir": str(settings.data_dir),
            "database_url": settings.database_url,
            "user": settings.user,
            "config": config,
        }
    )


def app_from_env() -> Any:
    """The app factory each worker process calls (``vigil.web.server:app_from_env``)."""
    from vigil.web.app import create_app

    raw = os.environ.get(SPEC_ENV)
    if not raw:
        raise InvalidInput(f"${SPEC_ENV} is not set: start workers with `vigil serve --workers N`")
    spec = json.loads(raw)
    config = dict(spec["config"])
    config["evidence_roots"] = tuple(Path(p) for p in config.get("evidence_roots", ()))
    cfg = WebConfig(**config)
    settings = Settings.load(spec["data_dir"], database_url=spec["database_url"], user=spec["user"])
    # the parent migrated the store before starting workers: N processes must not race to
    return create_app(settings, config=cfg, db=Database(settings.database_url, create=False))


def run(settings: Settings, cfg: WebConfig, db: Database) -> None:
    """Serve the app on ``db`` in this process (one worker), or ``cfg.workers`` processes built
    by :func:`app_from_env` (``db`` is then closed first: the workers open their own)."""
    import uvicorn

    from vigil.web.app import create_app

    check_workers(cfg, settings.database_url)
    options = uvicorn_options(cfg)
    if cfg.workers == 1:
        uvicorn.run(create_app(settings, config=cfg, db=db), **options)
        return
    db.dispose()
    os.environ[SPEC_ENV] = _spec(settings, cfg)
    uvicorn.run(
        "vigil.web.server:app_from_env",
        factory=True,
        workers=cfg.workers,
        # uvicorn restarts a worker that misses a 5 s health ping; a CPU-starved but healthy
        # worker (a busy shared machine) would lose its in-flight requests for nothing
        timeout_worker_healthcheck=60,
        **options,
    )
