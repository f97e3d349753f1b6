"""Incremental linkage: a new batch joins the persons already resolved, with the trained model
and the earlier decisions kept, comparing only what the new records can touch (issue 15).

Why it equals a full re-link with the same model: the clustering works component by component
(records joined by edges at or above the link weight or by conflicting pairs); a component
that no new record reaches is clustered exactly as before. So the new records, plus the
existing records whose prepared names change with the batch (the batch-wide swap detection of
:func:`vigil.persons.features.prepare`), are the *seeds*; every existing record they have an
edge with brings its whole person in, and that is repeated until nothing new is reached (the
closure). Only that scope is scored again (Splink's ``predict_between`` for the closure,
``predict`` inside the scope) and clustered; everything else keeps its person.

The existing records live in a :class:`LinkIndex`: prepared once, with their persons and the
name counts the swap detection reads, in a DuckDB table. A batch then costs lookups of its own
blocking keys (hash joins whose build side is the batch), the swap decisions of the existing
records that carry one of the batch's names, and Splink on the records the batch reaches: it
grows with the batch and the persons it touches, not with the operation.

Every Splink session reads the model's term frequencies (counted over all records when it was
trained, :mod:`vigil.persons.frequencies`), never the batch's own: a pair scores the same in a
batch as in a full re-link with the same model.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.errors import InvalidInput
from vigil.persons.features import NameCounts, prepare
from vigil.persons.linkage import (
    BLOCKING_RULES,
    LINK_COLUMNS,
    Clusters,
    Edges,
    LinkParams,
    Model,
    cluster,
    predict,
    predict_between,
    rule_parts,
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
    prepared_new: pa.Table | None = None
    """The new records as prepared (for :meth:`LinkIndex.commit`)."""
    changed: pa.Table | None = None
    """Existing records whose prepared names changed with the batch, as now prepared."""
    counts: NameCounts | None = None
    """Name counts with the batch in."""
    new_raw: pa.Table | None = None
    """The new records as given (their names before any swap was put back)."""


def _ids(table: pa.Table) -> np.ndarray:
    return np.asarray(table.column("unique_id").to_numpy(), dtype=np.int64)


_RAW = ("raw_first_name", "raw_surname")


class LinkIndex:
    """The existing records of an operation, prepared once, with their persons and the name
    counts of the swap detection, in an in-memory DuckDB table that a batch's blocking keys
    are looked up in (see the module docstring)."""

    def __init__(
        self, existing: pa.Table, person_of: dict[int, int], *, threads: int | None = None
    ) -> None:
        import duckdb

        missing = [c for c in LINK_COLUMNS if c not in existing.column_names]
        if missing:
            raise InvalidInput(f"linkage table lacks columns: {', '.join(missing)}")
        existing = existing.select(list(LINK_COLUMNS))
        self.schema = existing.schema
        first = existing.column("first_name").to_pylist()
        last = existing.column("surname").to_pylist()
        self.counts = NameCounts.of(first, last)
        prepped = prepare(existing, self.counts)
        self.columns: list[str] = list(prepped.column_names)
        ids = _ids(prepped)
        person = pa.array([person_of.get(int(i)) for i in ids.tolist()], type=pa.int64())
        full = prepped.append_column(_RAW[0], pa.array(first, pa.string()))
        full = full.append_column(_RAW[1], pa.array(last, pa.string()))
        full = full.append_column("person", person)
        self.con = duckdb.connect(":memory:")
        if threads:
            self.con.execute(f"SET threads TO {int(threads)}")
        self.con.register("_src", full)
        self.con.execute("CREATE TABLE existing AS SELECT * FROM _src")
        self.con.unregister("_src")
        self.size = existing.num_rows

    def close(self) -> None:
        self.con.close()

    def _with(self, name: str, table: pa.Table) -> None:
        self.con.register(name, table)

    def rows(self, ids: Iterable[int]) -> pa.Table:
        """The prepared rows of these existing record ids."""
        self._with("_want", pa.table({"uid": pa.array(sorted(ids), pa.int64())}))
        cols = ", ".join(f'e."{c}"' for c in self.columns)
        return self.con.sql(
            f"SELECT {cols} FROM existing e JOIN _want w ON e.unique_id = w.uid"  # noqa: S608
        ).to_arrow_table()

    def candidates(self, frontier: pa.Table, scope: Iterable[int]) -> pa.Table:
        """Prepared existing rows outside ``scope`` that share a blocking key with a record
        of ``frontier`` (both orientations of a cross-column rule)."""
        self._with("_f", frontier)
        self._with("_scope", pa.table({"uid": pa.array(sorted(scope), pa.int64())}))
        parts = []
        for rule in BLOCKING_RULES:
            pairs = rule_parts(rule)
            orientations = {tuple(pairs), tuple((y, x) for x, y in pairs)}
            for pr in orientations:
                on = " AND ".join(f'e."{x}" = f."{y}"' for x, y in pr)
                parts.append(f"SELECT e.unique_id AS uid FROM existing e JOIN _f f ON {on}")  # noqa: S608
        union = " UNION ".join(parts)
        cols = ", ".join(f'e."{c}"' for c in self.columns)
        sql = (
            f"SELECT {cols} FROM existing e JOIN ({union}) c ON e.unique_id = c.uid "  # noqa: S608
            "WHERE e.unique_id NOT IN (SELECT uid FROM _scope)"
        )
        return self.con.sql(sql).to_arrow_table()

    def members(self, ids: Iterable[int]) -> set[int]:
        """The records of the persons of these existing records (a record without a person
        stands for itself)."""
        want = sorted(set(ids))
        if not want:
            return set()
        self._with("_want", pa.table({"uid": pa.array(want, pa.int64())}))
        got = self.con.sql(
            "SELECT e.unique_id FROM existing e WHERE e.person IN "
            "(SELECT x.person FROM existing x JOIN _want w ON x.unique_id = w.uid "
            "WHERE x.person IS NOT NULL)"
        ).fetchall()
        return {int(r[0]) for r in got} | set(want)

    def changed_by(self, new: pa.Table, counts: NameCounts) -> pa.Table:
        """Existing records whose swap decision changes once ``counts`` (which include the
        batch) replace the index's: only records carrying one of the batch's names can change.
        Returned with their raw names, prepared with ``counts``."""
        names = {v for col in ("first_name", "surname") for v in new.column(col).to_pylist() if v}
        empty = self.schema.empty_table()
        if not names:
            return prepare(empty, counts)
        self._with("_names", pa.table({"name": pa.array(sorted(names), pa.string())}))
        rows = self.con.sql(
            "SELECT unique_id, names_swapped, raw_first_name, raw_surname FROM existing "
            "WHERE raw_first_name IN (SELECT name FROM _names) "
            "OR raw_surname IN (SELECT name FROM _names)"
        ).fetchall()
        flip = [int(r[0]) for r in rows if counts.swapped(r[2], r[3]) != bool(r[1])]
        if not flip:
            return prepare(empty, counts)
        self._with("_want", pa.table({"uid": pa.array(sorted(flip), pa.int64())}))
        cols = ", ".join(
            f'e."{_RAW[0]}" AS first_name'
            if c == "first_name"
            else f'e."{_RAW[1]}" AS surname'
            if c == "surname"
            else f'e."{c}"'
            for c in LINK_COLUMNS
        )
        raw = self.con.sql(
            f"SELECT {cols} FROM existing e JOIN _want w ON e.unique_id = w.uid"  # noqa: S608
        ).to_arrow_table()
        return prepare(raw.cast(self.schema), counts)

    def commit(self, outcome: IncrementalOutcome, person_of: dict[int, int]) -> None:
        """Take a linked batch in: its records, the existing records whose prepared names
        changed, the name counts, and the persons of the re-clustered scope (``person_of``:
        record id → person id for at least every record of ``outcome.scope``)."""
        if outcome.new_raw is None or outcome.prepared_new is None or outcome.changed is None:
            raise InvalidInput("an incremental outcome without its prepared batch")
        missing = [int(r) for r in outcome.scope.tolist() if int(r) not in person_of]
        if missing:
            raise InvalidInput(f"no person given for {len(missing)} records of the scope")
        changed_ids = _ids(outcome.changed).tolist()
        if changed_ids:
            old_raw = self.con.sql(
                "SELECT unique_id, raw_first_name, raw_surname FROM existing "  # noqa: S608
                f"WHERE unique_id IN ({', '.join(map(str, changed_ids))})"
            ).fetchall()
            raw_of = {int(u): (f, la) for u, f, la in old_raw}
            self.con.execute(
                f"DELETE FROM existing WHERE unique_id IN ({', '.join(map(str, changed_ids))})"  # noqa: S608
            )
            self._insert(
                outcome.changed,
                [raw_of[i][0] for i in changed_ids],
                [raw_of[i][1] for i in changed_ids],
                person_of,
            )
        self._insert(
            outcome.prepared_new,
            outcome.new_raw.column("first_name").to_pylist(),
            outcome.new_raw.column("surname").to_pylist(),
            person_of,
        )
        self._with(
            "_persons",
            pa.table(
                {
                    "uid": pa.array(outcome.scope, pa.int64()),
                    "pid": pa.array(
                        [person_of[int(r)] for r in outcome.scope.tolist()], pa.int64()
                    ),
                }
            ),
        )
        self.con.execute(
            "UPDATE existing SET person = p.pid FROM _persons p WHERE existing.unique_id = p.uid"
        )
        if outcome.counts is not None:
            self.counts = outcome.counts
        self.size += outcome.prepared_new.num_rows

    def _insert(
        self,
        prepared: pa.Table,
        raw_first: list[str | None],
        raw_last: list[str | None],
        person_of: dict[int, int],
    ) -> None:
        ids = _ids(prepared).tolist()
        full = prepared.select(self.columns)
        full = full.append_column(_RAW[0], pa.array(raw_first, pa.string()))
        full = full.append_column(_RAW[1], pa.array(raw_last, pa.string()))
        full = full.append_column(
            "person", pa.array([person_of.get(int(i)) for i in ids], pa.int64())
        )
        self._with("_ins", full)
        self.con.execute("INSERT INTO existing SELECT * FROM _ins")


def link_incremental(
    existing: pa.Table | None,
    person_of: dict[int, int],
    new: pa.Table,
    model: Model,
    *,
    params: LinkParams | None = None,
    cannot_link: Iterable[tuple[int, int]] = (),
    must_link: Iterable[tuple[int, int]] = (),
    index: LinkIndex | None = None,
) -> IncrementalOutcome:
    """Link ``new`` records into ``existing`` ones whose person is ``person_of[record id]``.

    With ``index`` (a :class:`LinkIndex` of the existing records and their persons) neither
    ``existing`` nor ``person_of`` is read; without it one is built for this call (a pass
    over the existing records, reported as ``index_s``)."""
    params = params or LinkParams()
    t0 = time.perf_counter()
    if new.num_rows == 0:
        raise InvalidInput("no new records to link")
    timings: dict[str, float] = {}
    own_index = index is None
    if index is None:
        if existing is None:
            raise InvalidInput("incremental linkage needs the existing records or their index")
        index = LinkIndex(existing, person_of, threads=params.threads)
        timings["index_s"] = time.perf_counter() - t0
    try:
        return _link_batch(index, new, model, params, list(cannot_link), list(must_link), timings)
    finally:
        if own_index:
            index.close()


def _link_batch(
    index: LinkIndex,
    new: pa.Table,
    model: Model,
    params: LinkParams,
    cannot_link: list[tuple[int, int]],
    must_link: list[tuple[int, int]],
    timings: dict[str, float],
) -> IncrementalOutcome:
    t_start = time.perf_counter()
    new = new.select(list(LINK_COLUMNS)).cast(index.schema)
    counts = NameCounts(dict(index.counts.as_first), dict(index.counts.as_last))
    counts.add(new.column("first_name").to_pylist(), new.column("surname").to_pylist())
    prepared_new = prepare(new, counts)
    # existing records whose names read differently once the batch is in (swap detection)
    changed = index.changed_by(new, counts)
    seed_rows = pa.concat_tables([prepared_new, changed.select(prepared_new.column_names)])
    seeds = set(_ids(seed_rows).tolist())
    scope = set(seeds)
    frontier = seed_rows
    rounds = 0
    while frontier.num_rows:
        rounds += 1
        outside = index.candidates(frontier, scope)
        if outside.num_rows == 0:
            break
        reach = predict_between(frontier, outside, model, params, prepared=True, near_misses=True)
        grow = index.members(reach.left.tolist()) - scope
        scope |= grow
        frontier = index.rows(grow) if grow else frontier.slice(0, 0)
    t1 = time.perf_counter()
    timings["closure_s"] = t1 - t_start
    scope_arr = np.asarray(sorted(scope), dtype=np.int64)
    rest = index.rows(scope - seeds)
    sub = pa.concat_tables([seed_rows, rest.select(seed_rows.column_names).cast(seed_rows.schema)])
    sub = sub.take(pc.sort_indices(sub.column("unique_id")))
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
    timings.update({"predict_s": t2 - t1, "cluster_s": t3 - t2})
    return IncrementalOutcome(
        scope=scope_arr,
        edges=edges,
        clusters=clusters,
        seeds=len(seeds),
        rounds=rounds,
        timings=timings,
        prepared_new=prepared_new,
        changed=changed,
        counts=counts,
        new_raw=new,
    )
