"""The Spark engine (issue 15, point 6): the same SQL functions, model and persons as DuckDB.

The Spark tests need pyspark 4 and Java 17+ (``scripts/install-system-deps.sh`` installs
Debian's OpenJDK; pyspark is in the ``dev`` extra) and skip cleanly without them. They run on a
``local[2]`` master: one JVM for the module, stopped at its end.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from vigil.errors import BackendError, InvalidInput
from vigil.persons import linkage, synth
from vigil.persons import spark as spark_mod

# py4j leaves its client sockets to the garbage collector
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def _spark_ready() -> str | None:
    """Why the Spark tests cannot run here, or None."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed"
    line = spark_mod.java_version()
    if line is None:
        return "no Java runtime (scripts/install-system-deps.sh installs OpenJDK 17)"
    if spark_mod._java_major(line) < 17:
        return f"Java 17+ needed, found {line}"
    return None


NOT_READY = _spark_ready()
needs_spark = pytest.mark.skipif(NOT_READY is not None, reason=NOT_READY or "")


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # the UDF jar is built (javac) into a folder of this test run, not the user's cache
    mp = pytest.MonkeyPatch()
    mp.setenv(spark_mod.UDF_DIR_ENV, str(tmp_path_factory.mktemp("udf")))
    session = spark_mod.session("local[2]", (("spark.sql.shuffle.partitions", "2"),))
    yield session
    mp.undo()
    spark_mod.stop()
    gc.collect()  # py4j's sockets, while the warning filters above still apply


PARAMS = linkage.LinkParams(
    backend="spark", threads=2, spark_conf=(("spark.sql.shuffle.partitions", "2"),)
)


def _table(data: synth.SynthData) -> pa.Table:
    """The linkage table of generated records (what the store hands to linkage)."""
    from vigil.persons.cards import CardVault

    return synth.link_table(data, CardVault(b"s" * 32))


@pytest.fixture(scope="module")
def batch() -> pa.Table:
    """~280 messy generated records: swaps, nicknames, typos, transposed dates, households."""
    return _table(synth.generate(synth.SynthConfig(persons=120, seed=21, messy=True)))


# --------------------------------------------------------------------------------------------
# Without a JVM
# --------------------------------------------------------------------------------------------


def test_model_sql_moves_between_dialects_and_keeps_every_parameter(batch: pa.Table) -> None:
    model = linkage.train(batch, linkage.LinkParams(threads=1))
    assert model.settings["sql_dialect"] == "duckdb"
    on_spark = linkage.settings_for_dialect(model.settings, "spark")
    assert on_spark["sql_dialect"] == "spark"
    sql = " ".join(
        lv["sql_condition"] for c in on_spark["comparisons"] for lv in c["comparison_levels"]
    )
    assert "vigil_jaro_winkler(" in sql and "jaro_winkler_similarity" not in sql
    assert "vigil_hamming(" in sql and "starts_with(" not in sql
    back = linkage.settings_for_dialect(on_spark, "duckdb")
    assert back == model.settings  # SQL back to DuckDB's, parameters never touched
    for old, new in zip(model.settings["comparisons"], on_spark["comparisons"], strict=True):
        for a, b in zip(old["comparison_levels"], new["comparison_levels"], strict=True):
            assert {k: v for k, v in a.items() if k != "sql_condition"} == {
                k: v for k, v in b.items() if k != "sql_condition"
            }


def test_a_model_with_other_comparisons_is_refused_on_another_engine() -> None:
    settings = linkage.settings_creator().create_settings_dict("duckdb")
    settings["comparisons"][0]["comparison_levels"].pop(2)
    with pytest.raises(InvalidInput, match="other comparisons"):
        linkage.settings_for_dialect(settings, "spark")


def test_missing_pyspark_or_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyspark" else real(name, *a)
    )
    with pytest.raises(BackendError, match=r"pyspark 4 .*openjdk-17-jdk-headless"):
        spark_mod.check_available()
    monkeypatch.undo()
    if importlib.util.find_spec("pyspark") is None:
        return
    monkeypatch.setenv("JAVA_HOME", "/nonexistent-jdk")
    with pytest.raises(BackendError, match="Java 17 or later and none was found"):
        spark_mod.check_available()


def test_java_versions_are_read() -> None:
    assert spark_mod._java_major('openjdk version "17.0.15" 2025-04-15') == 17
    assert spark_mod._java_major('java version "1.8.0_392"') == 8
    assert spark_mod._java_major('openjdk version "21" 2023-09-19') == 21
    assert spark_mod._java_major("garbage") == 0


def test_the_local_driver_heap_follows_the_machines_memory() -> None:
    gib = 1 << 30
    assert spark_mod.default_driver_memory(4 * gib) == "2g"
    assert spark_mod.default_driver_memory(24 * gib) == "6g"
    assert spark_mod.default_driver_memory(256 * gib) == "8g"
    assert spark_mod.DEFAULT_LOCAL_CONF["spark.driver.memory"] in {f"{n}g" for n in range(2, 9)}


def test_user_jars_and_jvm_options_are_added_to_vigils() -> None:
    settings = {"spark.jars": "splink.jar,vigil.jar", "spark.driver.extraJavaOptions": "-Dlog=x"}
    spark_mod.merge_conf(
        settings,
        [("spark.jars", "mine.jar"), ("spark.driver.extraJavaOptions", "-Xss4m"), ("a", "b")],
    )
    assert settings == {
        "spark.jars": "splink.jar,vigil.jar,mine.jar",
        "spark.driver.extraJavaOptions": "-Dlog=x -Xss4m",
        "a": "b",
    }


def test_spark_conf_is_parsed_and_checked() -> None:
    assert spark_mod.parse_conf(["spark.executor.memory=8g", "a.b = c=d"]) == (
        ("spark.executor.memory", "8g"),
        ("a.b", "c=d"),
    )
    with pytest.raises(InvalidInput, match="KEY=VALUE"):
        spark_mod.parse_conf(["spark.executor.memory"])


def test_without_a_jdk_jaro_winkler_falls_back_to_the_sql_function(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed")
    monkeypatch.setenv(spark_mod.UDF_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(spark_mod, "_jdk_tool", lambda name: None)
    with caplog.at_level("WARNING", logger="vigil.persons.spark"):
        assert spark_mod.udf_jar() is None
    assert "openjdk-17-jdk-headless" in caplog.text
    assert list(tmp_path.iterdir()) == []


def test_a_failed_compile_falls_back_to_the_sql_function(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed")
    broken = tmp_path / "JaroWinkler.java"
    broken.write_text("package vigil.persons; public final class JaroWinkler { oops }")
    for name in spark_mod.JAVA_SOURCES:
        if name != broken.name:
            (tmp_path / name).write_bytes((spark_mod.JAVA_DIR / name).read_bytes())
    monkeypatch.setenv(spark_mod.UDF_DIR_ENV, str(tmp_path / "jars"))
    monkeypatch.setattr(spark_mod, "JAVA_DIR", tmp_path)
    if spark_mod._jdk_tool("javac") is None:
        pytest.skip("no javac")
    with caplog.at_level("WARNING", logger="vigil.persons.spark"):
        assert spark_mod.udf_jar() is None
    assert "could not compile" in caplog.text
    assert not (tmp_path / "jars").exists()


def test_an_unwritable_jar_folder_falls_back_to_the_sql_function(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if importlib.util.find_spec("pyspark") is None or spark_mod._jdk_tool("javac") is None:
        pytest.skip("needs pyspark and a JDK (javac)")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(spark_mod.UDF_DIR_ENV, str(blocker / "jars"))
    with caplog.at_level("WARNING", logger="vigil.persons.spark"):
        assert spark_mod.udf_jar() is None
    assert "cannot write" in caplog.text and spark_mod.UDF_DIR_ENV in caplog.text


def test_the_udf_jar_is_built_once_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zipfile

    if importlib.util.find_spec("pyspark") is None or spark_mod._jdk_tool("javac") is None:
        pytest.skip("needs pyspark and a JDK (javac)")
    monkeypatch.setenv(spark_mod.UDF_DIR_ENV, str(tmp_path))
    assert spark_mod.udf_jar(build=False) is None
    jar = spark_mod.udf_jar()
    assert jar is not None and jar.parent == tmp_path
    with zipfile.ZipFile(jar) as zf:
        assert {"vigil/persons/JaroWinkler.class", "vigil/persons/Hamming.class"} <= set(
            zf.namelist()
        )
    monkeypatch.setattr(spark_mod, "_jdk_tool", lambda name: None)  # no compile the second time
    assert spark_mod.udf_jar() == jar


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown linkage backend"):
        linkage._Session("oracle", None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# On a local Spark
# --------------------------------------------------------------------------------------------


def _string_pairs(n: int = 3000) -> list[tuple[str, str]]:
    """Name-like pairs: random pairs, near misses (swaps, substitutions, drops) and the edge
    cases (empty, one character, equal)."""
    rng = random.Random(5)
    words = [
        "martha", "marhta", "dixon", "dicksonx", "lauren", "langmore", "caldington", "caldton",
        "euan", "ethan", "jones", "johnson", "tn295fe", "tn259fe", "1990-03-12", "1990-12-03",
        "14 albert road tonbridge", "41 albert rd tonbridge", "abc", "ca", "ab", "ba", "a", "b",
    ]  # fmt: skip
    pairs = [(a, b) for a in words for b in words]
    letters = "aeiourstlnmdkh"
    for _ in range(n):
        a = "".join(rng.choice(letters) for _ in range(rng.randint(1, 12)))
        b = list(a)
        for _ in range(rng.randint(0, 3)):
            i = rng.randrange(len(b)) if b else 0
            op = rng.random()
            if op < 0.3 and len(b) > 1:
                j = min(i + 1, len(b) - 1)
                b[i], b[j] = b[j], b[i]
            elif op < 0.6 and b:
                b[i] = rng.choice(letters)
            elif op < 0.8 and b:
                del b[i]
            else:
                b.insert(i, rng.choice(letters))
        pairs.append((a, "".join(b)))
        pairs.append((a, "".join(rng.choice(letters) for _ in range(rng.randint(1, 12)))))
    pairs += [("", ""), ("a", ""), ("", "abc")]
    # characters are code points on every engine (one accented letter is not two)
    pairs += [("zoë", "zoe"), ("ëa", "ëb"), ("\U0001f600ab", "\U0001f600ac"), ("łukasz", "lukasz")]
    return pairs


@needs_spark
def test_spark_sql_functions_give_duckdbs_values(spark: Any) -> None:
    """Oracle: DuckDB's own functions. Every function of the comparison SQL, rendered for each
    dialect from the same template, on the same strings."""
    import duckdb
    from splink.backends.spark import SparkAPI

    SparkAPI(spark_session=spark)  # registers Splink's UDFs (damerau_levenshtein)
    pairs = _string_pairs()
    same_len = [(a, b) for a, b in pairs if len(a) == len(b) > 0]
    table = pa.table({"a": [p[0] for p in pairs], "b": [p[1] for p in pairs]})
    eq_table = pa.table({"a": [p[0] for p in same_len], "b": [p[1] for p in same_len]})

    def select(f: linkage.SqlFunctions, equal_length: bool) -> str:
        if equal_length:  # DuckDB's hamming is defined on strings of equal length only
            return f"SELECT {f.hamming('a', 'b')} AS v FROM t"  # noqa: S608
        parts = [
            f.jw("a", "b"),
            f.lev("a", "b"),
            f.dl("a", "b"),
            f"cast({f.starts_with('a', 'b')} as int)",
            f"cast({f.contains('a', 'b')} as int)",
        ]
        cols = ", ".join(f"{p} AS v{i}" for i, p in enumerate(parts))
        return f"SELECT {cols} FROM t"  # noqa: S608

    con = duckdb.connect()
    results = {}
    for eq, tab in ((False, table), (True, eq_table)):
        con.register("t", tab)
        duck = con.sql(select(linkage.SqlFunctions("duckdb"), eq)).fetchall()
        con.unregister("t")
        spark.createDataFrame(tab).createOrReplaceTempView("t")
        sp = [tuple(r) for r in spark.sql(select(linkage.SqlFunctions("spark"), eq)).collect()]
        results[eq] = (duck, sp)
    duck, sp = results[False]
    assert len(duck) == len(sp) == len(pairs)
    for (a, b), d, s in zip(pairs, duck, sp, strict=True):
        assert abs(d[0] - s[0]) <= 1e-12, ("jaro_winkler", a, b, d[0], s[0])
        assert tuple(float(x) for x in d[1:]) == tuple(float(x) for x in s[1:]), (a, b, d, s)
    duck, sp = results[True]
    assert [d[0] for d in duck] == [s[0] for s in sp]
    spark.createDataFrame(eq_table).createOrReplaceTempView("t")
    sql_form = spark.sql("SELECT vigil_hamming_sql(a, b) AS v FROM t").collect()
    assert [d[0] for d in duck] == [r.v for r in sql_form]
    # Jaro-Winkler in both Spark forms: the Java UDF (the jar built with javac, what
    # vigil_jaro_winkler is when a JDK is present) and the SQL function (the fallback), each
    # against DuckDB, and bit-identical to each other (the same arithmetic in the same order)
    spark.createDataFrame(table).createOrReplaceTempView("t")
    both = spark.sql(
        "SELECT vigil_jaro_winkler(a, b) AS j, vigil_jaro_winkler_sql(a, b) AS s FROM t"
    ).collect()
    duck_jw = [d[0] for d in results[False][0]]
    for (a, b), d, row in zip(pairs, duck_jw, both, strict=True):
        assert abs(d - row.j) <= 1e-12 and abs(d - row.s) <= 1e-12, (a, b, d, row)
        assert row.j == row.s, (a, b, row)
    assert spark_mod.session_uses_java_udf() == (spark_mod.udf_jar(build=False) is not None)
    nulls = spark.sql("SELECT vigil_jaro_winkler(NULL, 'a') AS v").collect()[0].v
    assert nulls is None
    # lists_overlap on lists (the name-root lists of the "nickname with a typo" level), with
    # empty lists and NULLs: the same truth value on both engines (NULL counts as not true)
    lists = [(sorted(set(a)), sorted(set(b))) for a, b in pairs[:400]]
    lists += [([], ["a"]), (None, ["a"]), (["a"], None), (None, None)]  # type: ignore[list-item]
    list_table = pa.table(
        {"a": [x for x, _ in lists], "b": [y for _, y in lists]},
        schema=pa.schema([("a", pa.list_(pa.string())), ("b", pa.list_(pa.string()))]),
    )

    def overlap(f: linkage.SqlFunctions) -> str:
        return f"SELECT coalesce({f.lists_overlap('a', 'b')}, false) AS v FROM t"  # noqa: S608

    con.register("t", list_table)
    duck_lists = [bool(r[0]) for r in con.sql(overlap(linkage.SqlFunctions("duckdb"))).fetchall()]
    con.unregister("t")
    spark.createDataFrame(list_table).createOrReplaceTempView("t")
    spark_lists = [bool(r.v) for r in spark.sql(overlap(linkage.SqlFunctions("spark"))).collect()]
    assert duck_lists == spark_lists == [bool(set(x or []) & set(y or [])) for x, y in lists]
    # the SQL matters: Splink's own Scala UDF is another Jaro-Winkler
    ours = spark.sql("SELECT vigil_jaro_winkler('caldington', 'caldton') AS v").collect()[0].v
    theirs = spark.sql("SELECT jaro_winkler('caldington', 'caldton') AS v").collect()[0].v
    assert ours == pytest.approx(0.9114285714285714) and theirs < 0.9


def _assert_same_edges(a: linkage.Edges, b: linkage.Edges) -> None:
    assert np.array_equal(a.left, b.left) and np.array_equal(a.right, b.right)
    assert np.allclose(a.weight, b.weight, rtol=0, atol=1e-6)
    for name in linkage.COMPARISON_NAMES:
        assert np.allclose(a.mw[name], b.mw[name], rtol=0, atol=1e-4), name
    assert a.tf.keys() == b.tf.keys()
    for name in a.tf:  # the model's term frequencies, read by both engines
        assert np.allclose(np.nan_to_num(a.tf[name]), np.nan_to_num(b.tf[name]), atol=1e-6)


def _assert_same_persons(a: linkage.Clusters, b: linkage.Clusters) -> None:
    assert np.array_equal(a.ids, b.ids)
    assert np.array_equal(a.labels, b.labels)  # labels: clusters in order of first record
    assert [(w.left, w.right) for w in a.weak_links] == [(w.left, w.right) for w in b.weak_links]


@needs_spark
@pytest.mark.slow  # ~2 min of small Spark jobs on this loaded 2-core machine
def test_a_duckdb_model_links_the_same_persons_on_spark(spark: Any, batch: pa.Table) -> None:
    """One model (trained on DuckDB), predicted and clustered on each engine: the same scored
    pairs with the same weights, so the same record -> person assignment and weak links."""
    model = linkage.train(batch, linkage.LinkParams(threads=1))
    on_duck = linkage.link(batch, params=linkage.LinkParams(threads=1), model=model)
    on_spark = linkage.link(batch, params=PARAMS, model=model)
    assert len(on_duck.edges) > batch.num_rows // 2  # a real batch: many scored pairs
    assert model.frequencies and set(on_spark.edges.tf) == set(model.tf_comparisons()) != set()
    assert np.nan_to_num(on_spark.edges.tf["surname"]).any()  # the adjustment is applied
    _assert_same_edges(on_duck.edges, on_spark.edges)
    _assert_same_persons(on_duck.clusters, on_spark.clusters)
    assert len(set(on_duck.clusters.labels.tolist())) < batch.num_rows  # people were merged
    # new records against existing ones (incremental linkage, watch, reference enrichment)
    odd = pc.equal(pc.bit_wise_and(batch.column("unique_id"), 1), 1)
    old, new = batch.filter(pc.invert(odd)), batch.filter(odd)
    between_duck = linkage.predict_between(new, old, model, linkage.LinkParams(threads=1))
    between_spark = linkage.predict_between(new, old, model, PARAMS)
    assert len(between_duck) > 0
    _assert_same_edges(between_duck, between_spark)


@needs_spark
@pytest.mark.slow  # Splink's EM on Spark: a few hundred small Spark jobs
def test_spark_trains_the_same_model_and_persons_as_duckdb(spark: Any, batch: pa.Table) -> None:
    """Train + predict + cluster on each engine from scratch. u is counted over all pairs
    (the batch is below ``max_u_pairs``: no sampling, which differs per engine), the prior and
    EM are the same SQL, so the parameters agree to floating-point rounding (summation order
    differs) and the persons are identical."""
    on_duck = linkage.link(batch, params=linkage.LinkParams(threads=1))
    on_spark = linkage.link(batch, params=PARAMS)
    assert on_duck.model.notes == on_spark.model.notes
    d, s = on_duck.model.settings, on_spark.model.settings
    assert s["sql_dialect"] == "spark"
    assert d["probability_two_random_records_match"] == pytest.approx(
        s["probability_two_random_records_match"], rel=1e-9
    )
    for cd, cs in zip(d["comparisons"], s["comparisons"], strict=True):
        for ld, ls in zip(cd["comparison_levels"], cs["comparison_levels"], strict=True):
            for key in ("m_probability", "u_probability"):
                if ld.get(key) is None:
                    assert ls.get(key) is None
                else:
                    assert ls[key] == pytest.approx(ld[key], rel=1e-6, abs=1e-12), (
                        cd["output_column_name"],
                        ld.get("label_for_charts"),
                        key,
                    )
    _assert_same_edges(on_duck.edges, on_spark.edges)
    _assert_same_persons(on_duck.clusters, on_spark.clusters)


def test_engine_options_are_checked_at_the_cli() -> None:
    from vigil.cli.main import ReturnCode, main

    spark_only = ["--spark-master", "spark://head:7077"]
    assert main(["persons", "link", "--case", "c", *spark_only]) == ReturnCode.INVALID_INPUT
    assert main(["persons", "link", "--case", "c", "--engine", "oracle"]) == (
        ReturnCode.INVALID_INPUT
    )
    bad_conf = ["--engine", "spark", "--spark-conf", "no-equals-sign"]
    assert main(["persons", "watch", "1", *bad_conf]) == ReturnCode.INVALID_INPUT


def test_folders_of_killed_runs_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed before its exit handler leaves its intermediate tables (records) behind;
    the next session removes them, never a live process's folder."""
    import subprocess
    import sys
    import tempfile

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    dead = tmp_path / f"vigil-spark-{int(done.stdout)}-abc"
    alive = tmp_path / f"vigil-spark-{os.getpid()}-def"
    other = tmp_path / "vigil-spark-notapid"
    for folder in (dead, alive, other):
        (folder / "checkpoints").mkdir(parents=True)
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    spark_mod._remove_stale_folders()
    assert not dead.exists() and alive.exists() and other.exists()


def test_the_driver_may_collect_half_its_heap() -> None:
    # Spark's default of 1 GB stopped a 10^7-record linkage when its kept pairs came back
    assert spark_mod.result_size_for("10g") == "5120m"
    assert spark_mod.result_size_for("8192m") == "4096m"
    assert spark_mod.result_size_for("2G") == "1024m"
    assert spark_mod.result_size_for("512m") == "256m"
    assert spark_mod.result_size_for("lots") is None
    assert spark_mod.result_size_for("") is None
