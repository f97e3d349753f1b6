"""Metadata leads from what ingest read out of EXIF: devices, positions, location clusters,
GeoJSON and KML exports.

The columns come from the foundation ingest (``MediaItem.camera_make/model/serial``,
``captured_at``, ``gps_lat/gps_lon``). EXIF is written by the device and can be edited by
anyone: every lead here is a starting point for enquiries, not a fact. Positions that are out of
range or exactly 0,0 are left out (and counted).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.places.geo import Cluster, cluster_points, valid_position
from vigil.store.models import EvidenceSource, MediaItem, Occurrence


@dataclass(frozen=True)
class Position:
    item_id: int
    lat: float
    lon: float
    captured_at: str | None
    device: str
    path: str
    sha256: str


def _device_label(make: str | None, model: str | None, serial: str | None) -> str:
    parts = [p.strip() for p in (make, model) if p and p.strip()]
    label = " ".join(parts) or "unknown device"
    if serial and serial.strip():
        label += f" (serial {serial.strip()})"
    return label


def _case_rows(session: Session, case_id: int) -> list[tuple[MediaItem, str]]:
    q = (
        select(MediaItem, Occurrence.path)
        .join(Occurrence, Occurrence.item_id == MediaItem.id)
        .join(EvidenceSource, EvidenceSource.id == Occurrence.source_id)
        .where(EvidenceSource.case_id == case_id)
        .order_by(MediaItem.id, Occurrence.id)
    )
    seen: set[int] = set()
    out: list[tuple[MediaItem, str]] = []
    for item, path in session.execute(q):
        if item.id in seen:
            continue
        seen.add(item.id)
        out.append((item, path))
    return out


def lead_counts(session: Session, case_id: int) -> dict[str, int]:
    """Counts for the case summary, computed in SQL (cheap at 100k+ items)."""
    from sqlalchemy import and_, func, or_

    in_case = (
        select(Occurrence.item_id)
        .join(EvidenceSource, EvidenceSource.id == Occurrence.source_id)
        .where(EvidenceSource.case_id == case_id, Occurrence.item_id.is_not(None))
    )
    gps = session.scalar(
        select(func.count(MediaItem.id)).where(
            MediaItem.id.in_(in_case),
            MediaItem.gps_lat.between(-90, 90),
            MediaItem.gps_lon.between(-180, 180),
            or_(MediaItem.gps_lat != 0, MediaItem.gps_lon != 0),
        )
    )
    devices = session.execute(
        select(MediaItem.camera_make, MediaItem.camera_model, MediaItem.camera_serial)
        .where(
            MediaItem.id.in_(in_case),
            or_(
                and_(MediaItem.camera_make.is_not(None), MediaItem.camera_make != ""),
                and_(MediaItem.camera_model.is_not(None), MediaItem.camera_model != ""),
                and_(MediaItem.camera_serial.is_not(None), MediaItem.camera_serial != ""),
            ),
        )
        .distinct()
    ).all()
    return {"items_with_gps": int(gps or 0), "devices": len(devices)}


def case_devices(session: Session, case_id: int) -> list[dict[str, Any]]:
    """Items grouped by camera make/model/serial with their capture-time range, largest first."""
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for item, path in _case_rows(session, case_id):
        if not (item.camera_make or item.camera_model or item.camera_serial):
            continue
        key = (item.camera_make or "", item.camera_model or "", item.camera_serial or "")
        g = groups.setdefault(
            key,
            {
                "device": _device_label(*key),
                "make": item.camera_make,
                "model": item.camera_model,
                "serial": item.camera_serial,
                "items": [],
                "first_capture": None,
                "last_capture": None,
                "undated": 0,
            },
        )
        g["items"].append({"item_id": item.id, "path": path, "captured_at": item.captured_at})
        t = item.captured_at
        if t:
            g["first_capture"] = min(g["first_capture"] or t, t)
            g["last_capture"] = max(g["last_capture"] or t, t)
        else:
            g["undated"] += 1
    out = sorted(groups.values(), key=lambda g: (-len(g["items"]), g["device"]))
    for g in out:
        g["count"] = len(g["items"])
    return out


def case_positions(session: Session, case_id: int) -> list[Position]:
    """Items with a usable GPS position."""
    out = []
    for item, path in _case_rows(session, case_id):
        if item.gps_lat is None and item.gps_lon is None:
            continue
        if not valid_position(item.gps_lat, item.gps_lon):
            continue
        out.append(
            Position(
                item.id,
                float(item.gps_lat or 0.0),
                float(item.gps_lon or 0.0),
                item.captured_at,
                _device_label(item.camera_make, item.camera_model, item.camera_serial),
                path,
                item.sha256,
            )
        )
    return out


def location_clusters(positions: list[Position], radius_m: float = 100.0) -> list[dict[str, Any]]:
    """Positions grouped by single-linkage within ``radius_m``, largest group first."""
    by_id = {p.item_id: p for p in positions}
    clusters: list[Cluster] = cluster_points(
        [(p.item_id, p.lat, p.lon) for p in positions], radius_m
    )
    out = []
    for n, c in enumerate(clusters, 1):
        members = [by_id[i] for i in c.members]
        times = sorted(t for t in (m.captured_at for m in members) if t)
        out.append(
            {
                "cluster": n,
                "lat": round(c.lat, 7),
                "lon": round(c.lon, 7),
                "spread_m": round(c.radius_m, 1),
                "count": len(members),
                "first_capture": times[0] if times else None,
                "last_capture": times[-1] if times else None,
                "devices": sorted({m.device for m in members}),
                "items": [m.item_id for m in members],
            }
        )
    return out


def to_geojson(positions: list[Position], case_name: str) -> str:
    """A GeoJSON FeatureCollection (RFC 7946: [lon, lat] order) of the positions."""
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
            "properties": {
                "item_id": p.item_id,
                "sha256": p.sha256,
                "path": p.path,
                "captured_at": p.captured_at,
                "device": p.device,
                "case": case_name,
            },
        }
        for p in positions
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, indent=1)


def to_kml(positions: list[Position], case_name: str) -> str:
    """A KML 2.2 document with one placemark per position (text escaped)."""
    marks = []
    for p in positions:
        desc = f"item {p.item_id}; {p.path}; captured {p.captured_at or 'unknown'}; {p.device}"
        when = (
            f"<TimeStamp><when>{escape(p.captured_at)}</when></TimeStamp>" if p.captured_at else ""
        )
        marks.append(
            "  <Placemark>\n"
            f"    <name>item {p.item_id}</name>\n"
            f"    <description>{escape(desc)}</description>\n"
            f"    {when}\n"
            f"    <Point><coordinates>{p.lon:.7f},{p.lat:.7f},0</coordinates></Point>\n"
            "  </Placemark>"
        )
    body = "\n".join(marks)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<kml xmlns="http://www.opengis.net/kml/2.2">\n<Document>\n'
        f"  <name>{escape(case_name)}: image locations (EXIF leads)</name>\n"
        f"{body}\n</Document>\n</kml>\n"
    )
