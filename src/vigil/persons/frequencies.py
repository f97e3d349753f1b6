"""Term frequencies of the person model: how often each value of a compared column occurs,
counted over *all* records of the linkage when the model is trained and kept with the model.

A shared "Smith" is weaker evidence than a shared "Lindthorpe": Splink's term-frequency
adjustment turns the average weight of an exact level into the weight of the value itself,
``log2(u_level) - log2(frequency)``. Splink would count the frequencies in whatever tables a
prediction is given: in incremental linkage (``predict_between``) that is a batch of a few
thousand records, and a pair would score differently from a full re-link with the same model.
So the frequencies are part of the model (:class:`TermFrequencies`, saved in the model's JSON)
and every Splink session reads a lookup built from them (:func:`lookup`), never its own
count.

Values seen only once at training are not stored: they, and values never seen at training (a
new batch's), read the table's minimum frequency, one record in ``records`` — the weight of a
value seen once. A value's frequency is a function of the value and the model alone, so a full
re-link and an incremental batch read the same one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from vigil.errors import InvalidInput


def tf_column(column: str) -> str:
    """The name Splink gives a column's frequency (``tf_surname``)."""
    return f"tf_{column}"


@dataclass(frozen=True)
class TermFrequencies:
    """The frequencies of one column's values at training."""

    column: str
    records: int
    """Non-null values of the column at training (the denominator)."""
    counts: Mapping[str, int] = field(default_factory=dict)
    """Values seen at least twice, with their counts (any other value counts once)."""

    @classmethod
    def of(cls, column: str, values: pa.Array | pa.ChunkedArray) -> TermFrequencies:
        """Count ``values`` (nulls are not values)."""
        vc = pc.value_counts(pc.drop_null(values))
        names = vc.field("values").to_pylist()
        counts = vc.field("counts").to_pylist()
        kept = {str(v): int(c) for v, c in zip(names, counts, strict=True) if c >= 2}
        return cls(column, int(sum(counts)), kept)

    @property
    def minimum(self) -> float:
        """The frequency of a value seen once or never (see the module docstring)."""
        return 1.0 / max(self.records, 1)

    def frequency(self, value: str) -> float:
        return self.counts.get(value, 1) / max(self.records, 1)

    def as_dict(self) -> dict[str, Any]:
        return {"records": self.records, "counts": dict(sorted(self.counts.items()))}

    @classmethod
    def from_dict(cls, column: str, data: Mapping[str, Any]) -> TermFrequencies:
        try:
            records = int(data["records"])
            counts = {str(k): int(v) for k, v in dict(data["counts"]).items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"model's term frequencies of {column!r} are damaged") from exc
        return cls(column, records, counts)


def lookup(freq: TermFrequencies, tables: Iterable[pa.Table]) -> pa.Table:
    """The lookup Splink reads for ``freq.column`` (``column``, ``tf_column``): one row per
    distinct non-null value of the column in ``tables``, with its frequency in the model."""
    parts = [t.column(freq.column) for t in tables]
    if parts:
        values = pc.unique(pa.chunked_array(parts, type=pa.string()).combine_chunks())
        values = pc.drop_null(values).to_pylist()
    else:
        values = []
    return pa.table(
        {
            freq.column: pa.array(values, pa.string()),
            tf_column(freq.column): pa.array([freq.frequency(v) for v in values], pa.float64()),
        }
    )
