"""face ages

Revision ID: faces_0002
Revises: faces_0001
Create Date: 2026-12-05 20:27:15.124587
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "faces_0002"
down_revision = "faces_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "face_ages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("face_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("age_low", sa.Float(), nullable=False),
        sa.Column("age_median", sa.Float(), nullable=False),
        sa.Column("age_high", sa.Float(), nullable=False),
        sa.Column("p_minor", sa.Float(), nullable=False),
        sa.Column("likely_minor", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["face_id"], ["faces.id"], name=op.f("fk_face_ages_face_id_faces"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["face_models.id"], name=op.f("fk_face_ages_model_id_face_models")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_ages")),
        sa.UniqueConstraint("face_id", "model_id", name=op.f("uq_face_ages_face_id_model_id")),
    )
    with op.batch_alter_table("face_ages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_face_ages_face_id"), ["face_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_face_ages_likely_minor"), ["likely_minor"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("face_ages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_face_ages_likely_minor"))
        batch_op.drop_index(batch_op.f("ix_face_ages_face_id"))

    op.drop_table("face_ages")
