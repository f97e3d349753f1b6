"""Conformance suite every registered signal type passes (ThreatExchange's SignalTypeAutoTest)."""

from __future__ import annotations

import pytest

from vigil.errors import InvalidInput
from vigil.plugins import load_defaults
from vigil.signals.base import SIGNAL_TYPES, SignalType

load_defaults()

GARBAGE = ["", "   ", "zz", "0" * 7, "g" * 64, "0" * 65, "not a hash", "12 34", "0x" + "0" * 62]


def _types() -> list[type[SignalType]]:
    return list(SIGNAL_TYPES)


def test_built_in_types_are_registered() -> None:
    assert {"md5", "sha1", "sha256", "pdq", "vpdq"} <= set(SIGNAL_TYPES.names())


@pytest.mark.parametrize("signal", _types(), ids=lambda s: s.name)
def test_examples_validate_and_validate_is_idempotent(signal: type[SignalType]) -> None:
    examples = signal.examples()
    assert len(examples) >= 2
    for ex in examples:
        canonical = signal.validate(ex)
        assert signal.validate(canonical) == canonical
        assert signal.validate(canonical.upper()) == canonical


@pytest.mark.parametrize("signal", _types(), ids=lambda s: s.name)
def test_example_matches_itself_at_distance_zero(signal: type[SignalType]) -> None:
    for ex in signal.examples():
        cmp = signal.compare(ex, ex)
        assert cmp.match
        assert cmp.distance in (0, None)


@pytest.mark.parametrize("signal", _types(), ids=lambda s: s.name)
def test_garbage_raises_invalid_input(signal: type[SignalType]) -> None:
    for junk in GARBAGE:
        with pytest.raises(InvalidInput):
            signal.validate(junk)


@pytest.mark.parametrize("signal", _types(), ids=lambda s: s.name)
def test_index_finds_each_example(signal: type[SignalType]) -> None:
    examples = [signal.validate(e) for e in signal.examples()]
    index = signal.index_cls().build((e, i) for i, e in enumerate(examples))
    assert len(index) == len(examples)
    for i, ex in enumerate(examples):
        found = index.query(ex, max_distance=0)
        assert i in {m.entry_id for m in found}
        assert all(m.distance == 0 for m in found if m.entry_id == i)


@pytest.mark.parametrize("signal", _types(), ids=lambda s: s.name)
def test_registry_name_is_stable_snake_case(signal: type[SignalType]) -> None:
    assert signal.name == signal.name.lower()
    assert SIGNAL_TYPES.get(signal.name) is signal
