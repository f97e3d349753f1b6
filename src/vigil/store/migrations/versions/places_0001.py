"""places: scene features, places, reference collections, links, camera fingerprints

Revision ID: places_0001
Revises: 0001_foundation
Create Date: 2026-11-22 16:31:57.282641
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "places_0001"
down_revision = "0001_foundation"
branch_labels = ("places",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "place_collections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("source_path", sa.Text(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("provenance", sa.Text(), nullable=True),
        sa.Column("imported_by", sa.String(length=120), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_place_collections_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place_collections")),
        sa.UniqueConstraint("name", name=op.f("uq_place_collections_name")),
    )
    op.create_table(
        "places",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("place_type", sa.String(length=40), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_places_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_places")),
        sa.UniqueConstraint("key", name=op.f("uq_places_key")),
    )
    op.create_table(
        "place_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("place_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["media_items.id"],
            name=op.f("fk_place_links_item_id_media_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["place_id"],
            ["places.id"],
            name=op.f("fk_place_links_place_id_places"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place_links")),
        sa.UniqueConstraint("place_id", "item_id", name=op.f("uq_place_links_place_id_item_id")),
    )
    op.create_table(
        "place_reference_images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("place_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["place_collections.id"],
            name=op.f("fk_place_reference_images_collection_id_place_collections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["place_id"], ["places.id"], name=op.f("fk_place_reference_images_place_id_places")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place_reference_images")),
        sa.UniqueConstraint(
            "collection_id", "path", name=op.f("uq_place_reference_images_collection_id_path")
        ),
    )
    with op.batch_alter_table("place_reference_images", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_place_reference_images_collection_id"), ["collection_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_place_reference_images_place_id"), ["place_id"], unique=False
        )

    op.create_table(
        "camera_fingerprints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("make", sa.String(length=120), nullable=True),
        sa.Column("model", sa.String(length=120), nullable=True),
        sa.Column("serial", sa.String(length=120), nullable=True),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("n_images", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_camera_fingerprints_case_id_cases"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_fingerprints")),
        sa.UniqueConstraint("name", name=op.f("uq_camera_fingerprints_name")),
    )
    op.create_table(
        "scene_features",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("reference_id", sa.Integer(), nullable=True),
        sa.Column("frame", sa.Integer(), nullable=False),
        sa.Column("time_s", sa.Float(), nullable=True),
        sa.Column("extractor", sa.String(length=40), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("n_keypoints", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["media_items.id"],
            name=op.f("fk_scene_features_item_id_media_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reference_id"],
            ["place_reference_images.id"],
            name=op.f("fk_scene_features_reference_id_place_reference_images"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scene_features")),
        sa.UniqueConstraint(
            "item_id", "frame", "extractor", name=op.f("uq_scene_features_item_id_frame_extractor")
        ),
    )
    with op.batch_alter_table("scene_features", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scene_features_item_id"), ["item_id"], unique=False)
        batch_op.create_index("ix_scene_features_reference", ["reference_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scene_features", schema=None) as batch_op:
        batch_op.drop_index("ix_scene_features_reference")
        batch_op.drop_index(batch_op.f("ix_scene_features_item_id"))

    op.drop_table("scene_features")
    op.drop_table("camera_fingerprints")
    with op.batch_alter_table("place_reference_images", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_place_reference_images_place_id"))
        batch_op.drop_index(batch_op.f("ix_place_reference_images_collection_id"))

    op.drop_table("place_reference_images")
    op.drop_table("place_links")
    op.drop_table("places")
    op.drop_table("place_collections")
