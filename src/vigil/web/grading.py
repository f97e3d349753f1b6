"""The unit's grading system as the screens show it: which grades, which key grades each, and
what each means (so grade buttons are never bare letters or digits)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vigil.hashsets.categories import GRADES, SCHEMES, CategoryMap


@dataclass(frozen=True)
class Grading:
    """``system`` (``us`` / ``uk``) and per grade: (key, grade, label)."""

    system: str
    keys: tuple[tuple[str, str, str], ...]


_CACHE: dict[Path, tuple[float, Grading]] = {}


def unit_grading(data_dir: Path) -> Grading:
    """The target of ``<data_dir>/category-map.json`` (US 0-4 unless configured), re-read when
    the file changes; labels from the category scheme of that system."""
    path = data_dir / "category-map.json"
    try:
        stamp = path.stat().st_mtime
    except OSError:
        stamp = -1.0
    cached = _CACHE.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    system = CategoryMap.load(path).target
    scheme = next((s for s in SCHEMES.values() if s.system == system), None)
    labels = scheme.labels if scheme else {}
    grading = Grading(system, tuple((g.lower(), g, labels.get(g, g)) for g in GRADES[system]))
    _CACHE[path] = (stamp, grading)
    return grading
