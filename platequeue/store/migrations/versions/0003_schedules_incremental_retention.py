"""Schedules, incremental reprocessing (input fingerprints, skipped wells), retention.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

Only plain nullable (or server-defaulted) columns are added to ``runs`` and ``well_tasks``,
so SQLite adds them in place (no table rebuild, which would cascade through the foreign keys).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("cron", sa.String(length=128), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("target_kind", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.BigInteger(), nullable=False),
        sa.Column("pipeline_name", sa.String(length=128), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("on_pipeline_version_change", sa.Boolean(), nullable=False),
        sa.Column("next_fire_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_schedules_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
    )
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedules_user_id"), ["user_id"], unique=False)
        batch_op.create_index("ix_schedules_enabled_next_fire_at", ["enabled", "next_fire_at"],
                              unique=False)

    op.add_column("runs", sa.Column("schedule_id", sa.Integer(), nullable=True))
    op.add_column("runs", sa.Column("wells_skipped", sa.Integer(), nullable=False,
                                    server_default="0"))
    op.add_column("runs", sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_runs_schedule_id"), "runs", ["schedule_id"], unique=False)
    op.add_column("well_tasks", sa.Column("input_fingerprint", sa.String(length=64),
                                          nullable=True))
    op.create_index(op.f("ix_well_tasks_input_fingerprint"), "well_tasks",
                    ["input_fingerprint"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_well_tasks_input_fingerprint"), table_name="well_tasks")
    with op.batch_alter_table("well_tasks", schema=None) as batch_op:
        batch_op.drop_column("input_fingerprint")
    op.drop_index(op.f("ix_runs_schedule_id"), table_name="runs")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("purged_at")
        batch_op.drop_column("wells_skipped")
        batch_op.drop_column("schedule_id")
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_index("ix_schedules_enabled_next_fire_at")
        batch_op.drop_index(batch_op.f("ix_schedules_user_id"))
    op.drop_table("schedules")
