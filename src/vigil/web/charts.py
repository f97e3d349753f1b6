"""Server-drawn charts (inline SVG, no JavaScript): the capture-time timeline per device.

Drawn on the server so the page works with scripts off and under the strict CSP; every mark is
a link to its item and carries a ``<title>`` (the browser's tooltip and a screen reader's text).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from html import escape
from typing import Any

MAX_MARKS_PER_ROW = 2000
"""A device with more dated items draws a sample of this many (the count stays exact)."""

_FORMATS = ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


def parse_capture(text: str | None) -> dt.datetime | None:
    """An EXIF / ISO capture time as a naive datetime (None when absent or unreadable).

    EXIF times carry no zone: they are the camera's clock, shown as written."""
    if not text:
        return None
    raw = text.strip()
    try:
        return dt.datetime.fromisoformat(raw).replace(tzinfo=None)
    except ValueError:
        pass
    for fmt in _FORMATS:
        try:
            return dt.datetime.strptime(raw[:19], fmt)
        except ValueError:
            continue
    return None


def _ticks(start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, str]]:
    """Axis ticks: years, months or days, whichever gives 2-14 of them."""
    span = (end - start).total_seconds()
    if span > 3 * 365 * 86400:
        years = range(start.year + (1 if start.month > 1 or start.day > 1 else 0), end.year + 1)
        step = max(1, len(years) // 10)
        return [(dt.datetime(y, 1, 1), str(y)) for y in list(years)[::step]]
    if span > 60 * 86400:
        out = []
        y, m = start.year, start.month
        while True:
            m += 1
            if m > 12:
                y, m = y + 1, 1
            t = dt.datetime(y, m, 1)
            if t > end:
                break
            out.append((t, t.strftime("%Y-%m")))
        step = max(1, len(out) // 12)
        return out[::step]
    days = max(1, int(span // 86400))
    step = max(1, days // 10)
    first = dt.datetime(start.year, start.month, start.day) + dt.timedelta(days=1)
    return [
        (first + dt.timedelta(days=d), (first + dt.timedelta(days=d)).strftime("%Y-%m-%d"))
        for d in range(0, days + 1, step)
        if first + dt.timedelta(days=d) <= end
    ]


def timeline_svg(
    devices: list[dict[str, Any]],
    case_id: int,
    label: Callable[[str], str] = str,
    *,
    width: int = 1100,
) -> str:
    """One row per device, one dot per dated item at its capture time, linked to the item.

    ``devices`` is :func:`vigil.places.leads.case_devices`'s output; ``label`` masks the
    device names for the role (serial numbers are sensitive)."""
    rows: list[tuple[str, int, list[tuple[dt.datetime, int]]]] = []
    for d in devices:
        marks = [
            (t, int(i["item_id"])) for i in d["items"] if (t := parse_capture(i["captured_at"]))
        ]
        if marks:
            rows.append((label(str(d["device"])), len(d["items"]), sorted(marks)))
    if not rows:
        return ""
    start = min(m[0][0] for _l, _n, m in rows)
    end = max(m[-1][0] for _l, _n, m in rows)
    if end <= start:
        start, end = start - dt.timedelta(hours=12), end + dt.timedelta(hours=12)
    left, right, top, row_h = 300, 20, 28, 30
    plot = width - left - right
    height = top + row_h * len(rows) + 24
    span = (end - start).total_seconds()

    def x(t: dt.datetime) -> float:
        return left + plot * (t - start).total_seconds() / span

    parts = [
        f'<svg class="chart timeline" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg" aria-labelledby="timeline-title">',
        f'<title id="timeline-title">Capture times per device, {escape(start.strftime("%Y-%m-%d"))}'
        f" to {escape(end.strftime('%Y-%m-%d'))} (camera clock)</title>",
    ]
    for t, text in _ticks(start, end):
        xt = x(t)
        parts.append(
            f'<line x1="{xt:.1f}" y1="{top - 6}" x2="{xt:.1f}" y2="{height - 20}" class="grid-line"/>'
            f'<text x="{xt:.1f}" y="{height - 6}" class="axis" text-anchor="middle">{escape(text)}</text>'
        )
    for n, (name, count, marks) in enumerate(rows):
        y = top + n * row_h + row_h / 2
        parts.append(
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" class="row-label">'
            f"{escape(name[:44])} ({count})</text>"
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" class="row-line"/>'
        )
        step = max(1, len(marks) // MAX_MARKS_PER_ROW)
        for t, item_id in marks[::step]:
            parts.append(
                f'<a href="/cases/{case_id}/items/{item_id}"><circle cx="{x(t):.1f}" cy="{y:.1f}" '
                f'r="5" class="mark"><title>item #{item_id}, captured '
                f"{escape(t.strftime('%Y-%m-%d %H:%M:%S'))}</title></circle></a>"
            )
    parts.append("</svg>")
    return "".join(parts)
