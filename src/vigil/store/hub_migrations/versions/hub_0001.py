"""hub tables

Revision ID: hub_0001
Revises:
Create Date: 2026-12-05 20:30:18.576026
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "hub_0001"
down_revision = None
branch_labels = ("hub",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_audit_anchor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_audit_anchor")),
    )
    op.create_table(
        "hub_audit_log",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("ts", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_hub_audit_log")),
    )
    with op.batch_alter_table("hub_audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hub_audit_log_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_audit_log_case_id"), ["case_id"], unique=False)

    op.create_table(
        "hub_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("force", sa.String(length=200), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_members")),
        sa.UniqueConstraint("key_id", name=op.f("uq_hub_members_key_id")),
        sa.UniqueConstraint("name", name=op.f("uq_hub_members_name")),
    )
    op.create_table(
        "hub_nonces",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "nonce", name=op.f("pk_hub_nonces")),
    )
    with op.batch_alter_table("hub_nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hub_nonces_at"), ["at"], unique=False)

    op.create_table(
        "hub_operations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("action_day", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_operations")),
        sa.UniqueConstraint("code", name=op.f("uq_hub_operations_code")),
    )
    op.create_table(
        "hub_bundles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("case_ref", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("n_signals", sa.Integer(), nullable=False),
        sa.Column("envelope_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["hub_members.id"], name=op.f("fk_hub_bundles_member_id_hub_members")
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["hub_operations.id"],
            name=op.f("fk_hub_bundles_operation_id_hub_operations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_bundles")),
    )
    op.create_table(
        "hub_checklist",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("item", sa.String(length=200), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["hub_operations.id"],
            name=op.f("fk_hub_checklist_operation_id_hub_operations"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["hub_members.id"], name=op.f("fk_hub_checklist_updated_by_hub_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_checklist")),
        sa.UniqueConstraint(
            "operation_id",
            "country",
            "item",
            name=op.f("uq_hub_checklist_operation_id_country_item"),
        ),
    )
    op.create_table(
        "hub_participants",
        sa.Column("operation_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["hub_members.id"],
            name=op.f("fk_hub_participants_member_id_hub_members"),
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["hub_operations.id"],
            name=op.f("fk_hub_participants_operation_id_hub_operations"),
        ),
        sa.PrimaryKeyConstraint("operation_id", "member_id", name=op.f("pk_hub_participants")),
    )
    op.create_table(
        "hub_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("children_safeguarded", sa.Integer(), nullable=False),
        sa.Column("subject_refs", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["hub_members.id"], name=op.f("fk_hub_targets_member_id_hub_members")
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["hub_operations.id"],
            name=op.f("fk_hub_targets_operation_id_hub_operations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_targets")),
        sa.UniqueConstraint(
            "operation_id",
            "member_id",
            "ref",
            name=op.f("uq_hub_targets_operation_id_member_id_ref"),
        ),
    )
    with op.batch_alter_table("hub_targets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hub_targets_operation_id"), ["operation_id"], unique=False
        )

    op.create_table(
        "hub_signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bundle_id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("value_key", sa.String(length=64), nullable=False),
        sa.Column("local_ref", sa.String(length=100), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("group", sa.String(length=200), nullable=False),
        sa.Column("quarantined", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bundle_id"], ["hub_bundles.id"], name=op.f("fk_hub_signals_bundle_id_hub_bundles")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["hub_members.id"], name=op.f("fk_hub_signals_member_id_hub_members")
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["hub_operations.id"],
            name=op.f("fk_hub_signals_operation_id_hub_operations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_signals")),
    )
    with op.batch_alter_table("hub_signals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_hub_signals_lookup", ["operation_id", "kind", "value_key"], unique=False
        )

    op.create_table(
        "hub_overlaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("member_a", sa.Integer(), nullable=False),
        sa.Column("member_b", sa.Integer(), nullable=False),
        sa.Column("ref_a", sa.String(length=100), nullable=False),
        sa.Column("ref_b", sa.String(length=100), nullable=False),
        sa.Column("signal_a", sa.Integer(), nullable=False),
        sa.Column("signal_b", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("decision_a", sa.String(length=10), nullable=True),
        sa.Column("decision_b", sa.String(length=10), nullable=True),
        sa.Column("proof_requested_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_a"], ["hub_members.id"], name=op.f("fk_hub_overlaps_member_a_hub_members")
        ),
        sa.ForeignKeyConstraint(
            ["member_b"], ["hub_members.id"], name=op.f("fk_hub_overlaps_member_b_hub_members")
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["hub_operations.id"],
            name=op.f("fk_hub_overlaps_operation_id_hub_operations"),
        ),
        sa.ForeignKeyConstraint(
            ["signal_a"], ["hub_signals.id"], name=op.f("fk_hub_overlaps_signal_a_hub_signals")
        ),
        sa.ForeignKeyConstraint(
            ["signal_b"], ["hub_signals.id"], name=op.f("fk_hub_overlaps_signal_b_hub_signals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_overlaps")),
        sa.UniqueConstraint(
            "operation_id",
            "kind",
            "member_a",
            "ref_a",
            "member_b",
            "ref_b",
            name=op.f("uq_hub_overlaps_operation_id_kind_member_a_ref_a_member_b_ref_b"),
        ),
    )
    with op.batch_alter_table("hub_overlaps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hub_overlaps_operation_id"), ["operation_id"], unique=False
        )

    op.create_table(
        "hub_quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signal_id", sa.Integer(), nullable=False),
        sa.Column("matches", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["signal_id"], ["hub_signals.id"], name=op.f("fk_hub_quarantine_signal_id_hub_signals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_quarantine")),
        sa.UniqueConstraint("signal_id", name=op.f("uq_hub_quarantine_signal_id")),
    )
    op.create_table(
        "hub_deconflictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.Integer(), nullable=False),
        sa.Column("target_a", sa.Integer(), nullable=False),
        sa.Column("target_b", sa.Integer(), nullable=False),
        sa.Column("overlap_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["hub_operations.id"],
            name=op.f("fk_hub_deconflictions_operation_id_hub_operations"),
        ),
        sa.ForeignKeyConstraint(
            ["overlap_id"],
            ["hub_overlaps.id"],
            name=op.f("fk_hub_deconflictions_overlap_id_hub_overlaps"),
        ),
        sa.ForeignKeyConstraint(
            ["target_a"],
            ["hub_targets.id"],
            name=op.f("fk_hub_deconflictions_target_a_hub_targets"),
        ),
        sa.ForeignKeyConstraint(
            ["target_b"],
            ["hub_targets.id"],
            name=op.f("fk_hub_deconflictions_target_b_hub_targets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_deconflictions")),
        sa.UniqueConstraint(
            "target_a", "target_b", name=op.f("uq_hub_deconflictions_target_a_target_b")
        ),
    )
    op.create_table(
        "hub_suppressions",
        sa.Column("member_a", sa.Integer(), nullable=False),
        sa.Column("ref_a", sa.String(length=100), nullable=False),
        sa.Column("member_b", sa.Integer(), nullable=False),
        sa.Column("ref_b", sa.String(length=100), nullable=False),
        sa.Column("overlap_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_a"], ["hub_members.id"], name=op.f("fk_hub_suppressions_member_a_hub_members")
        ),
        sa.ForeignKeyConstraint(
            ["member_b"], ["hub_members.id"], name=op.f("fk_hub_suppressions_member_b_hub_members")
        ),
        sa.ForeignKeyConstraint(
            ["overlap_id"],
            ["hub_overlaps.id"],
            name=op.f("fk_hub_suppressions_overlap_id_hub_overlaps"),
        ),
        sa.PrimaryKeyConstraint(
            "member_a", "ref_a", "member_b", "ref_b", name=op.f("pk_hub_suppressions")
        ),
    )
    op.create_table(
        "hub_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("overlap_id", sa.Integer(), nullable=True),
        sa.Column("deconfliction_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deconfliction_id"],
            ["hub_deconflictions.id"],
            name=op.f("fk_hub_notifications_deconfliction_id_hub_deconflictions"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["hub_members.id"],
            name=op.f("fk_hub_notifications_member_id_hub_members"),
        ),
        sa.ForeignKeyConstraint(
            ["overlap_id"],
            ["hub_overlaps.id"],
            name=op.f("fk_hub_notifications_overlap_id_hub_overlaps"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_notifications")),
    )
    with op.batch_alter_table("hub_notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hub_notifications_member_id"), ["member_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("hub_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_notifications_member_id"))

    op.drop_table("hub_notifications")
    op.drop_table("hub_suppressions")
    op.drop_table("hub_deconflictions")
    op.drop_table("hub_quarantine")
    with op.batch_alter_table("hub_overlaps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_overlaps_operation_id"))

    op.drop_table("hub_overlaps")
    with op.batch_alter_table("hub_signals", schema=None) as batch_op:
        batch_op.drop_index("ix_hub_signals_lookup")

    op.drop_table("hub_signals")
    with op.batch_alter_table("hub_targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_targets_operation_id"))

    op.drop_table("hub_targets")
    op.drop_table("hub_participants")
    op.drop_table("hub_checklist")
    op.drop_table("hub_bundles")
    op.drop_table("hub_operations")
    with op.batch_alter_table("hub_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_nonces_at"))

    op.drop_table("hub_nonces")
    op.drop_table("hub_members")
    with op.batch_alter_table("hub_audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_audit_log_case_id"))
        batch_op.drop_index(batch_op.f("ix_hub_audit_log_action"))

    op.drop_table("hub_audit_log")
    op.drop_table("hub_audit_anchor")
