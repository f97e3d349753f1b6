"""``vigil case``: list cases, summarise one, list its warnings."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from vigil.cli.context import runtime
from vigil.cli.output import emit_json, emit_lines
from vigil.plugins import load_defaults

app = typer.Typer(
    help="Cases: list them, summarise one, see what was skipped and why.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@app.command("list")
def list_cases(as_json: JsonOpt = False) -> None:
    """List cases.

    Example: vigil case list --json
    """

    from vigil.store import repo

    rt = runtime()
    with rt.db.read() as s:
        rows: list[dict[str, Any]] = [
            {
                "name": c.name,
                "created_at": c.created_at.isoformat(),
                "sources": len(repo.case_sources(s, c.id)),
            }
            for c in repo.list_cases(s)
        ]
    if as_json:
        emit_json(rows)
    else:
        emit_lines(
            [f"{r['name']}  ({r['sources']} sources, created {r['created_at'][:19]})" for r in rows]
            or ["no cases yet: try `vigil demo` or `vigil ingest PATH --case NAME`"]
        )


@app.command("summary")
def summary(
    name: Annotated[str, typer.Argument(help="Case name.")], as_json: JsonOpt = False
) -> None:
    """Counts by type, duplicates, warnings and capability sections (known/fresh, faces ...).

    Example: vigil case summary op-birch --json > summary.json
    """

    from vigil.reports.summary import build_summary, render_summary
    from vigil.store import audit, repo

    load_defaults()
    rt = runtime()
    with rt.db.read() as s:
        data = build_summary(s, name)
        case_id = repo.get_case(s, name).id
    with rt.db.write() as s:
        audit.append(s, rt.actor, "case.summary", case_id=case_id)
    if as_json:
        emit_json(data)
    else:
        emit_lines(render_summary(data))


@app.command("warnings")
def warnings(
    name: Annotated[str, typer.Argument(help="Case name.")],
    code: Annotated[
        str | None, typer.Option(help="Only warnings with this code (e.g. zip_bomb).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every warning of a case: which file or entry, what went wrong, and why it was skipped.

    Example: vigil case warnings op-birch --code unsafe_path
    """

    from vigil.store import repo

    rt = runtime()
    with rt.db.read() as s:
        case = repo.get_case(s, name)
        rows = [
            {
                "source_id": w.source_id,
                "item_id": w.item_id,
                "path": w.path,
                "code": w.code,
                "message": w.message,
            }
            for w in repo.case_warnings(s, case.id)
            if code is None or w.code == code
        ]
    if as_json:
        emit_json(rows)
    else:
        emit_lines([f"[{r['code']}] {r['path']}: {r['message']}" for r in rows] or ["no warnings"])
