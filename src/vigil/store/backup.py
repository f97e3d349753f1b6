"""Verified backups of an installation: the case store, and every file of the data folder
(index files, configuration, keys, reports).

Layout of a backup folder::

    MANIFEST.json        format, time, backend, audit head, and size + SHA-256 of every file
    database/vigil.db    SQLite: a consistent copy made with SQLite's online backup API
    database/vigil.pgdump  PostgreSQL: ``pg_dump --format=custom`` (needs the client tools)
    data/...             the data folder, less the SQLite files and the spool (scratch)

Every file is hashed while it is copied and hashed again in the backup folder afterwards, so a
backup that returns has been read back. :func:`verify_backup` checks a backup against its
manifest (missing, changed or unlisted files fail); :func:`restore` verifies before it writes
anything, refuses to overwrite a store that holds data, and after restoring checks that the
restored audit chain ends at the head the manifest recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from vigil.errors import BackendError, Conflict, IntegrityError, InvalidInput, NotFound
from vigil.store import audit
from vigil.store.base import utcnow
from vigil.store.db import Database

FORMAT = "vigil-backup/1"
MANIFEST = "MANIFEST.json"
SQLITE_NAME = "database/vigil.db"
PGDUMP_NAME = "database/vigil.pgdump"
_CHUNK = 1024 * 1024
_SKIP_DIRS = {"spool"}


@dataclass(frozen=True)
class BackupReport:
    """What a backup or a verification covered."""

    path: Path
    backend: str
    files: int
    bytes: int
    audit_seq: int
    audit_hash: str
    manifest_sha256: str


def _sha256_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _copy_hashed(src: Path, dest: Path) -> tuple[int, str]:
    """Copy ``src`` to ``dest`` and return the size and SHA-256 of what was read."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with src.open("rb") as fin, dest.open("wb") as fout:
        while chunk := fin.read(_CHUNK):
            digest.update(chunk)
            fout.write(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for other backends or in-memory databases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise InvalidInput("an in-memory SQLite database cannot be backed up")
    return Path(parsed.database)


def _libpq_url(url: str) -> str:
    """The SQLAlchemy URL as a libpq connection string for pg_dump / pg_restore."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackendError(
            f"{name} is not installed: backing up or restoring a PostgreSQL store needs the "
            "PostgreSQL client tools (Debian: apt-get install postgresql-client, the same major "
            "version as the server)"
        )
    return found


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BackendError(f"{Path(cmd[0]).name} failed ({proc.returncode}): {proc.stderr[-2000:]}")


def _data_files(data_dir: Path, exclude: set[Path]) -> Iterator[tuple[Path, str]]:
    """(absolute path, relative POSIX name) of every regular file of the data folder to keep."""
    for root, dirs, files in os.walk(data_dir):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not (here == data_dir and d in _SKIP_DIRS))
        for name in sorted(files):
            path = here / name
            if path.is_symlink() or not path.is_file() or path.resolve() in exclude:
                continue
            yield path, path.relative_to(data_dir).as_posix()


def backup(db: Database, data_dir: Path, dest: Path) -> BackupReport:
    """Write a verified backup of the store behind ``db`` and of ``data_dir`` into ``dest``
    (a new or empty folder outside the data folder)."""
    data_dir = data_dir.resolve()
    dest = dest.resolve()
    if dest == data_dir or data_dir in dest.parents:
        raise InvalidInput(f"the backup folder {dest} must be outside the data folder {data_dir}")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise Conflict(f"{dest} exists and is not an empty folder: choose a new one")
    with db.read() as s:
        head = audit.verify(s)
    dest.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, Any]] = {}
    db_file = sqlite_path(db.url)
    exclude: set[Path] = set()
    if db_file is not None:
        backend = "sqlite"
        exclude = {Path(f"{db_file}{suffix}").resolve() for suffix in ("", "-wal", "-shm")}
        target = dest / SQLITE_NAME
        target.parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(f"{db_file.resolve().as_uri()}?mode=ro", uri=True)
        copy = sqlite3.connect(target)
        try:
            with copy:
                source.backup(copy)
        finally:
            copy.close()
            source.close()
        size, digest = _sha256_file(target)
        files[SQLITE_NAME] = {"size": size, "sha256": digest}
    else:
        backend = make_url(db.url).get_backend_name()
        if backend != "postgresql":
            raise InvalidInput(f"backups support SQLite and PostgreSQL stores, not {backend}")
        target = dest / PGDUMP_NAME
        target.parent.mkdir(parents=True, exist_ok=True)
        _run([_pg_tool("pg_dump"), "--format=custom", f"--file={target}", _libpq_url(db.url)])
        size, digest = _sha256_file(target)
        files[PGDUMP_NAME] = {"size": size, "sha256": digest}
    for path, rel in _data_files(data_dir, exclude):
        size, digest = _copy_hashed(path, dest / "data" / rel)
        files[f"data/{rel}"] = {"size": size, "sha256": digest}
    manifest = {
        "format": FORMAT,
        "created_at": utcnow().isoformat(),
        "backend": backend,
        "audit_head": {"seq": head.entries, "hash": head.head_hash},
        "files": files,
    }
    text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    (dest / MANIFEST).write_text(text, encoding="utf-8")
    report = verify_backup(dest)  # read everything back
    return report


def _load_manifest(src: Path) -> tuple[dict[str, Any], str]:
    path = src / MANIFEST
    if not path.is_file():
        raise NotFound(f"{src} is not a Vigil backup (no {MANIFEST})")
    raw = path.read_bytes()
    try:
        manifest = json.loads(raw)
        if manifest.get("format") != FORMAT:
            raise ValueError(f"format {manifest.get('format')!r}, expected {FORMAT}")
        files = manifest["files"]
        head = manifest["audit_head"]
        if not isinstance(files, dict) or not isinstance(head, dict):
            raise ValueError("files / audit_head are not objects")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IntegrityError(f"{path}: not a readable backup manifest ({exc})") from exc
    return manifest, hashlib.sha256(raw).hexdigest()


def verify_backup(src: Path) -> BackupReport:
    """Check every file of a backup against its manifest; raise :class:`IntegrityError` naming
    the first missing, changed or unlisted file."""
    src = src.resolve()
    manifest, manifest_digest = _load_manifest(src)
    listed: dict[str, dict[str, Any]] = manifest["files"]
    total = 0
    for rel, meta in sorted(listed.items()):
        path = src / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            raise IntegrityError(f"the manifest names a file outside the backup: {rel}")
        if not path.is_file():
            raise IntegrityError(f"backup file missing: {rel}")
        size, digest = _sha256_file(path)
        if size != meta.get("size") or digest != meta.get("sha256"):
            raise IntegrityError(f"backup file changed since the backup was made: {rel}")
        total += size
    present = {
        p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file() or p.is_symlink()
    }
    unlisted = sorted(present - set(listed) - {MANIFEST})
    if unlisted:
        raise IntegrityError(f"backup holds files its manifest does not list: {unlisted[:5]}")
    database = SQLITE_NAME if manifest["backend"] == "sqlite" else PGDUMP_NAME
    if database not in listed:
        raise IntegrityError(f"backup has no database file ({database})")
    head = manifest["audit_head"]
    return BackupReport(
        path=src,
        backend=str(manifest["backend"]),
        files=len(listed),
        bytes=total,
        audit_seq=int(head["seq"]),
        audit_hash=str(head["hash"]),
        manifest_sha256=manifest_digest,
    )


def _store_is_empty(url: str) -> bool:
    db_file = sqlite_path(url)
    if db_file is not None:
        return not db_file.exists() or db_file.stat().st_size == 0
    probe = Database(url, create=False)
    try:
        with probe.engine.connect() as conn:
            return not inspect(conn).get_table_names()
    finally:
        probe.dispose()


def restore(src: Path, data_dir: Path, database_url: str) -> BackupReport:
    """Verify the backup at ``src``, then restore it into ``data_dir`` and the (empty) store at
    ``database_url``; returns the verified report. Nothing is written if verification fails."""
    report = verify_backup(src)
    src = report.path
    data_dir = data_dir.resolve()
    target_file = sqlite_path(database_url)
    backend = "sqlite" if target_file is not None else make_url(database_url).get_backend_name()
    if backend != report.backend:
        raise InvalidInput(
            f"the backup holds a {report.backend} store but the target is {backend}: "
            "restore into the same kind of database (set VIGIL_DATABASE_URL)"
        )
    if not _store_is_empty(database_url):
        raise Conflict(
            "the target store already holds data: restore into a new data folder / an empty "
            "database, then switch over (docs/deploy.md)"
        )
    data_src = src / "data"
    clashes = (
        [
            rel
            for rel in (p.relative_to(data_src) for p in data_src.rglob("*") if p.is_file())
            if (data_dir / rel).exists()
        ]
        if data_src.is_dir()
        else []
    )
    if clashes:
        raise Conflict(f"the data folder already holds {clashes[0]} (restore into a new one)")
    if target_file is not None:
        target_file.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target_file.parent, delete=False) as tmp:
            pass
        staged = Path(tmp.name)
        try:
            _, digest = _copy_hashed(src / SQLITE_NAME, staged)
            if _sha256_file(staged)[1] != digest:
                raise IntegrityError("the database file was not written intact: restore again")
            os.replace(staged, target_file)
        finally:
            staged.unlink(missing_ok=True)
    else:
        _run(
            [
                _pg_tool("pg_restore"),
                "--no-owner",
                "--exit-on-error",
                f"--dbname={_libpq_url(database_url)}",
                str(src / PGDUMP_NAME),
            ]
        )
    if data_src.is_dir():
        for path in sorted(data_src.rglob("*")):
            if path.is_file():
                _copy_hashed(path, data_dir / path.relative_to(data_src))
    restored = Database(database_url)  # migrates a backup of an older version forward
    try:
        # the head recorded just before the dump must be on the restored chain (entries a
        # running server added during the dump may follow it)
        kept = [audit.ExternalAnchor(report.audit_seq, report.audit_hash, "backup time")]
        with restored.read() as s:
            audit.verify(s, anchors=kept if report.audit_seq else [])
    finally:
        restored.dispose()
    return report
