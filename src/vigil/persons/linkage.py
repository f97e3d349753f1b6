"""Entity resolution: Splink scores record pairs, a constrained clustering turns the scored
pairs into persons, and every decision keeps its explanation.

Pipeline (:func:`link`):

1. **Train** (Splink, EM): ``u`` by random sampling (identifier levels: from value frequencies
   over all records, see :func:`identifier_u`), the prior from deterministic rules, ``m`` by
   expectation maximisation in sessions blocked on card token, postcode and surname + date of
   birth, on a sample of at most ``train_sample`` records. Two levels are *fixed* rather than
   learnt, because EM cannot see the households that share a card: a clear first-name conflict
   and a clear date-of-birth conflict are strong evidence of two people. The frequencies of
   the surnames and first names (:data:`TF_COLUMNS`) are counted over *all* records and kept in
   the model: the exact levels are adjusted by them (a shared "Smith" weighs less than a shared
   "Lindthorpe") in every prediction, full or incremental, on either engine.
2. **Predict** (Splink): blocked pairs (card token, e-mail, phone, surname + date of birth,
   postcode, and the narrower keys of :data:`BLOCKING_RULES` for the errors those miss) are
   scored; the per-comparison match weights (``mw_*``) are kept as the explanation
   of every edge.
3. **Cluster** (:func:`cluster`): edges above ``link_weight`` are merged strongest first in a
   union-find that refuses any merge that would join two records an investigator marked "not the
   same person" (and always joins "same person" decisions), and any merge of two groups whose
   conflicting pairs (first name / date of birth) are at least as many as their agreeing pairs.
   Components without constraints or weak edges are resolved in one vectorised pass; the exact
   procedure (:func:`_cluster_exact`) runs on the others. Then, in every cluster, an edge that
   is a *bridge* (removing it splits the cluster) and weaker than ``strong_weight`` is cut: the
   two sides become separate persons and the edge is kept as a *weak-link flag* for review
   instead of a silent merge.

Strong identifiers (same card token, same e-mail) are one comparison among several: they add
weight, they do not force a merge; a shared card with a conflicting first name stays apart.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from vigil.errors import BackendError, InvalidInput
from vigil.persons.defaults import DEFAULT_LINK_WEIGHT as DEFAULT_LINK_WEIGHT
from vigil.persons.defaults import DEFAULT_STRONG_WEIGHT as DEFAULT_STRONG_WEIGHT
from vigil.persons.features import prepare
from vigil.persons.frequencies import TermFrequencies, lookup

log = logging.getLogger(__name__)

Backend = Literal["duckdb", "spark"]

LINK_COLUMNS = (
    "unique_id",
    "first_name",
    "surname",
    "dob",
    "postcode",
    "district",
    "address",
    "email",
    "phone",
    "card_token",
)
"""Columns of the table :func:`link` reads (strings; ``unique_id`` int64; nulls = missing)."""

COMPARISON_NAMES = ("first_name", "surname", "dob", "location", "identifiers")
"""The comparisons of the model, in order (``mw_<name>`` columns in predictions)."""

VETO_COMPARISONS = ("first_name", "dob")
"""The comparisons whose last level can veto a merge (see :meth:`Edges.vetoed`): two different
given names, or two dates of birth far apart without a strong full-name agreement, keep two
records apart even when card, address and surname agree (the household that shares a card).
The pair is still kept as evidence and listed for review."""

CONFLICT_LABELS = ("different", "conflict")
"""Labels of the contradicting level (``conflict`` in models trained before issue 15)."""

FULL_FIRST_NAME_LEVELS = ("exact", "names swapped", "nickname")
"""First-name levels that agree on the full given name (not a near spelling, an initial or a
sound: "Roy" and "Rory" may be father and son)."""

SOFT_CONFLICT, HARD_CONFLICT, AMBIGUOUS = 1, 2, 3
"""Conflict codes of :meth:`Edges.conflicts`: a first-name conflict is *soft* (a group may take
a record that conflicts with fewer of its records than agree with it: one misspelt record);
a date-of-birth conflict is *hard* (a person has one date of birth: any such conflict keeps
two groups apart); an *ambiguous* pair (see :data:`THIN_FIRST_NAME_LEVELS`) counts like a soft
conflict and is listed for review."""

THIN_FIRST_NAME_LEVELS = ("missing", "same initial", "initial agrees")
"""A pair whose first-name evidence is only an initial or nothing, with no date of birth to
compare, that shares nothing but a card (or nothing at all) besides surname and address, is
*ambiguous*: a partner or child using the household's card looks exactly like this ("D
Lindthorpe" on his partner's card). It is not merged on that pair's evidence; a shared e-mail
or phone, a date of birth, or agreeing records of the same group decide instead."""
SHAREABLE_IDENTIFIER_LEVELS = ("same card", "none shared", "missing")
PERSONAL_IDENTIFIER_LEVELS = (
    "same card and e-mail",
    "same phone and card or e-mail",
    "same e-mail",
    "same phone",
)
"""Identifier levels that involve an e-mail or phone (a household shares a card more often)."""
DOB_AGREES = ("exact", "one digit or transposition", "day and month swapped", "a day apart")


FIRST_NAME_CONFLICT_M = 0.0005
DOB_CONFLICT_M = 0.002
CONFLICT_MS: tuple[float, ...] = (FIRST_NAME_CONFLICT_M, DOB_CONFLICT_M)


@dataclass(frozen=True)
class LinkParams:
    """Thresholds and sizes of one linkage run."""

    link_weight: float = DEFAULT_LINK_WEIGHT
    """Minimum Splink match weight (log2 Bayes factor incl. prior) for an edge to count."""
    strong_weight: float = DEFAULT_STRONG_WEIGHT
    """A bridge edge weaker than this is cut and flagged rather than merged."""
    train_sample: int = 200_000
    """EM and u are trained on at most this many records (the prior is rescaled to the full set)."""
    max_u_pairs: float = 2e6
    seed: int = 42
    backend: Backend = "duckdb"
    threads: int | None = None
    spark_master: str | None = None
    """Spark engine: the master URL (``local[threads or 2]`` when None; ``spark://host:7077``,
    ``yarn``, ``k8s://...`` for a cluster, see docs/persons.md)."""
    spark_conf: tuple[tuple[str, str], ...] = ()
    """Spark engine: extra Spark settings (``--spark-conf KEY=VALUE``)."""
    term_frequencies: bool = True
    """Training: adjust the exact levels of :data:`TF_COLUMNS` by the value's frequency (a
    model trained with False has no adjustment; prediction follows the model)."""


@dataclass
class Edges:
    """Scored record pairs (parallel numpy arrays) with per-comparison weights and levels."""

    left: np.ndarray
    right: np.ndarray
    weight: np.ndarray
    mw: dict[str, np.ndarray]
    gamma: dict[str, np.ndarray] = field(default_factory=dict)
    """Per comparison, Splink's level index (``gamma_*``: -1 missing, 0 the last level)."""
    tf: dict[str, np.ndarray] = field(default_factory=dict)
    """Per comparison with term-frequency adjustment, the adjustment's weight (NaN or 0 when
    the level is not adjusted); ``weight`` includes it."""

    def __len__(self) -> int:
        return int(self.left.shape[0])

    def level_is(self, model: Model, comparison: str, labels: Iterable[str]) -> np.ndarray:
        """Boolean mask of the edges whose ``comparison`` level has one of ``labels``."""
        wanted = set(labels)
        mask = np.zeros(len(self), dtype=bool)
        if comparison in self.gamma:
            for g, label in model.gamma_labels(comparison).items():
                if label in wanted:
                    mask |= self.gamma[comparison] == g
            return mask
        for label in wanted:  # edges built without levels: the level's weight identifies it
            if label == "missing":  # the null level has weight 0 exactly
                mask |= self.mw[comparison] == 0
                continue
            w = model.weight_of(comparison, label)
            if w is not None:
                mask |= np.abs(self.mw[comparison] - w) < 0.01
        return mask

    def vetoed(self, model: Model, strong_weight: float = DEFAULT_STRONG_WEIGHT) -> np.ndarray:
        """Boolean mask of the edges whose evidence really contradicts (see :meth:`conflicts`)."""
        return self.conflicts(model, strong_weight) > 0

    def conflicts(self, model: Model, strong_weight: float = DEFAULT_STRONG_WEIGHT) -> np.ndarray:
        """Per edge, 0 or the conflict code (:data:`SOFT_CONFLICT`, :data:`HARD_CONFLICT`).

        * ambiguous: only an initial or no first name, no date of birth, and nothing but a
          card shared (see :data:`THIN_FIRST_NAME_LEVELS`);
        * soft: the first names differ after every error-aware level (swap, nickname, typo,
          sound, initial, prefix, mistyped nickname) failed: two different given names, unless the dates of
          birth agree and an e-mail or phone is shared (then the name is a graded penalty);
        * hard: the dates of birth differ beyond a typo, a transposition, a day/month swap or a
          day, unless the full first name agrees and the rest of the evidence (the weight
          without the date of birth) reaches ``strong_weight``: then the date is a graded
          penalty (the pair's weight already carries it), not a veto.
        """
        codes = np.zeros(len(self), dtype=np.int8)
        thin = self.level_is(model, "first_name", THIN_FIRST_NAME_LEVELS)
        if thin.any():
            thin &= self.level_is(model, "dob", ("missing",))
            thin &= self.level_is(model, "identifiers", SHAREABLE_IDENTIFIER_LEVELS)
            codes[thin] = AMBIGUOUS
        first_conflict = self.level_is(model, "first_name", CONFLICT_LABELS)
        if first_conflict.any():
            # a misread first name beside the same date of birth and the same e-mail or phone
            # is a penalty, not two people
            first_conflict &= ~(
                self.level_is(model, "dob", DOB_AGREES)
                & self.level_is(model, "identifiers", PERSONAL_IDENTIFIER_LEVELS)
            )
        codes[first_conflict] = SOFT_CONFLICT
        dob_conflict = self.level_is(model, "dob", CONFLICT_LABELS)
        if dob_conflict.any():
            full_first = self.level_is(model, "first_name", FULL_FIRST_NAME_LEVELS)
            rest = self.weight - self.mw["dob"]
            dob_conflict &= ~(full_first & (rest >= strong_weight))
            codes[dob_conflict] = HARD_CONFLICT
        return codes

    def explanation(self, i: int, model: Model) -> dict[str, Any]:
        """The per-comparison evidence of edge ``i``: level label and match weight."""
        parts = {}
        for name in COMPARISON_NAMES:
            w = float(self.mw[name][i])
            if name in self.gamma:
                label = model.gamma_labels(name).get(int(self.gamma[name][i]), "missing")
            else:
                label = model.label_for_weight(name, w)
            parts[name] = {"level": label, "match_weight": round(w, 2)}
            if name in self.tf:
                adj = float(self.tf[name][i])
                if adj == adj and abs(adj) >= 0.005:  # not NaN, not zero
                    parts[name]["term_frequency_adjustment"] = round(adj, 2)
        return {"match_weight": round(float(self.weight[i]), 2), "comparisons": parts}


@dataclass
class Model:
    """A trained Splink model (its settings JSON) plus level labels for explanations."""

    settings: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    """What training did with each round (trained on N pairs, skipped and why); not saved in
    the settings JSON (Splink validates it), kept in the run statistics."""
    frequencies: dict[str, TermFrequencies] = field(default_factory=dict)
    """Per column of a term-frequency-adjusted level, the value frequencies counted over all
    records at training (:mod:`vigil.persons.frequencies`); saved with the model."""

    def tf_columns(self) -> list[str]:
        """Columns of the term-frequency-adjusted levels of the settings (none in models
        trained before term frequencies)."""
        return tf_columns(self.settings)

    def tf_comparisons(self) -> list[str]:
        """Comparisons with a term-frequency-adjusted level (``mw_tf_adj_*`` columns)."""
        return [
            str(c["output_column_name"])
            for c in self.settings.get("comparisons", [])
            if any(lv.get("tf_adjustment_column") for lv in c["comparison_levels"])
        ]

    @property
    def prior(self) -> float:
        return float(self.settings["probability_two_random_records_match"])

    def label_for_weight(self, comparison: str, weight: float) -> str:
        """The label of ``comparison``'s level whose match weight is ``weight``.

        Splink's predictions carry each comparison's match weight (``mw_*``); levels have
        distinct weights, so the weight identifies the level (a weight of 0 is "missing").
        """
        best, dist = "missing", abs(weight)
        for label, w in self.level_weights().get(comparison, []):
            if not math.isnan(w) and abs(w - weight) < dist:
                best, dist = label, abs(w - weight)
        return best

    def level_weights(self) -> dict[str, list[tuple[str, float]]]:
        """Per comparison, (label, match weight) of each non-null level (for the docs/CLI)."""
        cached: dict[str, list[tuple[str, float]]] | None = self.__dict__.get("_weights")
        if cached is not None:
            return cached
        out: dict[str, list[tuple[str, float]]] = {}
        for comp in self.settings["comparisons"]:
            rows = []
            for lv in comp["comparison_levels"]:
                if lv.get("is_null_level"):
                    continue
                m, u = lv.get("m_probability"), lv.get("u_probability")
                w = math.log2(m / u) if m and u else float("nan")
                rows.append((str(lv.get("label_for_charts", "")), round(w, 2)))
            out[comp["output_column_name"]] = rows
        self.__dict__["_weights"] = out
        return out

    def gamma_labels(self, comparison: str) -> dict[int, str]:
        """Splink's level index (``gamma_*``) → label, for ``comparison`` (-1 is missing)."""
        cache: dict[str, dict[int, str]] = self.__dict__.setdefault("_gamma", {})
        if comparison not in cache:
            out = {-1: "missing"}
            for comp in self.settings["comparisons"]:
                if comp["output_column_name"] != comparison:
                    continue
                levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
                for i, lv in enumerate(levels):
                    out[len(levels) - 1 - i] = str(lv.get("label_for_charts", ""))
            cache[comparison] = out
        return cache[comparison]

    def weight_of(self, comparison: str, label: str) -> float | None:
        """The match weight of ``comparison``'s level labelled ``label`` (None if absent)."""
        for lab, w in self.level_weights().get(comparison, []):
            if lab == label and not math.isnan(w):
                return w
        return None

    def to_json(self) -> str:
        """The Splink settings, and the term frequencies under :data:`MODEL_TF_KEY`."""
        out = dict(self.settings)
        if self.frequencies:
            out[MODEL_TF_KEY] = {c: f.as_dict() for c, f in sorted(self.frequencies.items())}
        return json.dumps(out, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Model:
        """A saved model (one saved before term frequencies has none and loads as it was)."""
        settings = json.loads(text)
        stored = settings.pop(MODEL_TF_KEY, None) or {}
        freq = {str(c): TermFrequencies.from_dict(str(c), d) for c, d in stored.items()}
        return cls(settings, frequencies=freq)


MODEL_TF_KEY = "vigil_term_frequencies"
"""Key of the term frequencies in a saved model's JSON (taken out before Splink reads it)."""


def tf_columns(settings: dict[str, Any]) -> list[str]:
    """Columns of the term-frequency-adjusted levels of Splink ``settings``, in order."""
    out: list[str] = []
    for comp in settings.get("comparisons", []):
        for lv in comp["comparison_levels"]:
            col = lv.get("tf_adjustment_column")
            if col and str(col) not in out:
                out.append(str(col))
    return out


# ---------------------------------------------------------------------------------------------
# Splink settings
# ---------------------------------------------------------------------------------------------


SQL_FUNCTIONS: dict[str, dict[str, str]] = {
    "duckdb": {
        "jaro_winkler": "jaro_winkler_similarity({a}, {b})",
        "levenshtein": "levenshtein({a}, {b})",
        "damerau_levenshtein": "damerau_levenshtein({a}, {b})",
        "hamming": "hamming({a}, {b})",
        "starts_with": "starts_with({a}, {b})",
        "contains": "contains({a}, {b})",
        "lists_overlap": "array_length(list_intersect({a}, {b})) >= 1",
    },
    "spark": {
        # DuckDB's algorithm as a Spark SQL function (vigil.persons.spark.jaro_winkler_sql);
        # Splink's Scala UDF (its jar, registered by SparkAPI) for Damerau-Levenshtein
        "jaro_winkler": "vigil_jaro_winkler({a}, {b})",
        "levenshtein": "levenshtein({a}, {b})",
        "damerau_levenshtein": "damerau_levenshtein({a}, {b})",
        # DuckDB's hamming (positions that differ, on strings of equal length): a Java UDF or
        # its SQL form (vigil.persons.spark.hamming_sql)
        "hamming": "vigil_hamming({a}, {b})",
        "starts_with": "startswith({a}, {b})",
        "contains": "contains({a}, {b})",
        "lists_overlap": "size(array_intersect({a}, {b})) >= 1",
    },
}
"""The SQL functions of the custom comparison levels, per Splink dialect: each level's SQL is
written once (a function of :class:`SqlFunctions`) and rendered for the engine that runs it.
The Spark forms give the same values as DuckDB's on the same strings
(``tests/persons/test_spark.py``)."""


class SqlFunctions:
    """Renders the functions of :data:`SQL_FUNCTIONS` in one dialect: ``f.jw("a", "b")``."""

    def __init__(self, dialect: str) -> None:
        if dialect not in SQL_FUNCTIONS:
            raise InvalidInput(f"no SQL functions for dialect {dialect!r}")
        self.dialect = dialect
        self._fns = SQL_FUNCTIONS[dialect]

    def _call(self, name: str, a: str, b: str) -> str:
        return self._fns[name].format(a=a, b=b)

    def jw(self, a: str, b: str) -> str:
        return self._call("jaro_winkler", a, b)

    def lev(self, a: str, b: str) -> str:
        return self._call("levenshtein", a, b)

    def dl(self, a: str, b: str) -> str:
        return self._call("damerau_levenshtein", a, b)

    def hamming(self, a: str, b: str) -> str:
        return self._call("hamming", a, b)

    def starts_with(self, a: str, b: str) -> str:
        return self._call("starts_with", a, b)

    def contains(self, a: str, b: str) -> str:
        return self._call("contains", a, b)

    def lists_overlap(self, a: str, b: str) -> str:
        """Whether two lists share an element (NULL, i.e. not true, when either is NULL)."""
        return self._call("lists_overlap", a, b)


_LEVEL_CLASS: list[type] = []


def _sql_level(build: Callable[[SqlFunctions], str], label: str) -> Any:
    """A Splink comparison level whose SQL ``build(f)`` renders in the linker's dialect (a
    CustomLevel is a fixed string, which sqlglot cannot translate for these functions)."""
    if not _LEVEL_CLASS:
        from splink.internals.comparison_level_creator import ComparisonLevelCreator

        class DialectLevel(ComparisonLevelCreator):
            def __init__(self, build: Callable[[SqlFunctions], str], label: str) -> None:
                self.build = build
                self.label = label

            def create_sql(self, sql_dialect: Any) -> str:
                return self.build(SqlFunctions(str(sql_dialect.sql_dialect_str)))

            def create_label_for_charts(self) -> str:
                return self.label

        _LEVEL_CLASS.append(DialectLevel)
    return _LEVEL_CLASS[0](build, label)


JW_EPSILON = 1e-10
"""Jaro-Winkler thresholds are compared with this allowance: a similarity that is exactly a
threshold in real arithmetic (it is a ratio of small integers) counts as reaching it on every
engine and platform, whatever the last bit of its floating-point value (DuckDB may fuse the
last multiply-add, Spark does not). Distinct similarities of strings up to 200 characters are
more than 1e-10 apart, so no other pair changes level."""


def _jw_level(col: str, threshold: float, label: str) -> Any:
    """Jaro-Winkler similarity of ``col`` at or above ``threshold`` (see :data:`JW_EPSILON`)."""
    a, b = f"{col}_l", f"{col}_r"
    return _sql_level(lambda f: f"{f.jw(a, b)} >= {threshold} - {JW_EPSILON}", label)


def _one_edit(col: str, label: str | None = None) -> Any:
    """One insertion, deletion, substitution or adjacent transposition apart. (DuckDB's
    ``damerau_levenshtein`` is ~8x slower than ``levenshtein``; it runs only on the pairs of
    equal length that two substitutions apart, where a transposition can hide.)"""
    a, b = f"{col}_l", f"{col}_r"
    return _sql_level(
        lambda f: (
            f"{f.lev(a, b)} <= 1 or (length({a}) = length({b}) "
            f"and {f.hamming(a, b)} = 2 and {f.dl(a, b)} = 1)"
        ),
        label or f"{col} one edit apart",
    )


def _comparisons(term_frequencies: bool = True) -> list[Any]:
    """The comparisons, each level an error the records are known to carry (issue 15); with
    ``term_frequencies`` the exact levels of :data:`TF_COLUMNS` are adjusted by frequency."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    swapped = cll.ColumnsReversedLevel("first_name", "surname", symmetrical=True).configure(
        label_for_charts="names swapped"
    )

    def near(f: SqlFunctions, a: str, b: str) -> str:
        return f"({f.lev(a, b)} <= 1 or {f.jw(a, b)} >= 0.88 - {JW_EPSILON})"

    def swapped_typo() -> Any:
        return _sql_level(
            lambda f: (
                f"{near(f, 'first_name_l', 'surname_r')} and {near(f, 'surname_l', 'first_name_r')}"
            ),
            "swapped with a typo",
        )

    first = cl.CustomComparison(
        output_column_name="first_name",
        comparison_levels=[
            cll.NullLevel("first_name"),
            cll.CustomLevel(
                "length(first_name_l) = 1 and first_name_l = first_name_r",
                label_for_charts="same initial",
            ),
            cll.ExactMatchLevel(
                "first_name",
                term_frequency_adjustments=term_frequencies and "first_name" in TF_COLUMNS,
            ).configure(label_for_charts="exact"),
            swapped,
            swapped_typo(),
            cll.ArrayIntersectLevel("first_roots", 1).configure(label_for_charts="nickname"),
            _one_edit("first_name", "one edit"),
            _jw_level("first_name", 0.92, "jw>=0.92"),
            cll.ExactMatchLevel("first_sx").configure(label_for_charts="sounds alike"),
            _sql_level(
                lambda f: (
                    "(length(first_name_l) = 1 and "
                    f"{f.contains('first_initials_r', 'first_name_l')}) "
                    "or (length(first_name_r) = 1 and "
                    f"{f.contains('first_initials_l', 'first_name_r')})"
                ),
                "initial agrees",
            ),
            _jw_level("first_name", 0.88, "jw>=0.88"),
            _sql_level(
                lambda f: (
                    "(length(first_name_l) >= 3 and "
                    f"{f.starts_with('first_name_r', 'first_name_l')}) "
                    "or (length(first_name_r) >= 3 and "
                    f"{f.starts_with('first_name_l', 'first_name_r')})"
                ),
                "one starts the other",
            ),
            _sql_level(
                lambda f: (
                    "least(length(first_name_l), length(first_name_r)) >= 5 "
                    f"and {f.lev('first_name_l', 'first_name_r')} <= 2"
                ),
                "two edits",
            ),
            _sql_level(
                lambda f: (
                    f"{f.lists_overlap('first_near_roots_l', 'first_roots_r')} "
                    f"or {f.lists_overlap('first_roots_l', 'first_near_roots_r')}"
                ),
                "nickname with a typo",
            ),
            cll.ElseLevel().configure(
                label_for_charts="different",
                m_probability=FIRST_NAME_CONFLICT_M,
                fix_m_probability=True,
            ),
        ],
    )
    surname = cl.CustomComparison(
        output_column_name="surname",
        comparison_levels=[
            cll.NullLevel("surname"),
            cll.ExactMatchLevel(
                "surname", term_frequency_adjustments=term_frequencies and "surname" in TF_COLUMNS
            ).configure(label_for_charts="exact"),
            cll.ColumnsReversedLevel("first_name", "surname", symmetrical=True).configure(
                label_for_charts="names swapped"
            ),
            swapped_typo(),
            _jw_level("surname", 0.92, "jw>=0.92"),
            cll.ExactMatchLevel("surname_sx").configure(label_for_charts="sounds alike"),
            _jw_level("surname", 0.8, "jw>=0.80"),
            cll.ElseLevel().configure(label_for_charts="different"),
        ],
    )
    dob = cl.CustomComparison(
        output_column_name="dob",
        comparison_levels=[
            cll.NullLevel("dob"),
            cll.ExactMatchLevel("dob").configure(label_for_charts="exact"),
            _sql_level(
                lambda f: (
                    f"{f.hamming('dob_l', 'dob_r')} <= 1 "
                    f"or ({f.hamming('dob_l', 'dob_r')} = 2 "
                    f"and {f.dl('dob_l', 'dob_r')} = 1)"
                ),
                "one digit or transposition",
            ),
            cll.CustomLevel(
                "substr(dob_l, 1, 4) = substr(dob_r, 1, 4) "
                "and substr(dob_l, 6, 2) = substr(dob_r, 9, 2) "
                "and substr(dob_l, 9, 2) = substr(dob_r, 6, 2)",
                label_for_charts="day and month swapped",
            ),
            cll.AbsoluteDateDifferenceLevel(
                "dob", input_is_string=True, threshold=1, metric="day"
            ).configure(label_for_charts="a day apart"),
            _sql_level(
                lambda f: (
                    f"{f.hamming('dob_l', 'dob_r')} <= 2 "
                    f"or ({f.hamming('dob_l', 'dob_r')} <= 4 "
                    f"and {f.dl('dob_l', 'dob_r')} <= 2)"
                ),
                "two digits apart",
            ),
            cll.ElseLevel().configure(
                label_for_charts="different", m_probability=DOB_CONFLICT_M, fix_m_probability=True
            ),
        ],
    )
    location = cl.CustomComparison(
        output_column_name="location",
        comparison_levels=[
            cll.And(cll.NullLevel("postcode"), cll.NullLevel("address")),
            cll.And(
                cll.ExactMatchLevel("postcode"), _jw_level("address", 0.9, "address jw>=0.9")
            ).configure(label_for_charts="same postcode and address"),
            cll.And(_one_edit("postcode"), _jw_level("address", 0.9, "address jw>=0.9")).configure(
                label_for_charts="postcode typo, same address"
            ),
            cll.ExactMatchLevel("postcode").configure(label_for_charts="same postcode"),
            _jw_level("address", 0.95, "same address"),
            _one_edit("postcode", "postcode one typo apart"),
            cll.ExactMatchLevel("district").configure(label_for_charts="same postcode district"),
            cll.ElseLevel().configure(label_for_charts="different"),
        ],
    )
    identifiers = cl.CustomComparison(
        output_column_name="identifiers",
        comparison_levels=[
            cll.And(cll.NullLevel("card_token"), cll.NullLevel("email"), cll.NullLevel("phone")),
            cll.And(cll.ExactMatchLevel("card_token"), cll.ExactMatchLevel("email")).configure(
                label_for_charts="same card and e-mail"
            ),
            cll.Or(
                cll.And(cll.ExactMatchLevel("card_token"), cll.ExactMatchLevel("phone")),
                cll.And(cll.ExactMatchLevel("email"), cll.ExactMatchLevel("phone")),
            ).configure(label_for_charts="same phone and card or e-mail"),
            cll.ExactMatchLevel("email").configure(label_for_charts="same e-mail"),
            cll.ExactMatchLevel("card_token").configure(label_for_charts="same card"),
            cll.ExactMatchLevel("phone").configure(label_for_charts="same phone"),
            cll.ElseLevel().configure(label_for_charts="none shared"),
        ],
    )
    return [first, surname, dob, location, identifiers]


BLOCKING_RULES: tuple[tuple[str, ...], ...] = (
    ("card_token",),
    ("email",),
    ("phone",),
    ("surname", "dob"),
    ("postcode", "first_initial"),
    ("first_name:surname", "surname:first_name"),
    ("surname_sx", "dob"),
    ("first_name", "dob"),
    ("addr_key", "surname_sx"),
    ("pc_prefix", "surname", "first_initial"),
)
"""Columns of the blocking rules (a pair is scored when it agrees, non-null, on all columns of
any rule; ``a:b`` is the left record's ``a`` equal to the right record's ``b``): the
identifiers, surname + date of birth and postcode + first initial, then one rule per error
that escapes them (issue 15): first and last name swapped (the swap that
:func:`~vigil.persons.features.prepare` could not put back), a surname typo or a new surname
with the date of birth, the postcode wrong or missing at the same address (address key +
Soundex surname) and a typo in the postcode's inward part (postcode prefix + surname + first
initial).

Every rule's pairs must grow with the records, not with their square: the postcode alone and
the postcode prefix + surname paired strangers who share them (at 10^7 records they would
have put ~58 M pairs in front of the model, about 20 M of them growing with the square); the
first initial as a second key cuts those ~20-fold for 0.00005 of the true pairs (measured in
docs/persons.md).

Each rule is there for the pairs the others miss *and* that its evidence can link: a rule on
the name alone (sorted name tokens, Soundex surname + birth year) put 3.8 M pairs in front of
the model at 10^6 records for 364 links above the threshold (71 % of predict) and was replaced
by these narrower keys (measured in docs/persons.md)."""


def rule_parts(rule: Sequence[str]) -> list[tuple[str, str]]:
    """(left column, right column) of each equality of a blocking rule."""
    out = []
    for part in rule:
        left, _, right = part.partition(":")
        out.append((left, right or left))
    return out


def rule_name(rule: Sequence[str]) -> str:
    """A rule's name as reported (``surname+dob``, ``first_name:surname+surname:first_name``)."""
    return "+".join(rule)


def pair_completeness(table: pa.Table, truth: Sequence[Any]) -> dict[str, Any]:
    """Share of the true pairs that the blocking rules put in front of the model.

    ``truth`` gives each record's true person (ground truth of generated data, in the order
    of ``table``'s rows). A true pair is *covered* when it agrees, non-null, on every column
    of at least one of :data:`BLOCKING_RULES`. Returns ``pair_completeness``, the numbers of
    true and covered pairs, and per rule the pairs only that rule covers (what it is for).
    """
    if len(truth) != table.num_rows:
        raise InvalidInput("truth needs one entry per record")
    prepared = prepare(table)
    parts = [rule_parts(rule) for rule in BLOCKING_RULES]
    cols = sorted({c for rule in parts for pair in rule for c in pair})
    values = {c: prepared.column(c).to_pylist() for c in cols}
    groups: dict[Any, list[int]] = defaultdict(list)
    for i, key in enumerate(truth):
        groups[key].append(i)
    total = covered = 0
    only: dict[str, int] = {rule_name(rule): 0 for rule in BLOCKING_RULES}
    for members in groups.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                a, b = members[x], members[y]
                total += 1
                hits = [
                    rule
                    for rule, pairs in zip(BLOCKING_RULES, parts, strict=True)
                    if all(
                        values[x][a] is not None and values[x][a] == values[y][b] for x, y in pairs
                    )
                ]
                if hits:
                    covered += 1
                    if len(hits) == 1:
                        only[rule_name(hits[0])] += 1
    return {
        "pair_completeness": round(covered / total, 5) if total else 1.0,
        "true_pairs": total,
        "covered_pairs": covered,
        "pairs_only_this_rule_covers": only,
    }


def _blocking_rules() -> list[Any]:
    from splink import block_on

    out: list[Any] = []
    for rule in BLOCKING_RULES:
        pairs = rule_parts(rule)
        if all(x == y for x, y in pairs):
            out.append(block_on(*rule))
        else:  # a cross-column rule (the name swap), as SQL any backend reads (no quotes)
            out.append(" AND ".join(f"l.{x} = r.{y}" for x, y in pairs))
    return out


def settings_creator(prior: float = 1e-5, *, term_frequencies: bool = True) -> Any:
    """The Splink settings of Vigil's person model (untrained)."""
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        probability_two_random_records_match=prior,
        comparisons=_comparisons(term_frequencies),
        blocking_rules_to_generate_predictions=_blocking_rules(),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=True,
        additional_columns_to_retain=[],
    )


# ---------------------------------------------------------------------------------------------
# Backends
# ---------------------------------------------------------------------------------------------


class _Session:
    """One Splink database API (DuckDB in memory by default, or Spark)."""

    def __init__(
        self, backend: Backend, threads: int | None, params: LinkParams | None = None
    ) -> None:
        self.backend = backend
        self.api: Any
        self._lookups = 0
        if backend == "duckdb":
            import duckdb
            from splink import DuckDBAPI

            self.dialect = "duckdb"
            self.con = duckdb.connect(":memory:")
            if threads:
                self.con.execute(f"SET threads TO {int(threads)}")
            self.con.execute("SET preserve_insertion_order = false")
            self.api = DuckDBAPI(connection=self.con)
        elif backend == "spark":
            from vigil.persons import spark as spark_mod

            params = params or LinkParams(backend="spark", threads=threads)
            master = params.spark_master or f"local[{max(1, threads or 2)}]"
            self.dialect = "spark"
            self.spark = spark_mod.session(master, params.spark_conf)
            from splink.backends.spark import SparkAPI

            self.api = SparkAPI(  # type: ignore[no-untyped-call]
                spark_session=self.spark,
                break_lineage_method=spark_mod.break_lineage_method(),
            )
        else:
            raise InvalidInput(f"unknown linkage backend {backend!r} (duckdb or spark)")

    def register(self, table: pa.Table, name: str) -> Any:
        if self.backend == "spark":
            return self.api.register(self.spark.createDataFrame(table), table_name=name)
        return self.api.register(table, table_name=name)

    def settings(self, model: Model) -> dict[str, Any]:
        """``model``'s settings with the SQL of this session's dialect."""
        return settings_for_dialect(model.settings, self.dialect)

    def frequency_lookups(
        self,
        settings: dict[str, Any],
        frequencies: dict[str, TermFrequencies],
        tables: Sequence[pa.Table],
    ) -> dict[str, Any]:
        """Register, per term-frequency column of ``settings``, the lookup of the values of
        ``tables`` in the model's ``frequencies`` (see :mod:`vigil.persons.frequencies`);
        returns column → registered table, for :func:`_use_lookups`."""
        out: dict[str, Any] = {}
        for col in tf_columns(settings):
            freq = frequencies.get(col)
            if freq is None:
                raise InvalidInput(
                    f"this model adjusts {col!r} by term frequency but has no frequency table: "
                    "link again without --new-only to train a new one"
                )
            self._lookups += 1
            out[col] = self.register(lookup(freq, tables), f"vigil_tf_{col}_{self._lookups}")
        return out

    def fetch(self, sdf: Any, columns: Sequence[str], where: str = "TRUE") -> pa.Table:
        cols = ", ".join(columns)
        sql = f"SELECT {cols} FROM {sdf.physical_name} WHERE {where}"  # noqa: S608
        if self.backend == "duckdb":
            return self.con.sql(sql).to_arrow_table()
        try:
            out: pa.Table = self.spark.sql(sql).toArrow()
        except Exception as exc:  # py4j wraps the JVM's error
            if "maxResultSize" not in str(exc):
                raise
            raise BackendError(
                "the scored pairs are more than the Spark driver may collect "
                "(spark.driver.maxResultSize): give the driver more memory and a larger limit, "
                "e.g. --spark-conf spark.driver.memory=16g --spark-conf "
                "spark.driver.maxResultSize=8g"
            ) from None
        return out

    def close(self) -> None:
        if self.backend == "duckdb":
            self.con.close()
        else:
            from vigil.persons import spark as spark_mod

            spark_mod.clean_checkpoints()


def settings_for_dialect(settings: dict[str, Any], dialect: str) -> dict[str, Any]:
    """A trained model's settings with its SQL rendered for ``dialect`` (a model trained on
    DuckDB run on Spark, or back): the SQL of every comparison level and blocking rule comes
    from :func:`settings_creator` in that dialect, every parameter (m, u, prior, fixed levels)
    from ``settings``. A model whose comparisons do not match the current ones level by level
    (trained by an older Vigil) cannot be carried over and is an InvalidInput."""
    import copy

    if settings.get("sql_dialect") == dialect:
        return settings
    fresh = settings_creator().create_settings_dict(dialect)
    out = copy.deepcopy(settings)
    old_comps, new_comps = out.get("comparisons", []), fresh["comparisons"]

    def shape(comps: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
        return [
            (
                str(c.get("output_column_name")),
                [str(lv.get("label_for_charts")) for lv in c["comparison_levels"]],
            )
            for c in comps
        ]

    if shape(old_comps) != shape(new_comps):
        raise InvalidInput(
            f"this model (SQL for {settings.get('sql_dialect')}) has other comparisons than "
            f"this version of Vigil and cannot run on {dialect}: link again without --new-only "
            "to train a new one"
        )
    for old, new in zip(old_comps, new_comps, strict=True):
        for lv_old, lv_new in zip(old["comparison_levels"], new["comparison_levels"], strict=True):
            lv_old["sql_condition"] = lv_new["sql_condition"]
    old_rules = out.get("blocking_rules_to_generate_predictions", [])
    new_rules = fresh["blocking_rules_to_generate_predictions"]
    if len(old_rules) != len(new_rules):
        raise InvalidInput(
            f"this model has other blocking rules than this version of Vigil and cannot run on "
            f"{dialect}: link again without --new-only to train a new one"
        )
    for rule_old, rule_new in zip(old_rules, new_rules, strict=True):
        rule_old["blocking_rule"] = rule_new["blocking_rule"]
        rule_old["sql_dialect"] = dialect
    out["sql_dialect"] = dialect
    return out


def _use_lookups(linker: Any, lookups: dict[str, Any]) -> None:
    """Make ``linker`` read the model's frequencies (never count its own tables)."""
    for col, sdf in lookups.items():
        linker.table_management.register_term_frequency_lookup(sdf, col)


def _check_columns(table: pa.Table) -> None:
    missing = [c for c in LINK_COLUMNS if c not in table.column_names]
    if missing:
        raise InvalidInput(f"linkage table lacks columns: {', '.join(missing)}")


def _quiet_splink() -> None:
    for name in ("splink", "splink.internals"):
        logging.getLogger(name).setLevel(logging.ERROR)


# ---------------------------------------------------------------------------------------------
# Train and predict
# ---------------------------------------------------------------------------------------------


def train(
    table: pa.Table, params: LinkParams | None = None, *, prepared: pa.Table | None = None
) -> Model:
    """Train the person model on ``table`` (a sample of it when larger than ``train_sample``).

    The term frequencies (:data:`TF_COLUMNS`) are counted over *all* of ``table``'s records
    as prepared (``prepared``: :func:`~vigil.persons.features.prepare` of ``table``, when the
    caller has it) and kept in the model."""
    params = params or LinkParams()
    _check_columns(table)
    _quiet_splink()
    n_full = table.num_rows
    if n_full < 2:
        raise InvalidInput("linkage needs at least two records")
    creator = settings_creator(term_frequencies=params.term_frequencies)
    initial: dict[str, Any] = creator.create_settings_dict(
        "spark" if params.backend == "spark" else "duckdb"
    )
    frequencies: dict[str, TermFrequencies] = {}
    if tf_columns(initial):
        full = prepared if prepared is not None else prepare(table)
        frequencies = {c: TermFrequencies.of(c, full.column(c)) for c in tf_columns(initial)}
    sample = table
    if n_full > params.train_sample:
        rng = np.random.default_rng(params.seed)
        idx = np.sort(rng.choice(n_full, size=params.train_sample, replace=False))
        sample = table.take(pa.array(idx))
    sample = prepare(sample)
    from splink import Linker, block_on

    notes: list[str] = []
    session = _Session(params.backend, params.threads, params)
    try:
        sdf = session.register(sample, "records_train")
        lookups = session.frequency_lookups(initial, frequencies, [sample])
        linker = Linker(sdf, creator, log_level=None)
        _use_lookups(linker, lookups)
        try:
            linker.training.estimate_probability_two_random_records_match(
                [
                    block_on("card_token", "email"),
                    block_on("first_name", "surname", "dob"),
                    block_on("email", "surname"),
                ],
                recall=0.8,
            )
        except Exception as exc:  # noqa: BLE001 - Splink raises bare exceptions on degenerate data
            notes.append(f"prior: kept the default ({_short(exc)})")
        linker.training.estimate_u_using_random_sampling(
            max_pairs=params.max_u_pairs, seed=params.seed
        )
        settings: dict[str, Any] = linker.misc.save_model_to_json()
        for cols in EM_ROUNDS:
            settings = _em_round(sdf, sample, settings, cols, notes, lookups)
        missing = untrained(settings)
        if missing:
            # the name comparisons read both name columns (swap levels), so a round blocked on
            # surname + dob cannot train them; where no card or postcode round did, one round
            # blocked on the date of birth alone (at most 10^6 pairs) does
            notes.append(f"no m learnt for {', '.join(missing)}: fallback round on dob")
            settings = _em_round(
                sdf, sample, settings, FALLBACK_EM_ROUND, notes, lookups, max_pairs=1e6
            )
    finally:
        session.close()
    for note in notes:
        log.info("training: %s", note)
    if n_full > sample.num_rows:
        # the number of true pairs grows with N, all pairs with N^2
        settings["probability_two_random_records_match"] = float(
            settings["probability_two_random_records_match"] * sample.num_rows / n_full
        )
    _set_identifier_u(settings, identifier_u(table))
    for col, freq in frequencies.items():
        notes.append(
            f"term frequencies of {col}: {freq.records} values counted, {len(freq.counts)} "
            "seen more than once kept in the model"
        )
    return Model(settings, notes=notes, frequencies=frequencies)


EM_ROUNDS: tuple[tuple[str, ...], ...] = (("card_token",), ("postcode",), ("surname", "dob"))
"""The blocking columns of the EM training rounds, in order."""


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}"


def blocked_pairs(table: pa.Table, columns: Sequence[str]) -> int:
    """Number of record pairs of ``table`` that agree on every one of ``columns`` (nulls never
    agree): the pairs an EM round blocked on those columns would see."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        con.register("t", table.select(list(columns)))
        nonnull = " AND ".join(f"{c} IS NOT NULL" for c in columns)
        row = con.execute(
            f"SELECT coalesce(sum(c * (c - 1) / 2), 0) FROM "  # noqa: S608
            f"(SELECT count(*) AS c FROM t WHERE {nonnull} GROUP BY {', '.join(columns)})"
        ).fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


FALLBACK_EM_ROUND = ("dob",)


def untrained(settings: dict[str, Any]) -> list[str]:
    """Comparisons none of whose learnable levels has an ``m`` (Splink would predict with
    its defaults for them)."""
    out = []
    for comp in settings.get("comparisons", []):
        levels = [
            lv
            for lv in comp["comparison_levels"]
            if not lv.get("is_null_level") and not lv.get("fix_m_probability")
        ]
        if levels and all(lv.get("m_probability") is None for lv in levels):
            out.append(str(comp["output_column_name"]))
    return out


def _em_round(
    sdf: Any,
    sample: pa.Table,
    settings: dict[str, Any],
    columns: tuple[str, ...],
    notes: list[str],
    lookups: dict[str, Any],
    max_pairs: float | None = None,
) -> dict[str, Any]:
    """One EM round blocked on ``columns``, run on a *copy* of ``settings``.

    Splink's EM training session removes the comparisons that use the blocking columns from
    the linker's settings in place and puts them back only when training succeeds; a round
    that fails (no pairs, or a degenerate table) would leave the model without those
    comparisons, and prediction then fails on a missing ``mw_*`` column (issue 14, defect 6).
    So every round gets its own linker on a deep copy of the settings; a round with no pairs
    is skipped and a failing one is dropped, each with the reason in ``notes``, and the
    settings as they were (the prior and the ``m``/``u`` of earlier rounds) are kept.
    """
    import copy

    from splink import Linker, block_on

    rule = " + ".join(columns)
    pairs = blocked_pairs(sample, columns)
    if pairs == 0:
        notes.append(f"EM round blocked on {rule}: skipped, no two records share it")
        return settings
    try:
        linker = Linker(sdf, copy.deepcopy(settings), log_level=None)
        _use_lookups(linker, lookups)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(*columns),
            fix_probability_two_random_records_match=True,
            max_pairs=max_pairs,
        )
        trained: dict[str, Any] = linker.misc.save_model_to_json()
    except Exception as exc:  # noqa: BLE001 - Splink raises bare exceptions on degenerate data
        notes.append(f"EM round blocked on {rule}: dropped ({_short(exc)}); m kept as before")
        return settings
    if len(trained.get("comparisons", [])) != len(settings.get("comparisons", [])):
        notes.append(f"EM round blocked on {rule}: dropped (comparisons lost); m kept as before")
        return settings
    notes.append(f"EM round blocked on {rule}: trained on {pairs} pairs")
    return trained


IDENTIFIER_LEVELS = (
    "same card and e-mail",
    "same phone and card or e-mail",
    "same e-mail",
    "same card",
    "same phone",
)


def identifier_u(table: pa.Table) -> dict[str, float]:
    """``u`` of the identifier levels from value frequencies in the whole table.

    Random sampling (Splink's ``estimate_u``) almost never draws two records sharing a card
    or an e-mail once there are more than ~10^5 records, so those levels' ``u`` would be left
    at defaults and the strongest evidence would be under-weighted at scale. Here ``u`` is the
    share of all record pairs that share the value(s): Σ C(n_v, 2) / C(N, 2), counted with
    true matches included (an upper bound, so the weight errs low), floored at 1 / C(N, 2).
    """
    import duckdb

    n = table.num_rows
    pairs = max(1.0, n * (n - 1) / 2)
    con = duckdb.connect(":memory:")
    try:
        con.register("t", table)

        def shared(*cols: str) -> float:
            nonnull = " AND ".join(f"{c} IS NOT NULL" for c in cols)
            sql = (
                f"SELECT coalesce(sum(c * (c - 1) / 2), 0) FROM "  # noqa: S608
                f"(SELECT count(*) AS c FROM t WHERE {nonnull} GROUP BY {', '.join(cols)})"
            )
            row = con.execute(sql).fetchone()
            return float(row[0]) if row else 0.0

        ce = shared("card_token", "email")
        cp = shared("card_token", "phone")
        ep = shared("email", "phone")
        cep = shared("card_token", "email", "phone")
        e = shared("email")
        c = shared("card_token")
        p = shared("phone")
    finally:
        con.close()
    floor = 1.0 / pairs
    # each level takes the pairs not taken by the levels before it
    counts = {
        "same card and e-mail": ce,
        "same phone and card or e-mail": cp + ep - 2 * cep,
        "same e-mail": e - ce - (ep - cep),
        "same card": c - ce - (cp - cep),
        "same phone": p - (cp + ep - cep),
    }
    return {label: max(k / pairs, floor) for label, k in counts.items()}


def _set_identifier_u(settings: dict[str, Any], u: dict[str, float]) -> None:
    for comp in settings["comparisons"]:
        if comp.get("output_column_name") != "identifiers":
            continue
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        for lv in levels:
            label = lv.get("label_for_charts")
            if label in u:
                lv["u_probability"] = u[label]
        rest = 1.0 - sum(u.values())
        for lv in levels:
            if lv.get("label_for_charts") == "none shared":
                lv["u_probability"] = max(rest, 0.5)


def _edges_from(table: pa.Table) -> Edges:
    """Edges of a prediction, in (left id, right id) order: the clustering breaks ties of
    weight by edge order, which must not depend on the engine or its threads."""
    if table.num_rows:
        table = table.sort_by([("unique_id_l", "ascending"), ("unique_id_r", "ascending")])

    def col(name: str, dtype: Any) -> np.ndarray:
        return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=dtype)

    return Edges(
        left=col("unique_id_l", np.int64),
        right=col("unique_id_r", np.int64),
        weight=col("match_weight", np.float64),
        mw={n: col(f"mw_{n}", np.float32) for n in COMPARISON_NAMES},
        tf={
            n: col(f"mw_tf_adj_{n}", np.float32)
            for n in COMPARISON_NAMES
            if f"mw_tf_adj_{n}" in table.column_names
        },
    )


TF_COLUMNS: tuple[str, ...] = ("surname", "first_name")
"""Columns whose exact level is adjusted by the value's frequency (``mw_tf_adj_<comparison>``,
part of ``match_weight``, shown in the explanation as ``term_frequency_adjustment``). The
frequencies are counted over all records at training and kept with the model
(:mod:`vigil.persons.frequencies`), so that a full re-link and an incremental batch read the
same ones. EM trains the ``m`` of both exact levels (the rounds blocked on card and postcode
see both names)."""


def _edge_columns(model: Model) -> list[str]:
    """Splink keeps ``gamma_*`` only with every matching column; levels are found by weight."""
    return (
        ["unique_id_l", "unique_id_r", "match_weight"]
        + [f"mw_{n}" for n in COMPARISON_NAMES]
        + [f"mw_tf_adj_{n}" for n in model.tf_comparisons()]
    )


def predict(
    table: pa.Table, model: Model, params: LinkParams | None = None, *, prepared: bool = False
) -> Edges:
    """Score all blocked pairs within ``table`` and keep those above ``link_weight`` minus a
    margin (so that near-misses can be shown as evidence too) and those with a first-name or
    date-of-birth conflict (they count against merges). ``prepared``: ``table`` already went
    through :func:`vigil.persons.features.prepare` (incremental linkage prepares once)."""
    params = params or LinkParams()
    _check_columns(table)
    _quiet_splink()
    from splink import Linker

    if not prepared:
        table = prepare(table)
    session = _Session(params.backend, params.threads, params)
    try:
        sdf = session.register(table, "records")
        settings = session.settings(model)
        lookups = session.frequency_lookups(settings, model.frequencies, [table])
        linker = Linker(sdf, settings, log_level=None)
        _use_lookups(linker, lookups)
        pred = linker.inference.predict(
            threshold_match_weight=_score_floor(params), warning_mode="never"
        )
        return _edges_from(session.fetch(pred, _edge_columns(model), _kept_where(params)))
    finally:
        session.close()


def _kept_where(params: LinkParams) -> str:
    """Pairs kept from a prediction: near-misses (shown as evidence) and conflicting pairs
    whose other evidence alone would link them (the households: they count against merges).
    A conflict between records with nothing else in common cannot affect a merge and is
    dropped (at 10^6 records those are most of the scored pairs)."""
    low = params.link_weight - 4.0
    conflict = " OR ".join(f"mw_{name} < -4" for name in VETO_COMPARISONS)
    rest = "match_weight - " + " - ".join(f"least(mw_{n}, 0)" for n in VETO_COMPARISONS)
    return f"match_weight >= {low} OR (({conflict}) AND {rest} >= {params.link_weight})"


def _score_floor(params: LinkParams) -> float:
    """Splink's own threshold: below it no kept pair can lie (the two veto levels' fixed ``m``
    bound their weights below by log2(m) ≈ -11 and -9), so the rest is never materialised."""
    return (
        min(params.link_weight - 4.0, params.link_weight + sum(map(math.log2, CONFLICT_MS))) - 1.0
    )


def predict_between(
    new: pa.Table,
    existing: pa.Table,
    model: Model,
    params: LinkParams | None = None,
    *,
    prepared: bool = False,
    near_misses: bool = False,
) -> Edges:
    """Score records of ``new`` against ``existing`` only (Splink's incremental prediction).

    ``unique_id_l`` is always an existing record and ``unique_id_r`` a new one. Keeps pairs at
    or above ``link_weight``, or with ``near_misses`` the same pairs :func:`predict` keeps.
    """
    params = params or LinkParams()
    _check_columns(new)
    _check_columns(existing)
    _quiet_splink()
    from splink import Linker

    session = _Session(params.backend, params.threads, params)
    try:
        old_p = existing if prepared else prepare(existing)
        new_p = new if prepared else prepare(new)
        sdf_old = session.register(old_p, "existing_records")
        sdf_new = session.register(new_p, "new_records")
        settings = session.settings(model)
        lookups = session.frequency_lookups(settings, model.frequencies, [old_p, new_p])
        linker = Linker(sdf_old, settings, log_level=None)
        _use_lookups(linker, lookups)
        pred = linker.inference.predict_between(
            sdf_old,
            sdf_new,
            threshold_match_weight=_score_floor(params) if near_misses else params.link_weight,
            warning_mode="never",
        )
        where = _kept_where(params) if near_misses else "TRUE"
        edges = _edges_from(session.fetch(pred, _edge_columns(model), where))
    finally:
        session.close()
    new_ids = set(np.asarray(new.column("unique_id").to_numpy(), dtype=np.int64).tolist())
    swap = np.array([int(x) in new_ids for x in edges.left], dtype=bool)
    if swap.any():
        left = edges.left.copy()
        edges.left[swap] = edges.right[swap]
        edges.right[swap] = left[swap]
    return edges


# ---------------------------------------------------------------------------------------------
# Constrained clustering with weak-link detection
# ---------------------------------------------------------------------------------------------


@dataclass
class WeakLink:
    """An edge that alone held two groups of records together; cut and kept for review."""

    left: int
    right: int
    weight: float
    edge_index: int
    left_size: int
    right_size: int


@dataclass
class BlockedMerge:
    """A merge refused because of an investigator's "not the same person" decision."""

    left: int
    right: int
    weight: float
    edge_index: int


@dataclass
class Clusters:
    """Result of :func:`cluster`: a cluster label per record plus what was cut or refused."""

    ids: np.ndarray
    labels: np.ndarray
    """Cluster label (an index into ``ids``' order of first appearance) per record of ``ids``."""
    weak_links: list[WeakLink] = field(default_factory=list)
    blocked: list[BlockedMerge] = field(default_factory=list)
    kept_edges: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Indices (into the edges) of the edges that hold the final clusters together."""

    def groups(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = defaultdict(list)
        for rid, lab in zip(self.ids.tolist(), self.labels.tolist(), strict=True):
            out[lab].append(rid)
        return dict(out)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.size = [1] * n

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        return ra


def _bridges(n: int, adj: dict[int, list[tuple[int, int]]]) -> dict[int, int]:
    """Bridges of the graph on nodes 0..n-1 (iterative Tarjan): edge id → number of nodes on
    the side of the bridge below it in the DFS tree (the other side is the rest of that
    connected component)."""
    disc = [-1] * n
    low = [0] * n
    size = [1] * n
    out: dict[int, int] = {}
    t = 0
    for start in range(n):
        if disc[start] != -1:
            continue
        disc[start] = low[start] = t
        t += 1
        stack: list[tuple[int, int, int]] = [(start, -1, 0)]
        while stack:
            node, via, i = stack[-1]
            nbrs = adj.get(node, [])
            if i < len(nbrs):
                stack[-1] = (node, via, i + 1)
                nxt, eid = nbrs[i]
                if eid == via:
                    continue
                if disc[nxt] == -1:
                    disc[nxt] = low[nxt] = t
                    t += 1
                    stack.append((nxt, eid, 0))
                else:
                    low[node] = min(low[node], disc[nxt])
            else:
                stack.pop()
                if stack:
                    parent = stack[-1][0]
                    low[parent] = min(low[parent], low[node])
                    size[parent] += size[node]
                    if low[node] > disc[parent]:
                        out[via] = size[node]
    return out


def _cluster_exact(
    ids: Iterable[int],
    edges: Edges,
    *,
    params: LinkParams | None = None,
    cannot_link: Iterable[tuple[int, int]] = (),
    must_link: Iterable[tuple[int, int]] = (),
    veto: np.ndarray | None = None,
) -> Clusters:
    """The exact, order-dependent clustering (reference for :func:`cluster`, which calls it on
    the components that need it).

    ``veto`` marks edges with a conflict found by the model (booleans, or the codes of
    :meth:`Edges.conflicts`). Two groups are never merged when any pair between them has a
    hard conflict (two dates of birth far apart), or when the conflicting pairs between them
    are at least as many as the agreeing pairs (edges at or above ``link_weight``): a household
    that shares a card conflicts on every cross pair, whereas one misspelt record of a person
    agrees with most of that person's other records. Investigators' ``cannot_link`` pairs
    always block.
    """
    params = params or LinkParams()
    id_arr = np.asarray(sorted(set(int(i) for i in ids)), dtype=np.int64)
    n = int(id_arr.shape[0])
    pos = {int(v): i for i, v in enumerate(id_arr.tolist())}
    left_pos = [pos.get(int(x), -1) for x in edges.left.tolist()]
    right_pos = [pos.get(int(x), -1) for x in edges.right.tolist()]
    ok = edges.weight >= params.link_weight
    vcode = np.asarray(veto, dtype=np.int8) if veto is not None else np.zeros(len(edges), np.int8)
    vetoed = vcode > 0
    ok &= ~vetoed
    # ambiguous pairs neither merge nor block: only real conflicts count against a merge
    vetoed = (vcode == SOFT_CONFLICT) | (vcode == HARD_CONFLICT)
    keep = np.nonzero(ok)[0]
    order = keep[np.argsort(-edges.weight[keep], kind="stable")]
    uf = _UnionFind(n)
    # investigators' cannot-link partners per root (merged along with the roots)
    forbid: dict[int, set[int]] = defaultdict(set)
    decided_pos: set[tuple[int, int]] = set()
    for a, b in cannot_link:
        if a in pos and b in pos:
            forbid[pos[a]].add(pos[b])
            forbid[pos[b]].add(pos[a])
            decided_pos.add((min(pos[a], pos[b]), max(pos[a], pos[b])))
    # adjacency of the nodes touched by a vetoed edge: (neighbour, conflict code)
    has_veto: set[int] = set()
    vadj: dict[int, list[tuple[int, int]]] = defaultdict(list)
    if vetoed.any():
        for e in np.nonzero(vetoed | ok)[0].tolist():
            a, b = left_pos[e], right_pos[e]
            if a < 0 or b < 0 or a == b:
                continue
            vadj[a].append((b, int(vcode[e])))
            vadj[b].append((a, int(vcode[e])))
            if vetoed[e]:
                has_veto.update((a, b))
    members: dict[int, list[int]] = {}

    def group(r: int) -> list[int]:
        return members.get(r, [r])

    def decided_block(ra: int, rb: int) -> bool:
        fa, fb = forbid.get(ra), forbid.get(rb)
        if not fa and not fb:
            return False
        ga, gb = group(ra), group(rb)
        if fa:
            gbs = set(gb)
            if any(x in gbs for x in fa):
                return True
        if fb:
            gas = set(ga)
            if any(x in gas for x in fb):
                return True
        return False

    def conflict_block(ra: int, rb: int) -> bool:
        if ra not in has_veto or rb not in has_veto:
            return False
        small, other = (ra, rb) if len(group(ra)) <= len(group(rb)) else (rb, ra)
        conflicts = agrees = 0
        for x in group(small):
            for y, code in vadj.get(x, ()):
                if uf.find(y) == other:
                    if code >= HARD_CONFLICT:
                        return True
                    if code:
                        conflicts += 1
                    else:
                        agrees += 1
        return conflicts > 0 and conflicts >= agrees

    def merge(a: int, b: int) -> None:
        ra, rb = uf.find(a), uf.find(b)
        if ra == rb:
            return
        root = uf.union(ra, rb)
        other = rb if root == ra else ra
        if other in forbid:
            forbid[root] |= forbid.pop(other)
        if other in has_veto:
            has_veto.add(root)
        grown = members.setdefault(root, [root])
        grown.extend(members.pop(other, [other]))

    for a, b in must_link:
        if a in pos and b in pos:
            merge(pos[a], pos[b])
    used: list[int] = []
    blocked: list[BlockedMerge] = []
    find = uf.find
    for e in order.tolist():
        a, b = left_pos[e], right_pos[e]
        if a < 0 or b < 0:
            continue
        ra, rb = find(a), find(b)
        if ra == rb:
            used.append(e)
            continue
        if forbid and decided_block(ra, rb):
            blocked.append(BlockedMerge(int(id_arr[a]), int(id_arr[b]), float(edges.weight[e]), e))
            continue
        if has_veto and conflict_block(ra, rb):
            continue
        merge(a, b)
        used.append(e)
    # bridges: only clusters of >= 2 records with at least one edge below strong_weight matter
    must = {
        (min(pos[a], pos[b]), max(pos[a], pos[b])) for a, b in must_link if a in pos and b in pos
    }
    by_root: dict[int, list[int]] = defaultdict(list)
    for e in used:
        by_root[uf.find(left_pos[e])].append(e)
    cut: set[int] = set()
    weak: list[WeakLink] = []
    must_by_root: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for pair in must:
        must_by_root[uf.find(pair[0])].append(pair)
    for root, elist in by_root.items():
        if all(edges.weight[e] >= params.strong_weight for e in elist):
            continue
        pseudo = must_by_root.get(root, [])
        nodes = sorted(
            {left_pos[e] for e in elist}
            | {right_pos[e] for e in elist}
            | {x for pair in pseudo for x in pair}
        )
        local = {v: i for i, v in enumerate(nodes)}
        adj: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for e in elist:
            la, lb = local[left_pos[e]], local[right_pos[e]]
            if la == lb:
                continue
            adj[la].append((lb, e))
            adj[lb].append((la, e))
        for k, (x, y) in enumerate(pseudo):  # decisions hold groups together like edges
            adj[local[x]].append((local[y], -1 - k))
            adj[local[y]].append((local[x], -1 - k))
        for e, below in _bridges(len(nodes), adj).items():
            if e < 0:
                continue
            key = (min(left_pos[e], right_pos[e]), max(left_pos[e], right_pos[e]))
            if edges.weight[e] >= params.strong_weight or key in must:
                continue
            if below >= 2 and len(nodes) - below >= 2:
                cut.add(e)
    # rebuild components without the cut edges
    uf2 = _UnionFind(n)
    for a, b in must_link:
        if a in pos and b in pos:
            uf2.union(pos[a], pos[b])
    kept = [e for e in used if e not in cut]
    for e in kept:
        uf2.union(left_pos[e], right_pos[e])
    roots = [uf2.find(i) for i in range(n)]
    comp_size: dict[int, int] = defaultdict(int)
    for r in roots:
        comp_size[r] += 1
    for e in sorted(cut):
        a, b = left_pos[e], right_pos[e]
        weak.append(
            WeakLink(
                int(id_arr[a]),
                int(id_arr[b]),
                float(edges.weight[e]),
                e,
                comp_size[roots[a]],
                comp_size[roots[b]],
            )
        )
    label_of: dict[int, int] = {}
    labels = np.empty(n, dtype=np.int64)
    for i, r in enumerate(roots):
        labels[i] = label_of.setdefault(r, len(label_of))
    return Clusters(
        ids=id_arr,
        labels=labels,
        weak_links=weak,
        blocked=blocked,
        kept_edges=np.asarray(kept, dtype=np.int64),
    )


def _positions(id_arr: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of each value in the sorted ``id_arr``, or -1 where absent."""
    if id_arr.size == 0:
        return np.full(values.shape, -1, dtype=np.int64)
    pos = np.searchsorted(id_arr, values)
    pos_c = np.minimum(pos, id_arr.size - 1)
    return np.where(id_arr[pos_c] == values, pos_c, -1).astype(np.int64)


def cluster(
    ids: Iterable[int],
    edges: Edges,
    *,
    params: LinkParams | None = None,
    cannot_link: Iterable[tuple[int, int]] = (),
    must_link: Iterable[tuple[int, int]] = (),
    veto: np.ndarray | None = None,
) -> Clusters:
    """Cluster record ``ids`` using ``edges`` under investigators' constraints.

    Merges follow the edges at or above ``link_weight``, strongest first, never joining two
    records under a ``cannot_link`` decision and never joining two groups whose conflicting
    pairs (``veto``: two different first names or dates of birth) are at least as many as their
    agreeing pairs; ``must_link`` pairs are always joined. A bridge weaker than
    ``strong_weight`` with at least two records on each side is cut and reported as a
    :class:`WeakLink`.

    Connected components that involve no constraint and no weak edge come out of a vectorised
    pass (scipy); only the others go through the exact, order-dependent procedure.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    params = params or LinkParams()
    id_arr = np.unique(np.asarray(list(ids), dtype=np.int64))
    n = int(id_arr.size)
    cannot = list(cannot_link)
    must = list(must_link)
    lp = _positions(id_arr, edges.left)
    rp = _positions(id_arr, edges.right)
    valid = (lp >= 0) & (rp >= 0)
    vcode = np.asarray(veto, dtype=np.int8) if veto is not None else np.zeros(len(edges), np.int8)
    ok = valid & (edges.weight >= params.link_weight) & (vcode == 0)
    vetoed = (vcode == SOFT_CONFLICT) | (vcode == HARD_CONFLICT)
    ma = _positions(id_arr, np.asarray([a for a, _ in must], dtype=np.int64))
    mb = _positions(id_arr, np.asarray([b for _, b in must], dtype=np.int64))
    mvalid = (ma >= 0) & (mb >= 0)
    rows = np.concatenate([lp[ok], ma[mvalid]])
    cols = np.concatenate([rp[ok], mb[mvalid]])
    graph = coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(n, n))
    ncomp, comp = connected_components(graph, directed=False)
    size = np.bincount(comp, minlength=ncomp)
    need = np.zeros(ncomp, dtype=bool)
    inside = valid & vetoed
    inside[inside] = comp[lp[inside]] == comp[rp[inside]]
    need[comp[lp[inside]]] = True
    ca = _positions(id_arr, np.asarray([a for a, _ in cannot], dtype=np.int64))
    cb = _positions(id_arr, np.asarray([b for _, b in cannot], dtype=np.int64))
    both = (ca >= 0) & (cb >= 0)
    same = both.copy()
    same[both] = comp[ca[both]] == comp[cb[both]]
    need[comp[ca[same]]] = True
    weak = ok & (edges.weight < params.strong_weight)
    weak[weak] = size[comp[lp[weak]]] >= 4
    need[comp[lp[weak]]] = True
    # the exact procedure on the components that need it
    node_need = need[comp]
    sub_mask = valid & node_need[np.maximum(lp, 0)] & node_need[np.maximum(rp, 0)]
    sub_idx = np.nonzero(sub_mask)[0]
    sub_ids = id_arr[node_need]
    sub_edges = Edges(
        left=edges.left[sub_idx],
        right=edges.right[sub_idx],
        weight=edges.weight[sub_idx],
        mw={k: v[sub_idx] for k, v in edges.mw.items()},
        gamma={k: v[sub_idx] for k, v in edges.gamma.items()},
        tf={k: v[sub_idx] for k, v in edges.tf.items()},
    )
    sub_set = set(sub_ids.tolist())
    exact = _cluster_exact(
        sub_ids.tolist(),
        sub_edges,
        params=params,
        cannot_link=[(a, b) for a, b in cannot if a in sub_set and b in sub_set],
        must_link=[(a, b) for a, b in must if a in sub_set and b in sub_set],
        veto=vcode[sub_idx],
    )
    raw = comp.astype(np.int64)
    raw[node_need] = ncomp + exact.labels
    _uniq, labels = np.unique(raw, return_inverse=True)
    fast_kept = np.nonzero(ok & ~node_need[np.maximum(lp, 0)])[0]
    kept = np.sort(np.concatenate([fast_kept, sub_idx[exact.kept_edges]]))
    for w in exact.weak_links:
        w.edge_index = int(sub_idx[w.edge_index])
    for bm in exact.blocked:
        bm.edge_index = int(sub_idx[bm.edge_index])
    return Clusters(
        ids=id_arr,
        labels=labels.astype(np.int64),
        weak_links=exact.weak_links,
        blocked=exact.blocked,
        kept_edges=kept.astype(np.int64),
    )


@dataclass
class LinkOutcome:
    """Everything :func:`link` produced, with timings."""

    model: Model
    edges: Edges
    clusters: Clusters
    timings: dict[str, float]


def link(
    table: pa.Table,
    *,
    params: LinkParams | None = None,
    model: Model | None = None,
    cannot_link: Iterable[tuple[int, int]] = (),
    must_link: Iterable[tuple[int, int]] = (),
) -> LinkOutcome:
    """Train (unless ``model`` is given), predict and cluster ``table``'s records."""
    params = params or LinkParams()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    _check_columns(table)
    prepared = prepare(table)
    if model is None:
        model = train(table, params, prepared=prepared)
    timings["train_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    edges = predict(prepared, model, params, prepared=True)
    timings["predict_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    ids = np.asarray(table.column("unique_id").to_numpy(), dtype=np.int64)
    clusters = cluster(
        ids.tolist(),
        edges,
        params=params,
        cannot_link=cannot_link,
        must_link=must_link,
        veto=edges.conflicts(model, params.strong_weight),
    )
    timings["cluster_s"] = time.perf_counter() - t2
    return LinkOutcome(model=model, edges=edges, clusters=clusters, timings=timings)
