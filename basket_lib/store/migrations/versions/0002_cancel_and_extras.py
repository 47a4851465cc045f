"""A scan can be asked to stop (the page's Stop), and keeps the extra input columns of its users.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.add_column(
            sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("scan_users") as batch:
        # The input row's other columns (a ticket number), carried through to the exports.
        batch.add_column(sa.Column("extra", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("scan_users") as batch:
        batch.drop_column("extra")
    with op.batch_alter_table("scans") as batch:
        batch.drop_column("cancel_requested")
