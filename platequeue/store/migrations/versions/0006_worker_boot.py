"""Worker incarnations: the boot id of the worker process that claimed a well.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("well_tasks") as batch:
        batch.add_column(sa.Column("worker_boot", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("well_tasks") as batch:
        batch.drop_column("worker_boot")
