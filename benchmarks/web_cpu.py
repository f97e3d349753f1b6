"""CPU and SQL statements per request of each review screen, in one process (prints JSON).

    python benchmarks/web_cpu.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
    PYTHONPATH=/path/to/main/src python benchmarks/web_cpu.py ...   # the peer's code, same load

The fair figure on a shared machine: the app and a ``TestClient`` run in this process and
``time.process_time`` counts only this process's CPU (client included, so the figures are a
little above the server's own), whatever else the machine runs. Seeds the same case as
``web.py`` (a fresh PostgreSQL database, or SQLite without ``--database-url``), logs one
reviewer in, warms the caches, then requests each screen ``--requests`` times in turn.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

from vigil.settings import Settings
from vigil.store.db import Database
from web import PASSWORD, drop_pg_database, fresh_pg_database, seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=150, help="requests per screen")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    from vigil.web.app import create_app

    home = Path(tempfile.mkdtemp(prefix="vigil-bench-webcpu-"))
    pg_name = None
    url = f"sqlite:///{home / 'vigil.db'}"
    if args.database_url:
        url, pg_name = fresh_pg_database(args.database_url)
    try:
        settings = Settings.load(home, database_url=url)
        db = Database(settings.database_url)
        case_id = seed(db, args.items, 3)
        statements = [0]

        @event.listens_for(db.engine, "before_cursor_execute")
        def _count(*_a: Any) -> None:
            statements[0] += 1

        app = create_app(settings, db=db)
        rng = random.Random(1)
        pages = max(1, args.items // 48)
        screens = {
            "overview": lambda: f"/cases/{case_id}",
            "sections": lambda: f"/cases/{case_id}/sections",
            "items": lambda: f"/cases/{case_id}/items?page={rng.randint(1, pages)}",
            "item": lambda: f"/cases/{case_id}/items/{rng.randint(1, args.items)}",
            "healthz": lambda: "/healthz",
        }
        out: dict[str, Any] = {"benchmark": "web_cpu", "backend": url.split(":", 1)[0]}
        with TestClient(app) as client:
            form = client.get("/login")
            token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            login = {"username": "reviewer0", "password": PASSWORD, "csrf_token": token}
            if client.post("/login", data=login, follow_redirects=False).status_code != 303:
                raise SystemExit("log-in failed")
            for make in screens.values():  # warm the caches and the statement cache
                for _ in range(5):
                    client.get(make())
            cpu: dict[str, list[float]] = {name: [] for name in screens}
            sql: dict[str, int] = dict.fromkeys(screens, 0)
            for _ in range(args.requests):
                for name, make in screens.items():
                    path = make()
                    before = statements[0]
                    t0 = time.process_time()
                    resp = client.get(path)
                    cpu[name].append(time.process_time() - t0)
                    sql[name] += statements[0] - before
                    if resp.status_code != 200:
                        raise SystemExit(f"{path}: {resp.status_code}")
        for name in screens:
            out[f"{name}_cpu_ms"] = round(statistics.fmean(cpu[name]) * 1000, 2)
            out[f"{name}_statements"] = round(sql[name] / args.requests, 1)
        mix = ("overview", "sections", "items", "item")
        out["mix_cpu_ms"] = round(statistics.fmean(out[f"{n}_cpu_ms"] for n in mix), 2)
        out["vigil_from"] = str(Path(sys.modules["vigil"].__file__ or "").parent)
        out["load_avg_1m"] = round(os.getloadavg()[0], 2)
        db.dispose()
    finally:
        if pg_name and args.database_url:
            drop_pg_database(args.database_url, pg_name)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
