"""``vigil hashsets ...`` (import, export, list, remove), ``vigil match``, ``vigil triage``,
``vigil grade`` and ``vigil grades``: the known-vs-fresh commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vigil.cli.context import runtime
from vigil.cli.output import emit_json, emit_lines
from vigil.hashsets.categories import SCHEMES, CategoryMap
from vigil.plugins import load_defaults

if TYPE_CHECKING:
    from vigil.triage.grades import GradeStatus
    from vigil.triage.rematch import RematchReport

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]

app = typer.Typer(
    help=(
        "Hash sets of known material (VICS JSON, ICSE CSV, MD5/SHA-1/SHA-256 lists, PDQ CSV), "
        "with provenance and category scheme.\n\n"
        "Example: vigil hashsets import caid-2026-11.json --name caid --scheme uk_caid "
        "--source 'CAID export' --licence 'law enforcement only'"
    ),
    no_args_is_help=True,
)


def _category_map() -> CategoryMap:
    rt = runtime()
    return CategoryMap.load(rt.settings.data_dir / "category-map.json")


NoRematchOpt = Annotated[
    bool,
    typer.Option(
        "--no-rematch",
        help="Do not bring the cases' triage up to date now (screens then say it is out of "
        "date until `vigil match CASE`). For loading many sets in a row.",
    ),
]


def _catalogue() -> dict[str, object]:
    from vigil.triage.freshness import catalogue_signature

    with runtime().db.read() as s:
        return catalogue_signature(s)


def _rematch(before: dict[str, object], affected: set[int] | None = None) -> RematchReport:
    """Re-match the cases a hash-set change affects (see `vigil.triage.rematch`)."""
    from vigil.triage.rematch import rematch_after_change

    rt = runtime()
    report = rematch_after_change(
        rt.db,
        rt.actor,
        before=before,
        affected_case_ids=affected or set(),
        category_map=_category_map(),
        index_dir=rt.settings.index_dir,
    )
    return report


@app.command("import")
def import_cmd(
    path: Annotated[Path, typer.Argument(help="Hash-set file.", exists=True, dir_okay=False)],
    name: Annotated[str, typer.Option("--name", "-n", help="Name for the set (unique).")],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="vics_json, icse_csv, digest_list, sha256_list, pdq_csv (default: detect). "
            "A list of 64-hex values needs sha256_list or pdq_csv (or a 'sha256' header line).",
        ),
    ] = None,
    scheme: Annotated[
        str | None,
        typer.Option("--scheme", help=f"Category scheme of the codes: {', '.join(SCHEMES)}."),
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", help="Where the list came from.")
    ] = None,
    licence: Annotated[
        str | None, typer.Option("--licence", help="Terms of use of the list.")
    ] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    no_rematch: NoRematchOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Import a hash-set file; bad rows are reported with line numbers and skipped.

    Text may be UTF-8, UTF-16/32 (with or without byte-order mark) or Windows-1252; the
    report says which was used. A file with no usable entry is refused (exit 3, nothing
    stored), and so is a list of 64-hex values that does not say whether they are SHA-256 or
    PDQ.

    VICS 2.0 US files imply the `vics_us` scheme, UK files `uk_caid`, VICS 1.x files the old
    `dhs_legacy` scheme (code 0 = Uncategorized); give --scheme for anything else.

    Afterwards every matched case is checked against the new entries only, and a case with a
    hit is matched again, so no screen keeps calling a now-known item fresh (--no-rematch to
    skip; triage screens then say they are out of date).

    Example: vigil hashsets import known.csv --name icse-2026 --source INTERPOL --scheme vics_us
    """
    from vigil.hashsets.service import import_file

    load_defaults()
    rt = runtime()
    before = _catalogue()
    report = import_file(
        rt.db,
        path,
        name=name,
        actor=rt.actor,
        fmt=fmt,
        scheme=scheme,
        source=source,
        licence=licence,
        description=description,
    )
    rematch = None if no_rematch else _rematch(before)
    if as_json:
        emit_json(
            {
                "triage": rematch.as_dict()
                if rematch is not None
                else "not updated (--no-rematch)",
                "name": report.name,
                "format": report.format,
                "variant": report.variant,
                "scheme": report.scheme,
                "entries": report.entries,
                "encoding": report.encoding,
                "warnings": [
                    {"line": w.line, "code": w.code, "message": w.message} for w in report.warnings
                ],
            }
        )
        return
    lines = [
        f"imported {report.entries} entries into {report.name!r} "
        f"({report.format} {report.variant or ''}, scheme {report.scheme}; "
        f"text {report.encoding})"
    ]
    lines += [f"warning: {w}" for w in report.warnings[:50]]
    if len(report.warnings) > 50:
        lines.append(f"... and {len(report.warnings) - 50} more warnings (see --json)")
    lines += (
        rematch.lines()
        if rematch is not None
        else ["triage not updated (--no-rematch): run `vigil match CASE` for each case"]
    )
    emit_lines(lines)


@app.command("export")
def export_cmd(
    name: Annotated[str, typer.Argument(help="Hash-set name.")],
    out: Annotated[Path, typer.Argument(help="File to write.")],
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help="Default: the set's own format.")
    ] = None,
    variant: Annotated[
        str | None, typer.Option("--variant", help="VICS: 1.3, 2.0/US, 2.0/UK, 2.0/Default.")
    ] = None,
) -> None:
    """Write a hash set back out (strict writer; hashes and metadata only).

    Example: vigil hashsets export caid caid-copy.json
    """
    from vigil.hashsets.service import export_set

    load_defaults()
    rt = runtime()
    n = export_set(rt.db, name, out, actor=rt.actor, fmt=fmt, variant=variant)
    emit_lines([f"wrote {n} entries to {out}"])


@app.command("list")
def list_cmd(as_json: JsonOpt = False) -> None:
    """Loaded hash sets with provenance.

    Example: vigil hashsets list --json
    """
    from vigil.hashsets.service import describe_sets

    load_defaults()
    rows = describe_sets(runtime().db)
    if as_json:
        emit_json(rows)
        return
    emit_lines(
        [
            f"{r['name']}: {r['entries']} entries, {r['format']} {r['variant'] or ''}, scheme "
            f"{r['scheme']}, from {r['source']} (imported by {r['imported_by']} "
            f"{r['imported_at'][:19]}; licence: {r['licence'] or '-'})"
            for r in rows
        ]
        or ["no hash sets loaded: vigil hashsets import FILE --name NAME"]
    )


@app.command("show")
def show_cmd(
    name: Annotated[str, typer.Argument(help="Hash-set name.")], as_json: JsonOpt = False
) -> None:
    """Provenance, counts by category and the line-numbered import warnings of one set.

    Example: vigil hashsets show caid --json
    """
    from vigil.hashsets.categories import label
    from vigil.hashsets.service import show_set

    info = show_set(runtime().db, name)
    if as_json:
        emit_json(info)
        return
    lines = [
        f"{info['name']}: {info['entries']} entries ({info['with_pdq']} with PDQ), "
        f"{info['format']} {info['variant'] or ''}",
        f"scheme {info['scheme']} ({info['scheme_source']}); source {info['source']}; "
        f"licence {info['licence'] or '-'}",
        f"imported by {info['imported_by']} at {info['imported_at'][:19]}, file SHA-256 "
        f"{info['file_sha256']}; text {info['encoding'] or 'not recorded'}",
    ]
    for code, n in info["by_category"].items():
        shown = label(info["scheme"], None if code == "none" else code)
        lines.append(f"  category {code} ({shown}): {n}")
    lines += [f"warning: {w}" for w in info["warnings"]]
    emit_lines(lines)


@app.command("remove")
def remove_cmd(
    name: Annotated[str, typer.Argument(help="Hash-set name.")],
    no_rematch: NoRematchOpt = False,
) -> None:
    """Remove a hash set; the cases that held matches of it are matched again.

    Example: vigil hashsets remove old-list
    """
    from vigil.hashsets.service import remove_set
    from vigil.store.hashsets import get_hash_set
    from vigil.triage.rematch import cases_matching_sets

    load_defaults()
    rt = runtime()
    before = _catalogue()
    with rt.db.read() as s:
        hs = get_hash_set(s, name)
        set_ids = [hs.id] if hs is not None else []
    affected = cases_matching_sets(rt.db, set_ids)
    n = remove_set(rt.db, name, actor=rt.actor)
    lines = [f"removed {name!r} ({n} entries)"]
    if no_rematch:
        lines.append("triage not updated (--no-rematch): run `vigil match CASE` for each case")
    else:
        lines += _rematch(before, affected).lines()
    emit_lines(lines)


def match(
    case: Annotated[str, typer.Argument(help="Case name.")],
    threshold: Annotated[int, typer.Option("--threshold", "-t", help="PDQ radius in bits.")] = 31,
    as_json: JsonOpt = False,
) -> None:
    """Check every item of a case against all loaded hash sets and group duplicates.

    Exact by MD5/SHA-1/SHA-256; photos and video frames by PDQ within --threshold bits. Run
    again after loading new sets or ingesting more evidence.

    Example: vigil match op-birch && vigil triage op-birch --fresh
    """
    from vigil.triage.matching import run_matching

    load_defaults()
    rt = runtime()
    report = run_matching(
        rt.db,
        case,
        rt.actor,
        threshold=threshold,
        category_map=_category_map(),
        index_dir=rt.settings.index_dir,
    )
    if as_json:
        emit_json(report.as_dict())
        return
    g, o = report.groups, report.outcomes
    emit_lines(
        [
            f"{report.items} items against {report.sets} hash set(s) in {report.elapsed_s:.1f}s",
            f"fresh: {g.get('fresh', 0)} groups ({o.get('fresh', 0)} items; "
            f"{report.unchecked_fresh} not PDQ-checked), near-known: {g.get('near_known', 0)} "
            f"groups, known: {g.get('known', 0)} groups",
            "next: vigil triage CASE --fresh",
        ]
    )


def triage(
    case: Annotated[str, typer.Argument(help="Case name.")],
    fresh: Annotated[bool, typer.Option("--fresh", help="Only fresh groups.")] = False,
    near: Annotated[bool, typer.Option("--near-known", help="Only near-known groups.")] = False,
    known: Annotated[bool, typer.Option("--known", help="Only known groups.")] = False,
    export_fresh: Annotated[
        Path | None,
        typer.Option("--export-fresh", help="Also write the fresh items as a VICS JSON hash set."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Triage groups of a case, fresh first (run `vigil match CASE` first).

    Each group stacks binary and visual duplicates behind a representative; known and
    near-known groups show the set, category, series and distance that put them there. The
    first line says when triage was computed and whether hash sets or evidence changed since
    (then it is OUT OF DATE until `vigil match CASE`); --json has it under "triage".

    Example: vigil triage op-birch --fresh --json > fresh.json
    """
    from vigil.store import audit, repo
    from vigil.triage.freshness import case_triage_status
    from vigil.triage.report import export_fresh as do_export
    from vigil.triage.report import list_groups, render_groups

    load_defaults()
    rt = runtime()
    wanted = tuple(
        name for flag, name in ((fresh, "fresh"), (near, "near_known"), (known, "known")) if flag
    )
    with rt.db.read() as s:
        case_obj = repo.get_case(s, case)
        groups = list_groups(s, case_obj.id, outcomes=wanted or None)
        status = case_triage_status(s, case_obj)
    with rt.db.write() as s:
        audit.append(
            s, rt.actor, "triage.list", case_id=case_obj.id, details={"outcomes": list(wanted)}
        )
    if export_fresh is not None:
        n = do_export(rt.db, case, export_fresh, actor=rt.actor)
        if not as_json:
            emit_lines([f"wrote {n} fresh items to {export_fresh} (hashes and metadata only)"])
    if as_json:
        emit_json({"triage": status.as_dict(), "notice": status.notice(), "groups": groups})
    else:
        emit_lines([status.notice(), *render_groups(groups)])


def grade(
    case: Annotated[str, typer.Argument(help="Case name.")],
    item: Annotated[int, typer.Argument(help="Item id (see `vigil triage`).")],
    value: Annotated[str, typer.Argument(help="Grade: A/B/C (uk) or 0-4 (us).")],
    system: Annotated[str, typer.Option("--system", help="uk or us.")] = "uk",
    note: Annotated[str | None, typer.Option("--note")] = None,
    votes: Annotated[int, typer.Option("--votes", help="Agreeing votes for a trusted grade.")] = 3,
    as_json: JsonOpt = False,
) -> None:
    """Record your grade of an item (the acting user is the reviewer; audited).

    Example: vigil --user ann grade op-birch 42 B
    """
    from vigil.triage.grades import record_grade

    rt = runtime()
    st = record_grade(rt.db, case, item, rt.actor, value, system=system, note=note, required=votes)
    if as_json:
        emit_json(st.as_dict())
        return
    emit_lines([_grade_line(st)])


def grades(
    case: Annotated[str, typer.Argument(help="Case name.")],
    conflicts: Annotated[
        bool, typer.Option("--conflicts", help="Only items graded differently.")
    ] = False,
    votes: Annotated[int, typer.Option("--votes", help="Agreeing votes for a trusted grade.")] = 3,
    as_json: JsonOpt = False,
) -> None:
    """Graded items with their votes: conflicts first, then untrusted, then trusted.

    Example: vigil grades op-birch --conflicts
    """
    from vigil.triage.grades import case_grades

    rt = runtime()
    rows = case_grades(rt.db, case, required=votes, conflicts_only=conflicts)
    if as_json:
        emit_json([r.as_dict() for r in rows])
        return
    emit_lines([_grade_line(r) for r in rows] or ["no graded items"])


def _grade_line(st: GradeStatus) -> str:
    state = "trusted" if st.trusted else "not yet trusted"
    if st.conflict:
        state += ", CONFLICT"
    votes = ", ".join(f"{r}={g}" for r, g in st.votes.items())
    leading = st.leading or "undecided"
    return f"item #{st.item_id}: {leading} ({st.agreeing} agreeing; {state}) [{votes}]"


def register(root: typer.Typer) -> None:
    """Attach the top-level known-vs-fresh commands to the root app."""
    root.command("match")(match)
    root.command("triage")(triage)
    root.command("grade")(grade)
    root.command("grades")(grades)
