"""Coordinates (DMS/decimal parsing, validation, clustering) and GeoJSON/KML exports."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from fractions import Fraction

import pytest
from PIL.TiffImagePlugin import IFDRational

from vigil.places.geo import cluster_points, haversine_m, parse_coordinate, valid_position
from vigil.places.leads import Position, location_clusters, to_geojson, to_kml


@pytest.mark.parametrize(
    ("value", "ref", "axis", "expected"),
    [
        (((51, 1), (30, 1), (2650, 100)), "N", "lat", 51 + 30 / 60 + 26.5 / 3600),
        (((0, 1), (7, 1), (3960, 100)), "W", "lon", -(7 / 60 + 39.6 / 3600)),
        ((IFDRational(33, 1), IFDRational(51, 1), IFDRational(5436, 100)), b"S\x00", "lat",
         -(33 + 51 / 60 + 54.36 / 3600)),
        ((Fraction(151, 1), Fraction(12, 1), Fraction(30, 1)), "E", "lon", 151 + 12.5 / 60),
        ("51°30'26.5\"N", None, "lat", 51 + 30 / 60 + 26.5 / 3600),
        ("51 30 26.5 S", None, "lat", -(51 + 30 / 60 + 26.5 / 3600)),
        ("W 0d 7m 39.6s", None, "lon", -(7 / 60 + 39.6 / 3600)),
        ("-0.1276", None, "lon", -0.1276),
        ("48,8566", None, "lat", 48.8566),
        (-33.8688, None, "lat", -33.8688),
        (12.5, "W", "lon", -12.5),
        ((40, 1), "N", "lat", 40.0),
    ],
)  # fmt: skip
def test_parse_coordinate_forms(value, ref, axis, expected) -> None:
    assert parse_coordinate(value, ref, axis=axis) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("value", "ref", "axis"),
    [
        (((51, 1), (30, 0), (0, 1)), "N", "lat"),  # zero denominator
        (((51, 1), (75, 1), (0, 1)), "N", "lat"),  # 75 minutes
        (((95, 1), (0, 1), (0, 1)), "N", "lat"),  # out of range
        ((190.0,), "E", "lon"),
        ("not a place", None, "lat"),
        ("", None, "lat"),
        (-12.0, "S", "lat"),  # contradictory sign
        ("51 30 N", "S", "lat"),  # contradictory references
        (51.0, "E", "lat"),  # longitude reference on a latitude
        (float("nan"), None, "lat"),
        (None, None, "lat"),
        ("12 -3 4", None, "lat"),
    ],
)
def test_parse_coordinate_refuses_bad_values(value, ref, axis) -> None:
    assert parse_coordinate(value, ref, axis=axis) is None


def test_valid_position() -> None:
    assert valid_position(51.5, -0.12)
    assert not valid_position(0.0, 0.0)
    assert not valid_position(None, 1.0)
    assert not valid_position(91, 0)
    assert not valid_position(float("inf"), 0)


def test_haversine_known_distance() -> None:
    # London to Paris, about 344 km
    assert haversine_m(51.5074, -0.1278, 48.8566, 2.3522) == pytest.approx(343_500, rel=0.01)


def test_clusters_join_chains_and_split_far_points() -> None:
    pts = [
        (1, 51.50000, -0.12000),
        (2, 51.50050, -0.12000),  # 55 m north of 1
        (3, 51.50100, -0.12000),  # 55 m north of 2 (single linkage joins 1-2-3)
        (4, 51.60000, -0.12000),  # 11 km away
        (5, -33.86880, 151.20930),
    ]
    clusters = cluster_points(pts, radius_m=60)
    assert [sorted(c.members) for c in clusters] == [[1, 2, 3], [4], [5]]
    assert clusters[0].radius_m == pytest.approx(55.6, abs=1)
    # brute-force oracle: two points share a cluster iff a chain of <= radius links joins them
    near = cluster_points(pts, radius_m=50)
    assert sorted(len(c.members) for c in near) == [1, 1, 1, 1, 1]


def test_clusters_across_the_antimeridian_grid_cells_near_poles() -> None:
    pts = [(1, 78.2, 15.60), (2, 78.2005, 15.6010), (3, 78.2, 15.70)]
    clusters = cluster_points(pts, radius_m=100)
    assert sorted(sorted(c.members) for c in clusters) == [[1, 2], [3]]


def _positions() -> list[Position]:
    return [
        Position(1, 51.5, -0.12, "2024-05-01T10:00:00", "Canon EOS (serial 12)", "a/<b>&.jpg", "0" * 64),
        Position(2, 51.5001, -0.1201, None, "unknown device", "c.jpg", "1" * 64),
    ]  # fmt: skip


def test_geojson_is_lon_lat_and_carries_properties() -> None:
    doc = json.loads(to_geojson(_positions(), "op-x"))
    assert doc["type"] == "FeatureCollection"
    f = doc["features"][0]
    assert f["geometry"] == {"type": "Point", "coordinates": [-0.12, 51.5]}
    assert f["properties"]["item_id"] == 1
    assert f["properties"]["case"] == "op-x"


def test_kml_is_well_formed_and_escaped() -> None:
    root = ET.fromstring(to_kml(_positions(), "op <x>"))  # noqa: S314 - our own output
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    marks = root.findall(".//k:Placemark", ns)
    assert len(marks) == 2
    coords = marks[0].find(".//k:coordinates", ns)
    assert coords is not None and coords.text == "-0.1200000,51.5000000,0"
    desc = marks[0].find("k:description", ns)
    assert desc is not None and "a/<b>&.jpg" in (desc.text or "")
    assert marks[0].find(".//k:when", ns) is not None
    assert marks[1].find(".//k:when", ns) is None


def test_location_clusters_summarise_time_and_devices() -> None:
    out = location_clusters(_positions(), radius_m=50)
    assert len(out) == 1
    c = out[0]
    assert c["count"] == 2
    assert c["first_capture"] == c["last_capture"] == "2024-05-01T10:00:00"
    assert c["devices"] == ["Canon EOS (serial 12)", "unknown device"]
