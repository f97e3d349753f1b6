"""Benchmark of person linkage and triage against the synthetic generator's ground truth.

    python benchmarks/persons.py --records 100000 [--store] [--peer] [--clean]
    python benchmarks/persons.py --quick          # 5,000 records, with the peer
    python benchmarks/persons.py --records 100000 --engine spark   # DuckDB, then Spark local

Prints one JSON line: pairwise precision / recall / F1, false merges per 5,000 true persons
(all, and those involving a household member or stolen-card identity), blocking pair
completeness against the ground truth, wall time and peak RSS of linkage (train + predict +
cluster; ``link_cpu_s`` the CPU seconds of this process, all threads, the fair figure on a
shared machine, with the load average before and after), and with ``--store`` the full store path (import, link, enrich, flags, prioritise)
with the fraud records and fraud-only persons that ended in a priority band (must be 0).
Records come from the messy generator (name swaps, nicknames, OCR errors, DOB transpositions,
postcode typos, missing fields; ``--clean`` for the default profile). ``--peer`` runs, in the
same process on the same table, a plain Splink model on the same fields (Splink's library
comparisons, the same blocking keys Vigil had before issue 15, connected components at
match probability 0.99) as the reference. ``--engine spark`` links the same table with DuckDB
and then with Splink's Spark backend on a local master (``--spark-master`` for another) in the
same run: wall and CPU time (this process plus the Spark JVM), peak RSS of the process tree
(Python's peak plus the JVM's, an upper bound) and how far the two engines' persons agree;
with ``--shared-model`` one model trained on DuckDB is predicted and clustered on both (the
engines' own cost of the step that grows with the data; the persons must be identical).
``--term-frequencies off`` trains without the surname's term-frequency adjustment, ``both``
links the same table with and then without it in the same run (``without_term_frequencies``);
``--surname-skew S`` draws surnames with a Zipf-like skew (see ``SynthConfig.surname_skew``).
``--chunks K`` generates the records as K independent populations (seeds seed..seed+K-1, record
ids and true persons offset so none are shared), each turned into its linkage table in a
worker process (``--gen-workers`` at a time) and written as Parquet, then read back: the
generator's Python objects (~3.2 GB per 10^6 records) never exist for more than one chunk per
worker, so 10^7 records fit; ``--engine spark-only`` links with Spark alone (no DuckDB side).
With ``--incremental`` the persons are also compared with a full re-link of all records with
the same model (``persons_equal_full_relink``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vigil.persons import linkage, synth
from vigil.persons.cards import CardVault


def _table(data: synth.SynthData, vault: CardVault, first_id: int = 0) -> pa.Table:
    return synth.link_table(data, vault, first_id)


def _codes(values: Any) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Integer codes of a sequence (labels or true person keys): equal values, equal codes."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    return np.unique(arr, return_inverse=True)[1].astype(np.int64).reshape(-1)


def _scores(labels: Any, truth: Any) -> dict[str, float]:
    """Pairwise precision / recall / F1 of cluster ``labels`` against the ``truth`` (true person
    keys, or their integer codes), with numpy so 10^7 records need no Python tuples."""
    lab, tru = _codes(labels), _codes(truth)
    if lab.shape != tru.shape:
        raise ValueError("labels and truth differ in length")

    def pairs(codes: np.ndarray[Any, np.dtype[np.int64]]) -> tuple[int, int]:
        """(sum over groups of k·(k-1)/2, number of groups)"""
        counts = np.unique(codes, return_counts=True)[1].astype(np.int64)
        return int((counts * (counts - 1) // 2).sum()), int(counts.size)

    if lab.size:
        lab, tru = lab - lab.min(), tru - tru.min()
    tp, joint = pairs(lab * (int(tru.max(initial=0)) + 1) + tru)
    pp, n_labels = pairs(lab)
    tt, persons = pairs(tru)
    precision = tp / pp if pp else 1.0
    recall = tp / tt if tt else 1.0
    merges = joint - n_labels  # per predicted person: its distinct true persons - 1
    return {
        "precision": round(precision, 5),
        "recall": round(recall, 5),
        "f1": round(2 * precision * recall / (precision + recall), 5),
        "false_merges_per_5000_persons": round(merges * 5000 / persons, 3),
        "true_persons": persons,
    }


def _set_scores(labels: list[int], data: synth.SynthData, truth: list[str]) -> dict[str, Any]:
    """False merges that involve a household member or a stolen-card identity (the cases the
    household rule and the fraud flags exist for), per 5,000 true persons."""
    per: dict[int, set[str]] = defaultdict(set)
    for lab, t in zip(labels, truth, strict=True):
        per[lab].add(t)
    special = ("household", "victim", "invented")
    merges = sum(
        len(s) - 1
        for s in per.values()
        if len(s) > 1 and any(data.identities[k].kind in special for k in s)
    )
    persons = len(set(truth))
    return {
        "household_fraud_false_merges": merges,
        "household_fraud_false_merges_per_5000_persons": round(merges * 5000 / persons, 3),
    }


def _plain_splink(table: pa.Table, threads: int) -> tuple[list[int], float]:
    """A plain Splink 5 model on the same fields: library comparisons, blocking on card,
    e-mail, phone, surname + dob and postcode, u by random sampling, m by EM, connected
    components at match probability 0.99. Returns cluster labels and wall seconds."""
    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    t0 = time.perf_counter()
    con = duckdb.connect(":memory:")
    con.execute(f"SET threads TO {int(threads)}")
    db_api = DuckDBAPI(connection=con)
    rules = [block_on(*c) for c in (("card_token",), ("email",), ("phone",), ("surname", "dob"))]
    rules.append(block_on("postcode"))
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.NameComparison("first_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.PostcodeComparison("postcode"),
            cl.JaroWinklerAtThresholds("address", [0.95, 0.88]),
            cl.ExactMatch("email"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("card_token"),
        ],
        blocking_rules_to_generate_predictions=rules,
    )
    sdf = db_api.register(table, table_name="peer_records")
    linker = Linker(sdf, settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "surname", "dob"), block_on("card_token", "email")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    for rule in (block_on("card_token"), block_on("postcode"), block_on("surname", "dob")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    pred = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, 0.99)
    got = con.sql(
        f"SELECT unique_id, cluster_id FROM {clusters.physical_name} ORDER BY unique_id"  # noqa: S608
    ).fetchall()
    con.close()
    ids = {int(u): str(c) for u, c in got}
    order: dict[str, int] = {}
    labels = [
        order.setdefault(ids.get(int(u), f"solo{u}"), len(order))
        for u in table.column("unique_id").to_pylist()
    ]
    return labels, time.perf_counter() - t0


def _incremental(
    table: pa.Table,
    truth: Any,
    n_new: int,
    threads: int,
    profile: str,
    term_frequencies: bool = True,
) -> dict[str, Any]:
    """Full link of all but the last ``n_new`` records, the index of those records (kept
    between batches), then the last ``n_new`` linked into them with the model kept; scored
    against the truth over all records. ``incremental_s`` / ``incremental_cpu_s``: the batch
    alone (wall and CPU seconds of this process, all threads)."""
    from vigil.persons.incremental import LinkIndex, link_incremental

    params = linkage.LinkParams(threads=threads, term_frequencies=term_frequencies)
    cut = table.num_rows - n_new
    existing, new = table.slice(0, cut), table.slice(cut)
    t0 = time.perf_counter()
    first = linkage.link(existing, params=params)
    full_s = time.perf_counter() - t0
    person_of = dict(zip(first.clusters.ids.tolist(), first.clusters.labels.tolist(), strict=True))
    t1 = time.perf_counter()
    index = LinkIndex(existing, person_of, threads=threads)
    index_s = time.perf_counter() - t1
    load_before = os.getloadavg()
    t2, c2 = time.perf_counter(), time.process_time()
    inc = link_incremental(None, {}, new, first.model, params=params, index=index)
    inc_s, inc_cpu = time.perf_counter() - t2, time.process_time() - c2
    index.close()
    scope = set(inc.scope.tolist())
    label: dict[int, tuple[str, int]] = {
        r: ("old", p) for r, p in person_of.items() if r not in scope
    }
    for r, lab in zip(inc.clusters.ids.tolist(), inc.clusters.labels.tolist(), strict=True):
        label[r] = ("new", lab)
    ids = table.column("unique_id").to_pylist()
    order: dict[tuple[str, int], int] = {}
    labels = [order.setdefault(label[int(i)], len(order)) for i in ids]
    full = linkage.link(table, params=params, model=first.model)
    full_of = dict(zip(full.clusters.ids.tolist(), full.clusters.labels.tolist(), strict=True))
    full_order: dict[int, int] = {}
    full_labels = [full_order.setdefault(full_of[int(i)], len(full_order)) for i in ids]
    return {
        "benchmark": "persons-incremental",
        "profile": profile,
        "term_frequencies": term_frequencies,
        "persons_equal_full_relink": labels == full_labels,
        "existing_records": cut,
        "new_records": n_new,
        "full_link_of_existing_s": round(full_s, 2),
        "index_build_s": round(index_s, 2),
        "incremental_s": round(inc_s, 2),
        "incremental_cpu_s": round(inc_cpu, 2),
        "incremental_timings": {k: round(v, 2) for k, v in inc.timings.items()},
        "seeds": inc.seeds,
        "records_reclustered": int(inc.scope.size),
        "closure_rounds": inc.rounds,
        "load_average": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "peak_rss_mb": _rss_mb(),
        **_scores(labels, truth),
    }


def _gen_chunk(
    c: int, persons: int, seed: int, messy: bool, skew: float, folder: str
) -> tuple[str, np.ndarray[Any, np.dtype[np.int64]], float, float]:
    """One independent population (seed + ``c``) as the linkage table, written to a Parquet
    file in ``folder`` (record ids from 0); returns its path, the records' true persons as
    integer codes from 0, and the wall / peak RSS MB of this worker process."""
    t0 = time.perf_counter()
    data = synth.generate(
        synth.SynthConfig(persons=persons, seed=seed + c, messy=messy, surname_skew=skew)
    )
    table = _table(data, CardVault(b"b" * 32))
    truth = _codes([data.truth[r["record_ref"]] for r in data.records])
    path = Path(folder) / f"chunk{c:04d}.parquet"
    pq.write_table(table, path)
    return str(path), truth, time.perf_counter() - t0, _rss_mb()


def _chunked(
    args: argparse.Namespace, persons: int, folder: str
) -> tuple[pa.Table, np.ndarray[Any, np.dtype[np.int64]], dict[str, Any]]:
    """``args.chunks`` independent populations (seeds seed, seed+1, ...; ``persons`` in all),
    each generated and turned into its linkage table in a worker process (``--gen-workers`` at
    a time) and written as Parquet, so the generator's Python objects (~3.2 GB per 10^6
    records) never exist for more than one chunk per worker. Read back here with record ids
    and true persons offset so no two chunks share one. The truth is kept as integer codes."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    k = args.chunks
    sizes = [persons // k + (1 if c < persons % k else 0) for c in range(k)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.gen_workers, mp_context=get_context("spawn")) as ex:
        futures = [
            ex.submit(_gen_chunk, c, n, args.seed, not args.clean, args.surname_skew, folder)
            for c, n in enumerate(sizes)
        ]
        done = [f.result() for f in futures]
    gen_s = time.perf_counter() - t0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    tables, truths, first_id, first_person = [], [], 0, 0
    for path, truth, _, _ in done:
        part = pq.read_table(path)
        ids = pa.array(np.arange(first_id, first_id + part.num_rows, dtype=np.int64))
        tables.append(part.set_column(0, "unique_id", ids))
        truths.append(truth + first_person)
        first_id += part.num_rows
        first_person += int(truth.max(initial=-1)) + 1
        Path(path).unlink()
    table = pa.concat_tables(tables)
    info = {
        "chunks": k,
        "gen_workers": args.gen_workers,
        "generate_s": round(gen_s, 2),
        "generate_cpu_s": round(children.ru_utime + children.ru_stime, 2),
        "generate_worker_peak_rss_mb": max(d[3] for d in done),
        "read_back_s": round(time.perf_counter() - t0 - gen_s, 2),
        "table_mb": round(table.nbytes / 2**20, 1),
    }
    return table, np.concatenate(truths), info


def _tree() -> list[int]:
    """Process ids of this process's descendants (the Spark JVM)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
    out, todo = [], [os.getpid()]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out.extend(kids)
        todo.extend(kids)
    return out


def _children_usage() -> tuple[float, float]:
    """(CPU seconds, peak RSS MB) of the live descendants (VmHWM: each one's own peak)."""
    cpu = rss = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in _tree():
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / tick
            with open(f"/proc/{pid}/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        rss += int(line.split()[1]) / 1024
        except OSError:
            continue
    return cpu, rss


def _agreement(a: list[int], b: list[int]) -> dict[str, Any]:
    """How far two clusterings of the same records agree: identical or not, the pairwise
    precision / recall of ``b`` against ``a``, and the records whose person (its set of
    records) differs."""

    def c2(k: int) -> int:
        return k * (k - 1) // 2

    joint = Counter(zip(a, b, strict=True))
    size_a, size_b = Counter(a), Counter(b)
    both = sum(c2(k) for k in joint.values())
    pa_, pb = sum(c2(k) for k in size_a.values()), sum(c2(k) for k in size_b.values())
    differ = sum(
        1 for x, y in zip(a, b, strict=True) if not joint[(x, y)] == size_a[x] == size_b[y]
    )
    return {
        "identical_persons": differ == 0,
        "pairs_agree_precision": round(both / pb, 6) if pb else 1.0,
        "pairs_agree_recall": round(both / pa_, 6) if pa_ else 1.0,
        "records_in_differing_persons": differ,
    }


def _engines(table: pa.Table, truth: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The same table linked with DuckDB, then with Spark (same process, same run); with
    ``--engine spark-only`` with Spark alone."""
    import subprocess

    out: dict[str, Any] = {}
    labels: dict[str, Any] = {}
    model = None
    if args.shared_model:
        t0 = time.perf_counter()
        model = linkage.train(table, linkage.LinkParams(threads=args.threads))
        out["shared_model_trained_on_duckdb_s"] = round(time.perf_counter() - t0, 2)
    with_duckdb = args.engine == "spark"
    runs = [("duckdb", "duckdb", "")] * with_duckdb + [
        ("spark" if i == 0 else f"spark[{v}]", "spark", v)
        for i, v in enumerate(args.spark_variants.split(","))
    ]
    for key, engine, variant in runs:
        if variant:
            # the same JVM: Jaro-Winkler as the Java UDF or the SQL function, intermediate
            # tables persisted or written as Parquet
            from vigil.persons import spark as spark_mod

            if not spark_mod._state:  # start the JVM: its cost apart from the runs'
                c0, k0, w0 = time.process_time(), _children_usage()[0], time.perf_counter()
                linkage._Session("spark", args.threads, _params(args, "spark")).close()
                out["spark_start"] = {
                    "wall_s": round(time.perf_counter() - w0, 2),
                    "cpu_s_python": round(time.process_time() - c0, 2),
                    "cpu_s_jvm": round(_children_usage()[0] - k0, 2),
                }
            jw, _, lineage = variant.partition("-")
            spark_mod.use_variant(java_udf=jw == "java", lineage=lineage or None)
        params = _params(args, engine)
        load = os.getloadavg()[0]
        cpu0 = time.process_time()
        kid0, _ = _children_usage()
        t0 = time.perf_counter()
        res = linkage.link(table, params=params, model=model)
        wall = time.perf_counter() - t0
        kid1, kid_rss = _children_usage()
        labels[key] = res.clusters.labels
        out[key] = {
            "link_wall_s": round(wall, 2),
            "cpu_s_python": round(time.process_time() - cpu0, 2),
            "cpu_s_jvm": round(kid1 - kid0, 2),
            "timings": {k: round(v, 2) for k, v in res.timings.items()},
            "edges": len(res.edges),
            "peak_rss_mb_python": _rss_mb(),
            "peak_rss_mb_jvm": round(kid_rss, 1),
            "peak_rss_mb_tree": round(_rss_mb() + kid_rss, 1),
            "load_avg_1m_before": round(load, 2),
            **_scores(labels[key], truth),
        }
        if engine == "spark" and with_duckdb:
            out[key]["vs_duckdb"] = _agreement(labels["duckdb"].tolist(), labels[key].tolist())
        print(json.dumps({"partial": key, **out[key]}), file=sys.stderr, flush=True)
    if with_duckdb:
        out["spark_vs_duckdb"] = out["spark"]["vs_duckdb"]
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    import pyspark

    out["spark"]["pyspark"] = pyspark.__version__
    out["spark"]["java"] = (java.stderr or "").splitlines()[0] if java.stderr else None
    out["spark"]["master"] = args.spark_master or f"local[{args.threads}]"
    return out


def _params(args: argparse.Namespace, engine: str) -> linkage.LinkParams:
    return linkage.LinkParams(
        threads=args.threads,
        backend=engine,  # type: ignore[arg-type]
        spark_master=args.spark_master,
        spark_conf=tuple(tuple(c.split("=", 1)) for c in args.spark_conf),  # type: ignore[misc]
    )


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--quick", action="store_true", help="5,000 records, with the peer")
    ap.add_argument("--clean", action="store_true", help="default profile, not the messy one")
    ap.add_argument("--peer", action="store_true", help="also a plain Splink model")
    ap.add_argument(
        "--incremental",
        type=int,
        default=0,
        help="link the last N records into the persons of the others, with the model kept",
    )
    ap.add_argument(
        "--engine",
        choices=("duckdb", "spark", "spark-only"),
        default="duckdb",
        help="spark: link with DuckDB and then with Spark, side by side; spark-only: Spark alone",
    )
    ap.add_argument(
        "--chunks",
        type=int,
        default=0,
        help="generate the records as K independent populations (seeds seed..seed+K-1), each "
        "turned into its linkage table in a worker process and written as Parquet, so 10^7 "
        "records fit in memory (not with --store / --peer)",
    )
    ap.add_argument(
        "--gen-workers", type=int, default=1, help="with --chunks: chunks generated at a time"
    )
    ap.add_argument(
        "--shared-model",
        action="store_true",
        help="with --engine spark: train once on DuckDB, predict + cluster on both engines",
    )
    ap.add_argument("--spark-master", default=None, help="default local[threads]")
    ap.add_argument("--spark-conf", action="append", default=[], help="KEY=VALUE (repeatable)")
    ap.add_argument(
        "--spark-variants",
        default="",
        help="with --engine spark: comma-separated Spark runs in one JVM, each JW-LINEAGE with "
        "JW java (the UDF) or sql (the SQL function) and LINEAGE persist or parquet (empty: "
        "the session's own), e.g. java-persist,sql-parquet; default: one run as configured",
    )
    ap.add_argument("--store", action="store_true", help="also run the full store pipeline")
    ap.add_argument("--store-only", action="store_true", help="only the store pipeline")
    ap.add_argument(
        "--term-frequencies",
        choices=("on", "off", "both"),
        default="on",
        help="surname term-frequency adjustment; both: with, then without, in the same run",
    )
    ap.add_argument("--surname-skew", type=float, default=0.0, help="Zipf-like surnames (0: off)")
    args = ap.parse_args()
    if args.quick:
        args.records, args.peer = 5_000, True
    tf = args.term_frequencies != "off"
    persons = max(10, int(args.records / 2.35))
    profile = "clean" if args.clean else "messy"
    data: synth.SynthData | None = None
    truth: Any  # true person keys (str), or their integer codes with --chunks
    chunk_info: dict[str, Any] = {}
    if args.chunks:
        if args.store or args.store_only or args.peer:
            ap.error("--chunks does not go with --store, --store-only or --peer")
        with tempfile.TemporaryDirectory() as tmp:
            table, truth, chunk_info = _chunked(args, persons, tmp)
        gen_s = chunk_info["generate_s"]
    else:
        t0 = time.perf_counter()
        cfg = synth.SynthConfig(
            persons=persons, seed=args.seed, messy=not args.clean, surname_skew=args.surname_skew
        )
        data = synth.generate(cfg)
        gen_s = time.perf_counter() - t0
        if args.store_only:
            print(
                json.dumps(
                    {
                        "benchmark": "persons",
                        "profile": profile,
                        "records": len(data.records),
                        "generate_s": round(gen_s, 2),
                        "surname_skew": args.surname_skew,
                        "term_frequencies": args.term_frequencies,
                        **_store(data, tf),
                        **(
                            {"without_term_frequencies": _store(data, False)}
                            if args.term_frequencies == "both"
                            else {}
                        ),
                    }
                )
            )
            return
        vault = CardVault(b"b" * 32)
        table = _table(data, vault)
        truth = [data.truth[r["record_ref"]] for r in data.records]
        if not args.store:
            # the generator's record dicts (2.5 GB at 10^6) are not needed for linking
            data.records.clear()
            import gc

            gc.collect()
    if args.incremental:
        print(json.dumps(_incremental(table, truth, args.incremental, args.threads, profile, tf)))
        return
    if args.engine != "duckdb":
        load0 = os.getloadavg()
        print(
            json.dumps(
                {
                    "benchmark": "persons-engines",
                    "profile": profile,
                    "records": table.num_rows,
                    "threads": args.threads,
                    "cpus": os.cpu_count(),
                    "generate_s": round(gen_s, 2),
                    **chunk_info,
                    "load_average_start": [round(x, 2) for x in load0],
                    **_engines(table, truth, args),
                    "load_avg_1m_end": round(os.getloadavg()[0], 2),
                }
            )
        )
        return
    rss_before = _rss_mb()
    load_before = os.getloadavg()
    t1, c1 = time.perf_counter(), time.process_time()
    out = linkage.link(table, params=linkage.LinkParams(threads=args.threads, term_frequencies=tf))
    link_s, link_cpu = time.perf_counter() - t1, time.process_time() - c1
    result: dict[str, Any] = {
        "benchmark": "persons",
        "profile": profile,
        "surname_skew": args.surname_skew,
        "term_frequencies": args.term_frequencies,
        "records": table.num_rows,
        "generate_s": round(gen_s, 2),
        **chunk_info,
        "link_wall_s": round(link_s, 2),
        "link_cpu_s": round(link_cpu, 2),
        "load_average": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "link_timings": {k: round(v, 2) for k, v in out.timings.items()},
        "edges": len(out.edges),
        "model_json_bytes": len(out.model.to_json()),
        "term_frequency_values_kept": {c: len(f.counts) for c, f in out.model.frequencies.items()},
        "weak_links_cut": len(out.clusters.weak_links),
        "peak_rss_mb": _rss_mb(),
        "rss_before_link_mb": rss_before,
        "threads": args.threads,
        "cpus": os.cpu_count(),
        "training_notes": out.model.notes,
    }
    labels = out.clusters.labels.tolist()
    result.update(_scores(labels, truth))
    if data is not None:
        result.update(_set_scores(labels, data, truth))
    pcomp = linkage.pair_completeness(table, truth)
    result["pair_completeness"] = pcomp["pair_completeness"]
    result["true_pairs"] = pcomp["true_pairs"]
    result["pairs_only_one_rule_covers"] = pcomp["pairs_only_this_rule_covers"]
    if args.term_frequencies == "both":
        t2, c2 = time.perf_counter(), time.process_time()
        plain = linkage.link(
            table, params=linkage.LinkParams(threads=args.threads, term_frequencies=False)
        )
        off: dict[str, Any] = {
            "link_wall_s": round(time.perf_counter() - t2, 2),
            "link_cpu_s": round(time.process_time() - c2, 2),
            "edges": len(plain.edges),
        }
        off.update(_scores(plain.clusters.labels.tolist(), truth))
        if data is not None:
            off.update(_set_scores(plain.clusters.labels.tolist(), data, truth))
        result["without_term_frequencies"] = off
        result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    if args.peer and data is not None:
        peer_labels, peer_s = _plain_splink(table, args.threads)
        peer = _scores(peer_labels, truth)
        peer.update(_set_scores(peer_labels, data, truth))
        peer["wall_s"] = round(peer_s, 2)
        result["peer_plain_splink"] = peer
        result["peak_rss_mb"] = _rss_mb()
    if args.store and data is not None:
        result.update(_store(data, tf))
        if args.term_frequencies == "both":
            result["without_term_frequencies_store"] = _store(data, False)
    print(json.dumps(result))


def _store(data: synth.SynthData, term_frequencies: bool = True) -> dict[str, Any]:
    from sqlalchemy import select

    from vigil.persons import flags, policy, records, reference, resolve
    from vigil.persons.mapping import Mapping
    from vigil.store.db import Database
    from vigil.store.persons import Person, PersonLink, PersonRecord

    with tempfile.TemporaryDirectory() as tmp:
        paths = data.write(Path(tmp) / "gen")
        db = Database(f"sqlite:///{tmp}/v.db")
        vault = CardVault(b"s" * 32)
        prov = records.Provenance("benchmark", "synthetic", "benchmark")
        t = time.perf_counter()
        for kind in ("register", "convictions", "roles", "compromised_cards", "breaches"):
            records.import_reference(
                db, vault, paths[kind], kind=kind, provenance=prov, actor="bench"
            )
        records.import_records(
            db,
            vault,
            paths["records"],
            case_name="bench",
            mapping=Mapping.load(paths["mapping"]),
            provenance=prov,
            actor="bench",
        )
        import_s = time.perf_counter() - t
        t = time.perf_counter()
        resolve.link_case(
            db, "bench", "bench", params=linkage.LinkParams(term_frequencies=term_frequencies)
        )
        store_link_s = time.perf_counter() - t
        t = time.perf_counter()
        reference.enrich_case(db, "bench", "bench")
        pol = policy.Policy.load()
        flags.compute_flags(db, "bench", "bench", pol.flag_params)
        bands = policy.prioritise_case(db, "bench", "bench", policy=pol)
        triage_s = time.perf_counter() - t
        with db.read() as s:
            rows = s.execute(
                select(PersonRecord.record_ref, Person.band)
                .join(PersonLink, PersonLink.record_id == PersonRecord.id)
                .join(Person, Person.id == PersonLink.person_id)
            ).all()
        fraud_banded = sum(
            1 for ref, band in rows if ref in data.fraud_refs and band != policy.CORROBORATE
        )
        with db.read() as s:
            person_rows = s.execute(
                select(Person.id, Person.band, PersonRecord.record_ref)
                .join(PersonLink, PersonLink.person_id == Person.id)
                .join(PersonRecord, PersonRecord.id == PersonLink.record_id)
            ).all()
        refs_of: dict[int, list[str]] = defaultdict(list)
        band_of: dict[int, str | None] = {}
        for pid, band, ref in person_rows:
            refs_of[pid].append(ref)
            band_of[pid] = band
        fraud_only = [p for p, refs in refs_of.items() if all(r in data.fraud_refs for r in refs)]
        fraud_only_banded = sum(
            1 for p in fraud_only if band_of[p] not in (None, policy.CORROBORATE)
        )
        db.dispose()
    return {
        "store_import_s": round(import_s, 2),
        "store_link_s": round(store_link_s, 2),
        "store_triage_s": round(triage_s, 2),
        "bands": bands,
        "fraud_records_in_priority_band": fraud_banded,
        "fraud_only_persons": len(fraud_only),
        "fraud_only_persons_in_priority_band": fraud_only_banded,
        "fraud_records": len(data.fraud_refs),
        "store_peak_rss_mb": _rss_mb(),
    }


if __name__ == "__main__":
    main()
