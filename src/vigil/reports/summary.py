"""The case summary: counts by type, duplicates, warnings, plus sections contributed by
capabilities (known vs fresh, faces, places ...) through :data:`SECTIONS`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from vigil.registry import Registry
from vigil.store import repo


@dataclass(frozen=True)
class SummarySection:
    """A named part of the case summary contributed by a capability."""

    name: str
    title: str
    build: Callable[[Session, int], dict[str, Any]]
    """Collects the section's data for a case (JSON-ready)."""
    render: Callable[[dict[str, Any]], list[str]]
    """Turns that data into text lines for the terminal."""
    order: int = 100


SECTIONS: Registry[SummarySection] = Registry("summary section")


def human_bytes(n: float) -> str:
    """1536 → '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def build_summary(session: Session, case_name: str) -> dict[str, Any]:
    """Everything ``vigil case summary`` shows, as JSON-ready data."""
    case = repo.get_case(session, case_name)
    counts = repo.case_counts(session, case.id)
    sources = [
        {
            "id": s.id,
            "path": s.path,
            "kind": s.kind,
            "status": s.status,
            "size": s.size,
            "sha256": s.sha256,
            "added_at": s.added_at.isoformat(),
        }
        for s in repo.case_sources(session, case.id)
    ]
    warnings = repo.case_warnings(session, case.id)
    data: dict[str, Any] = {
        "case": case.name,
        "created_at": case.created_at.isoformat(),
        "sources": sources,
        "items": counts.items,
        "occurrences": counts.occurrences,
        "bytes": counts.bytes,
        "by_kind": counts.by_kind,
        "by_type": counts.by_type,
        "duplicates": {
            "items_seen_more_than_once": counts.duplicate_items,
            "extra_copies": counts.duplicate_occurrences,
        },
        "not_read": counts.unreadable,
        "warnings": {"total": len(warnings), "by_code": counts.warnings_by_code},
        "warning_examples": [
            {"path": w.path, "code": w.code, "message": w.message} for w in warnings[:20]
        ],
        "sections": {},
    }
    for section in sorted(SECTIONS, key=lambda sec: sec.order):
        data["sections"][section.name] = section.build(session, case.id)
    return data


def render_summary(data: dict[str, Any]) -> list[str]:
    """Text lines for the terminal."""
    lines = [
        f"Case {data['case']}  (created {data['created_at'][:19]})",
        f"  sources: {len(data['sources'])}",
    ]
    for s in data["sources"]:
        digest = f" sha256={s['sha256'][:16]}…" if s["sha256"] else ""
        lines.append(f"    #{s['id']} {s['kind']:<10} {s['status']:<10} {s['path']}{digest}")
    lines.append(
        f"  unique items: {data['items']}  ({human_bytes(data['bytes'])}), files seen: {data['occurrences']}"
    )
    lines.append(
        "  by kind: " + (", ".join(f"{k} {v}" for k, v in data["by_kind"].items()) or "none")
    )
    lines.append(
        "  by type: " + (", ".join(f"{k} {v}" for k, v in data["by_type"].items()) or "none")
    )
    dup = data["duplicates"]
    lines.append(
        f"  duplicates: {dup['items_seen_more_than_once']} items found more than once "
        f"({dup['extra_copies']} extra copies)"
    )
    lines.append(
        f"  not read: {data['not_read']} (links, special files, unreadable or refused entries)"
    )
    warn = data["warnings"]
    lines.append(
        f"  warnings: {warn['total']}"
        + (
            ": " + ", ".join(f"{c} {n}" for c, n in warn["by_code"].items())
            if warn["by_code"]
            else ""
        )
    )
    for w in data["warning_examples"][:10]:
        lines.append(f"    [{w['code']}] {w['path']}: {w['message']}")
    if warn["total"] > 10:
        lines.append(f"    … {warn['total'] - 10} more (vigil case warnings NAME)")
    for name, section_data in data["sections"].items():
        section = SECTIONS.get(name)
        lines.append(f"  {section.title}:")
        lines.extend(f"    {line}" for line in section.render(section_data))
    return lines
