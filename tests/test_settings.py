from __future__ import annotations

from pathlib import Path

import pytest

from vigil.errors import InvalidInput
from vigil.settings import Settings


def test_defaults_live_in_the_data_folder(tmp_path: Path) -> None:
    s = Settings.load(tmp_path / "home")
    assert s.data_dir == (tmp_path / "home").resolve()
    assert s.database_url == f"sqlite:///{s.data_dir / 'vigil.db'}"
    assert s.spool_dir.parent == s.data_dir


def test_config_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        'workers = 3\nagency = "NCA"\n[limits]\nmax_archive_depth = 2\n'
    )
    monkeypatch.setenv("VIGIL_USER", "dc.smith")
    s = Settings.load(home)
    assert (s.workers, s.agency, s.user, s.limits.max_archive_depth) == (3, "NCA", "dc.smith", 2)


def test_unknown_or_bad_settings_are_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("wrokers = 3\n")
    with pytest.raises(InvalidInput, match="unknown settings: wrokers"):
        Settings.load(home)
    (home / "config.toml").write_text("workers = [\n")
    with pytest.raises(InvalidInput, match="not valid TOML"):
        Settings.load(home)
    (home / "config.toml").write_text('workers = "many"\n')
    with pytest.raises(InvalidInput, match="workers must be an integer"):
        Settings.load(home)
