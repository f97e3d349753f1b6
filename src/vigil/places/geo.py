"""Coordinates: degrees/minutes/seconds to signed decimal, validation, distances, clustering.

:func:`parse_coordinate` accepts every form seen in EXIF and in reference CSV files and returns
``None`` (never a guess) for anything unusable: EXIF rational triples ``((51, 1), (30, 1),
(2650, 100))``, Pillow ``IFDRational`` values, plain numbers, decimal text (``"-0.1276"``) and DMS
text (``"51°30'26.5\\"N"``, ``"51 30 26.5 N"``, ``"N 51d 30m 26.5s"``). A hemisphere letter
(or an EXIF ``GPSLatitudeRef``) makes south and west negative; a negative number *and* an S/W
reference is contradictory and refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

EARTH_RADIUS_M = 6_371_008.8

Axis = Literal["lat", "lon"]

_DMS_TEXT = re.compile(
    r"""^\s*(?P<h1>[NSEWnsew])?\s*
    (?P<d>[+-]?\d+(?:[.,]\d+)?)\s*(?:°|º|d|deg|:|\s)?\s*
    (?:(?P<m>\d+(?:[.,]\d+)?)\s*(?:'|′|m|min|:|\s)?\s*)?
    (?:(?P<s>\d+(?:[.,]\d+)?)\s*(?:"|″|''|s|sec)?\s*)?
    (?P<h2>[NSEWnsew])?\s*$""",
    re.VERBOSE,
)


def _number(value: Any) -> float:
    """A float from an int/float/rational/(num, den) pair; NaN when unusable."""
    try:
        if isinstance(value, (tuple, list)) and len(value) == 2:
            num, den = float(value[0]), float(value[1])
            return num / den if den else math.nan
        if hasattr(value, "numerator") and hasattr(value, "denominator"):
            den = float(value.denominator)
            return float(value.numerator) / den if den else math.nan
        return float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return math.nan


def _ref_sign(ref: Any, axis: Axis) -> int | None:
    """+1 / -1 for a hemisphere reference, 0 when absent, None when it is junk."""
    if ref is None:
        return 0
    text = ref.decode("ascii", "ignore") if isinstance(ref, bytes) else str(ref)
    text = text.strip("\x00 ").upper()
    if not text:
        return 0
    allowed = {"N": 1, "S": -1} if axis == "lat" else {"E": 1, "W": -1}
    return allowed.get(text[:1])


def _from_parts(parts: Sequence[float]) -> float | None:
    if not parts or len(parts) > 3 or any(math.isnan(p) or math.isinf(p) for p in parts):
        return None
    deg, minutes, seconds = [*parts, 0.0, 0.0][:3]
    if len(parts) > 1 and (deg < 0 or minutes < 0 or seconds < 0):
        return None
    if minutes >= 60 or seconds >= 60:
        return None
    sign = -1.0 if deg < 0 else 1.0
    return sign * (abs(deg) + minutes / 60.0 + seconds / 3600.0)


def parse_coordinate(value: Any, ref: Any = None, *, axis: Axis = "lat") -> float | None:
    """Signed decimal degrees from any supported form, or ``None`` when unusable.

    Args:
        value: the coordinate (EXIF triple, number, text).
        ref: hemisphere reference (``"N"``/``"S"``/``"E"``/``"W"``, bytes or text), optional.
        axis: ``"lat"`` (range -90..90) or ``"lon"`` (range -180..180).
    """
    sign = _ref_sign(ref, axis)
    if sign is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "ignore")
    if isinstance(value, str):
        m = _DMS_TEXT.match(value.replace("\x00", ""))
        if not m:
            return None
        for h in (m.group("h1"), m.group("h2")):
            if h:
                hs = _ref_sign(h, axis)
                if hs is None or (sign and hs != sign):
                    return None
                sign = hs
        parts = [
            float(g.replace(",", "."))
            for g in (m.group("d"), m.group("m"), m.group("s"))
            if g is not None
        ]
        decimal = _from_parts(parts)
    elif isinstance(value, (tuple, list)) and not (
        len(value) == 2 and all(isinstance(v, int) for v in value)
    ):
        decimal = _from_parts([_number(v) for v in value])
    else:
        decimal = _from_parts([_number(value)])
    if decimal is None:
        return None
    if sign:
        if decimal < 0:
            return None  # "-51 S" is contradictory
        decimal *= sign
    limit = 90.0 if axis == "lat" else 180.0
    if not -limit <= decimal <= limit:
        return None
    return decimal


def valid_position(lat: float | None, lon: float | None) -> bool:
    """Both present, finite, in range, and not exactly 0,0 (a common placeholder)."""
    if lat is None or lon is None:
        return False
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return False
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return False
    return not (lat == 0 and lon == 0)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass
class Cluster:
    """Points within ``radius_m`` of each other (single linkage), with a centre."""

    members: list[int]
    lat: float
    lon: float
    radius_m: float


def cluster_points(points: Sequence[tuple[int, float, float]], radius_m: float = 100.0
                   ) -> list[Cluster]:  # fmt: skip
    """Single-linkage clusters of ``(id, lat, lon)`` with links shorter than ``radius_m``.

    A grid of cells of ``radius_m`` keeps it near-linear; clusters are returned largest first.
    """
    if radius_m <= 0:
        raise ValueError("radius_m must be positive")
    deg_lat = radius_m / 111_000.0
    # one cell width in longitude for all points, wide enough at the most polar latitude
    min_cos = min((math.cos(math.radians(p[1])) for p in points), default=1.0)
    deg_lon = deg_lat / max(0.01, min_cos)
    cells: dict[tuple[int, int], list[int]] = {}
    for idx, (_, lat, lon) in enumerate(points):
        cells.setdefault((int(lat // deg_lat), int(lon // deg_lon)), []).append(idx)
    parent = list(range(len(points)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for idx, (_, lat, lon) in enumerate(points):
        cy, cx = int(lat // deg_lat), int(lon // deg_lon)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                for j in cells.get((cy + dy, cx + dx), ()):
                    if j <= idx:
                        continue
                    _, lat2, lon2 = points[j]
                    if haversine_m(lat, lon, lat2, lon2) <= radius_m:
                        parent[find(j)] = find(idx)
    groups: dict[int, list[int]] = {}
    for idx in range(len(points)):
        groups.setdefault(find(idx), []).append(idx)
    out: list[Cluster] = []
    for members in groups.values():
        lat_c = sum(points[i][1] for i in members) / len(members)
        lon_c = sum(points[i][2] for i in members) / len(members)
        spread = max(haversine_m(lat_c, lon_c, points[i][1], points[i][2]) for i in members)
        out.append(Cluster([points[i][0] for i in members], lat_c, lon_c, spread))
    out.sort(key=lambda c: (-len(c.members), c.members[0]))
    return out
