"""Typed settings, read from (in increasing precedence) defaults, ``<data_dir>/config.toml`` and
environment variables.

The data folder is per installation: ``$VIGIL_HOME`` if set, else the platform's user data
directory (``~/.local/share/vigil`` on Linux). Everything Vigil writes (database, indexes, spool
files, reports) lives under it unless a path is configured explicitly. Secrets (keys) are never
read from the config file: only from environment variables or key files inside the data folder.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from vigil.errors import InvalidInput


@dataclass(frozen=True)
class IngestLimits:
    """Safety limits applied while walking evidence (zip bombs, runaway nesting)."""

    max_archive_depth: int = 8
    """Archives nested deeper than this are recorded with a warning and not opened."""
    max_member_size: int = 4 * 1024**3
    """A single archive member larger than this (uncompressed) is skipped with a warning."""
    max_archive_total: int = 64 * 1024**3
    """Total uncompressed bytes read out of one top-level archive before it is cut off."""
    max_compression_ratio: float = 200.0
    """Members whose uncompressed/compressed ratio exceeds this are treated as bombs."""
    max_archive_members: int = 1_000_000
    """Members beyond this count in one archive are not read."""
    spool_in_memory: int = 64 * 1024**2
    """Archive members up to this size are held in memory; larger ones spool to the data folder."""
    disk_probe_s: float = 60.0
    """Seconds (per GiB of image, at least this) a child process may take to open a disk
    image's directory tree before the image is refused as damaged (The Sleuth Kit can loop on
    damaged file systems)."""
    split_archives: bool = True
    """Members of a zip or plain tar archive on disk are read by the workers themselves (one
    archive spreads over workers); off, the walker reads every member and sends its bytes."""


@dataclass(frozen=True)
class Settings:
    """All run-time configuration of an installation."""

    data_dir: Path
    database_url: str
    workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    user: str = field(default_factory=lambda: os.environ.get("USER") or "local")
    agency: str = "local"
    limits: IngestLimits = field(default_factory=IngestLimits)

    @property
    def spool_dir(self) -> Path:
        """Scratch space for archive members too large for memory (inside the data folder)."""
        return self.data_dir / "spool"

    @property
    def index_dir(self) -> Path:
        """Where index files (PDQ, faces, scenes) are kept."""
        return self.data_dir / "indexes"

    @classmethod
    def load(cls, data_dir: Path | str | None = None, **overrides: Any) -> Settings:
        """Build settings for ``data_dir`` (or ``$VIGIL_HOME`` / the platform default)."""
        if data_dir is None:
            data_dir = os.environ.get("VIGIL_HOME") or platformdirs.user_data_dir("vigil")
        root = Path(data_dir).expanduser().resolve()
        values: dict[str, Any] = {}
        config = root / "config.toml"
        if config.is_file():
            try:
                values.update(tomllib.loads(config.read_text(encoding="utf-8")))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise InvalidInput(f"{config}: not valid TOML: {exc}") from exc
        env_map = {
            "VIGIL_DATABASE_URL": "database_url",
            "VIGIL_WORKERS": "workers",
            "VIGIL_USER": "user",
            "VIGIL_AGENCY": "agency",
        }
        for env, key in env_map.items():
            if os.environ.get(env):
                values[key] = os.environ[env]
        values.update({k: v for k, v in overrides.items() if v is not None})
        limits = values.pop("limits", {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidInput(f"unknown settings: {', '.join(unknown)} (known: {sorted(known)})")
        if "workers" in values:
            try:
                values["workers"] = max(1, int(values["workers"]))
            except ValueError as exc:
                raise InvalidInput(
                    f"workers must be an integer, got {values['workers']!r}"
                ) from exc
        if isinstance(limits, dict):
            try:
                limits_obj = replace(IngestLimits(), **limits)
            except TypeError as exc:
                raise InvalidInput(f"bad [limits] section: {exc}") from exc
        else:
            limits_obj = limits
        url = values.pop("database_url", None) or f"sqlite:///{root / 'vigil.db'}"
        return cls(data_dir=root, database_url=url, limits=limits_obj, **values)
