"""triage state: as-of and catalogue signature

Revision ID: hashsets_0002
Revises: hashsets_0001
Create Date: 2026-12-05 20:25:48.156622
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "hashsets_0002"
down_revision = "hashsets_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "triage_states",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("matched_at", sa.DateTime(), nullable=False),
        sa.Column("catalogue", sa.JSON(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_triage_states_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_triage_states")),
    )


def downgrade() -> None:
    op.drop_table("triage_states")
