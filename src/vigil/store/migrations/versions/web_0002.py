"""web app: login failures an administrator cleared (lock-out lifted) stop counting

Revision ID: web_0002
Revises: web_0001
Create Date: 2026-12-05 20:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "web_0002"
down_revision = "web_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_login_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cleared_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_login_attempts", schema=None) as batch_op:
        batch_op.drop_column("cleared_at")
