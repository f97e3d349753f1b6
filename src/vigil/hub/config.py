"""The hub's data folder and its settings (``hub.toml``; written once by ``vigil hub init``).

Layout of a hub folder::

    hub.toml            settings below (the database URL may point at PostgreSQL)
    hub.db              the SQLite database (default)
    keys/admin.pem      the administrator's private key (0600); keys/admin.pub its public key

Thresholds are the hub's, not a member's: an agency cannot loosen them for a push.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from vigil.errors import InvalidInput, NotFound
from vigil.share.persons import DEFAULT_THRESHOLD as PERSON_MIN_DICE

CONFIG_NAME = "hub.toml"


@dataclass(frozen=True)
class HubSettings:
    """Everything the hub's behaviour depends on."""

    data_dir: Path
    database_url: str = ""
    """Empty: ``sqlite:///<data_dir>/hub.db``."""
    request_skew_s: int = 300
    """Signed API requests must be within this many seconds of the hub's clock."""
    bundle_max_age_s: int = 30 * 86400
    """Bundle files may be this old (air-gapped units carry them by hand)."""
    flood_limit: int = 10
    """A signal matching more than this many items of other agencies is quarantined."""
    pdq_max_distance: int = 31
    vpdq_min_fraction: float = 0.8
    scene_min_similarity: float = 0.85
    scene_top_k: int = 5
    prnu_min_pce: float = 60.0
    person_min_dice: float = PERSON_MIN_DICE
    """Share's calibrated threshold for its default encoding (:mod:`vigil.share.persons`)."""

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'hub.db'}"

    @property
    def admin_key(self) -> Path:
        return self.data_dir / "keys" / "admin.pem"

    @property
    def request_skew(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.request_skew_s)

    @property
    def bundle_max_age(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.bundle_max_age_s)

    @classmethod
    def load(cls, data_dir: Path) -> HubSettings:
        """Read ``hub.toml`` of a folder made by ``vigil hub init``."""
        path = data_dir / CONFIG_NAME
        if not path.is_file():
            raise NotFound(
                f"{data_dir} is not a hub folder (no {CONFIG_NAME}); run `vigil hub init`"
            )
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InvalidInput(f"{path}: {exc}") from exc
        known = {f.name for f in fields(cls)} - {"data_dir"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise InvalidInput(f"{path}: unknown settings {', '.join(unknown)}")
        return replace(cls(data_dir=data_dir), **raw)

    def dump(self) -> str:
        """The settings as TOML (``data_dir`` is implied by where the file lives)."""
        lines = []
        for name, value in asdict(self).items():
            if name == "data_dir":
                continue
            lines.append(f"{name} = {_toml(value)}")
        return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
