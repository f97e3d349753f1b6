"""Options shared by the commands whose per-item work can run in worker processes or on Ray."""

from __future__ import annotations

from typing import Annotated

import typer

BackfillWorkersOpt = Annotated[
    int,
    typer.Option(
        "--workers",
        "-j",
        help="Worker processes for the per-item work (0, the default: in this process). "
        "With --executor ray: CPUs of the private Ray instance (0: all of this machine's).",
    ),
]
ExecutorOpt = Annotated[
    str,
    typer.Option(
        "--executor",
        help="local (default): this process or local worker processes; ray: Ray tasks, on a "
        "private local Ray instance or on the cluster given by --ray-address "
        "(needs pip install 'vigil[ray]'). This process stays the only writer.",
    ),
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="Ray cluster to join (from `ray start --head`), e.g. 10.0.0.5:6379 or auto "
        "(implies --executor ray). Evidence must be readable at the same path on every node "
        "and the store reachable from them (PostgreSQL, or SQLite on shared storage).",
    ),
]
