"""Importing record batches and reference data, with provenance and line-numbered warnings.

A row with a field that cannot be used (an invalid card number, an impossible date) is imported
*without that field* and gets a warning; a row with nothing that identifies anyone (no name,
e-mail, phone or card) or that cannot be read at all is skipped with a warning. Either way the
rest of the batch goes on, and every warning names its line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from vigil.errors import Conflict, InvalidInput
from vigil.persons import normalise as nz
from vigil.persons.cards import CardVault, check_card
from vigil.persons.mapping import (
    RECORD_FIELDS,
    REFERENCE_FIELDS,
    REFERENCE_KINDS,
    Mapping,
    detect_format,
    file_encoding,
    read_rows,
)
from vigil.store import audit, repo
from vigil.store.db import Database
from vigil.store.persons import (
    PersonBatch,
    PersonBatchWarning,
    PersonRecord,
    PersonRef,
)
from vigil.text import Encoding

CHUNK = 5000
MAX_STORED_WARNINGS = 10_000
CONVICTION_CATEGORIES = ("contact", "images", "non_contact", "other")


@dataclass(frozen=True)
class Provenance:
    """Where a batch came from and on what legal basis it is held (all required but the date)."""

    source: str
    legal_basis: str
    received_from: str
    received_on: dt.date | None = None

    def __post_init__(self) -> None:
        for name in ("source", "legal_basis", "received_from"):
            if not str(getattr(self, name) or "").strip():
                raise InvalidInput(f"batch provenance needs --{name.replace('_', '-')}")


@dataclass
class RowWarning:
    """One line-numbered warning."""

    line: int | None
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "code": self.code, "message": self.message}


@dataclass
class ImportReport:
    """What an import did."""

    batch_id: int
    kind: str
    sha256: str
    rows_read: int = 0
    rows_imported: int = 0
    rows_skipped: int = 0
    warnings: list[RowWarning] = field(default_factory=list)
    encoding: str | None = None
    """How the file's text was decoded (``utf-8``, ``utf-16-le (byte-order mark)`` ...; None
    for Parquet)."""

    def as_dict(self, max_warnings: int = 50) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "kind": self.kind,
            "sha256": self.sha256,
            "encoding": self.encoding,
            "rows_read": self.rows_read,
            "rows_imported": self.rows_imported,
            "rows_skipped": self.rows_skipped,
            "warning_count": len(self.warnings),
            "warnings": [w.as_dict() for w in self.warnings[:max_warnings]],
        }


def file_sha256(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file (streamed)."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _clip(values: dict[str, Any], table: Table, warnings: list[tuple[str, str]]) -> None:
    """Cut strings longer than their column (a warning says so) rather than fail the batch."""
    for col in table.columns:
        limit = getattr(col.type, "length", None)
        value = values.get(col.name)
        if limit and isinstance(value, str) and len(value) > limit:
            values[col.name] = value[:limit]
            warnings.append(
                ("field_truncated", f"{col.name} cut to {limit} characters (was {len(value)})")
            )


def _get(raw: dict[str, Any], mapping: Mapping, name: str) -> str | None:
    col = mapping.columns.get(name)
    if col is None:
        return None
    value = raw.get(col)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


@dataclass
class _Parsed:
    values: dict[str, Any]
    warnings: list[tuple[str, str]]


def parse_record(raw: dict[str, Any], mapping: Mapping, vault: CardVault) -> _Parsed:
    """Turn one source row into a ``person_records`` row (plus field warnings)."""
    warnings: list[tuple[str, str]] = []
    v: dict[str, Any] = {}

    def g(name: str) -> str | None:
        return _get(raw, mapping, name)

    name = nz.parse_name(g("name"), first=g("first_name"), last=g("last_name"))
    v["name"] = g("name") or " ".join(p for p in (g("first_name"), g("last_name")) if p) or None
    v["first_name_n"], v["surname_n"] = name.first, name.last
    v["record_ref"] = g("record_ref")
    v["address"], v["address_n"] = nz.compose_address(
        g("address"), g("street"), g("locality"), g("town"), g("region")
    )
    v["postcode"] = nz.postcode(g("postcode"))
    raw_country = g("country")
    v["country"] = nz.country(raw_country)
    if raw_country and v["country"] is None:
        warnings.append(("country_invalid", f"country {raw_country!r} is not a 2-letter code"))
    parts = nz.uk_postcode_parts(v["postcode"]) if v["country"] in (None, "GB") else None
    v["district_n"] = parts[1] if parts else None
    try:
        v["dob"] = nz.parse_date(g("dob"), mapping.date_formats.get("dob"))
    except ValueError as exc:
        v["dob"] = None
        warnings.append(("dob_invalid", f"date of birth not used: {exc}"))
    raw_email = g("email")
    v["email"] = nz.email(raw_email)
    if raw_email and v["email"] is None:
        warnings.append(("email_invalid", "e-mail address not used: not of the form a@b.c"))
    v["phone"] = nz.phone(g("phone"))
    raw_card = g("card_number")
    v["card_token"] = v["card_enc"] = v["card_bin"] = v["card_last4"] = v["card_country"] = None
    if raw_card:
        try:
            card = check_card(raw_card)
        except InvalidInput as exc:
            warnings.append(("card_invalid", f"card number not used: {exc}"))
        else:
            v["card_token"] = vault.token(card.number)
            v["card_enc"] = vault.encrypt(card.number)
            v["card_bin"], v["card_last4"] = card.bin, card.last4
            v["card_country"] = card.issuer_country
    v["card_expiry"] = g("card_expiry")
    v["ip"] = g("ip")
    v["ip_country"] = nz.country(g("ip_country"))
    v["user_agent"] = g("user_agent")
    for key, fmt_key in (("ts", "timestamp"), ("last_access", "last_access")):
        try:
            v[key] = nz.parse_timestamp(g(fmt_key), mapping.date_formats.get(fmt_key))
        except ValueError as exc:
            v[key] = None
            warnings.append((f"{fmt_key}_invalid", f"{fmt_key} not used: {exc}"))
    amount = g("amount")
    v["amount"] = None
    if amount:
        try:
            v["amount"] = float(amount.replace(",", "").lstrip("£$€"))
        except ValueError:
            warnings.append(("amount_invalid", f"amount {amount!r} is not a number"))
    v["site"] = g("site")
    access = g("access_count")
    v["access_count"] = None
    if "access_count" in mapping.columns:
        try:
            v["access_count"] = int(float(access)) if access else 0
        except ValueError:
            warnings.append(("access_invalid", f"access count {access!r} is not a number"))
    verification = g("verification")
    v["verification_failed"] = (
        verification.lower() in mapping.verification_failures if verification else None
    )
    cb = g("chargeback")
    v["chargeback"] = (
        cb.lower() in mapping.chargeback_values
        if cb
        else (False if "chargeback" in mapping.columns else None)
    )
    _clip(v, cast(Table, PersonRecord.__table__), warnings)
    return _Parsed(v, warnings)


def _start_batch(
    session: Session,
    *,
    path: Path,
    kind: str,
    case_id: int | None,
    provenance: Provenance,
    mapping: Mapping,
    actor: str,
    key_id: str | None,
    sha: str,
    size: int,
) -> PersonBatch:
    existing = session.execute(
        select(PersonBatch).where(
            PersonBatch.sha256 == sha, PersonBatch.kind == kind, PersonBatch.case_id == case_id
        )
    ).scalar_one_or_none()
    if existing is not None:
        raise Conflict(
            f"{path.name} was already imported as batch {existing.id} "
            f"on {existing.imported_at:%Y-%m-%d} (same SHA-256)"
        )
    batch = PersonBatch(
        case_id=case_id,
        kind=kind,
        file_name=str(path),
        sha256=sha,
        size=size,
        source=provenance.source,
        legal_basis=provenance.legal_basis,
        received_from=provenance.received_from,
        received_on=provenance.received_on,
        mapping=mapping.as_dict(),
        imported_by=actor,
        card_key_id=key_id,
    )
    session.add(batch)
    session.flush()
    return batch


def _source(path: Path, fmt: str | None, encoding: str | None) -> tuple[str, Encoding | None]:
    """The batch format and, for text formats, the text encoding (BOM, else ``encoding``)."""
    fmt = fmt or detect_format(path)
    if fmt == "parquet":
        if encoding:
            raise InvalidInput("--encoding applies to text files, not Parquet")
        return fmt, None
    return fmt, file_encoding(path, encoding)


def _refuse_empty(path: Path, report: ImportReport) -> None:
    """An import that keeps nothing from a non-empty file is an error, not a success (the
    caller's transaction then stores no batch, so the file can be imported again, fixed)."""
    if report.rows_imported:
        return
    if not report.rows_read:
        raise InvalidInput(f"{path.name}: no rows to import (empty, or a header only)")
    first = "; ".join(
        f"line {w.line}: {w.message} [{w.code}]" for w in report.warnings if w.line is not None
    )
    raise InvalidInput(
        f"{path.name}: no usable row, 0 of {report.rows_read} imported; nothing was stored. "
        f"First problems: {first[:600] or 'none recorded'}"
    )


def _finish(session: Session, batch: PersonBatch, report: ImportReport, actor: str) -> None:
    stored = report.warnings[:MAX_STORED_WARNINGS]
    if stored:
        session.execute(
            insert(PersonBatchWarning),
            [
                {"batch_id": batch.id, "line": w.line, "code": w.code, "message": w.message}
                for w in stored
            ],
        )
    batch.rows_read = report.rows_read
    batch.rows_imported = report.rows_imported
    batch.warning_count = len(report.warnings)
    audit.append(
        session,
        actor,
        f"persons.import.{report.kind}",
        case_id=batch.case_id,
        details={
            "batch_id": batch.id,
            "file": batch.file_name,
            "sha256": batch.sha256,
            "source": batch.source,
            "legal_basis": batch.legal_basis,
            "received_from": batch.received_from,
            "rows_read": report.rows_read,
            "rows_imported": report.rows_imported,
            "warnings": len(report.warnings),
        },
    )


def import_records(
    db: Database,
    vault: CardVault,
    path: Path | str,
    *,
    case_name: str,
    mapping: Mapping,
    provenance: Provenance,
    actor: str,
    fmt: str | None = None,
    encoding: str | None = None,
) -> ImportReport:
    """Import a batch of payment/subscription records into the operation ``case_name``.

    Text files are read in the encoding their byte-order mark names, else ``encoding``, else
    UTF-8; a row that is not text in it is skipped with a ``row_unreadable`` warning.

    Raises:
        InvalidInput: no row of the file could be imported (nothing is stored).
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    if not any(
        k in mapping.columns
        for k in ("name", "first_name", "last_name", "email", "card_number", "phone")
    ):
        raise InvalidInput("the mapping names no identifying column (name, email, card, phone)")
    fmt, enc = _source(path, fmt, encoding)
    sha, size = file_sha256(path)
    with db.write() as s:
        case = repo.ensure_case(s, case_name, actor)
        batch = _start_batch(
            s,
            path=path,
            kind="records",
            case_id=case.id,
            provenance=provenance,
            mapping=mapping,
            actor=actor,
            key_id=vault.key_id,
            sha=sha,
            size=size,
        )
        report = ImportReport(
            batch_id=batch.id, kind="records", sha256=sha, encoding=enc.describe() if enc else None
        )
        pending: list[dict[str, Any]] = []
        missing_cols: set[str] | None = None

        table = cast(Table, PersonRecord.__table__)

        def flush() -> None:
            if pending:
                s.execute(table.insert(), pending)  # Core executemany: no per-row ORM work
                pending.clear()

        for line, raw in read_rows(path, fmt, enc):
            report.rows_read += 1
            if "__error__" in raw:
                report.warnings.append(RowWarning(line, "row_unreadable", str(raw["__error__"])))
                report.rows_skipped += 1
                continue
            if missing_cols is None:
                missing_cols = {c for c in mapping.columns.values() if c not in raw}
                for col in sorted(missing_cols):
                    report.warnings.append(
                        RowWarning(
                            None,
                            "column_missing",
                            f"mapped column {col!r} is not in the file (field left empty)",
                        )
                    )
            parsed = parse_record(raw, mapping, vault)
            vals = parsed.values
            for code, msg in parsed.warnings:
                report.warnings.append(RowWarning(line, code, msg))
            if not (vals["surname_n"] or vals["email"] or vals["card_token"] or vals["phone"]):
                report.warnings.append(
                    RowWarning(
                        line, "no_identity", "row skipped: no usable name, e-mail, phone or card"
                    )
                )
                report.rows_skipped += 1
                continue
            vals.update(batch_id=batch.id, case_id=case.id, line=line)
            pending.append(vals)
            report.rows_imported += 1
            if len(pending) >= CHUNK:
                flush()
        _refuse_empty(path, report)
        flush()
        _finish(s, batch, report, actor)
    return report


def _parse_reference(kind: str, raw: dict[str, Any], mapping: Mapping, vault: CardVault) -> _Parsed:
    warnings: list[tuple[str, str]] = []

    def g(name: str) -> str | None:
        return _get(raw, mapping, name)

    v: dict[str, Any] = {"kind": kind, "ref": g("ref")}
    if kind in ("register", "convictions", "roles"):
        name = nz.parse_name(g("name"), first=g("first_name"), last=g("last_name"))
        v["name"] = g("name") or name.full
        v["first_name_n"], v["surname_n"] = name.first, name.last
        try:
            v["dob"] = nz.parse_date(g("dob"), mapping.date_formats.get("dob"))
        except ValueError as exc:
            v["dob"] = None
            warnings.append(("dob_invalid", f"date of birth not used: {exc}"))
        v["address_n"] = nz.compose_address(
            g("address"), g("street"), g("locality"), g("town"), g("region")
        )[1]
        v["postcode"] = nz.postcode(g("postcode"))
        v["country"] = nz.country(g("country"))
        parts = nz.uk_postcode_parts(v["postcode"]) if v["country"] in (None, "GB") else None
        v["district_n"] = parts[1] if parts else None
        v["email"] = nz.email(g("email"))
        v["phone"] = nz.phone(g("phone"))
        if not v["surname_n"]:
            warnings.append(("no_identity", "row skipped: no name"))
            v["__skip__"] = True
        if kind == "convictions":
            cat = (g("category") or "").lower().replace("-", "_").replace(" ", "_")
            if cat not in CONVICTION_CATEGORIES:
                warnings.append(
                    (
                        "category_unknown",
                        f"conviction category {cat!r} unknown; recorded as 'other' "
                        f"(known: {', '.join(CONVICTION_CATEGORIES)})",
                    )
                )
                cat = "other"
            v["category"], v["detail"] = cat, g("offence")
            date_field = "convicted_on"
        elif kind == "roles":
            role = (g("role") or "").lower().replace("-", "_").replace(" ", "_")
            if not role:
                warnings.append(("role_missing", "row skipped: no role"))
                v["__skip__"] = True
            v["category"], v["detail"] = role or None, g("source")
            date_field = ""
        else:
            v["category"] = "register"
            date_field = "registered_on"
        if date_field:
            try:
                d = nz.parse_date(g(date_field), mapping.date_formats.get(date_field))
                v["start"] = dt.datetime.combine(d, dt.time(), dt.UTC) if d else None
            except ValueError as exc:
                warnings.append((f"{date_field}_invalid", f"{date_field} not used: {exc}"))
    elif kind == "compromised_cards":
        raw_card = g("card_number")
        try:
            card = check_card(raw_card or "")
        except InvalidInput as exc:
            warnings.append(("card_invalid", f"row skipped: {exc}"))
            v["__skip__"] = True
        else:
            v["card_token"] = vault.token(card.number)
        v["category"] = (g("status") or "compromised").lower()
        v["detail"] = g("breach")
        try:
            d = nz.parse_date(g("reported_on"), mapping.date_formats.get("reported_on"))
            v["start"] = dt.datetime.combine(d, dt.time(), dt.UTC) if d else None
        except ValueError as exc:
            warnings.append(("reported_on_invalid", f"reported_on not used: {exc}"))
    elif kind == "breaches":
        v["detail"] = g("name")
        try:
            v["start"] = nz.parse_timestamp(g("start"), mapping.date_formats.get("start"))
            v["end"] = nz.parse_timestamp(g("end"), mapping.date_formats.get("end"))
        except ValueError as exc:
            warnings.append(("window_invalid", f"row skipped: {exc}"))
            v["__skip__"] = True
        if not v.get("__skip__") and (v.get("start") is None or v.get("end") is None):
            warnings.append(("window_invalid", "row skipped: a breach needs start and end"))
            v["__skip__"] = True
        v["site"] = g("site")
        bins = [b.strip() for b in (g("bins") or "").replace(";", "|").split("|") if b.strip()]
        v["extra"] = {"bins": bins}
    _clip(v, cast(Table, PersonRef.__table__), warnings)
    return _Parsed(v, warnings)


def import_reference(
    db: Database,
    vault: CardVault,
    path: Path | str,
    *,
    kind: str,
    provenance: Provenance,
    actor: str,
    mapping: Mapping | None = None,
    fmt: str | None = None,
    encoding: str | None = None,
) -> ImportReport:
    """Import installation-wide reference data (register, convictions, roles, compromised
    cards, known breaches); text is decoded as by :func:`import_records`.

    Raises:
        InvalidInput: no row of the file could be imported (nothing is stored).
    """
    if kind not in REFERENCE_KINDS:
        raise InvalidInput(f"unknown reference kind {kind!r} (known: {', '.join(REFERENCE_KINDS)})")
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    mapping = mapping or Mapping.identity(REFERENCE_FIELDS[kind])
    fmt, enc = _source(path, fmt, encoding)
    sha, size = file_sha256(path)
    with db.write() as s:
        batch = _start_batch(
            s,
            path=path,
            kind=kind,
            case_id=None,
            provenance=provenance,
            mapping=mapping,
            actor=actor,
            key_id=vault.key_id,
            sha=sha,
            size=size,
        )
        report = ImportReport(
            batch_id=batch.id, kind=kind, sha256=sha, encoding=enc.describe() if enc else None
        )
        pending: list[dict[str, Any]] = []
        for line, raw in read_rows(path, fmt, enc):
            report.rows_read += 1
            if "__error__" in raw:
                report.warnings.append(RowWarning(line, "row_unreadable", str(raw["__error__"])))
                report.rows_skipped += 1
                continue
            parsed = _parse_reference(kind, raw, mapping, vault)
            for code, msg in parsed.warnings:
                report.warnings.append(RowWarning(line, code, msg))
            if parsed.values.pop("__skip__", False):
                report.rows_skipped += 1
                continue
            parsed.values.update(batch_id=batch.id, line=line)
            pending.append(parsed.values)
            report.rows_imported += 1
        _refuse_empty(path, report)
        for i in range(0, len(pending), CHUNK):
            s.execute(insert(PersonRef), pending[i : i + CHUNK])
        _finish(s, batch, report, actor)
    return report


def batch_warnings(session: Session, batch_id: int) -> list[PersonBatchWarning]:
    """Stored warnings of a batch, by line."""
    return list(
        session.execute(
            select(PersonBatchWarning)
            .where(PersonBatchWarning.batch_id == batch_id)
            .order_by(PersonBatchWarning.line, PersonBatchWarning.id)
        ).scalars()
    )


def iter_fields() -> Iterable[str]:
    """The record fields a mapping may name (for ``--help`` and docs)."""
    return RECORD_FIELDS
