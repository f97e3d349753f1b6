from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, text, update

from vigil.errors import IntegrityError, InvalidInput
from vigil.store import audit
from vigil.store.db import Database
from vigil.store.models import AuditAnchor, AuditEntry


def _fill(db: Database, n: int = 5) -> None:
    with db.write() as s:
        for i in range(n):
            audit.append(
                s, f"user{i % 2}", "item.view", case_id=1, item_id=i, details={"i": i, "note": "ok"}
            )


def test_intact_chain_verifies(db: Database) -> None:
    _fill(db)
    with db.read() as s:
        report = audit.verify(s)
    assert report.entries == 5
    assert len(report.head_hash) == 64


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor", "someone-else"),
        ("action", "item.delete"),
        ("details", '{"i":2,"note":"edited"}'),
        ("item_id", 99),
        ("case_id", 2),
    ],
)
def test_edited_entry_is_detected(db: Database, column: str, value: object) -> None:
    _fill(db)
    with db.write() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values({column: value}))
    with db.read() as s, pytest.raises(IntegrityError, match="#3 was altered"):
        audit.verify(s)


def test_deleted_middle_entry_is_detected(db: Database) -> None:
    _fill(db)
    with db.write() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
    with db.read() as s, pytest.raises(IntegrityError, match="#2 is missing"):
        audit.verify(s)


def test_deleted_last_entry_is_detected_by_the_anchor(db: Database) -> None:
    _fill(db)
    with db.write() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq == 5))
    with db.read() as s, pytest.raises(IntegrityError, match="removed from the end"):
        audit.verify(s)


def test_reordered_entries_are_detected(db: Database) -> None:
    _fill(db)
    with db.write() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(seq=100))
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(seq=2))
        s.execute(update(AuditEntry).where(AuditEntry.seq == 100).values(seq=3))
    with db.read() as s, pytest.raises(IntegrityError):
        audit.verify(s)


def test_rewritten_chain_without_the_anchor_is_detected(db: Database) -> None:
    """Recomputing every hash after an edit still leaves the anchor pointing at the old head."""
    _fill(db)
    with db.write() as s:
        entries = list(s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars())
        entries[1].details = '{"i":1,"note":"forged"}'
        prev = audit.GENESIS
        for e in entries:
            e.prev_hash = prev
            e.entry_hash = audit.entry_digest(
                prev, e.seq, e.ts, e.actor, e.action, e.case_id, e.item_id, e.details
            )
            prev = e.entry_hash
    with db.read() as s, pytest.raises(IntegrityError, match="anchor"):
        audit.verify(s)
    with db.write() as s:  # and truncating the anchor too is caught by its hash
        s.execute(update(AuditAnchor).values(seq=4))
    with db.read() as s, pytest.raises(IntegrityError):
        audit.verify(s)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    position=st.integers(min_value=0, max_value=200), byte=st.integers(min_value=32, max_value=126)
)
def test_any_single_character_tamper_is_detected(db: Database, position: int, byte: int) -> None:
    with db.write() as s:
        if s.execute(select(AuditEntry.seq)).first() is None:
            for i in range(3):
                audit.append(s, "u", "x", details={"text": "abcdefghij" * 3, "i": i})
    with db.read() as s:
        original = s.execute(select(AuditEntry).where(AuditEntry.seq == 2)).scalar_one().details
    pos = position % len(original)
    tampered = original[:pos] + chr(byte) + original[pos + 1 :]
    if tampered == original:
        return
    with db.write() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(details=tampered))
    try:
        with db.read() as s, pytest.raises(IntegrityError):
            audit.verify(s)
    finally:
        with db.write() as s:
            s.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(details=original))


# --- issue 14, defect 10: a wiped or wholly rewritten log ----------------------------------


def _wipe(db: Database) -> None:
    with db.write() as s:
        s.execute(delete(AuditEntry))
        s.execute(delete(AuditAnchor))


def test_empty_store_verifies_with_zero_entries(db: Database) -> None:
    with db.read() as s:
        assert audit.verify(s).entries == 0


def test_wiped_log_next_to_existing_data_fails(db: Database) -> None:
    from vigil.store import repo

    with db.write() as s:
        repo.ensure_case(s, "op-wiped", "tester")
    _wipe(db)
    with db.read() as s, pytest.raises(IntegrityError, match=r"empty but the store holds 1 cases"):
        audit.verify(s)


def test_missing_audit_tables_fail(db: Database) -> None:
    _fill(db)
    with db.write() as s:
        s.execute(text("DROP TABLE audit_log"))
    with db.read() as s, pytest.raises(IntegrityError, match="cannot be read"):
        audit.verify(s)


def _rewrite(db: Database, n: int, note: str) -> None:
    """What an attacker with write access does: a fresh, self-consistent chain of ``n``."""
    _wipe(db)
    with db.write() as s:
        for i in range(n):
            audit.append(s, "user0", "item.view", case_id=1, item_id=i, details={"note": note})


def test_external_anchor_detects_a_shorter_rewritten_chain(db: Database) -> None:
    _fill(db, 5)
    with db.read() as s:
        head = audit.anchor_record(list(audit.iter_entries(s))[-1])
    assert head.seq == 5
    _rewrite(db, 3, "forged")
    with db.read() as s:
        assert audit.verify(s).entries == 3  # consistent in itself
        with pytest.raises(IntegrityError, match="has 3 entries but the anchor taken at"):
            audit.verify(s, anchors=[head])


def test_external_anchor_detects_a_same_length_rewritten_chain(db: Database) -> None:
    _fill(db, 5)
    with db.read() as s:
        entries = list(audit.iter_entries(s))
        anchors = [audit.anchor_record(entries[1]), audit.anchor_record(entries[-1])]
        assert audit.verify(s, anchors=anchors).anchors_checked == 2
    _rewrite(db, 7, "forged")
    with db.read() as s, pytest.raises(IntegrityError, match="#2 is not the one anchored"):
        audit.verify(s, anchors=anchors)


def test_anchor_lines_round_trip_and_bad_lines_are_named() -> None:
    record = audit.ExternalAnchor(7, "ab" * 32, "2026-12-05T20:00:00.000000Z")
    text_in = record.line() + "\n\n" + record.line() + "\n"
    assert audit.parse_anchors(text_in, "a.jsonl") == [record, record]
    with pytest.raises(InvalidInput, match=r"b\.jsonl, line 2"):
        audit.parse_anchors(record.line() + "\n{not json\n", "b.jsonl")
    with pytest.raises(InvalidInput, match="line 1"):
        audit.parse_anchors('{"format": "vigil-audit-anchor/1", "seq": 0, "hash": "x"}', "c")
    with pytest.raises(InvalidInput, match="no audit anchor"):
        audit.parse_anchors("\n", "d")
