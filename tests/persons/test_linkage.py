"""Linkage model details that do not need a full pipeline."""

from __future__ import annotations

import pyarrow as pa
import pytest

from vigil.errors import InvalidInput
from vigil.persons import linkage


def _table(rows: list[dict[str, object]]) -> pa.Table:
    cols = {c: [r.get(c) for r in rows] for c in linkage.LINK_COLUMNS}
    schema = pa.schema(
        [("unique_id", pa.int64())] + [(c, pa.string()) for c in linkage.LINK_COLUMNS[1:]]
    )
    return pa.Table.from_pydict(cols, schema=schema)


def test_identifier_u_counts_pairs_once_per_level() -> None:
    rows = [
        {"unique_id": 1, "card_token": "c1", "email": "e1", "phone": "p1"},
        {"unique_id": 2, "card_token": "c1", "email": "e1", "phone": "p1"},  # card+e-mail
        {"unique_id": 3, "card_token": "c1", "email": "e2"},  # card only with 1 and 2
        {"unique_id": 4, "card_token": "c9", "email": "e2", "phone": "p4"},  # e-mail with 3
        {"unique_id": 5, "card_token": "c5", "email": "e5", "phone": "p4"},  # phone with 4
    ]
    u = linkage.identifier_u(_table(rows))
    pairs = 5 * 4 / 2
    assert u["same card and e-mail"] == pytest.approx(1 / pairs)
    assert u["same card"] == pytest.approx(2 / pairs)
    assert u["same e-mail"] == pytest.approx(1 / pairs)
    assert u["same phone"] == pytest.approx(1 / pairs)
    assert u["same phone and card or e-mail"] == pytest.approx(1 / pairs)  # floor: none


def test_linkage_table_must_have_the_columns() -> None:
    with pytest.raises(InvalidInput, match="lacks columns"):
        linkage.train(pa.table({"unique_id": [1, 2]}))
    with pytest.raises(InvalidInput, match="at least two"):
        linkage.train(_table([{"unique_id": 1, "surname": "x"}]))


def test_spark_backend_without_pyspark_is_a_clear_error() -> None:
    import importlib.util

    from vigil.errors import BackendError

    if importlib.util.find_spec("pyspark") is not None:
        pytest.skip("pyspark is installed here")
    with pytest.raises(BackendError, match="pyspark"):
        linkage._Session("spark", None)
    with pytest.raises(InvalidInput, match="unknown linkage backend"):
        linkage._Session("oracle", None)  # type: ignore[arg-type]
