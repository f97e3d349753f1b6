from __future__ import annotations

from dataclasses import dataclass

import pytest

from vigil.errors import Conflict, NotFound
from vigil.registry import Registry


@dataclass(frozen=True)
class Thing:
    name: str


def test_registry_refuses_duplicates_and_names_known_ones() -> None:
    reg: Registry[Thing] = Registry("thing")
    reg.register(Thing("alpha"))
    reg.register(Thing("beta_two"))
    with pytest.raises(Conflict, match="already registered"):
        reg.register(Thing("alpha"))
    with pytest.raises(NotFound, match=r"alpha, beta_two"):
        reg.get("gamma")
    assert reg.names() == ["alpha", "beta_two"]
    assert "alpha" in reg
    assert len(reg) == 2


@pytest.mark.parametrize("bad", ["", "Alpha", "has space", "dash-name", " padded"])
def test_registry_refuses_bad_names(bad: str) -> None:
    reg: Registry[Thing] = Registry("thing")
    with pytest.raises(Conflict):
        reg.register(Thing(bad))
