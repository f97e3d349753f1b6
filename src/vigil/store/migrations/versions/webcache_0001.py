"""web app: per-case cache shared by the server's worker processes (derived data only)

Revision ID: webcache_0001
Revises: 0001_foundation
Create Date: 2026-12-05 23:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "webcache_0001"
down_revision = "0001_foundation"
branch_labels = ("webcache",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_case_cache",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.Column("built_at", sa.Float(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_web_case_cache_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", "kind", name=op.f("pk_web_case_cache")),
    )


def downgrade() -> None:
    op.drop_table("web_case_cache")
