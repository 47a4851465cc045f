"""Scans, their input users, one outcome per user and the failed reservations.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from basket_lib.store.schema import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scans",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("label", sa.String(200)),
        sa.Column("started_by", sa.String(320)),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("api_host", sa.String(255)),
        sa.Column("provider_id", sa.String(256)),
        sa.Column("concurrency", sa.Integer, nullable=False),
        sa.Column("input_size", sa.Integer, nullable=False),
        sa.Column("duplicates", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("started_at", UtcDateTime),
        sa.Column("finished_at", UtcDateTime),
        sa.Column("as_of", UtcDateTime, nullable=False),
        sa.Column("owner", sa.String(100)),
        sa.Column("heartbeat_at", UtcDateTime),
        sa.Column("elapsed_seconds", sa.Float, nullable=False),
        *(
            sa.Column(name, sa.Integer, nullable=False)
            for name in (
                "done",
                "scanned",
                "errors",
                "baskets_with_checkout",
                "checkout_items",
                "failed_reservations",
                "users_with_failure",
                "empty_baskets",
                "expired_baskets",
                "baskets_without_expiry",
            )
        ),
        sa.Column("expiry_with_failure", sa.JSON, nullable=False),
        sa.Column("expiry_without_failure", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scans"),
    )
    op.create_index("ix_scans_created_at", "scans", ["created_at"])
    op.create_index("ix_scans_label", "scans", ["label"])
    op.create_table(
        "scan_users",
        sa.Column("scan_id", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("invalid_reason", sa.Text),
        sa.PrimaryKeyConstraint("scan_id", "position", name="pk_scan_users"),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["scans.id"], name="fk_scan_users_scan_id_scans", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "scan_outcomes",
        sa.Column("scan_id", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("kind", sa.String(64)),
        sa.Column("status", sa.Integer),
        sa.Column("api_code", sa.Integer),
        sa.Column("message", sa.Text),
        sa.Column("checkout_items", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("empty", sa.Boolean, nullable=False),
        sa.Column("expires_in_hours", sa.Float),
        sa.PrimaryKeyConstraint("scan_id", "user_id", name="pk_scan_outcomes"),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["scans.id"], name="fk_scan_outcomes_scan_id_scans", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "scan_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scan_id", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("product_id", sa.Text, nullable=False),
        sa.Column("variant", sa.Text),
        sa.Column("main_product_identifier", sa.Text),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("stocked", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scan_failures"),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["scans.id"], name="fk_scan_failures_scan_id_scans", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_scan_failures_scan_product", "scan_failures", ["scan_id", "product_id"])


def downgrade() -> None:
    op.drop_table("scan_failures")
    op.drop_table("scan_outcomes")
    op.drop_table("scan_users")
    op.drop_index("ix_scans_label", "scans")
    op.drop_index("ix_scans_created_at", "scans")
    op.drop_table("scans")
