"""The ``places`` section of ``vigil case summary``: scene coverage, place links, GPS, devices."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session


def summary_build(session: Session, case_id: int) -> dict[str, Any]:
    """Counts only: items with scene features, place links by status, GPS and device leads."""
    from vigil.places.leads import lead_counts
    from vigil.store import places as store

    data: dict[str, Any] = dict(store.scene_counts(session, case_id))
    data.update(lead_counts(session, case_id))
    return data


def summary_render(data: dict[str, Any]) -> list[str]:
    """Text lines for the terminal."""
    lines = [
        f"scene features: {data.get('items_with_scene_features', 0)} item(s); "
        f"place links: {data.get('place_links_candidate', 0)} candidate, "
        f"{data.get('place_links_confirmed', 0)} confirmed, "
        f"{data.get('place_links_rejected', 0)} rejected",
        f"metadata leads: {data.get('items_with_gps', 0)} item(s) with GPS, "
        f"{data.get('devices', 0)} camera device(s)",
        "search a photo with `vigil places search IMAGE`; list leads with "
        "`vigil places devices CASE` / `vigil places locations CASE`",
    ]
    return lines


def register_summary_section() -> None:
    """Add the ``places`` section to ``vigil case summary`` (idempotent)."""
    from vigil.reports.summary import SECTIONS, SummarySection

    if "places" not in SECTIONS:
        SECTIONS.register(
            SummarySection("places", "Places and cameras", summary_build, summary_render, order=50)
        )
