"""wider assessment confidence

Revision ID: persons_0002
Revises: persons_0001
Create Date: 2026-11-22 17:11:35.483377
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "persons_0002"
down_revision = "persons_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("person_assessments", schema=None) as batch_op:
        batch_op.alter_column(
            "confidence",
            existing_type=sa.VARCHAR(length=30),
            type_=sa.String(length=80),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("person_assessments", schema=None) as batch_op:
        batch_op.alter_column(
            "confidence",
            existing_type=sa.String(length=80),
            type_=sa.VARCHAR(length=30),
            existing_nullable=False,
        )
