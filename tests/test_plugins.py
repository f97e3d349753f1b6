"""vigil.plugins.load_defaults: idempotent, and a failed load is tried again."""

from __future__ import annotations

import pytest

from vigil import plugins


def test_a_failed_load_is_tried_again_and_a_good_one_only_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(plugins, "_LOADED", False)
    calls: list[str] = []

    def broken() -> None:
        calls.append("broken")
        raise RuntimeError("a plug-in failed to register")

    monkeypatch.setattr(plugins, "_register_all", broken)
    with pytest.raises(RuntimeError, match="failed to register"):
        plugins.load_defaults()
    assert plugins._LOADED is False
    with pytest.raises(RuntimeError):  # reported again, not silently taken as loaded
        plugins.load_defaults()

    monkeypatch.setattr(plugins, "_register_all", lambda: calls.append("ok"))
    plugins.load_defaults()
    plugins.load_defaults()
    assert calls == ["broken", "broken", "ok"]
    assert plugins._LOADED is True
