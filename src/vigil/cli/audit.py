"""``vigil audit``: verify the hash chain, show entries."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from vigil.cli.context import runtime
from vigil.cli.output import emit_json, emit_lines
from vigil.store import audit, repo

app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)


@app.command("verify")
def verify(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Check every entry's hash and link; fails (exit 6) on any edited, deleted or reordered entry.

    Example: vigil audit verify && echo chain intact
    """
    rt = runtime()
    with rt.db.read() as s:
        result = audit.verify(s)
    if as_json:
        emit_json({"ok": True, "entries": result.entries, "head_hash": result.head_hash})
    else:
        emit_lines([f"audit log intact: {result.entries} entries, head {result.head_hash}"])


@app.command("show")
def show(
    case: Annotated[str | None, typer.Option(help="Only entries of this case.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many (newest last).")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show audit entries (who did what, when, to which case and item).

    Example: vigil audit show --case op-birch --limit 20
    """
    rt = runtime()
    with rt.db.read() as s:
        case_id = repo.get_case(s, case).id if case else None
        entries = list(audit.iter_entries(s, case_id=case_id))[-limit:]
        rows = [
            {
                "seq": e.seq,
                "ts": e.ts.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "case_id": e.case_id,
                "item_id": e.item_id,
                "details": json.loads(e.details),
                "hash": e.entry_hash,
            }
            for e in entries
        ]
    if as_json:
        emit_json(rows)
    else:
        emit_lines(
            [
                f"#{r['seq']} {r['ts'][:19]} {r['actor']} {r['action']} case={r['case_id']} item={r['item_id']} {json.dumps(r['details'])}"
                for r in rows
            ]
        )
