"""face model files

Revision ID: faces_0003
Revises: faces_0002
Create Date: 2026-12-05 21:11:59.542828
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "faces_0003"
down_revision = "faces_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "face_model_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("licence", sa.Text(), nullable=False),
        sa.Column("registered_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["face_models.id"], name=op.f("fk_face_model_files_model_id_face_models")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_model_files")),
        sa.UniqueConstraint("name", name=op.f("uq_face_model_files_name")),
    )


def downgrade() -> None:
    op.drop_table("face_model_files")
