"""Incremental linkage: a new batch joins the persons already resolved, with the trained model
and the earlier decisions kept, comparing only what the new records can touch (issue 15).

Why it equals a full re-link with the same model: the clustering works component by component
(records joined by edges at or above the link weight or by conflicting pairs); a component
that no new record reaches is clustered exactly as before. So the new records, plus the
existing records whose prepared names change with the batch (the batch-wide swap detection of
:func:`vigil.persons.features.prepare`), are the *seeds*; every existing record they have an
edge with brings its whole person in, and that is repeated until nothing new is reached (the
closure). Only that scope is scored again (Splink's ``predict_between`` for the closure,
``predict`` inside the scope) and clustered; everything else keeps its person. The cost grows
with the batch and the persons it touches, not with the operation.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.errors import InvalidInput
from vigil.persons.features import prepare
from vigil.persons.linkage import (
    Clusters,
    Edges,
    LinkParams,
    Model,
    cluster,
    predict,
    predict_between,
)


@dataclass
class IncrementalOutcome:
    """The re-clustered scope of an incremental run."""

    scope: np.ndarray
    """Record ids clustered again (new records and the persons they reach), sorted."""
    edges: Edges
    clusters: Clusters
    seeds: int
    rounds: int
    timings: dict[str, float] = field(default_factory=dict)


def _ids(table: pa.Table) -> np.ndarray:
    return np.asarray(table.column("unique_id").to_numpy(), dtype=np.int64)


def link_incremental(
    existing: pa.Table,
    person_of: dict[int, int],
    new: pa.Table,
    model: Model,
    *,
    params: LinkParams | None = None,
    cannot_link: Iterable[tuple[int, int]] = (),
    must_link: Iterable[tuple[int, int]] = (),
) -> IncrementalOutcome:
    """Link ``new`` records into ``existing`` ones whose person is ``person_of[record id]``."""
    params = params or LinkParams()
    t0 = time.perf_counter()
    if new.num_rows == 0:
        raise InvalidInput("no new records to link")
    schema = existing.schema
    both = pa.concat_tables([existing, new.cast(schema)])
    prepped = prepare(both)
    ids = _ids(prepped)
    n_old = existing.num_rows
    # existing records whose names read differently once the batch is in (swap detection)
    before = prepare(existing)
    changed = np.zeros(n_old, dtype=bool)
    for col in ("first_name", "surname"):
        a = prepped.column(col).slice(0, n_old).to_pylist()
        b = before.column(col).to_pylist()
        changed |= np.fromiter((x != y for x, y in zip(a, b, strict=True)), bool, n_old)
    seeds = set(ids[n_old:].tolist()) | set(ids[:n_old][changed].tolist())
    members: dict[int, list[int]] = defaultdict(list)
    for rid, pid in person_of.items():
        members[pid].append(rid)
    scope = set(seeds)
    frontier = set(seeds)
    rounds = 0
    while frontier:
        rounds += 1
        id_col = prepped.column("unique_id")
        inside = prepped.filter(pc.is_in(id_col, pa.array(sorted(frontier), pa.int64())))
        outside = prepped.filter(pc.invert(pc.is_in(id_col, pa.array(sorted(scope), pa.int64()))))
        if outside.num_rows == 0:
            break
        reach = predict_between(inside, outside, model, params, prepared=True, near_misses=True)
        grow: set[int] = set()
        for rid in set(reach.left.tolist()):
            owner = person_of.get(int(rid))
            grow.update(members[owner] if owner is not None else [int(rid)])
        frontier = grow - scope
        scope |= frontier
    t1 = time.perf_counter()
    scope_arr = np.asarray(sorted(scope), dtype=np.int64)
    sub = prepped.filter(pc.is_in(prepped.column("unique_id"), pa.array(scope_arr)))
    edges = predict(sub, model, params, prepared=True)
    t2 = time.perf_counter()
    in_scope = set(scope_arr.tolist())
    clusters = cluster(
        scope_arr.tolist(),
        edges,
        params=params,
        cannot_link=[(a, b) for a, b in cannot_link if a in in_scope and b in in_scope],
        must_link=[(a, b) for a, b in must_link if a in in_scope and b in in_scope],
        veto=edges.conflicts(model, params.strong_weight),
    )
    t3 = time.perf_counter()
    return IncrementalOutcome(
        scope=scope_arr,
        edges=edges,
        clusters=clusters,
        seeds=len(seeds),
        rounds=rounds,
        timings={"closure_s": t1 - t0, "predict_s": t2 - t1, "cluster_s": t3 - t2},
    )
