"""``vigil ingest``, ``vigil analyze``, ``vigil demo`` and ``vigil info``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from vigil import __version__
from vigil.cli.context import Runtime, runtime
from vigil.cli.options import BackfillWorkersOpt, ExecutorOpt, RayAddressOpt
from vigil.cli.output import emit_json, emit_lines
from vigil.plugins import load_defaults


def ingest(
    path: Annotated[
        Path,
        typer.Argument(help="Folder, archive (zip/tar/gz), raw or E01 disk image, or single file."),
    ],
    case: Annotated[str, typer.Option("--case", "-c", help="Case name (created if new).")],
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            "-p",
            help="full (default): PDQ, vPDQ, scene features, faces and age; "
            "fast: digests + PDQ/vPDQ only, for first triage on scene.",
        ),
    ] = "full",
    analyzer: Annotated[
        list[str] | None,
        typer.Option(
            "--analyzer",
            "-a",
            help="Add an analyzer to the profile (repeatable), e.g. --profile fast -a scene.",
        ),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only", help="Run exactly these analyzers instead of the profile (repeatable)."
        ),
    ] = None,
    no_analyzers: Annotated[
        bool, typer.Option("--no-analyzers", help="Only digests and metadata.")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            "-j",
            help="Parallel workers: processes, or threads of this process when no analyzer "
            "runs (0 = in-process). Default: CPU count.",
        ),
    ] = None,
    deep: Annotated[
        bool,
        typer.Option(
            "--deep",
            help="Fully decode every photo and each video's first frame to find damage (slower).",
        ),
    ] = False,
    executor: Annotated[
        str,
        typer.Option(
            "--executor",
            help="local (default): worker processes on this machine; ray: Ray tasks, on a "
            "private local Ray instance or on the cluster given by --ray-address "
            "(needs pip install 'vigil[ray]'), e.g. --executor ray --ray-address 10.0.0.5:6379.",
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="Ray cluster to join (from `ray start --head`), e.g. 10.0.0.5:6379 or auto. "
            "Evidence must be readable at the same path on every node.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Ingest evidence read-only: digests (MD5/SHA-1/SHA-256), type by content, EXIF, analyzers.

    Re-run the same command to resume an interrupted ingest: files already recorded are skipped,
    nothing is recorded twice. Problems (corrupt files, zip bombs, path traversal, symlink loops,
    unreadable files) become warnings; see `vigil case warnings CASE`.

    Profiles: `full` (default) runs every default analyzer, faces included, so the victim and
    place screens are ready; `fast` runs only the hashes known/fresh triage needs. `--analyzer`
    adds to the profile, `--only` replaces it (`vigil info` lists the analyzers).

    Example: vigil ingest /mnt/seizure-42 --case op-birch --profile fast -a scene
    """
    from vigil.ingest.pipeline import ingest as run_ingest
    from vigil.ingest.profiles import choose_analyzers

    if not no_analyzers:  # plug-ins (OpenCV, PyAV, models) only when analyzers can run
        load_defaults()
    rt = runtime()
    chosen = list(choose_analyzers(profile, add=analyzer or (), only=only, none=no_analyzers))
    report = run_ingest(
        rt.settings,
        rt.db,
        path,
        case,
        rt.actor,
        chosen,
        progress=not quiet and not as_json and sys.stderr.isatty(),
        workers=workers,
        deep=deep,
        executor="ray" if ray_address else executor,
        ray_address=ray_address,
    )
    if as_json:
        emit_json(report.as_dict())
        return
    emit_lines(
        [
            f"{'resumed' if report.resumed else 'ingested'} {report.path} into case {report.case!r} in {report.elapsed_s:.1f}s",
            f"  files recorded now: {report.files} ({report.already_recorded} were already recorded)",
            f"  new unique items: {report.new_items}, duplicates of known content: {report.duplicates}",
            f"  not read: {report.not_read}, warnings: {report.warnings}  (vigil case warnings {report.case})",
            f"  analyzers: {', '.join(report.analyzers) or 'none'}"
            + (f" (profile {profile})" if not only and not no_analyzers else ""),
        ]
    )


def analyze(
    case: Annotated[str, typer.Argument(help="Case name.")],
    analyzer: Annotated[
        str, typer.Option("--analyzer", "-a", help="Analyzer to run (see `vigil info`).")
    ],
    workers: BackfillWorkersOpt = 0,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run an analyzer over a case's items that it has not processed yet (back-fill).

    Content is re-read from the evidence, read-only, and checked against its SHA-256.
    Interrupted, re-run the same command: items already analysed are skipped. `-j N` spreads
    the items over N worker processes, `--executor ray` over Ray tasks (same results).

    Example: vigil analyze op-birch --analyzer faces --executor ray -j 2
    """
    from vigil.ingest.backfill import backfill

    load_defaults()
    rt = runtime()
    report = backfill(
        rt.settings,
        rt.db,
        case,
        analyzer,
        rt.actor,
        workers=workers,
        executor="ray" if ray_address else executor,
        ray_address=ray_address,
    )
    if as_json:
        emit_json(report.__dict__)
    else:
        emit_lines(
            [
                f"{report.analyzer} {report.version}: {report.done} analysed, {report.failed} failed, of {report.pending} pending"
            ]
        )


def demo(
    case: Annotated[str, typer.Option("--case", help="Name of the demo case.")] = "demo",
    keep: Annotated[
        Path | None,
        typer.Option(
            "--evidence-dir",
            help="Build the synthetic evidence here (default: DATA-demo-evidence/CASE next to the data folder).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Build a synthetic seizure (generated pictures, video, archives, a disk image and bad input),
    load two synthetic hash sets made from it, ingest it (matching runs after ingest), and print
    the case summary with known / near-known / fresh groups, then how to review it in the
    browser. Nothing real is involved. The evidence stays next to the data folder (the review app
    re-reads items from it); run the command again and it reuses it.

    Example: vigil demo && vigil case warnings demo
    """
    from vigil.demo import build_evidence
    from vigil.ingest.pipeline import ingest as run_ingest
    from vigil.reports.summary import build_summary, render_summary

    load_defaults()
    rt = runtime()
    root = keep if keep is not None else demo_evidence_dir(rt.settings.data_dir, case)
    if not root.exists() or not any(root.iterdir()):
        build_evidence(root)
    _load_demo_hash_sets(rt, root)
    report = run_ingest(
        rt.settings,
        rt.db,
        root,
        case,
        rt.actor,
        None,
        progress=not as_json and sys.stderr.isatty(),
    )
    with rt.db.read() as s:
        data = build_summary(s, case)
    out = rt.settings.data_dir / "reports" / f"{case}-summary.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    import json

    out.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    if as_json:
        emit_json(data)
    else:
        emit_lines(
            [
                f"demo evidence: {root} ({report.files} files ingested in {report.elapsed_s:.1f}s)",
                *render_summary(data),
                f"summary written to {out}",
                *review_hint(rt.settings.data_dir, case),
            ]
        )


def demo_evidence_dir(data_dir: Path, case: str) -> Path:
    """Where the demo keeps its evidence: next to the data folder (ingest refuses anything
    inside it), so the review app can re-read the items long after the demo ran."""
    return data_dir.with_name(f"{data_dir.name}-demo-evidence") / case


def review_hint(data_dir: Path, case: str) -> list[str]:
    """How a new administrator opens the demo case in the browser (printed after the demo)."""
    home = f"VIGIL_HOME={data_dir} " if os.environ.get("VIGIL_HOME") else ""
    return [
        "",
        "Review it in the browser:",
        f"  1. {home}VIGIL_ADMIN_PASSWORD='a long passphrase' vigil serve",
        "     (the first start creates the administrator 'admin' with that password;",
        "      later starts need no password variable)",
        "  2. open http://127.0.0.1:8470/ and log in as admin",
        f"  3. Users: add an investigator; Case set-up: add them to case '{case}'",
        "  4. log in as the investigator: Overview, Items (blurred; reveal one at a time),",
        "     Known / fresh (grade), Places, Custody",
    ]


def _load_demo_hash_sets(rt: Runtime, evidence: Path) -> None:
    """Load the demo's synthetic hash sets (once per installation) so triage has something known."""
    from vigil.demo import build_hash_sets
    from vigil.hashsets.service import describe_sets, import_file

    present = {s["name"] for s in describe_sets(rt.db)}
    paths = build_hash_sets(evidence, rt.settings.data_dir / "demo-hash-sets")
    for name, path in zip(("demo-known", "demo-near"), paths, strict=True):
        if name not in present:
            import_file(
                rt.db,
                path,
                name=name,
                actor=rt.actor,
                source="vigil demo (synthetic)",
                licence="generated test data",
                scheme="vics_us" if name == "demo-known" else None,
            )


def info(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Where data lives, which database, and the registered content types and analyzers.

    Example: VIGIL_HOME=/srv/vigil vigil info --json
    """
    from vigil.content.types import CONTENT_TYPES
    from vigil.ingest.analyzers import ANALYZERS
    from vigil.ingest.profiles import PROFILES, profile_analyzers

    load_defaults()
    rt = runtime()
    data: dict[str, Any] = {
        "version": __version__,
        "data_dir": str(rt.settings.data_dir),
        "database": rt.settings.database_url.split("@")[-1],
        "workers": rt.settings.workers,
        "user": rt.actor,
        "content_types": {c.name: c.kind for c in CONTENT_TYPES},
        "analyzers": {
            a.name: {"version": a.version, "kinds": sorted(a.kinds), "default": a.default_enabled}
            for a in ANALYZERS
        },
        "profiles": {
            name: {"analyzers": list(profile_analyzers(name)), "about": about}
            for name, about in PROFILES.items()
        },
    }
    if as_json:
        emit_json(data)
    else:
        emit_lines(
            [
                f"vigil {data['version']}",
                f"  data folder: {data['data_dir']}",
                f"  database: {data['database']}",
                f"  workers: {data['workers']}, user: {data['user']}",
                "  analyzers: "
                + (
                    ", ".join(
                        f"{n} ({'on' if a['default'] else 'opt-in'})"
                        for n, a in data["analyzers"].items()
                    )
                    or "none"
                ),
                "  content types: " + ", ".join(data["content_types"]),
                *(
                    f"  profile {n}: {', '.join(p['analyzers']) or 'none'} ({p['about']})"
                    for n, p in data["profiles"].items()
                ),
            ]
        )


def register(app: typer.Typer) -> None:
    """Attach these commands to the root app."""
    app.command("ingest")(ingest)
    app.command("analyze")(analyze)
    app.command("demo")(demo)
    app.command("info")(info)
