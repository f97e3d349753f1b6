"""persons tables

Revision ID: persons_0001
Revises: 0001_foundation
Create Date: 2026-11-22 16:14:09.989305
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "persons_0001"
down_revision = "0001_foundation"
branch_labels = ("persons",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("legal_basis", sa.String(length=300), nullable=False),
        sa.Column("received_from", sa.String(length=200), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=True),
        sa.Column("mapping", sa.JSON(), nullable=True),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_imported", sa.Integer(), nullable=False),
        sa.Column("warning_count", sa.Integer(), nullable=False),
        sa.Column("card_key_id", sa.String(length=32), nullable=True),
        sa.Column("imported_by", sa.String(length=120), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_person_batches_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_batches")),
    )
    with op.batch_alter_table("person_batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_batches_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_batches_sha256"), ["sha256"], unique=False)

    op.create_table(
        "person_link_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("backend", sa.String(length=20), nullable=False),
        sa.Column("model_json", sa.Text(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("splink_version", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_person_link_runs_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_link_runs")),
    )
    with op.batch_alter_table("person_link_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_link_runs_case_id"), ["case_id"], unique=False)

    op.create_table(
        "person_referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("agency", sa.String(length=200), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("person_ids", sa.JSON(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_person_referrals_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_referrals")),
    )
    with op.batch_alter_table("person_referrals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_referrals_case_id"), ["case_id"], unique=False)

    op.create_table(
        "persons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("stage", sa.String(length=30), nullable=False),
        sa.Column("children_safeguarded", sa.Integer(), nullable=False),
        sa.Column("agency", sa.String(length=200), nullable=True),
        sa.Column("agency_ambiguous", sa.Boolean(), nullable=False),
        sa.Column("band", sa.String(length=40), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_persons_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
    )
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_persons_case_id"), ["case_id"], unique=False)

    op.create_table(
        "person_assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("policy_name", sa.String(length=120), nullable=False),
        sa.Column("policy_sha256", sa.String(length=64), nullable=False),
        sa.Column("band", sa.String(length=40), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("confidence", sa.String(length=30), nullable=False),
        sa.Column("factors", sa.JSON(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_person_assessments_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_person_assessments_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_assessments")),
    )
    with op.batch_alter_table("person_assessments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_person_assessments_case_id"), ["case_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_person_assessments_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "person_batch_warnings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["person_batches.id"],
            name=op.f("fk_person_batch_warnings_batch_id_person_batches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_batch_warnings")),
    )
    with op.batch_alter_table("person_batch_warnings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_person_batch_warnings_batch_id"), ["batch_id"], unique=False
        )

    op.create_table(
        "person_outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=30), nullable=False),
        sa.Column("children_safeguarded", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=120), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_person_outcomes_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_outcomes")),
    )
    with op.batch_alter_table("person_outcomes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_person_outcomes_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "person_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("record_ref", sa.String(length=120), nullable=True),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("postcode", sa.String(length=20), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("dob", sa.Date(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("first_name_n", sa.String(length=100), nullable=True),
        sa.Column("surname_n", sa.String(length=100), nullable=True),
        sa.Column("address_n", sa.Text(), nullable=True),
        sa.Column("district_n", sa.String(length=10), nullable=True),
        sa.Column("card_token", sa.String(length=32), nullable=True),
        sa.Column("card_enc", sa.LargeBinary(), nullable=True),
        sa.Column("card_bin", sa.String(length=6), nullable=True),
        sa.Column("card_last4", sa.String(length=4), nullable=True),
        sa.Column("card_country", sa.String(length=2), nullable=True),
        sa.Column("card_expiry", sa.String(length=10), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("ip_country", sa.String(length=2), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("ts", sa.DateTime(), nullable=True),
        sa.Column("amount", sa.Float(), nullable=True),
        sa.Column("site", sa.String(length=300), nullable=True),
        sa.Column("access_count", sa.Integer(), nullable=True),
        sa.Column("last_access", sa.DateTime(), nullable=True),
        sa.Column("verification_failed", sa.Boolean(), nullable=True),
        sa.Column("chargeback", sa.Boolean(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["person_batches.id"],
            name=op.f("fk_person_records_batch_id_person_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_person_records_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_records")),
    )
    with op.batch_alter_table("person_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_records_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index("ix_person_records_card", ["card_token"], unique=False)
        batch_op.create_index(
            "ix_person_records_case_card", ["case_id", "card_token"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_person_records_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_records_site"), ["site"], unique=False)

    op.create_table(
        "person_refs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=120), nullable=True),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("first_name_n", sa.String(length=100), nullable=True),
        sa.Column("surname_n", sa.String(length=100), nullable=True),
        sa.Column("dob", sa.Date(), nullable=True),
        sa.Column("address_n", sa.Text(), nullable=True),
        sa.Column("postcode", sa.String(length=20), nullable=True),
        sa.Column("district_n", sa.String(length=10), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("card_token", sa.String(length=32), nullable=True),
        sa.Column("category", sa.String(length=60), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("start", sa.DateTime(), nullable=True),
        sa.Column("end", sa.DateTime(), nullable=True),
        sa.Column("site", sa.String(length=300), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["person_batches.id"], name=op.f("fk_person_refs_batch_id_person_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_refs")),
    )
    with op.batch_alter_table("person_refs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_refs_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_refs_card_token"), ["card_token"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_refs_kind"), ["kind"], unique=False)

    op.create_table(
        "person_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("match_weight", sa.Float(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["person_batches.id"],
            name=op.f("fk_person_alerts_batch_id_person_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_person_alerts_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["person_records.id"],
            name=op.f("fk_person_alerts_record_id_person_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_alerts")),
    )
    with op.batch_alter_table("person_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_alerts_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_alerts_person_id"), ["person_id"], unique=False)

    op.create_table(
        "person_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_a", sa.Integer(), nullable=False),
        sa.Column("record_b", sa.Integer(), nullable=False),
        sa.Column("same", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=120), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_a"],
            ["person_records.id"],
            name=op.f("fk_person_decisions_record_a_person_records"),
        ),
        sa.ForeignKeyConstraint(
            ["record_b"],
            ["person_records.id"],
            name=op.f("fk_person_decisions_record_b_person_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_decisions")),
        sa.UniqueConstraint(
            "record_a", "record_b", name=op.f("uq_person_decisions_record_a_record_b")
        ),
    )
    op.create_table(
        "person_link_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("record_a", sa.Integer(), nullable=False),
        sa.Column("record_b", sa.Integer(), nullable=False),
        sa.Column("person_a", sa.Integer(), nullable=True),
        sa.Column("person_b", sa.Integer(), nullable=True),
        sa.Column("match_weight", sa.Float(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_person_link_flags_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["person_a"], ["persons.id"], name=op.f("fk_person_link_flags_person_a_persons")
        ),
        sa.ForeignKeyConstraint(
            ["person_b"], ["persons.id"], name=op.f("fk_person_link_flags_person_b_persons")
        ),
        sa.ForeignKeyConstraint(
            ["record_a"],
            ["person_records.id"],
            name=op.f("fk_person_link_flags_record_a_person_records"),
        ),
        sa.ForeignKeyConstraint(
            ["record_b"],
            ["person_records.id"],
            name=op.f("fk_person_link_flags_record_b_person_records"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["person_link_runs.id"],
            name=op.f("fk_person_link_flags_run_id_person_link_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_link_flags")),
    )
    with op.batch_alter_table("person_link_flags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_link_flags_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_link_flags_run_id"), ["run_id"], unique=False)

    op.create_table(
        "person_links",
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("match_weight", sa.Float(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_person_links_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["person_records.id"],
            name=op.f("fk_person_links_record_id_person_records"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["person_link_runs.id"],
            name=op.f("fk_person_links_run_id_person_link_runs"),
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_person_links")),
    )
    with op.batch_alter_table("person_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_links_person_id"), ["person_id"], unique=False)

    op.create_table(
        "person_record_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_person_record_flags_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["person_records.id"],
            name=op.f("fk_person_record_flags_record_id_person_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_record_flags")),
        sa.UniqueConstraint(
            "record_id", "code", name=op.f("uq_person_record_flags_record_id_code")
        ),
    )
    with op.batch_alter_table("person_record_flags", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_person_record_flags_case_id"), ["case_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_person_record_flags_record_id"), ["record_id"], unique=False
        )

    op.create_table(
        "person_ref_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("match_weight", sa.Float(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_person_ref_links_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["person_records.id"],
            name=op.f("fk_person_ref_links_record_id_person_records"),
        ),
        sa.ForeignKeyConstraint(
            ["ref_id"], ["person_refs.id"], name=op.f("fk_person_ref_links_ref_id_person_refs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_ref_links")),
        sa.UniqueConstraint(
            "person_id", "ref_id", name=op.f("uq_person_ref_links_person_id_ref_id")
        ),
    )
    with op.batch_alter_table("person_ref_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_person_ref_links_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_person_ref_links_ref_id"), ["ref_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("person_ref_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_ref_links_ref_id"))
        batch_op.drop_index(batch_op.f("ix_person_ref_links_person_id"))

    op.drop_table("person_ref_links")
    with op.batch_alter_table("person_record_flags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_record_flags_record_id"))
        batch_op.drop_index(batch_op.f("ix_person_record_flags_case_id"))

    op.drop_table("person_record_flags")
    with op.batch_alter_table("person_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_links_person_id"))

    op.drop_table("person_links")
    with op.batch_alter_table("person_link_flags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_link_flags_run_id"))
        batch_op.drop_index(batch_op.f("ix_person_link_flags_case_id"))

    op.drop_table("person_link_flags")
    op.drop_table("person_decisions")
    with op.batch_alter_table("person_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_alerts_person_id"))
        batch_op.drop_index(batch_op.f("ix_person_alerts_batch_id"))

    op.drop_table("person_alerts")
    with op.batch_alter_table("person_refs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_refs_kind"))
        batch_op.drop_index(batch_op.f("ix_person_refs_card_token"))
        batch_op.drop_index(batch_op.f("ix_person_refs_batch_id"))

    op.drop_table("person_refs")
    with op.batch_alter_table("person_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_records_site"))
        batch_op.drop_index(batch_op.f("ix_person_records_case_id"))
        batch_op.drop_index("ix_person_records_case_card")
        batch_op.drop_index("ix_person_records_card")
        batch_op.drop_index(batch_op.f("ix_person_records_batch_id"))

    op.drop_table("person_records")
    with op.batch_alter_table("person_outcomes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_outcomes_person_id"))

    op.drop_table("person_outcomes")
    with op.batch_alter_table("person_batch_warnings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_batch_warnings_batch_id"))

    op.drop_table("person_batch_warnings")
    with op.batch_alter_table("person_assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_assessments_person_id"))
        batch_op.drop_index(batch_op.f("ix_person_assessments_case_id"))

    op.drop_table("person_assessments")
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_persons_case_id"))

    op.drop_table("persons")
    with op.batch_alter_table("person_referrals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_referrals_case_id"))

    op.drop_table("person_referrals")
    with op.batch_alter_table("person_link_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_link_runs_case_id"))

    op.drop_table("person_link_runs")
    with op.batch_alter_table("person_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_batches_sha256"))
        batch_op.drop_index(batch_op.f("ix_person_batches_case_id"))

    op.drop_table("person_batches")
