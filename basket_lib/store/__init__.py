"""Durable scans: every scan, its input, one outcome per user and its failed reservations, in a
SQL database through SQLAlchemy Core, the schema under Alembic migrations.

- `schema`: the tables;
- `database`: opening a database from its URL, migrating it on first use, mapping every database
  failure to `StorageError`;
- `scans`: what the CLI and the page do with scans (create, claim, record, finish, list, load).
"""
