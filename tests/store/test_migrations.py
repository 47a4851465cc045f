"""The schema under Alembic: created on first use, upgraded in place, equal to schema.py."""

from __future__ import annotations

from datetime import UTC, datetime
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


def test_closing_every_database_checkpoints_sqlite_and_leaves_it_usable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'closed.db'}"
    opened = database.open_database(url)
    with opened.begin() as connection:
        connection.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    assert (tmp_path / "closed.db-wal").exists()
    database.close_all()
    assert not (tmp_path / "closed.db-wal").exists()  # its last connection closed: checkpointed
    with opened.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM t")).scalar() == 0


def test_open_database_keeps_one_engine_per_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    assert database.open_database(url) is database.open_database(url)


def test_a_database_of_the_previous_revision_is_upgraded_with_its_scans(
    database_url: str,
) -> None:
    from alembic import command

    from basket_lib.store import scans
    from basket_lib.store.schema import UtcDateTime

    old = Database(database_url)
    counters = ("done", "scanned", "errors", "baskets_with_checkout", "checkout_items",
                "failed_reservations", "users_with_failure", "empty_baskets", "expired_baskets",
                "baskets_without_expiry")  # fmt: skip
    # The scans table as revision 0001 has it, written the way that revision's code wrote it.
    table = sa.table(
        "scans",
        *(sa.column(name) for name in ("id", "source", "status", "concurrency", "input_size",
                                       "duplicates", "elapsed_seconds", *counters)),
        *(sa.column(name, UtcDateTime) for name in ("created_at", "as_of")),
        *(sa.column(name, sa.JSON) for name in ("expiry_with_failure", "expiry_without_failure")),
    )  # fmt: skip
    now = datetime.now(UTC)
    with old.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            table.insert().values(
                id="0123456789ab", source="cli", status="completed", concurrency=4, input_size=0,
                duplicates=0, elapsed_seconds=1.5, created_at=now, as_of=now,
                expiry_with_failure=[0] * 12, expiry_without_failure=[0] * 12,
                **dict.fromkeys(counters, 0),
            )
        )  # fmt: skip
    assert _revision(old) == "0001"
    old.dispose()

    new = Database(database_url)
    info = scans.require_scan(new, "0123456789ab")  # the first use migrates
    assert _revision(new) == HEAD_REVISION
    assert info.status is scans.Status.COMPLETED and info.elapsed_seconds == 1.5
    assert info.created_at == now
    with new.connect() as connection:
        flag = connection.execute(sa.text("SELECT cancel_requested FROM scans")).scalar()
    assert flag in (False, 0)
    assert scans.load_report(new, "0123456789ab").total == 0


def test_revision_0004s_scans_keep_their_rows_and_take_any_int64_after_the_upgrade(
    database_url: str,
) -> None:
    from alembic import command

    from basket_lib.scan.report import BasketSummary, ErrorRecord, FailureRecord
    from basket_lib.store import scans

    old = Database(database_url)
    with old.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
    old._migrated = True  # this process writes as revision 0004's code did
    info = scans.create_scan(old, user_ids=["u1", "u2"], concurrency=1, owner=scans.new_owner())
    recorder = scans.Recorder(old, info.id, info.owner or "", scans.load_report(old, info.id))
    recorder("u1", BasketSummary(1, (FailureRecord("u1", "p", "M", "p0", 2, -1),), False, 5.0))
    recorder("u2", ErrorRecord("u2", "bad request", 400, 3002, "HTTP 400 · bad"))
    recorder.complete()
    assert recorder.failure is None and _revision(old) == "0004"
    old.dispose()

    new = Database(database_url)
    report = scans.load_report(new, info.id)  # the first use migrates
    assert _revision(new) == HEAD_REVISION
    assert [(f.product_id, f.variant, f.count, f.stocked) for f in report.failures] == [
        ("p", "M", 2, -1)
    ]
    assert [(e.user_id, e.api_code) for e in report.errors] == [("u2", 3002)]
    again = scans.create_scan(new, user_ids=["u3"], concurrency=1, owner=scans.new_owner())
    recorder = scans.Recorder(new, again.id, again.owner or "", scans.load_report(new, again.id))
    huge = FailureRecord("u3", "p", None, None, 2**40, -3_000_000_000)
    recorder("u3", BasketSummary(1, (huge,), False, None))
    recorder.complete()
    assert recorder.failure is None
    assert scans.load_report(new, again.id).failures[0].stocked == -3_000_000_000


def test_a_driver_that_is_not_installed_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Database("postgresql+pg8000://u:secret-pw@127.0.0.1/db")
    assert "'postgresql+pg8000', which is not installed" in caught.value.message
    assert 'pip install -e ".[postgresql]"' in caught.value.message
    assert "secret-pw" not in caught.value.message


def test_a_database_migrated_by_a_newer_release_is_a_clear_error(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()
    with db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    newer = Database(database_url)
    with pytest.raises(StorageError) as caught:
        newer.migrate()
    assert "has a schema this version does not know" in caught.value.message
    assert "upgrade this one" in caught.value.message


def test_every_migration_goes_down_and_up_again(database_url: str) -> None:
    from alembic import command

    db = Database(database_url)
    db.migrate()
    with db.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
        assert set(sa.inspect(connection).get_table_names()) <= {"alembic_version"}
        command.upgrade(config, "head")
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []


def test_the_alembic_command_line_is_not_a_way_in() -> None:
    from alembic import command
    from alembic.util import CommandError

    with pytest.raises((RuntimeError, CommandError), match="migrates itself on first use"):
        command.upgrade(alembic_config(), "head")
