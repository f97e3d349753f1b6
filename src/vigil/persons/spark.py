"""The Spark engine of person linkage: one SparkSession per process for Splink's Spark backend.

``vigil persons link --engine spark`` runs the same Splink model as DuckDB (the comparison SQL
is written once, per-dialect functions in :mod:`vigil.persons.linkage`) on Spark:

* **local** (default, ``local[N]``): a driver JVM on this machine, N worker threads, bound to
  127.0.0.1 only (no web UI, no listener on another interface), intermediate tables as
  Parquet in a private temporary folder that is removed when the process ends;
* **a cluster** (``--spark-master spark://host:7077``, ``yarn``, ``k8s://...``): the driver
  runs here and ships Splink's similarity-function jar and Vigil's UDF jar to the executors
  (``spark.jars``); intermediate tables go to ``spark.checkpoint.dir`` when given (a folder
  every executor can reach, e.g. ``hdfs://...``), otherwise they are persisted in the
  executors' memory and disks.

Jaro-Winkler is DuckDB's algorithm (Splink's own UDF is another one): a Java UDF
(``java/JaroWinkler.java``) compiled with the JDK's ``javac`` on first use into the user's cache
(:func:`udf_jar`), or, without a JDK, the same algorithm as a Spark SQL function (~10x the CPU
per call, the same values).

Needs Java 17 or later (Debian: ``openjdk-17-jdk-headless``, installed by
``scripts/install-system-deps.sh``; a JRE alone runs with the SQL function) and pyspark 4
(``pip install 'vigil[spark]'``). Their absence is a :class:`~vigil.errors.BackendError` that
says what to install.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vigil.errors import BackendError, InvalidInput

log = logging.getLogger(__name__)


def default_driver_memory(total_bytes: int | None = None) -> str:
    """The local driver heap: a quarter of this machine's memory (the JVM's own default), at
    least 2 GB and at most 8 GB. 2 GB is enough for ~10^4 records; at 10^5 a 2 GB heap spent
    most of its CPU in full garbage collections (measured: old generation 99.98 % full, 62 full
    collections), 6 GB did not; 10^6 needs 8 GB."""
    if total_bytes is None:
        try:
            total_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            total_bytes = 8 << 30
    return f"{max(2, min(8, total_bytes // 4 >> 30))}g"


RESULT_SIZE_KEY = "spark.driver.maxResultSize"


def result_size_for(driver_memory: str) -> str | None:
    """Half of a driver heap written the JVM's way (``10g``, ``8192m``): the most that one
    collect may bring back (the kept pairs of a linkage come back to the driver; Spark's default
    of 1 GB stopped a 10^7-record run after 32 minutes, with ~1.03 GB of pairs to return).
    None when the size cannot be read."""
    units = {"k": 1, "m": 1 << 10, "g": 1 << 20, "t": 1 << 30}
    text = driver_memory.strip().lower().removesuffix("b")
    if not text or text[-1] not in units or not text[:-1].isdigit():
        return None
    kib = int(text[:-1]) * units[text[-1]]
    return f"{max(1, kib // 2 >> 10)}m"


DEFAULT_LOCAL_CONF: dict[str, str] = {
    "spark.driver.memory": default_driver_memory(),
    "spark.sql.shuffle.partitions": "8",
    "spark.default.parallelism": "8",
}
"""Defaults on a local master (``--spark-conf`` overrides them): a driver heap of a quarter of
the memory (2 to 8 GB) and few shuffle partitions (Spark's 200 would make thousands of tiny tasks on a small batch)."""

CHECKPOINT_KEY = "spark.checkpoint.dir"

_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""

_state: dict[str, Any] = {}

JARO_WINKLER_FUNCTION = "vigil_jaro_winkler"
"""The Spark SQL function the comparisons call for Jaro-Winkler similarity (created in every
session by :func:`session`)."""


def jaro_winkler_sql(a: str, b: str) -> str:
    """DuckDB's ``jaro_winkler_similarity(a, b)`` as a Spark SQL expression.

    Splink's Scala UDF is the textbook Jaro-Winkler (half transpositions as a fraction); DuckDB
    (Max Bachmann's jaro_winkler library, as in rapidfuzz) halves the transpositions in integer
    arithmetic, so the two differ on about 3 % of name pairs, some across a threshold
    ("caldington" / "caldton": 0.911 in DuckDB, 0.897 in the UDF). This expression is DuckDB's
    algorithm: matching window ``max(|a|, |b|) / 2 - 1`` (integer), each character of ``a`` in
    turn takes the first unmatched equal character of ``b`` in its window, transpositions
    counted over the matched characters in order and halved as an integer, the Winkler boost
    (common prefix up to 4, weight 0.1) above 0.7; 0 when either string is empty. The values
    agree with DuckDB's to 1e-15 (DuckDB's last step may be a fused multiply-add); the
    comparisons' thresholds allow for that (:data:`vigil.persons.linkage.JW_EPSILON`).
    """
    la, lb = f"length({a})", f"length({b})"
    w = f"greatest(cast(floor(greatest({la}, {lb}) / 2) as int) - 1, 0)"
    lo, hi = f"greatest(1, i - {w})", f"least({lb}, i + {w})"
    window = f"IF({lo} <= {hi}, sequence({lo}, {hi}), cast(array() as array<int>))"
    pick = (
        f"array_min(filter({window}, j -> substr({b}, j, 1) = substr({a}, i, 1) "
        "AND NOT array_contains(acc.m2, j)))"
    )
    # m1 / m2: positions of the matched characters in a / b (a single-element array binds a
    # value to a lambda variable: Spark SQL has no let)
    step = (
        f"(acc, i) -> aggregate(array({pick}), acc, (s, j) -> IF(j IS NULL, s, "
        "named_struct('m1', concat(s.m1, array(i)), 'm2', concat(s.m2, array(j)))))"
    )
    matches = (
        f"aggregate(sequence(1, {la}), named_struct('m1', cast(array() as array<int>), "
        f"'m2', cast(array() as array<int>)), {step})"
    )
    trans = (
        f"size(filter(sequence(1, size(r.m1)), k -> substr({a}, element_at(r.m1, k), 1) "
        f"<> substr({b}, element_at(array_sort(r.m2), k), 1)))"
    )
    jaro = (
        f"(size(r.m1) / {la} + size(r.m1) / {lb} "
        f"+ (size(r.m1) - cast(floor({trans} / 2) as int)) / size(r.m1)) / 3.0D"
    )
    prefix = (
        f"size(filter(sequence(1, least(4, {la}, {lb})), "
        f"k -> substr({a}, 1, k) = substr({b}, 1, k)))"
    )
    boosted = f"IF(x > 0.7D, x + {prefix} * 0.1D * (1.0D - x), x)"
    return (
        f"CASE WHEN {la} = 0 OR {lb} = 0 THEN 0.0D ELSE "
        f"aggregate(array({matches}), 0.0D, (z, r) -> "
        f"IF(size(r.m1) = 0, 0.0D, aggregate(array({jaro}), 0.0D, (y, x) -> {boosted}))) END"
    )


HAMMING_FUNCTION = "vigil_hamming"
"""DuckDB's ``hamming(a, b)`` in Spark: the Java UDF, or :func:`hamming_sql` without a jar."""

JAVA_DIR = Path(__file__).with_name("java")
JAVA_SOURCES = ("JaroWinkler.java", "Hamming.java")
JAVA_CLASS = "vigil.persons.JaroWinkler"
HAMMING_CLASS = "vigil.persons.Hamming"
UDF_DIR_ENV = "VIGIL_SPARK_UDF_DIR"


def udf_dir() -> Path:
    """Where the UDF jar is built: ``$VIGIL_SPARK_UDF_DIR``, else ``$XDG_CACHE_HOME/vigil/spark``
    (``~/.cache/vigil/spark``)."""
    if os.environ.get(UDF_DIR_ENV):
        return Path(os.environ[UDF_DIR_ENV])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "vigil" / "spark"


def _jdk_tool(name: str) -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / name).exists():
        return str(Path(home) / "bin" / name)
    return shutil.which(name)


def udf_jar(build: bool = True) -> Path | None:
    """The jar of Vigil's Java UDF (DuckDB's Jaro-Winkler, ``java/JaroWinkler.java``), built on
    first use with the JDK's ``javac`` (``--release 17``) into :func:`udf_dir` and reused while
    the source is unchanged (its hash is in the name). None, with a warning, when there is no
    ``javac`` (a JRE only) or the build fails: the SQL function is used instead (the same
    values, ~10x the CPU per call). Nothing is downloaded: the compile classpath is pyspark's
    own jars."""
    import hashlib
    import zipfile

    import pyspark

    sources = [JAVA_DIR / name for name in JAVA_SOURCES]
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in sources) + b"release 17").hexdigest()[
        :16
    ]
    jar = udf_dir() / f"vigil-udfs-{digest}.jar"
    if jar.is_file():
        return jar
    if not build:
        return None
    javac = _jdk_tool("javac")
    if javac is None:
        log.warning(
            "no Java compiler (javac): Jaro-Winkler runs as a Spark SQL function, ~10x slower "
            "than the Java UDF; install a JDK (Debian: openjdk-17-jdk-headless)"
        )
        return None
    classpath = str(Path(pyspark.__file__).parent / "jars" / "*")
    with tempfile.TemporaryDirectory(prefix="vigil-udf-") as tmp:
        out = Path(tmp) / "classes"
        try:
            done = subprocess.run(
                [javac, "--release", "17", "-nowarn", "-cp", classpath, "-d", str(out),
                 *map(str, sources)],
                capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("could not compile %s (%s): using the SQL function", JAVA_DIR, exc)
            return None
        if done.returncode != 0:
            log.warning(
                "could not compile %s: %s; using the SQL function",
                JAVA_DIR,
                " ".join(done.stderr.split())[:300],
            )
            return None
        built = Path(tmp) / jar.name
        with zipfile.ZipFile(built, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(
                "META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nCreated-By: vigil\r\n\r\n"
            )
            for cls in sorted(out.rglob("*.class")):
                zf.write(cls, cls.relative_to(out).as_posix())
        try:
            jar.parent.mkdir(parents=True, exist_ok=True)
            os.replace(built, jar)  # atomic: a concurrent build writes the same bytes
        except OSError as exc:
            log.warning(
                "cannot write %s (%s; set %s to a writable folder): using the SQL function",
                jar,
                exc,
                UDF_DIR_ENV,
            )
            return None
    log.info("built %s", jar)
    return jar


def register_functions(spark: Any, java_udf: bool = False) -> None:
    """Create Vigil's SQL functions in ``spark``'s session (idempotent):
    :data:`JARO_WINKLER_FUNCTION` and :data:`HAMMING_FUNCTION` as the Java UDFs when their jar
    is on the session's classpath (``java_udf``), else as SQL functions; the SQL forms always
    also as ``<name>_sql`` (the oracle of the UDFs in the tests)."""
    forms = (
        (JARO_WINKLER_FUNCTION, "DOUBLE", jaro_winkler_sql("a", "b"), JAVA_CLASS),
        (HAMMING_FUNCTION, "INT", hamming_sql("a", "b"), HAMMING_CLASS),
    )
    for name, returns, body, java_class in forms:
        spark.sql(
            f"CREATE OR REPLACE TEMPORARY FUNCTION {name}_sql(a STRING, b STRING) "
            f"RETURNS {returns} RETURN {body}"
        )
        spark.sql(f"DROP TEMPORARY FUNCTION IF EXISTS {name}")
        if java_udf:
            from pyspark.sql.types import DoubleType, IntegerType

            dtype = DoubleType() if returns == "DOUBLE" else IntegerType()
            spark.udf.registerJavaFunction(name, java_class, dtype)
        else:
            spark.sql(
                f"CREATE TEMPORARY FUNCTION {name}(a STRING, b STRING) "
                f"RETURNS {returns} RETURN {body}"
            )


def hamming_sql(a: str, b: str) -> str:
    """DuckDB's ``hamming(a, b)`` (positions whose characters differ; DuckDB defines it on
    strings of equal length, positions past the shorter string count here) in Spark SQL."""
    return (
        f"size(filter(sequence(1, greatest(length({a}), length({b}))), "
        f"p -> substr({a}, p, 1) <> substr({b}, p, 1)))"
    )


def is_local(master: str) -> bool:
    return master == "local" or master.startswith("local[")


def parse_conf(items: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``KEY=VALUE`` strings (``--spark-conf``) as pairs; a malformed one is an InvalidInput."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InvalidInput(f"--spark-conf {item!r}: expected KEY=VALUE")
        out.append((key.strip(), value.strip()))
    return tuple(out)


def java_version() -> str | None:
    """The ``java -version`` line of the JVM Spark would start (JAVA_HOME first), or None."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[0] if done.returncode == 0 and lines else None


def _java_major(line: str) -> int:
    """17 from ``openjdk version "17.0.15" ...``, 8 from ``"1.8.0_392"``; 0 if unreadable."""
    try:
        ver = line.split('"')[1]
    except IndexError:
        return 0
    parts = ver.split(".")
    try:
        major = int(parts[0])
        return int(parts[1]) if major == 1 and len(parts) > 1 else major
    except ValueError:
        return 0


def check_available() -> None:
    """Raise :class:`BackendError` naming what is missing (pyspark 4, Java 17+)."""
    import importlib.util

    if importlib.util.find_spec("pyspark") is None:
        raise BackendError(
            "the Spark engine needs pyspark 4 (pip install 'vigil[spark]') and Java 17 or "
            "later (Debian: apt-get install openjdk-17-jdk-headless)"
        )
    import pyspark

    if int(pyspark.__version__.split(".")[0]) < 4:
        raise BackendError(f"the Spark engine needs pyspark 4, found {pyspark.__version__}")
    line = java_version()
    if line is None:
        raise BackendError(
            "the Spark engine needs Java 17 or later and none was found (JAVA_HOME or java "
            "on PATH); Debian: apt-get install openjdk-17-jdk-headless "
            "(scripts/install-system-deps.sh installs it)"
        )
    if _java_major(line) < 17:
        raise BackendError(f"the Spark engine needs Java 17 or later, found: {line}")


def session(master: str | None = None, conf: Sequence[tuple[str, str]] = ()) -> Any:
    """The process's SparkSession on ``master`` (``local[2]`` by default), created on first use
    with Splink's similarity functions registered; stopped when the process ends.

    ``conf`` are Spark settings (``--spark-conf``); on a local master they override
    :data:`DEFAULT_LOCAL_CONF`. A second call with another master or settings is refused
    (Spark holds one session per process).
    """
    master = master or "local[2]"
    key = (master, tuple(conf))
    if "spark" in _state:
        if _state["key"] != key:
            raise InvalidInput(
                f"a Spark session on {_state['key'][0]} is already running in this process; "
                f"cannot switch to {master} with other settings"
            )
        return _state["spark"]
    check_available()
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    _remove_stale_folders()
    work = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
    (work / "log4j2.properties").write_text(_LOG4J, encoding="utf-8")
    ours = udf_jar()
    jars = [similarity_jar_location()] + ([str(ours)] if ours else [])
    settings: dict[str, str] = {
        "spark.app.name": "vigil-persons",
        "spark.jars": ",".join(jars),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.extraJavaOptions": f"-Dlog4j.configurationFile={work / 'log4j2.properties'}",
    }
    local = is_local(master)
    if local:
        # nothing listens on another interface than loopback
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        settings.update(DEFAULT_LOCAL_CONF)
        settings["spark.driver.host"] = "127.0.0.1"
        settings["spark.driver.bindAddress"] = "127.0.0.1"
        settings["spark.local.dir"] = str(work / "scratch")
    merge_conf(settings, conf)
    if RESULT_SIZE_KEY not in settings and "spark.driver.memory" in settings:
        size = result_size_for(settings["spark.driver.memory"])
        if size:
            settings[RESULT_SIZE_KEY] = size
    checkpoint = settings.pop(CHECKPOINT_KEY, None)
    builder = SparkSession.builder.master(master)
    for k, v in settings.items():
        builder = builder.config(k, v)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # py4j and the launcher raise many kinds
        shutil.rmtree(work, ignore_errors=True)
        raise BackendError(f"could not start Spark on {master}: {_short(exc)}") from exc
    spark.sparkContext.setLogLevel("ERROR")
    register_functions(spark, java_udf=ours is not None)
    if checkpoint is None and local:
        checkpoint = str(work / "checkpoints")
    if checkpoint is not None:
        spark.sparkContext.setCheckpointDir(checkpoint)
    _state.update(
        spark=spark, key=key, work=work, parquet=checkpoint is not None, java_udf=ours is not None
    )
    atexit.register(stop)
    log.info(
        "Spark %s on %s (intermediate tables: %s; Jaro-Winkler: %s)",
        spark.version,
        master,
        checkpoint,
        "Java UDF" if ours else "SQL function",
    )
    return spark


_APPENDED = {"spark.jars": ",", "spark.driver.extraJavaOptions": " "}


def merge_conf(settings: dict[str, str], conf: Sequence[tuple[str, str]]) -> None:
    """Apply ``--spark-conf`` pairs to ``settings``: the user's jars and JVM options come after
    Vigil's (the UDF jars, the log configuration), other keys replace the default."""
    for k, v in conf:
        settings[k] = _APPENDED[k].join([settings[k], v]) if k in settings and k in _APPENDED else v


_PREFIX = "vigil-spark-"


def _remove_stale_folders() -> None:
    """Remove the temporary folders of earlier processes that were killed before they could
    (their intermediate tables hold records): the folder name carries the owner's pid."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*-*"):
        pid_text = folder.name[len(_PREFIX) :].split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue  # alive, another user's


def session_uses_java_udf() -> bool:
    """Whether the running session's :data:`JARO_WINKLER_FUNCTION` is the Java UDF."""
    return bool(_state.get("java_udf"))


def break_lineage_method() -> str:
    """Parquet in the checkpoint folder when there is one, else executor-side persistence."""
    if _state.get("lineage"):
        return str(_state["lineage"])
    return "parquet" if _state.get("parquet") else "persist"


def use_variant(*, java_udf: bool | None = None, lineage: str | None = None) -> None:
    """Switch the running session's Jaro-Winkler (the Java UDF or the SQL function) and how
    Splink keeps intermediate tables (``parquet`` in the checkpoint folder or ``persist``):
    for benchmarks that compare them in one JVM. Takes effect at the next linkage."""
    spark = _state.get("spark")
    if spark is None:
        raise InvalidInput("no Spark session is running")
    if java_udf is not None:
        if java_udf and udf_jar(build=False) is None:
            raise InvalidInput("the Java UDF's jar is not built (no JDK?)")
        register_functions(spark, java_udf=java_udf)
        _state["java_udf"] = java_udf
    if lineage is not None:
        if lineage not in ("parquet", "persist"):
            raise InvalidInput(f"lineage {lineage!r}: parquet or persist")
        if lineage == "parquet" and not _state.get("parquet"):
            raise InvalidInput("no checkpoint folder for parquet")
        _state["lineage"] = lineage


def clean_checkpoints() -> None:
    """Remove the intermediate tables of finished linkage runs from the local checkpoint folder
    (records must not stay on disk longer than the run that needed them)."""
    work = _state.get("work")
    spark = _state.get("spark")
    if work is None or spark is None:
        return
    folder = Path(work) / "checkpoints"
    for catalog_table in spark.catalog.listTables():
        if catalog_table.isTemporary:
            spark.catalog.dropTempView(catalog_table.name)
    spark.catalog.clearCache()
    if folder.is_dir():
        for child in folder.iterdir():
            shutil.rmtree(child, ignore_errors=True)


def stop() -> None:
    """Stop the session, end its JVM and remove its temporary folder (at exit, or in tests)."""
    spark = _state.pop("spark", None)
    work = _state.pop("work", None)
    _state.clear()
    if spark is not None:
        from pyspark import SparkContext

        gateway = SparkContext._gateway
        with contextlib.suppress(Exception):  # best effort at exit
            spark.stop()
        if gateway is not None:
            with contextlib.suppress(Exception):
                gateway.shutdown()
            proc = getattr(gateway, "proc", None)
            if proc is not None:  # the JVM pyspark launched exits when its stdin closes
                with contextlib.suppress(Exception):
                    proc.stdin.close()
                    proc.wait(timeout=60)
            SparkContext._gateway = None
            SparkContext._jvm = None
    if work is not None:
        shutil.rmtree(work, ignore_errors=True)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"
