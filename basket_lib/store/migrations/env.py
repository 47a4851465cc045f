"""Alembic's entry point: migrations run on the connection basket_lib.store.database hands over."""

from __future__ import annotations

from alembic import context

from basket_lib.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "The scan database migrates itself on first use (basket_lib.store.database); "
        "the alembic command line is not set up for it."
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot alter most columns in place; batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
