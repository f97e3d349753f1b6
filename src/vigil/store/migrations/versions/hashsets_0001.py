"""hash sets, item signals, matches, triage, grades

Revision ID: hashsets_0001
Revises: 0001_foundation
Create Date: 2026-11-22 16:14:25.965688
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "hashsets_0001"
down_revision = "0001_foundation"
branch_labels = ("hashsets",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hash_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("format", sa.String(length=40), nullable=False),
        sa.Column("format_variant", sa.String(length=40), nullable=True),
        sa.Column("scheme", sa.String(length=40), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("licence", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.Column("imported_by", sa.String(length=120), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("warning_count", sa.Integer(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hash_sets")),
        sa.UniqueConstraint("name", name=op.f("uq_hash_sets_name")),
    )
    op.create_table(
        "hash_set_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.String(length=120), nullable=True),
        sa.Column("md5", sa.String(length=32), nullable=True),
        sa.Column("sha1", sa.String(length=40), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("pdq", sa.String(length=64), nullable=True),
        sa.Column("pdq_quality", sa.Integer(), nullable=True),
        sa.Column("photodna", sa.Text(), nullable=True),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("series", sa.String(length=200), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("victim_identified", sa.Boolean(), nullable=True),
        sa.Column("offender_identified", sa.Boolean(), nullable=True),
        sa.Column("is_distributed", sa.Boolean(), nullable=True),
        sa.Column("is_precategorized", sa.Boolean(), nullable=True),
        sa.Column("media_size", sa.BigInteger(), nullable=True),
        sa.Column("record", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["set_id"],
            ["hash_sets.id"],
            name=op.f("fk_hash_set_entries_set_id_hash_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hash_set_entries")),
    )
    with op.batch_alter_table("hash_set_entries", schema=None) as batch_op:
        batch_op.create_index("ix_hash_set_entries_md5", ["md5"], unique=False)
        batch_op.create_index("ix_hash_set_entries_pdq", ["pdq"], unique=False)
        batch_op.create_index(batch_op.f("ix_hash_set_entries_set_id"), ["set_id"], unique=False)
        batch_op.create_index("ix_hash_set_entries_sha1", ["sha1"], unique=False)
        batch_op.create_index("ix_hash_set_entries_sha256", ["sha256"], unique=False)

    op.create_table(
        "item_signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("signal_type", sa.String(length=40), nullable=False),
        sa.Column("frame", sa.Integer(), nullable=False),
        sa.Column("timestamp_s", sa.Float(), nullable=True),
        sa.Column("value", sa.String(length=64), nullable=True),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=60), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("hasher_version", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["media_items.id"],
            name=op.f("fk_item_signals_item_id_media_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_signals")),
        sa.UniqueConstraint(
            "item_id",
            "signal_type",
            "frame",
            name=op.f("uq_item_signals_item_id_signal_type_frame"),
        ),
    )
    with op.batch_alter_table("item_signals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_signals_item_id"), ["item_id"], unique=False)
        batch_op.create_index("ix_item_signals_value", ["signal_type", "value"], unique=False)

    op.create_table(
        "grades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(length=120), nullable=False),
        sa.Column("scheme", sa.String(length=40), nullable=False),
        sa.Column("grade", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("graded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_grades_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["media_items.id"],
            name=op.f("fk_grades_item_id_media_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grades")),
        sa.UniqueConstraint(
            "case_id", "item_id", "reviewer", name=op.f("uq_grades_case_id_item_id_reviewer")
        ),
    )
    with op.batch_alter_table("grades", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grades_case_id"), ["case_id"], unique=False)

    op.create_table(
        "item_matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("signal_type", sa.String(length=40), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.Column("frames_matched", sa.Integer(), nullable=True),
        sa.Column("matched_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_item_matches_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["hash_set_entries.id"],
            name=op.f("fk_item_matches_entry_id_hash_set_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["media_items.id"],
            name=op.f("fk_item_matches_item_id_media_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["set_id"],
            ["hash_sets.id"],
            name=op.f("fk_item_matches_set_id_hash_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_matches")),
        sa.UniqueConstraint(
            "case_id",
            "item_id",
            "entry_id",
            "signal_type",
            name=op.f("uq_item_matches_case_id_item_id_entry_id_signal_type"),
        ),
    )
    with op.batch_alter_table("item_matches", schema=None) as batch_op:
        batch_op.create_index("ix_item_matches_case_item", ["case_id", "item_id"], unique=False)

    op.create_table(
        "triage_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("representative_item_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("occurrence_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_triage_groups_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["representative_item_id"],
            ["media_items.id"],
            name=op.f("fk_triage_groups_representative_item_id_media_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_groups")),
    )
    with op.batch_alter_table("triage_groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_triage_groups_case_id"), ["case_id"], unique=False)

    op.create_table(
        "triage_outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("perceptual", sa.String(length=60), nullable=False),
        sa.Column("best_set_id", sa.Integer(), nullable=True),
        sa.Column("best_entry_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("grade", sa.String(length=20), nullable=True),
        sa.Column("series", sa.String(length=200), nullable=True),
        sa.Column("distance", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("group_distance", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["best_entry_id"],
            ["hash_set_entries.id"],
            name=op.f("fk_triage_outcomes_best_entry_id_hash_set_entries"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["best_set_id"],
            ["hash_sets.id"],
            name=op.f("fk_triage_outcomes_best_set_id_hash_sets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_triage_outcomes_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["triage_groups.id"],
            name=op.f("fk_triage_outcomes_group_id_triage_groups"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["media_items.id"],
            name=op.f("fk_triage_outcomes_item_id_media_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_outcomes")),
        sa.UniqueConstraint("case_id", "item_id", name=op.f("uq_triage_outcomes_case_id_item_id")),
    )
    with op.batch_alter_table("triage_outcomes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_triage_outcomes_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("triage_outcomes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_triage_outcomes_case_id"))

    op.drop_table("triage_outcomes")
    with op.batch_alter_table("triage_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_triage_groups_case_id"))

    op.drop_table("triage_groups")
    with op.batch_alter_table("item_matches", schema=None) as batch_op:
        batch_op.drop_index("ix_item_matches_case_item")

    op.drop_table("item_matches")
    with op.batch_alter_table("grades", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grades_case_id"))

    op.drop_table("grades")
    with op.batch_alter_table("item_signals", schema=None) as batch_op:
        batch_op.drop_index("ix_item_signals_value")
        batch_op.drop_index(batch_op.f("ix_item_signals_item_id"))

    op.drop_table("item_signals")
    with op.batch_alter_table("hash_set_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_hash_set_entries_sha256")
        batch_op.drop_index("ix_hash_set_entries_sha1")
        batch_op.drop_index(batch_op.f("ix_hash_set_entries_set_id"))
        batch_op.drop_index("ix_hash_set_entries_pdq")
        batch_op.drop_index("ix_hash_set_entries_md5")

    op.drop_table("hash_set_entries")
    op.drop_table("hash_sets")
