"""share pushes and overlaps

Revision ID: share_0001
Revises: 0001_foundation
Create Date: 2026-12-05 20:40:59.552339
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "share_0001"
down_revision = "0001_foundation"
branch_labels = ("share",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "share_overlaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hub", sa.String(length=500), nullable=False),
        sa.Column("remote_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("local_ref", sa.String(length=100), nullable=False),
        sa.Column("other_agency", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("my_decision", sa.String(length=10), nullable=True),
        sa.Column("their_decision", sa.String(length=10), nullable=True),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_share_overlaps_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_overlaps")),
        sa.UniqueConstraint("hub", "remote_id", name=op.f("uq_share_overlaps_hub_remote_id")),
    )
    with op.batch_alter_table("share_overlaps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_share_overlaps_case_id"), ["case_id"], unique=False)

    op.create_table(
        "share_pushes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.String(length=500), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("bundle_sha256", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_share_pushes_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_pushes")),
    )
    with op.batch_alter_table("share_pushes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_share_pushes_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_share_pushes_operation"), ["operation"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("share_pushes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_pushes_operation"))
        batch_op.drop_index(batch_op.f("ix_share_pushes_case_id"))

    op.drop_table("share_pushes")
    with op.batch_alter_table("share_overlaps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_overlaps_case_id"))

    op.drop_table("share_overlaps")
