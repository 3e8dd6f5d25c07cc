"""Custom steps: developers' signed step artifacts, and the run that names one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "step_artifacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_step_artifacts_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step_artifacts")),
    )
    op.create_index(op.f("ix_step_artifacts_owner_id"), "step_artifacts", ["owner_id"])
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("custom_step_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_runs_custom_step_id_step_artifacts"),
                                 "step_artifacts", ["custom_step_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint(op.f("fk_runs_custom_step_id_step_artifacts"), type_="foreignkey")
        batch.drop_column("custom_step_id")
    op.drop_index(op.f("ix_step_artifacts_owner_id"), table_name="step_artifacts")
    op.drop_table("step_artifacts")
