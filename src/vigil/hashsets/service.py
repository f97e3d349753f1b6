"""Importing, exporting, listing and removing hash sets in the case store (audited)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select

from vigil.errors import Conflict, InvalidInput, NotFound
from vigil.hashsets.categories import get_scheme
from vigil.hashsets.formats import detect, get_format
from vigil.hashsets.model import ENTRY_FIELDS, Entry, ImportWarning, ParsedSet
from vigil.store import audit
from vigil.store.db import Database
from vigil.store.hashsets import HashSet, HashSetEntry, get_hash_set, list_hash_sets, set_entries

MAX_STORED_WARNINGS = 1000


@dataclass
class ImportReport:
    """Outcome of one import."""

    set_id: int
    name: str
    format: str
    variant: str | None
    scheme: str
    entries: int
    warnings: list[ImportWarning] = field(default_factory=list)
    encoding: str | None = None
    """How the file's text was decoded, with why."""


def parse_file(path: Path, fmt: str | None = None) -> ParsedSet:
    """Read a hash-set file with the named format or the detected one."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from exc
    reader = get_format(fmt) if fmt else detect(data)
    return reader.read(data)


def entry_from_row(row: HashSetEntry) -> Entry:
    """The normalised record of a stored entry."""
    values = {name: getattr(row, name) for name in ENTRY_FIELDS}
    return Entry(**values, record=dict(row.record or {}))


def import_file(
    db: Database,
    path: Path,
    *,
    name: str,
    actor: str,
    fmt: str | None = None,
    scheme: str | None = None,
    source: str | None = None,
    licence: str | None = None,
    description: str | None = None,
) -> ImportReport:
    """Parse ``path`` and store it as hash set ``name`` with its provenance.

    Raises:
        Conflict: a hash set of that name exists.
        WrongFormat: the file is not a hash-set file of a known (or the named) format.
    """
    name = name.strip()
    if not name or len(name) > 200 or not name.isprintable():
        raise InvalidInput(f"hash-set name {name!r} must be 1-200 printable characters")
    if scheme is not None:
        get_scheme(scheme)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from exc
    if not data.strip():
        raise InvalidInput(f"{path.name} is empty: no usable entry, nothing imported")
    parsed = (get_format(fmt) if fmt else detect(data)).read(data)
    refuse_unusable(path, parsed)
    if scheme is not None:
        chosen, scheme_source = scheme, "given"
    elif parsed.scheme is not None:
        chosen, scheme_source = parsed.scheme, "declared by the file format"
    else:
        chosen, scheme_source = "unspecified", "none"
        if any(e.category is not None for e in parsed.entries):
            parsed.warn(
                0,
                "scheme_unspecified",
                "entries carry category codes but no scheme was given (--scheme): codes are "
                "kept but not mapped to grades",
            )
    digest = hashlib.sha256(data).hexdigest()
    meta: dict[str, Any] = dict(parsed.meta)
    meta["warnings"] = [str(w) for w in parsed.warnings[:MAX_STORED_WARNINGS]]
    meta["scheme_source"] = scheme_source
    meta["encoding"] = parsed.encoding
    with db.write() as s:
        if get_hash_set(s, name) is not None:
            raise Conflict(f"a hash set named {name!r} exists; choose another name or remove it")
        hs = HashSet(
            name=name,
            format=parsed.format,
            format_variant=parsed.variant,
            scheme=chosen,
            source=source or path.name,
            licence=licence,
            description=description,
            file_sha256=digest,
            imported_by=actor,
            entry_count=len(parsed.entries),
            warning_count=len(parsed.warnings),
            meta=meta,
        )
        s.add(hs)
        s.flush()
        rows = []
        for position, e in enumerate(parsed.entries):
            row: dict[str, Any] = {f: getattr(e, f) for f in ENTRY_FIELDS}
            row.update(set_id=hs.id, position=position, record=e.record or None)
            rows.append(row)
        for start in range(0, len(rows), 5000):
            s.execute(insert(HashSetEntry), rows[start : start + 5000])
        audit.append(
            s,
            actor,
            "hashset.import",
            details={
                "name": name,
                "format": parsed.format,
                "variant": parsed.variant,
                "scheme": chosen,
                "entries": len(parsed.entries),
                "warnings": len(parsed.warnings),
                "file_sha256": digest,
                "source": hs.source,
                "licence": licence,
            },
        )
        set_id = hs.id
    return ImportReport(
        set_id,
        name,
        parsed.format,
        parsed.variant,
        chosen,
        len(parsed.entries),
        parsed.warnings,
        parsed.encoding,
    )


def refuse_unusable(path: Path, parsed: ParsedSet) -> None:
    """A file from which no entry can be matched is an error, never "0 imported": known
    material would silently show as fresh.

    Raises:
        InvalidInput: no entry carries an MD5, SHA-1, SHA-256 or PDQ value.
    """
    if any(e.has_signal() for e in parsed.entries):
        return
    why = f"{len(parsed.entries)} entries read"
    photodna = sum(1 for e in parsed.entries if e.photodna)
    if photodna:
        why += f", {photodna} with only PhotoDNA (stored on import, but Vigil does not match it)"
    first = "; ".join(str(w) for w in parsed.warnings[:5])
    raise InvalidInput(
        f"{path.name}: no usable entry ({why}; read as {parsed.format}, "
        f"{parsed.encoding or 'encoding unknown'}); nothing was imported"
        + (f". First problems: {first}" if first else "")
    )


def export_set(
    db: Database,
    name: str,
    out: Path,
    *,
    actor: str,
    fmt: str | None = None,
    variant: str | None = None,
) -> int:
    """Write hash set ``name`` to ``out`` (its own format unless another is named)."""
    with db.read() as s:
        hs = get_hash_set(s, name)
        if hs is None:
            raise NotFound(f"no hash set named {name!r}")
        entries = [entry_from_row(r) for r in set_entries(s, hs.id)]
        same_format = fmt is None or fmt == hs.format
        writer = get_format(fmt or hs.format)
        meta = dict(hs.meta or {}) if same_format else {}
        data = writer.write(
            entries, variant=variant or (hs.format_variant if same_format else None), meta=meta
        )
        set_id = hs.id
    write_atomic(out, data)
    with db.write() as s:
        audit.append(
            s,
            actor,
            "hashset.export",
            details={
                "name": name,
                "set_id": set_id,
                "format": writer.name,
                "entries": len(entries),
                "path": str(out),
                "sha256": hashlib.sha256(data).hexdigest(),
            },
        )
    return len(entries)


def write_atomic(out: Path, data: bytes) -> None:
    """Write ``data`` to ``out`` via a temporary file, so a crash never leaves half a file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(out)


def remove_set(db: Database, name: str, *, actor: str) -> int:
    """Remove hash set ``name`` and its entries (matches against it go with it)."""
    with db.write() as s:
        hs = get_hash_set(s, name)
        if hs is None:
            raise NotFound(f"no hash set named {name!r}")
        count = hs.entry_count
        s.execute(delete(HashSetEntry).where(HashSetEntry.set_id == hs.id))
        s.delete(hs)
        audit.append(s, actor, "hashset.remove", details={"name": name, "entries": count})
    return count


def show_set(db: Database, name: str) -> dict[str, Any]:
    """One hash set's provenance, counts by category and the import warnings kept with it."""
    with db.read() as s:
        hs = get_hash_set(s, name)
        if hs is None:
            raise NotFound(f"no hash set named {name!r}")
        by_category: dict[str, int] = {}
        for (code,) in s.execute(
            select(HashSetEntry.category).where(HashSetEntry.set_id == hs.id)
        ).all():
            key = "none" if code is None else str(code)
            by_category[key] = by_category.get(key, 0) + 1
        with_pdq = sum(
            1
            for _ in s.execute(
                select(HashSetEntry.id).where(
                    HashSetEntry.set_id == hs.id, HashSetEntry.pdq.is_not(None)
                )
            )
        )
        meta = dict(hs.meta or {})
        return {
            "name": hs.name,
            "format": hs.format,
            "variant": hs.format_variant,
            "scheme": hs.scheme,
            "scheme_source": meta.get("scheme_source"),
            "source": hs.source,
            "licence": hs.licence,
            "description": hs.description,
            "imported_by": hs.imported_by,
            "imported_at": hs.imported_at.isoformat(),
            "file_sha256": hs.file_sha256,
            "entries": hs.entry_count,
            "with_pdq": with_pdq,
            "by_category": dict(sorted(by_category.items())),
            "encoding": meta.get("encoding"),
            "warning_count": hs.warning_count,
            "warnings": list(meta.get("warnings", [])),
        }


def describe_sets(db: Database) -> list[dict[str, Any]]:
    """Every loaded hash set with its provenance, for listings."""
    with db.read() as s:
        out = []
        for hs in list_hash_sets(s):
            pdq = s.execute(
                select(HashSetEntry.id)
                .where(HashSetEntry.set_id == hs.id, HashSetEntry.pdq.is_not(None))
                .limit(1)
            ).first()
            out.append(
                {
                    "name": hs.name,
                    "format": hs.format,
                    "variant": hs.format_variant,
                    "scheme": hs.scheme,
                    "entries": hs.entry_count,
                    "warnings": hs.warning_count,
                    "has_pdq": pdq is not None,
                    "source": hs.source,
                    "licence": hs.licence,
                    "imported_by": hs.imported_by,
                    "imported_at": hs.imported_at.isoformat(),
                    "file_sha256": hs.file_sha256,
                }
            )
        return out
