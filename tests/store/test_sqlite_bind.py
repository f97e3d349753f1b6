"""The writer's one-step UTC timestamp conversion on SQLite gives exactly SQLAlchemy's text."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import DateTime, Integer
from sqlalchemy.dialects import postgresql, sqlite

from vigil.store.base import UTCDateTime
from vigil.store.repo import _bind_processor, _sqlite_utc_text


def _chained(value: dt.datetime | None) -> object:
    dialect = sqlite.dialect()
    proc = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert proc is not None
    return proc(value)


def test_same_text_as_sqlalchemy_for_many_times_and_zones() -> None:
    rng = random.Random(5)
    zones = [dt.UTC] + [dt.timezone(dt.timedelta(minutes=m)) for m in (-720, -330, 60, 345, 840)]
    values = [
        dt.datetime(1, 1, 1, tzinfo=dt.UTC),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC),
        dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
    ]
    for _ in range(2000):
        stamp = rng.uniform(0, 4e9)
        values.append(dt.datetime.fromtimestamp(stamp, rng.choice(zones)))
    for value in values:
        assert _sqlite_utc_text(value) == _chained(value)
    assert _sqlite_utc_text(None) is None is _chained(None)


def test_a_naive_time_is_refused_as_before() -> None:
    naive = dt.datetime(2024, 1, 1, 12)
    with pytest.raises(ValueError, match="naive datetime") as fast:
        _sqlite_utc_text(naive)
    with pytest.raises(ValueError, match="naive datetime") as chained:
        _chained(naive)
    assert str(fast.value) == str(chained.value)


def test_used_only_for_utc_columns_on_sqlite() -> None:
    assert _bind_processor(UTCDateTime(), sqlite.dialect()) is _sqlite_utc_text
    assert _bind_processor(UTCDateTime(), postgresql.dialect()) is not _sqlite_utc_text
    assert _bind_processor(DateTime(), sqlite.dialect()) is not _sqlite_utc_text
    assert _bind_processor(Integer(), sqlite.dialect()) is None
