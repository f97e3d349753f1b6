"""The ``faces`` section of ``vigil case summary``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from vigil.store import faces as store


def summary_build(session: Session, case_id: int) -> dict[str, Any]:
    """Faces, clusters, feedback and candidate links of a case (counts only)."""
    links = store.case_links(session, case_id)
    by_status: dict[str, int] = {}
    for link in links:
        by_status[link.status] = by_status.get(link.status, 0) + 1
    identities = sorted(
        {
            link.identity_id
            for link in links
            if link.identity_id is not None and link.status == "confirmed"
        }
    )
    codes = [store.get_identity(session, i).code for i in identities]
    return {
        "faces": store.count_case_faces(session, case_id),
        "clusters": len(store.case_clusters(session, case_id)),
        "feedback": len(store.case_constraints(session, case_id)),
        "links": by_status,
        "confirmed_identities": codes,
    }


def summary_render(data: dict[str, Any]) -> list[str]:
    """Text lines for the terminal."""
    if not data["faces"]:
        return ["no faces stored: run `vigil faces scan CASE` (the faces analyzer is opt-in)"]
    links = data["links"]
    lines = [
        f"faces: {data['faces']} in {data['clusters']} cluster(s); "
        f"{data['feedback']} feedback constraint(s)",
        f"links: {links.get('candidate', 0)} candidate(s) awaiting review, "
        f"{links.get('confirmed', 0)} confirmed, {links.get('rejected', 0)} rejected",
    ]
    if data["confirmed_identities"]:
        lines.append(f"confirmed identities: {', '.join(data['confirmed_identities'])}")
    lines.append("review with `vigil faces links CASE`; every link needs human confirmation")
    return lines


def register_summary_section() -> None:
    """Add the ``faces`` section to ``vigil case summary`` (idempotent)."""
    from vigil.reports.summary import SECTIONS, SummarySection

    if "faces" not in SECTIONS:
        SECTIONS.register(SummarySection("faces", "Faces", summary_build, summary_render, order=40))
