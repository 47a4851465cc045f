"""The scan database's tables (SQLAlchemy Core). Changes go through a new Alembic revision in
basket_lib/store/migrations/versions; tests/store/test_migrations.py checks the two agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    false,
)
from sqlalchemy.engine import Dialect

# Constraint names the same on every database, so a later migration can name what it drops.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every database: SQLite keeps no zone, so it is stored as UTC and
    read back with the zone attached."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a naive datetime cannot be stored: its zone is unknown")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stamp: datetime = value
        return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


# Bounds of what the columns hold, checked before anything is written.
ID_LENGTH = 16
LABEL_LENGTH = 200
EMAIL_LENGTH = 320

scans = Table(
    "scans",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("label", String(LABEL_LENGTH)),
    Column("started_by", String(EMAIL_LENGTH)),  # the signed-in viewer's e-mail, or null
    Column("source", String(8), nullable=False),  # "page" or "cli"
    Column("status", String(16), nullable=False),  # see scans.Status
    Column("api_host", String(255)),  # host[:port] of the API; never a key, token or path
    Column("provider_id", String(256)),
    Column("concurrency", Integer, nullable=False),
    Column("input_size", Integer, nullable=False),  # distinct users, invalid ids included
    Column("duplicates", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    # The histogram's "now": expiry bins are relative to it, also after a resume.
    Column("as_of", UtcDateTime, nullable=False),
    # Which process runs it and when it last said so: a run whose heartbeat is stale has died.
    Column("owner", String(100)),
    Column("heartbeat_at", UtcDateTime),
    # Set by the page's Stop; the run sees it at its next batch or heartbeat and ends cancelled.
    Column("cancel_requested", Boolean, nullable=False, default=False, server_default=false()),
    # Why its last run stopped before the end, when that was not a Stop or a signal.
    Column("error", Text),
    Column("elapsed_seconds", Float, nullable=False, default=0.0),
    # The aggregates the page and the CLI show, rewritten at every flush while it runs.
    Column("done", Integer, nullable=False, default=0),
    Column("scanned", Integer, nullable=False, default=0),
    Column("errors", Integer, nullable=False, default=0),
    Column("baskets_with_checkout", Integer, nullable=False, default=0),
    Column("checkout_items", Integer, nullable=False, default=0),
    Column("failed_reservations", Integer, nullable=False, default=0),
    Column("users_with_failure", Integer, nullable=False, default=0),
    Column("empty_baskets", Integer, nullable=False, default=0),
    Column("expired_baskets", Integer, nullable=False, default=0),
    Column("baskets_without_expiry", Integer, nullable=False, default=0),
    Column("expiry_with_failure", JSON, nullable=False),
    Column("expiry_without_failure", JSON, nullable=False),
    Index("ix_scans_created_at", "created_at"),
    Index("ix_scans_label", "label"),
)

# The scan's input, in file order: what a resumed run still has to fetch. An invalid id (its
# shown form, cut to inputs.MAX_SHOWN_ID_CHARS) is its own outcome, with the reason.
scan_users = Table(
    "scan_users",
    metadata,
    Column("scan_id", ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("user_id", Text, nullable=False),
    Column("invalid_reason", Text),
    # The input row's other columns, e.g. {"ticket": "T-1"}; SQL NULL when it had none.
    Column("extra", JSON(none_as_null=True)),
)

# One row per distinct valid input user once it has an outcome; the key makes a second one
# impossible, whatever runs record it.
scan_outcomes = Table(
    "scan_outcomes",
    metadata,
    Column("scan_id", ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Text, primary_key=True),
    Column("kind", String(64)),  # null: scanned; else the error's kind
    Column("status", Integer),
    Column("api_code", BigInteger),  # any int64, as the models accept (Integer is 32-bit on PG)
    Column("message", Text),
    # Of a scanned basket, what the aggregates need (report.BasketSummary).
    Column("checkout_items", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
    Column("empty", Boolean, nullable=False, default=False),
    Column("expires_in_hours", Float),
    Column("checkout_products", JSON(none_as_null=True)),  # distinct product ids of the checkout
)

scan_failures = Table(
    "scan_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scan_id", ForeignKey("scans.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Text, nullable=False),
    Column("product_id", Text, nullable=False),
    Column("variant", Text),
    Column("main_product_identifier", Text),
    Column("count", BigInteger, nullable=False),
    Column("stocked", BigInteger, nullable=False),
    Index("ix_scan_failures_scan_product", "scan_id", "product_id"),
)
