"""The court-ready case report (HTML and PDF).

Contents: the case, its evidence sources with their digests, counts by category, the list of
items with their digests and where they were found (never an image), the examiner's notes, and
the chain of custody drawn from the hash-chained audit log (with the result of verifying it).

``build(session, case_id, generated_by)`` collects the facts once; ``to_html`` and ``to_pdf``
render the same facts. The PDF is made with ReportLab (pure Python, no system libraries).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, select_autoescape
from sqlalchemy.orm import Session

from vigil import __version__
from vigil.store import audit
from vigil.store import web as store
from vigil.store.base import utcnow


@dataclass(frozen=True)
class SourceRow:
    label: str
    path: str
    kind: str
    size: int | None
    sha256: str | None
    status: str
    added_by: str
    added_at: dt.datetime
    completed_at: dt.datetime | None


@dataclass(frozen=True)
class ItemRow:
    item_id: int
    sha256: str
    md5: str
    size: int
    content_type: str
    kind: str
    status: str
    path: str


@dataclass(frozen=True)
class CustodyRow:
    seq: int
    ts: dt.datetime
    actor: str
    action: str
    item_id: int | None
    details: str
    entry_hash: str


@dataclass(frozen=True)
class NoteRow:
    created_at: dt.datetime
    author: str
    item_id: int | None
    text: str


@dataclass
class CaseReport:
    """Everything the report states, gathered in one read transaction."""

    case_id: int
    case_name: str
    description: str
    created_at: dt.datetime
    generated_at: dt.datetime
    generated_by: str
    vigil_version: str
    sources: list[SourceRow]
    counts: dict[str, dict[str, int]]
    items: list[ItemRow]
    notes: list[NoteRow]
    custody: list[CustodyRow]
    views_by_user: dict[str, int]
    audit_status: str
    sections: list[tuple[str, list[str]]] = field(default_factory=list)


_OMITTED_FROM_CUSTODY = {"web.view"}


def build(
    session: Session,
    case_id: int,
    generated_by: str,
    *,
    sections: list[tuple[str, list[str]]] | None = None,
) -> CaseReport:
    """Collect the report's facts for ``case_id``."""
    case = store.get_case_by_id(session, case_id)
    counts = store.case_counts(session, case_id)
    srcs = store.case_sources(session, case_id)
    names = store.user_names(session, {s.added_by_id for s in srcs if s.added_by_id is not None})
    sources = [
        SourceRow(
            label=s.label or "",
            path=s.path,
            kind=s.kind,
            size=s.size,
            sha256=s.sha256,
            status=s.status,
            added_by=names.get(s.added_by_id or -1, ""),
            added_at=s.added_at,
            completed_at=s.completed_at,
        )
        for s in srcs
    ]
    items: list[ItemRow] = []
    batch: list[Any] = []

    def flush() -> None:
        paths = store.first_paths(session, case_id, [m.id for m in batch])
        for m in batch:
            items.append(
                ItemRow(
                    m.id,
                    m.sha256,
                    m.md5,
                    m.size,
                    m.content_type,
                    m.kind,
                    m.status,
                    paths.get(m.id, ""),
                )
            )
        batch.clear()

    for media_item in store.iter_case_items(session, case_id):
        batch.append(media_item)
        if len(batch) >= 500:
            flush()
    flush()
    custody: list[CustodyRow] = []
    views: Counter[str] = Counter()
    for entry in audit.iter_entries(session, case_id=case_id):
        if entry.action in _OMITTED_FROM_CUSTODY:
            views[entry.actor] += 1
            continue
        custody.append(
            CustodyRow(
                entry.seq,
                entry.ts,
                entry.actor,
                entry.action,
                entry.item_id,
                entry.details,
                entry.entry_hash,
            )
        )
    try:
        verified = audit.verify(session)
        status = f"verified: {verified.entries} entries, chain head {verified.head_hash}"
    except Exception as exc:  # noqa: BLE001 - the report states the failure, it does not hide it
        status = f"VERIFICATION FAILED: {exc}"
    notes = [
        NoteRow(n.created_at, author, n.item_id, n.text)
        for n, author in store.list_notes(session, case_id)
    ]
    return CaseReport(
        case_id=case.id,
        case_name=case.name,
        description=case.description or "",
        created_at=case.created_at,
        generated_at=utcnow(),
        generated_by=generated_by,
        vigil_version=__version__,
        sources=sources,
        counts={
            "items by kind": counts.by_kind,
            "items by status": counts.by_status,
            "warnings by code": counts.warnings_by_code,
            "totals": {
                "evidence sources": counts.sources,
                "files found": counts.occurrences,
                "unique items": counts.items,
                "warnings": counts.warnings,
            },
        },
        items=items,
        notes=notes,
        custody=custody,
        views_by_user=dict(sorted(views.items())),
        audit_status=status,
        sections=sections or [],
    )


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Case report: {{ r.case_name }}</title>
<style>
body{font-family:sans-serif;font-size:12px;margin:2em;color:#111}
h1{font-size:20px} h2{font-size:15px;border-bottom:1px solid #999;margin-top:2em}
table{border-collapse:collapse;width:100%} td,th{border:1px solid #bbb;padding:2px 4px;
text-align:left;vertical-align:top} .mono{font-family:monospace;word-break:break-all}
.meta td:first-child{font-weight:bold;width:14em}
</style></head><body>
<h1>Case report: {{ r.case_name }}</h1>
<p>This report contains no images. Every item is identified by its SHA-256 and MD5 digests.</p>
<table class="meta">
<tr><td>Case</td><td>{{ r.case_name }} (id {{ r.case_id }})</td></tr>
<tr><td>Description</td><td>{{ r.description }}</td></tr>
<tr><td>Case opened</td><td>{{ r.created_at|ts }}</td></tr>
<tr><td>Report generated</td><td>{{ r.generated_at|ts }} by {{ r.generated_by }}
 (Vigil {{ r.vigil_version }})</td></tr>
<tr><td>Audit log</td><td class="mono">{{ r.audit_status }}</td></tr>
</table>
<h2>1. Evidence sources</h2>
<table><tr><th>#</th><th>Label / path</th><th>Kind</th><th>Size (bytes)</th><th>SHA-256</th>
<th>Status</th><th>Added</th></tr>
{% for s in r.sources %}<tr><td>{{ loop.index }}</td><td>{{ s.label }}<br>
<span class="mono">{{ s.path }}</span></td><td>{{ s.kind }}</td><td>{{ s.size or "" }}</td>
<td class="mono">{{ s.sha256 or "(folder: no single digest)" }}</td><td>{{ s.status }}</td>
<td>{{ s.added_at|ts }} {{ s.added_by }}</td></tr>{% endfor %}
</table>
<h2>2. Counts</h2>
{% for title, table in r.counts.items() %}<h3>{{ title }}</h3><table>
{% for k, v in table.items() %}<tr><td>{{ k }}</td><td>{{ v }}</td></tr>{% else %}
<tr><td colspan="2">none</td></tr>{% endfor %}</table>{% endfor %}
{% for name, lines in r.sections %}<h3>{{ name }}</h3><pre>{{ lines|join("\\n") }}</pre>
{% endfor %}
<h2>3. Examiner's notes</h2>
{% for n in r.notes %}<p><b>{{ n.created_at|ts }} — {{ n.author }}</b>
{% if n.item_id %}(item {{ n.item_id }}){% endif %}<br>{{ n.text }}</p>
{% else %}<p>No notes.</p>{% endfor %}
<h2>4. Items ({{ r.items|length }})</h2>
<table><tr><th>Item</th><th>SHA-256</th><th>MD5</th><th>Size</th><th>Type</th><th>Status</th>
<th>Found at</th></tr>
{% for i in r.items %}<tr><td>{{ i.item_id }}</td><td class="mono">{{ i.sha256 }}</td>
<td class="mono">{{ i.md5 }}</td><td>{{ i.size }}</td><td>{{ i.kind }}/{{ i.content_type }}</td>
<td>{{ i.status }}</td><td class="mono">{{ i.path }}</td></tr>{% endfor %}
</table>
<h2>5. Chain of custody</h2>
<p>From the hash-chained audit log (page views are counted per user below rather than listed).</p>
<table><tr><th>Seq</th><th>Time (UTC)</th><th>Who</th><th>Action</th><th>Item</th><th>Details</th>
<th>Entry hash</th></tr>
{% for c in r.custody %}<tr><td>{{ c.seq }}</td><td>{{ c.ts|ts }}</td><td>{{ c.actor }}</td>
<td>{{ c.action }}</td><td>{{ c.item_id or "" }}</td><td class="mono">{{ c.details }}</td>
<td class="mono">{{ c.entry_hash[:16] }}…</td></tr>{% endfor %}
</table>
<h3>Page views by user</h3><table>
{% for u, n in r.views_by_user.items() %}<tr><td>{{ u }}</td><td>{{ n }}</td></tr>{% else %}
<tr><td colspan="2">none</td></tr>{% endfor %}</table>
</body></html>
"""

_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_ENV.filters["ts"] = lambda v: v.strftime("%Y-%m-%d %H:%M:%S UTC") if v else ""


def to_html(report: CaseReport) -> str:
    """The report as one self-contained HTML page."""
    return _ENV.from_string(_HTML).render(r=report)


def _short_details(details: str, limit: int = 160) -> str:
    try:
        data = json.loads(details)
    except ValueError:
        return details[:limit]
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in {"session", "method"}}
    text = json.dumps(data, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_pdf(report: CaseReport) -> bytes:
    """The report as a PDF (A4, tables repeat their header row on every page)."""
    from xml.sax.saxutils import escape

    from reportlab.lib import colors  # type: ignore[import-untyped]
    from reportlab.lib.pagesizes import A4, landscape  # type: ignore[import-untyped]
    from reportlab.lib.styles import getSampleStyleSheet  # type: ignore[import-untyped]
    from reportlab.lib.units import mm  # type: ignore[import-untyped]
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle  # type: ignore[import-untyped]

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7, leading=8.5)
    mono = styles["Code"].clone("mono", fontSize=6, leading=7.5, wordWrap="CJK")

    def p(text: object, style: Any = small) -> Paragraph:
        return Paragraph(escape("" if text is None else str(text)), style)

    def table(header: list[str], rows: list[list[Any]], widths: list[float]) -> Table:
        data = [[p(h) for h in header], *rows]
        t = Table(data, colWidths=widths, repeatRows=1)
        t.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return t

    def ts(v: dt.datetime | None) -> str:
        return v.strftime("%Y-%m-%d %H:%M:%S UTC") if v else ""

    out = io.BytesIO()
    page = landscape(A4)
    doc = SimpleDocTemplate(
        out,
        pagesize=page,
        leftMargin=10 * mm,
        rightMargin=10 * mm,
        topMargin=10 * mm,
        bottomMargin=10 * mm,
        title=f"Case report: {report.case_name}",
        author=report.generated_by,
    )
    width = page[0] - 20 * mm
    story: list[Any] = [
        Paragraph(escape(f"Case report: {report.case_name}"), styles["Title"]),
        p("This report contains no images. Every item is identified by its digests."),
        table(
            ["Field", "Value"],
            [
                [p("Case"), p(f"{report.case_name} (id {report.case_id})")],
                [p("Description"), p(report.description)],
                [p("Case opened"), p(ts(report.created_at))],
                [
                    p("Report generated"),
                    p(
                        f"{ts(report.generated_at)} by {report.generated_by} "
                        f"(Vigil {report.vigil_version})"
                    ),
                ],
                [p("Audit log"), p(report.audit_status, mono)],
            ],
            [40 * mm, width - 40 * mm],
        ),
        Paragraph("1. Evidence sources", styles["Heading2"]),
        table(
            ["#", "Label / path", "Kind", "Size", "SHA-256", "Status", "Added"],
            [
                [
                    p(i),
                    p(f"{s.label}\n{s.path}", mono),
                    p(s.kind),
                    p(s.size or ""),
                    p(s.sha256 or "(folder: no single digest)", mono),
                    p(s.status),
                    p(f"{ts(s.added_at)} {s.added_by}"),
                ]
                for i, s in enumerate(report.sources, 1)
            ],
            [8 * mm, 70 * mm, 18 * mm, 22 * mm, 80 * mm, 18 * mm, width - 216 * mm],
        ),
        Paragraph("2. Counts", styles["Heading2"]),
    ]
    for title, counts in report.counts.items():
        story.append(Paragraph(escape(title), styles["Heading4"]))
        rows = [[p(k), p(v)] for k, v in counts.items()] or [[p("none"), p("")]]
        story.append(table(["", "count"], rows, [80 * mm, 30 * mm]))
    for name, lines in report.sections:
        story.append(Paragraph(escape(name), styles["Heading4"]))
        story.extend(p(line) for line in lines)
    story.append(Paragraph("3. Examiner's notes", styles["Heading2"]))
    if not report.notes:
        story.append(p("No notes."))
    for n in report.notes:
        about = f" (item {n.item_id})" if n.item_id else ""
        story.append(p(f"{ts(n.created_at)} — {n.author}{about}: {n.text}", styles["BodyText"]))
    story.append(Paragraph(f"4. Items ({len(report.items)})", styles["Heading2"]))
    story.append(
        table(
            ["Item", "SHA-256", "MD5", "Size", "Type", "Status", "Found at"],
            [
                [
                    p(i.item_id),
                    p(i.sha256, mono),
                    p(i.md5, mono),
                    p(i.size),
                    p(f"{i.kind}/{i.content_type}"),
                    p(i.status),
                    p(i.path, mono),
                ]
                for i in report.items
            ],
            [14 * mm, 62 * mm, 36 * mm, 18 * mm, 24 * mm, 14 * mm, width - 168 * mm],
        )
    )
    story.append(Paragraph("5. Chain of custody", styles["Heading2"]))
    story.append(p("From the hash-chained audit log; page views are counted per user below."))
    story.append(
        table(
            ["Seq", "Time", "Who", "Action", "Item", "Details", "Entry hash"],
            [
                [
                    p(c.seq),
                    p(ts(c.ts)),
                    p(c.actor),
                    p(c.action),
                    p(c.item_id or ""),
                    p(_short_details(c.details), mono),
                    p(c.entry_hash[:16] + "…", mono),
                ]
                for c in report.custody
            ],
            [12 * mm, 30 * mm, 24 * mm, 30 * mm, 12 * mm, width - 138 * mm, 30 * mm],
        )
    )
    story.append(Spacer(1, 4 * mm))
    story.append(Paragraph("Page views by user", styles["Heading4"]))
    rows = [[p(u), p(n)] for u, n in report.views_by_user.items()] or [[p("none"), p("")]]
    story.append(table(["user", "views"], rows, [60 * mm, 30 * mm]))
    doc.build(story)
    return out.getvalue()


def digest(data: bytes) -> str:
    """SHA-256 of a rendered report (recorded in the audit log when it is exported)."""
    return hashlib.sha256(data).hexdigest()
