"""same-room proofs relayed through the hub

Revision ID: hub_0002
Revises: hub_0001
Create Date: 2026-12-05 23:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "hub_0002"
down_revision = "hub_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_proofs",
        sa.Column("overlap_id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=False),
        sa.Column("verifier_id", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=True),
        sa.Column("sealed_sha256", sa.String(length=64), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("proved_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["overlap_id"], ["hub_overlaps.id"], name=op.f("fk_hub_proofs_overlap_id_hub_overlaps")
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"], ["hub_members.id"], name=op.f("fk_hub_proofs_sender_id_hub_members")
        ),
        sa.ForeignKeyConstraint(
            ["verifier_id"], ["hub_members.id"], name=op.f("fk_hub_proofs_verifier_id_hub_members")
        ),
        sa.PrimaryKeyConstraint("overlap_id", name=op.f("pk_hub_proofs")),
    )


def downgrade() -> None:
    op.drop_table("hub_proofs")
