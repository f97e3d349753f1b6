"""face tables

Revision ID: faces_0001
Revises: 0001_foundation
Create Date: 2026-11-22 16:11:05.775101
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "faces_0001"
down_revision = "0001_foundation"
branch_labels = ("faces",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "face_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_models")),
        sa.UniqueConstraint(
            "role",
            "name",
            "version",
            "sha256",
            name=op.f("uq_face_models_role_name_version_sha256"),
        ),
    )
    op.create_table(
        "face_calibrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("target_fmr", sa.Float(), nullable=False),
        sa.Column("fmr", sa.Float(), nullable=False),
        sa.Column("tmr", sa.Float(), nullable=False),
        sa.Column("auc", sa.Float(), nullable=False),
        sa.Column("eer", sa.Float(), nullable=False),
        sa.Column("n_genuine", sa.Integer(), nullable=False),
        sa.Column("n_impostor", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["face_models.id"], name=op.f("fk_face_calibrations_model_id_face_models")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_calibrations")),
    )
    with op.batch_alter_table("face_calibrations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_face_calibrations_model_id"), ["model_id"], unique=False
        )

    op.create_table(
        "face_scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("detector_id", sa.Integer(), nullable=False),
        sa.Column("embedder_id", sa.Integer(), nullable=False),
        sa.Column("analyzer_version", sa.String(length=40), nullable=False),
        sa.Column("n_faces", sa.Integer(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("scanned_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["detector_id"], ["face_models.id"], name=op.f("fk_face_scans_detector_id_face_models")
        ),
        sa.ForeignKeyConstraint(
            ["embedder_id"], ["face_models.id"], name=op.f("fk_face_scans_embedder_id_face_models")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["media_items.id"],
            name=op.f("fk_face_scans_item_id_media_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_scans")),
        sa.UniqueConstraint(
            "item_id",
            "detector_id",
            "embedder_id",
            name=op.f("uq_face_scans_item_id_detector_id_embedder_id"),
        ),
    )
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("series", sa.JSON(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_identities_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identities")),
        sa.UniqueConstraint("code", name=op.f("uq_identities_code")),
    )
    op.create_table(
        "faces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("frame_time", sa.Float(), nullable=True),
        sa.Column("left", sa.Integer(), nullable=False),
        sa.Column("top", sa.Integer(), nullable=False),
        sa.Column("right", sa.Integer(), nullable=False),
        sa.Column("bottom", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("landmarks", sa.JSON(), nullable=False),
        sa.Column("rotation", sa.Integer(), nullable=False),
        sa.Column("blur", sa.Float(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("quality", sa.Float(), nullable=False),
        sa.Column("detector_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["detector_id"], ["face_models.id"], name=op.f("fk_faces_detector_id_face_models")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["media_items.id"],
            name=op.f("fk_faces_item_id_media_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["face_scans.id"],
            name=op.f("fk_faces_scan_id_face_scans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faces")),
    )
    with op.batch_alter_table("faces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_faces_item_id"), ["item_id"], unique=False)

    op.create_table(
        "face_clusters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("representative_face_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_face_clusters_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["face_models.id"], name=op.f("fk_face_clusters_model_id_face_models")
        ),
        sa.ForeignKeyConstraint(
            ["representative_face_id"],
            ["faces.id"],
            name=op.f("fk_face_clusters_representative_face_id_faces"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_clusters")),
        sa.UniqueConstraint("case_id", "label", name=op.f("uq_face_clusters_case_id_label")),
    )
    with op.batch_alter_table("face_clusters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_face_clusters_case_id"), ["case_id"], unique=False)

    op.create_table(
        "face_constraints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("face_a", sa.Integer(), nullable=False),
        sa.Column("face_b", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_face_constraints_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["face_a"],
            ["faces.id"],
            name=op.f("fk_face_constraints_face_a_faces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["face_b"],
            ["faces.id"],
            name=op.f("fk_face_constraints_face_b_faces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_constraints")),
        sa.UniqueConstraint(
            "case_id", "face_a", "face_b", name=op.f("uq_face_constraints_case_id_face_a_face_b")
        ),
    )
    with op.batch_alter_table("face_constraints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_face_constraints_case_id"), ["case_id"], unique=False)

    op.create_table(
        "face_embeddings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("face_id", sa.Integer(), nullable=True),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["face_id"],
            ["faces.id"],
            name=op.f("fk_face_embeddings_face_id_faces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["face_models.id"], name=op.f("fk_face_embeddings_model_id_face_models")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_embeddings")),
        sa.UniqueConstraint("face_id", name=op.f("uq_face_embeddings_face_id")),
    )
    with op.batch_alter_table("face_embeddings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_face_embeddings_model_id"), ["model_id"], unique=False)

    op.create_table(
        "face_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("face_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=60), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=True),
        sa.Column("matched_face_id", sa.Integer(), nullable=True),
        sa.Column("matched_case_id", sa.Integer(), nullable=True),
        sa.Column("distance", sa.Float(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_face_links_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["face_id"], ["faces.id"], name=op.f("fk_face_links_face_id_faces"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("fk_face_links_identity_id_identities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["matched_case_id"],
            ["cases.id"],
            name=op.f("fk_face_links_matched_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["matched_face_id"],
            ["faces.id"],
            name=op.f("fk_face_links_matched_face_id_faces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["face_models.id"], name=op.f("fk_face_links_model_id_face_models")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_links")),
        sa.UniqueConstraint(
            "case_id", "face_id", "target", name=op.f("uq_face_links_case_id_face_id_target")
        ),
    )
    with op.batch_alter_table("face_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_face_links_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_face_links_face_id"), ["face_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_face_links_identity_id"), ["identity_id"], unique=False
        )

    op.create_table(
        "face_cluster_members",
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("face_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["face_clusters.id"],
            name=op.f("fk_face_cluster_members_cluster_id_face_clusters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["face_id"],
            ["faces.id"],
            name=op.f("fk_face_cluster_members_face_id_faces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("cluster_id", "face_id", name=op.f("pk_face_cluster_members")),
    )
    with op.batch_alter_table("face_cluster_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_face_cluster_members_face_id"), ["face_id"], unique=False
        )

    op.create_table(
        "identity_references",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("embedding_id", sa.Integer(), nullable=False),
        sa.Column("face_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("added_by", sa.String(length=120), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["embedding_id"],
            ["face_embeddings.id"],
            name=op.f("fk_identity_references_embedding_id_face_embeddings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["face_id"], ["faces.id"], name=op.f("fk_identity_references_face_id_faces")
        ),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("fk_identity_references_identity_id_identities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_references")),
        sa.UniqueConstraint(
            "identity_id",
            "embedding_id",
            name=op.f("uq_identity_references_identity_id_embedding_id"),
        ),
    )
    with op.batch_alter_table("identity_references", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_references_embedding_id"), ["embedding_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_identity_references_identity_id"), ["identity_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_references", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_references_identity_id"))
        batch_op.drop_index(batch_op.f("ix_identity_references_embedding_id"))

    op.drop_table("identity_references")
    with op.batch_alter_table("face_cluster_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_face_cluster_members_face_id"))

    op.drop_table("face_cluster_members")
    with op.batch_alter_table("face_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_face_links_identity_id"))
        batch_op.drop_index(batch_op.f("ix_face_links_face_id"))
        batch_op.drop_index(batch_op.f("ix_face_links_case_id"))

    op.drop_table("face_links")
    with op.batch_alter_table("face_embeddings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_face_embeddings_model_id"))

    op.drop_table("face_embeddings")
    with op.batch_alter_table("face_constraints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_face_constraints_case_id"))

    op.drop_table("face_constraints")
    with op.batch_alter_table("face_clusters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_face_clusters_case_id"))

    op.drop_table("face_clusters")
    with op.batch_alter_table("faces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_faces_item_id"))

    op.drop_table("faces")
    op.drop_table("identities")
    op.drop_table("face_scans")
    with op.batch_alter_table("face_calibrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_face_calibrations_model_id"))

    op.drop_table("face_calibrations")
    op.drop_table("face_models")
