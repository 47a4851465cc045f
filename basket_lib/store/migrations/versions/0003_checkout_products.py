"""Each scanned checkout's distinct products: the per-product failure rates' denominators.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scan_outcomes") as batch:
        # Null for outcomes stored before: their checkouts count for no product.
        batch.add_column(sa.Column("checkout_products", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("scan_outcomes") as batch:
        batch.drop_column("checkout_products")
