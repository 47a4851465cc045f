"""Opening the scan database from its URL, migrating it on first use, and one error for every
way a database can fail.

`BASKET_DATABASE_URL` is a SQLAlchemy URL; by default an embedded SQLite file in the working
directory (WAL mode: readers do not block the scan writing). PostgreSQL
(`postgresql+psycopg://user:password@host/db`) is the option for a team whose replicas share scans.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Connection, Engine, make_url

from basket_lib.api.errors import ConfigurationError, StorageError
from basket_lib.api.redaction import Redactor

if TYPE_CHECKING:
    from alembic.config import Config

# The newest revision in migrations/versions (tests/store/test_migrations.py checks it): a
# database already there is used without loading Alembic, which costs a scan ~0.4 s to import.
HEAD_REVISION = "0005"
MIGRATIONS = Path(__file__).with_name("migrations")
# How long a writer waits for another process's write to SQLite before giving up.
SQLITE_BUSY_SECONDS = 30.0

T = TypeVar("T")


def parse_database_url(value: str, name: str = "BASKET_DATABASE_URL") -> URL:
    """The URL, or ConfigurationError naming `name` (its password never shown)."""
    try:
        url = make_url(value)
    except (exc.ArgumentError, ValueError):
        raise ConfigurationError(
            f"{name} is not a database URL (expected e.g. sqlite:///basket-support.db or "
            "postgresql+psycopg://user:password@host/basket)."
        ) from None
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"{name} names a {backend} database; the scan store supports sqlite and postgresql."
        )
    if backend == "sqlite" and url.database in (None, "", ":memory:"):
        raise ConfigurationError(
            f"{name} names an in-memory SQLite database, which every connection would see empty: "
            "give a file, e.g. sqlite:///basket-support.db."
        )
    return url


class Database:
    """One database: its engine, and every failure of it as a StorageError that names the
    database (without its password) and the reason."""

    def __init__(self, url: str | URL) -> None:
        self.url = parse_database_url(url) if isinstance(url, str) else url
        self.label = self.url.render_as_string(hide_password=True)
        # A driver's message could quote the URL it was given.
        self._redactor = Redactor(self.url.password if isinstance(self.url.password, str) else None)
        try:
            self.engine = self._create_engine()
        except (ImportError, exc.NoSuchModuleError) as failure:
            # The URL names a driver that is not installed (psycopg without the postgresql extra).
            raise ConfigurationError(
                f"BASKET_DATABASE_URL names the driver {self.url.drivername!r}, which is not "
                f"installed here ({type(failure).__name__}: {failure}); for PostgreSQL install "
                'it with: pip install -e ".[postgresql]" and use postgresql+psycopg://…'
            ) from None
        self._migrated = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Database({self.label!r})"

    def _create_engine(self) -> Engine:
        if self.url.get_backend_name() == "sqlite":
            engine = sa.create_engine(
                self.url, connect_args={"timeout": SQLITE_BUSY_SECONDS}, future=True
            )
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return sa.create_engine(self.url, pool_pre_ping=True, future=True)

    # What a write can raise besides SQLAlchemy's own errors: the driver's refusal of a value it
    # cannot bind (OverflowError for an integer beyond its range, UnicodeEncodeError, ValueError)
    # is not wrapped by SQLAlchemy, and must stop the batch as a storage failure, not the scan.
    FAILURES = (exc.SQLAlchemyError, OSError, OverflowError, ValueError)

    def error(self, what: str, failure: BaseException) -> StorageError:
        reason = getattr(failure, "orig", None) or failure
        text = " ".join(str(reason).split())[:300] or type(reason).__name__
        return StorageError(self._redactor.text(f"The scan database {self.label} {what}: {text}"))

    @contextmanager
    def connect(self, what: str = "could not be read") -> Iterator[Connection]:
        """A connection of the migrated database; every failure inside is a StorageError."""
        self.migrate()
        try:
            with self.engine.connect() as connection:
                yield connection
        except self.FAILURES as failure:
            raise self.error(what, failure) from None

    @contextmanager
    def begin(self, what: str = "could not be written") -> Iterator[Connection]:
        """A transaction, committed when the block ends without an exception."""
        self.migrate()
        try:
            with self.engine.begin() as connection:
                yield connection
        except self.FAILURES as failure:
            raise self.error(what, failure) from None

    def run(self, work: Callable[[Connection], T], what: str = "could not be written") -> T:
        with self.begin(what) as connection:
            return work(connection)

    def migrate(self) -> None:
        """Bring the schema to HEAD_REVISION once per process (Alembic only when behind)."""
        if self._migrated:
            return
        with self._lock:
            if self._migrated:
                return
            try:
                if self._revision() != HEAD_REVISION:
                    self._upgrade()
            except StorageError:
                raise
            except (exc.SQLAlchemyError, OSError) as failure:
                raise self.error("could not be opened", failure) from None
            self._migrated = True

    def _revision(self) -> str | None:
        if self.url.get_backend_name() == "sqlite":
            _create_parent(self.url)
        with self.engine.connect() as connection:
            if not sa.inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    def _upgrade(self) -> None:
        from alembic import command
        from alembic.util import CommandError

        with self._migration_lock(), self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Replicas starting together: one migrates, the others wait and find it done.
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(7710421)"))
            config = alembic_config()
            config.attributes["connection"] = connection
            try:
                command.upgrade(config, "head")
            except CommandError as failure:
                # A revision this code does not know: a newer release migrated the database.
                raise StorageError(
                    f"The scan database {self.label} has a schema this version does not know "
                    f"({failure}); it was migrated by a newer release: upgrade this one."
                ) from None

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """Two processes opening a new SQLite file at once: one migrates, the other waits for it
        (PostgreSQL takes its own lock in the transaction)."""
        database = self.url.database or ""
        if self.url.get_backend_name() != "sqlite" or database.startswith("file:"):
            yield
            return
        import fcntl

        with open(f"{database}.migrating", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _create_parent(url: URL) -> None:
    # SQLite creates the file but not its folder; "unable to open database file" would not say.
    database = url.database or ""
    if database and not database.startswith("file:"):
        parent = Path(database).parent
        if not parent.exists():
            raise OSError(f"the folder {parent} does not exist")


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    cursor = connection.cursor()
    try:
        # WAL: the page reads a scan while its process writes it. NORMAL is durable across a
        # crash of the process (the cases a resume must survive) and much faster than FULL.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


_opened: dict[str, Database] = {}
_opened_lock = threading.Lock()


def open_database(url: str) -> Database:
    """The process's Database for `url` (Settings.database_url), created once: an engine holds a
    connection pool."""
    with _opened_lock:
        database = _opened.get(url)
        if database is None:
            database = _opened[url] = Database(url)
        return database


def close_all() -> None:
    """Close the pooled connections of every Database of this process (SQLite checkpoints its
    WAL into the file when its last connection closes)."""
    with _opened_lock:
        for database in _opened.values():
            database.dispose()
