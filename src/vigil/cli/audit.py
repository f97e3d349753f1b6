"""``vigil audit``: verify the hash chain, show entries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.context import runtime
from vigil.cli.output import emit_json, emit_lines
from vigil.errors import InvalidInput

app = typer.Typer(
    help=(
        "The append-only, hash-chained audit log: verify it, anchor its head outside the "
        "database, show entries.\n\nExample: vigil audit verify --anchor anchors.jsonl"
    ),
    no_args_is_help=True,
)


@app.command("verify")
def verify(
    anchor: Annotated[
        list[Path] | None,
        typer.Option(
            "--anchor",
            help="An anchor file written by `vigil audit anchor` (repeatable): fails when an "
            "anchored entry is not on the chain or the chain is shorter than anchored.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check every entry's hash and link; fails (exit 6) on any edited, deleted or reordered
    entry, on an empty log next to existing cases/users/items, and on a chain that does not
    contain the heads recorded in --anchor files (a rewrite of the whole log).

    Example: vigil audit verify --anchor /media/usb/vigil-anchors.jsonl && echo chain intact
    """
    from vigil.store import audit  # imported when the command runs (fast --help)

    anchors = []
    for path in anchor or []:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read the anchor file {path}: {exc}") from exc
        anchors.extend(audit.parse_anchors(text, str(path)))
    rt = runtime()
    with rt.db.read() as s:
        result = audit.verify(s, anchors=anchors)
    if as_json:
        emit_json(
            {
                "ok": True,
                "entries": result.entries,
                "head_hash": result.head_hash,
                "anchors_checked": result.anchors_checked,
            }
        )
    else:
        extra = f", {result.anchors_checked} anchors matched" if anchors else ""
        emit_lines([f"audit log intact: {result.entries} entries, head {result.head_hash}{extra}"])


@app.command("anchor")
def anchor(
    file: Annotated[
        Path,
        typer.Argument(
            help="File to append the anchor to (keep it where the database's administrators "
            "cannot write: removable medium, case file, printout)."
        ),
    ],
) -> None:
    """Record the chain head outside the database: verifies the chain, appends an `audit.anchor`
    entry and writes that entry's sequence number, hash and time as one JSON line to FILE
    (appended; one line per anchoring). `vigil audit verify --anchor FILE` later proves the
    log was not rewritten since.

    Example: vigil audit anchor /media/usb/vigil-anchors.jsonl
    """
    from vigil.store import audit

    rt = runtime()
    with rt.db.write() as s:
        before = audit.verify(s)
        entry = audit.append(
            s, rt.actor, "audit.anchor", details={"file": file.name, "entries": before.entries}
        )
        record = audit.anchor_record(entry)
    try:
        with file.open("a", encoding="utf-8") as fh:
            fh.write(record.line() + "\n")
    except OSError as exc:
        raise InvalidInput(
            f"cannot write the anchor file {file}: {exc}; the anchor is: {record.line()}"
        ) from exc
    emit_lines([f"anchored audit entry #{record.seq} ({record.at}) in {file}", record.line()])


@app.command("show")
def show(
    case: Annotated[str | None, typer.Option(help="Only entries of this case.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many (newest last).")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show audit entries (who did what, when, to which case and item).

    Example: vigil audit show --case op-birch --limit 20
    """
    from vigil.store import audit, repo

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
