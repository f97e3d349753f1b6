"""Category schemes of hash sets and their mapping to the grades a unit works with.

A category code means nothing without its scheme: code ``0`` is "Uncategorized" in the old DHS
scheme (VICS 1.x files) but "Non-Pertinent" in the current Project VIC US scheme. Every hash set
therefore stores its scheme explicitly, and codes are mapped to the unit's grading system
(the UK A/B/C grades or the US 0-4 scheme) only through a :class:`CategoryMap`:

* codes map to themselves where the scheme *is* the target system (US codes to US grades, UK
  grades to UK grades);
* everything else (US code 1 to a UK grade, any legacy DHS code) maps only where the unit's
  configuration says so (``<data_dir>/category-map.json``), because no mapping is implied: US
  category 1 does not say whether an image is UK A, B or C.

Labels are the commonly published names; check them against the scheme documents your unit
works with. Tests use codes only, never content.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from vigil.errors import InvalidInput


@dataclass(frozen=True)
class Scheme:
    """A category scheme: its name, what it is, and the labels of its codes."""

    name: str
    title: str
    labels: dict[str, str]
    system: str | None = None
    """The grading system whose codes these are (``us`` or ``uk``), if any."""


SCHEMES: dict[str, Scheme] = {
    s.name: s
    for s in (
        Scheme(
            "vics_us",
            "Project VIC US scheme (VICS 2.0 US, current)",
            {
                "0": "Non-Pertinent",
                "1": "Child abuse material",
                "2": "Child exploitive / age difficult",
                "3": "CGI / animation",
                "4": "Comparison",
            },
            system="us",
        ),
        Scheme(
            "dhs_legacy",
            "Old DHS scheme (VICS 1.x); code 0 means Uncategorized",
            {"0": "Uncategorized"},
        ),
        Scheme(
            "uk_caid",
            "UK CAID grades (Sentencing Council categories A/B/C)",
            {"A": "Category A", "B": "Category B", "C": "Category C"},
            system="uk",
        ),
        Scheme("unspecified", "No scheme declared: codes are kept but never mapped", {}),
    )
}

GRADES: dict[str, tuple[str, ...]] = {
    "us": ("0", "1", "2", "3", "4"),
    "uk": ("A", "B", "C"),
}


def get_scheme(name: str) -> Scheme:
    """The scheme called ``name`` or :class:`InvalidInput` listing the known ones."""
    try:
        return SCHEMES[name]
    except KeyError:
        raise InvalidInput(
            f"unknown category scheme {name!r} (known: {', '.join(SCHEMES)})"
        ) from None


def label(scheme: str, code: str | None) -> str:
    """Human label of a code in its scheme (the code itself when the scheme has no label)."""
    if code is None:
        return "no category"
    s = SCHEMES.get(scheme)
    return s.labels.get(code, f"code {code}") if s else f"code {code}"


@dataclass
class CategoryMap:
    """How a unit maps scheme codes to its grading system (``us`` or ``uk``)."""

    target: str = "us"
    overrides: dict[str, dict[str, str]] = field(default_factory=dict)
    """``{scheme: {code: grade}}`` configured by the unit."""

    def __post_init__(self) -> None:
        if self.target not in GRADES:
            raise InvalidInput(
                f"grading system must be one of {sorted(GRADES)}, got {self.target!r}"
            )
        for scheme, codes in self.overrides.items():
            get_scheme(scheme)
            for code, grade in codes.items():
                if grade not in GRADES[self.target]:
                    raise InvalidInput(
                        f"category map: {scheme} code {code!r} maps to {grade!r}, "
                        f"which is not a {self.target.upper()} grade {GRADES[self.target]}"
                    )

    def grade(self, scheme: str, code: str | None) -> str | None:
        """The grade for ``code`` of ``scheme``, or None when no mapping is defined."""
        if code is None:
            return None
        configured = self.overrides.get(scheme, {})
        if code in configured:
            return configured[code]
        s = SCHEMES.get(scheme)
        if s is not None and s.system == self.target and code in GRADES[self.target]:
            return code
        return None

    @classmethod
    def load(cls, path: Path) -> CategoryMap:
        """Read ``{"target": "uk", "map": {"vics_us": {"1": "A"}}}``; default map if absent."""
        if not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInput(f"{path}: not a valid category map: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidInput(f"{path}: a category map is a JSON object")
        mapping = data.get("map", {})
        if not isinstance(mapping, dict):
            raise InvalidInput(f"{path}: 'map' must be an object of schemes")
        overrides = {str(k): {str(c): str(g) for c, g in v.items()} for k, v in mapping.items()}
        return cls(target=str(data.get("target", "us")), overrides=overrides)
