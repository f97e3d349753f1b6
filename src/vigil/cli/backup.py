"""``vigil backup DEST`` and ``vigil restore SRC``: verified copies of the store and data folder."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vigil.cli.context import runtime
from vigil.cli.output import emit_json, emit_lines

if TYPE_CHECKING:  # the store is imported only when a command runs (fast --help)
    from vigil.store.backup import BackupReport

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _lines(report: BackupReport, verb: str) -> list[str]:
    return [
        f"{verb} {report.path}: {report.backend} store, {report.files} files, "
        f"{report.bytes / 1e6:.1f} MB, audit head #{report.audit_seq} {report.audit_hash}",
        f"manifest SHA-256 {report.manifest_sha256} (note it with the backup)",
    ]


def _as_dict(report: BackupReport) -> dict[str, object]:
    data = asdict(report)
    data["path"] = str(report.path)
    return data


def backup(
    dest: Annotated[Path, typer.Argument(help="New (or empty) folder to write the backup to.")],
    as_json: JsonOpt = False,
) -> None:
    """Back up the case store (SQLite: online backup API; PostgreSQL: pg_dump) and every file of
    the data folder (indexes, config, keys, reports; not the spool) into DEST, with a manifest of
    the SHA-256 of every file; the backup is read back and verified before the command returns.
    Safe while the server runs.

    Example: vigil backup /mnt/backup/vigil-2026-12-05
    """
    from vigil.store import audit
    from vigil.store.backup import backup as run_backup

    rt = runtime()
    with rt.db.write() as s:  # the backup holds the record of its own making
        audit.append(s, rt.actor, "store.backup", details={"dest": str(dest)})
    report = run_backup(rt.db, rt.settings.data_dir, dest)
    if as_json:
        emit_json({"ok": True, **_as_dict(report)})
    else:
        emit_lines(_lines(report, "backed up to"))


def restore(
    src: Annotated[Path, typer.Argument(help="A folder written by `vigil backup`.")],
    verify_only: Annotated[
        bool, typer.Option("--verify-only", help="Only check the backup against its manifest.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Restore a backup into this installation's data folder and store, which must be empty (a
    new $VIGIL_HOME, and for PostgreSQL a new empty database in $VIGIL_DATABASE_URL). Every file
    is checked against the manifest first (exit 6 on any difference, nothing written); after
    restoring, the audit chain is verified and must contain the head recorded at backup time.

    Example: VIGIL_HOME=/srv/vigil-restored vigil restore /mnt/backup/vigil-2026-12-05
    """
    from vigil.store import audit
    from vigil.store.backup import restore as run_restore
    from vigil.store.backup import verify_backup

    rt = runtime()
    if verify_only:
        report = verify_backup(src)
        verb = "verified"
    else:
        report = run_restore(src, rt.settings.data_dir, rt.settings.database_url)
        with rt.db.write() as s:
            audit.append(
                s,
                rt.actor,
                "store.restore",
                details={"src": str(src), "manifest_sha256": report.manifest_sha256},
            )
        verb = "restored"
    if as_json:
        emit_json({"ok": True, "action": verb, **_as_dict(report)})
    else:
        emit_lines(_lines(report, verb))


def register(root: typer.Typer) -> None:
    """Attach ``vigil backup`` and ``vigil restore`` to the root command."""
    root.command("backup")(backup)
    root.command("restore")(restore)
