"""The API's whole numbers as BIGINT: a reservation's count and stocked, an error's API code.

The models accept any int64; INTEGER is 32 bits on PostgreSQL, so a stocked of -3,000,000,000
failed the scan's batch there.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_COLUMNS = (("scan_failures", "count"), ("scan_failures", "stocked"), ("scan_outcomes", "api_code"))


def _retype(old: type[sa.Integer], new: type[sa.Integer]) -> None:
    # batch: SQLite cannot alter a column's type in place, so the table is copied.
    for table in ("scan_failures", "scan_outcomes"):
        with op.batch_alter_table(table) as batch:
            for name in (column for owner, column in _COLUMNS if owner == table):
                batch.alter_column(
                    name,
                    type_=new(),
                    existing_type=old(),
                    existing_nullable=table == "scan_outcomes",
                )


def upgrade() -> None:
    _retype(sa.Integer, sa.BigInteger)


def downgrade() -> None:
    _retype(sa.BigInteger, sa.Integer)
