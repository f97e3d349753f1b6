"""The hub's one web page: an operation board (targets by country, action day, funnel).

Rendered server-side as plain escaped HTML with no script, so a member's local Vigil (or any
client that signs the request) can show it as it is.
"""

from __future__ import annotations

from html import escape
from typing import Any

from vigil.hub.operations import FUNNEL

_STYLE = "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .5em}"


def _table(head: list[str], rows: list[list[Any]]) -> str:
    h = "".join(f"<th>{escape(str(c))}</th>" for c in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><tr>{h}</tr>{body}</table>"


def board_page(board: dict[str, Any]) -> str:
    """HTML of :func:`vigil.hub.operations.board`'s result."""
    op = board["operation"]
    parts = [
        f"<h1>{escape(op['name'])} ({escape(op['code'])})</h1>",
        f"<p>Action day: {escape(op['action_day'] or 'not set')}</p>",
    ]
    parts.append(
        "<h2>Participants</h2>"
        + _table(
            ["country", "agency", "force", "contact"],
            [[p["country"], p["name"], p["force"], p["contact"]] for p in board["participants"]],
        )
    )
    parts.append("<h2>Targets by country</h2>")
    for country, targets in board["targets"].items():
        parts.append(
            f"<h3>{escape(country)}</h3>"
            + _table(
                ["agency", "target", "status", "children safeguarded"],
                [[t["agency"], t["ref"], t["status"], t["children_safeguarded"]] for t in targets],
            )
        )
    parts.append("<h2>Action day checklist</h2>")
    for country, items in board["checklist"].items():
        parts.append(
            f"<h3>{escape(country)}</h3>"
            + _table(["item", "done"], [[i["item"], "yes" if i["done"] else "no"] for i in items])
        )
    head = ["country", *FUNNEL, "no_further_action", "children_safeguarded"]
    rows = [[c, *(row[k] for k in head[1:])] for c, row in board["funnel"]["countries"].items()]
    rows.append(["total", *(board["funnel"]["total"][k] for k in head[1:])])
    parts.append("<h2>Outcome funnel</h2>" + _table(head, rows))
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(op['code'])}</title><style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>"
