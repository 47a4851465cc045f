"""Why a run stopped before the end (its database failed, it was given another API), for the page.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.add_column(sa.Column("error", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.drop_column("error")
