"""The schema under Alembic: created on first use, upgraded in place, equal to schema.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from basket_lib.api.errors import ConfigurationError, StorageError
from basket_lib.store import database
from basket_lib.store.database import HEAD_REVISION, Database, alembic_config, parse_database_url
from basket_lib.store.schema import metadata


def test_the_head_constant_is_the_newest_migration() -> None:
    # The constant lets a migrated database skip loading Alembic; it must not fall behind.
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD_REVISION


def _revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_an_empty_database_is_migrated_on_first_use_to_the_schema(database_url: str) -> None:
    db = Database(database_url)
    assert _revision(db) is None
    with db.connect() as connection:
        tables = set(sa.inspect(connection).get_table_names())
    assert {"scans", "scan_users", "scan_outcomes", "scan_failures"} <= tables
    assert _revision(db) == HEAD_REVISION
    # What the migrations built is what schema.py declares: nothing for autogenerate to add.
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    db.dispose()


def test_a_second_process_finds_the_database_migrated(database_url: str) -> None:
    Database(database_url).migrate()
    again = Database(database_url)
    again.migrate()
    assert _revision(again) == HEAD_REVISION


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'wal.db'}")
    with db.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "BASKET_DATABASE_URL is not a database URL"),
        ("mysql://u:p@h/db", "names a mysql database"),
        ("sqlite://", "in-memory SQLite"),
        ("sqlite:///:memory:", "in-memory SQLite"),
    ],
)
def test_an_unusable_url_is_a_configuration_error(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_database_url(url)


def test_a_folder_that_does_not_exist_is_a_clear_error(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'missing' / 'scans.db'}")
    with pytest.raises(StorageError) as caught:
        db.migrate()
    assert "could not be opened" in caught.value.message
    assert "missing does not exist" in caught.value.message


def test_an_unreachable_server_is_a_clear_error_without_the_password() -> None:
    db = Database("postgresql+psycopg://basket:s3cret-pw@127.0.0.1:9/basket")
    with pytest.raises(StorageError) as caught:
        db.migrate()
    message = caught.value.message
    assert "postgresql+psycopg://basket:***@127.0.0.1:9/basket could not be opened" in message
    assert "s3cret-pw" not in message and "s3cret-pw" not in repr(db)


def test_a_read_only_database_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "scans.db"
    Database(f"sqlite:///{path}").migrate()
    db = Database(f"sqlite:///file:{path}?mode=ro&uri=true")
    db.migrate()  # at the head already: reading works
    with pytest.raises(StorageError, match="could not be written"), db.begin() as connection:
        connection.execute(sa.text("DELETE FROM scans"))


def test_open_database_keeps_one_engine_per_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    assert database.open_database(url) is database.open_database(url)
