"""Stored scans: created with their input, run by one process at a time (its owner), recorded in
batches while they run, resumable once their run has ended without finishing.

A run owns its scan through `scans.owner` and proves it is alive with `scans.heartbeat_at`. A
scan whose owner is gone (its process exited without marking it, was killed, or its machine was
lost) reads as interrupted and can be claimed by a new run: at once when the owner ran on this
machine and its process no longer exists, else once its heartbeat is STALE_SECONDS old. Claiming
is a compare-and-set on the row, so two runs never own one scan.
"""

from __future__ import annotations

import functools
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect, RowMapping

from basket_lib.api.errors import BasketError, ScanStateError, StorageError, displayable
from basket_lib.api.redaction import NO_SECRETS, Redactor
from basket_lib.scan.report import (
    MAX_ERROR_MESSAGE_CHARS,
    BasketSummary,
    ErrorRecord,
    FailureRates,
    FailureRecord,
    ScanReport,
)
from basket_lib.store.database import Database
from basket_lib.store.schema import (
    EMAIL_LENGTH,
    LABEL_LENGTH,
    scan_failures,
    scan_outcomes,
    scan_users,
    scans,
)

if TYPE_CHECKING:
    from sqlalchemy import Column, Table

HEARTBEAT_SECONDS = 2.0
# Well above the time a write may wait for a busy SQLite file (database.SQLITE_BUSY_SECONDS), so a
# run held up by the database is not taken for dead.
STALE_SECONDS = 90.0
# A run on this machine whose process exists is alive unless silent this long (hung).
HUNG_SECONDS = 600.0
# Scans run at once by the page's workers (basket_lib.scan.worker); the rest wait, queued.
MAX_RUNNING_SCANS = 2
# A batch is written when it holds this many outcomes or is this old, whichever comes first: a
# kill loses at most that much fetched work, which a resume fetches again.
FLUSH_OUTCOMES = 2000
FLUSH_SECONDS = 1.0
_INSERT_CHUNK = 5000


class Status(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


RESUMABLE = frozenset({Status.QUEUED, Status.INTERRUPTED, Status.CANCELLED})

_AGGREGATES = (
    "scanned",
    "baskets_with_checkout",
    "checkout_items",
    "failed_reservations",
    "users_with_failure",
    "empty_baskets",
    "expired_baskets",
    "baskets_without_expiry",
)


def _now() -> datetime:
    return datetime.now(UTC)


def new_owner() -> str:
    """Who runs a scan: this machine and process, and a nonce (a reused pid is not the owner)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


def new_scan_id() -> str:
    """12 hex digits: short enough for a link, too many to guess one."""
    return secrets.token_hex(6)


def owner_alive(owner: str | None, heartbeat_at: datetime | None, now: datetime) -> bool:
    """Whether the run `owner` still runs: on this machine, while its process exists (and has
    not been silent for HUNG_SECONDS); elsewhere, while its heartbeat is fresh."""
    if owner is None or heartbeat_at is None:
        return False
    silent = (now - heartbeat_at).total_seconds()
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host == socket.gethostname()[:60] and pid_text.isdigit():
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # exists, owned by another user
        return silent <= HUNG_SECONDS
    return silent <= STALE_SECONDS


@dataclass(frozen=True)
class ScanInfo(FailureRates):
    """One stored scan as the page, the CLI and the history show it."""

    id: str
    label: str | None
    started_by: str | None
    source: str
    stored_status: str
    api_host: str | None
    provider_id: str | None
    concurrency: int
    input_size: int
    duplicates: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    owner: str | None
    done: int
    scanned: int
    errors: int
    baskets_with_checkout: int
    checkout_items: int
    failed_reservations: int
    users_with_failure: int
    elapsed_seconds: float
    cancel_requested: bool
    error: str | None  # why its last run stopped before the end
    alive: bool  # a run owns it and has shown signs of life

    @property
    def status(self) -> Status:
        """The status to show: a running scan whose run is gone is interrupted."""
        status = Status(self.stored_status)
        if status is Status.RUNNING and not self.alive:
            return Status.INTERRUPTED
        return status

    @property
    def partial(self) -> bool:
        return self.status in (Status.CANCELLED, Status.INTERRUPTED)

    @classmethod
    def from_row(cls, row: RowMapping, now: datetime) -> ScanInfo:
        return cls(
            id=row["id"],
            label=row["label"],
            started_by=row["started_by"],
            source=row["source"],
            stored_status=row["status"],
            api_host=row["api_host"],
            provider_id=row["provider_id"],
            concurrency=row["concurrency"],
            input_size=row["input_size"],
            duplicates=row["duplicates"],
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            heartbeat_at=row["heartbeat_at"],
            owner=row["owner"],
            done=row["done"],
            scanned=row["scanned"],
            errors=row["errors"],
            baskets_with_checkout=row["baskets_with_checkout"],
            checkout_items=row["checkout_items"],
            failed_reservations=row["failed_reservations"],
            users_with_failure=row["users_with_failure"],
            elapsed_seconds=row["elapsed_seconds"],
            cancel_requested=bool(row["cancel_requested"]),
            error=row["error"],
            alive=owner_alive(row["owner"], row["heartbeat_at"], now),
        )


def _label(label: str | None) -> str | None:
    if label is None or not label.strip():
        return None
    text = displayable(" ".join(label.split()))
    if len(text) > LABEL_LENGTH:
        raise ScanStateError(f"The label is {len(text)} characters long; at most {LABEL_LENGTH}.")
    return text


def _storable(extra: Mapping[str, str]) -> dict[str, str]:
    return {displayable(name): displayable(value) for name, value in extra.items()}


def _chunks(rows: Sequence[Any], size: int = _INSERT_CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(rows), size):
        yield list(rows[start : start + size])


# The columns a bulk insert writes, in the table's order (the order of a positional INSERT).
_USER_COLUMNS = ("scan_id", "position", "user_id", "invalid_reason", "extra")
_OUTCOME_COLUMNS = tuple(column.name for column in scan_outcomes.c)
_FAILURE_COLUMNS = tuple(column.name for column in scan_failures.c if column.name != "id")


@functools.cache
def _insert_sql(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> str:
    """The INSERT that Core sends for `columns`, compiled once per dialect."""
    compiled = table.insert().compile(dialect=dialect, column_keys=list(columns))
    if dialect.positional and tuple(compiled.positiontup or ()) != columns:
        raise ValueError(f"{columns} are not in the order of {table.name}'s columns")
    return str(compiled)


def _insert(
    connection: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Rows as tuples in `columns` order, written by the driver's executemany. Core's insert()
    builds a parameter set per row and runs every column's converter on it, which costs twice the
    write itself; these rows hold what those converters would give (bool, int, float, str, and
    JSON already serialised by `_json_processor`), so the driver takes them as they are."""
    sql = _insert_sql(connection.dialect, table, columns)
    positional = connection.dialect.positional
    for chunk in _chunks(rows):
        # A dialect with named parameters (psycopg's %(name)s) takes mappings.
        connection.exec_driver_sql(
            sql, chunk if positional else [dict(zip(columns, row, strict=True)) for row in chunk]
        )


def _json_processor(dialect: Dialect, column: Column[Any]) -> Callable[[Any], Any]:
    """What Core does to a value of the JSON `column` on `dialect` before the driver gets it."""
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    assert process is not None  # JSON types always serialise
    return process


def create_scan(
    db: Database,
    *,
    user_ids: Sequence[str],
    invalid: Sequence[tuple[str, str]] = (),
    duplicates: int = 0,
    label: str | None = None,
    started_by: str | None = None,
    source: str = "cli",
    api_host: str | None = None,
    provider_id: str | None = None,
    concurrency: int,
    owner: str | None = None,
    scan_id: str | None = None,
    extras: Mapping[str, Mapping[str, str]] | None = None,
) -> ScanInfo:
    """Store a new scan with its distinct valid `user_ids` (in input order) and its `invalid`
    ids (shown form, reason): running under `owner`, or queued without one. `scan_id`: one made
    by new_scan_id beforehand (to audit the scan before it exists). `extras`: each user's other
    input columns (inputs.ParsedIds.extras), kept for the exports."""
    now = _now()
    scan_id = scan_id or new_scan_id()
    # Every text as the database can hold it (the input parsers already show them so).
    invalid = [(displayable(shown), displayable(why)) for shown, why in invalid]
    report = ScanReport(total=len(user_ids), duplicates=duplicates, as_of=now)
    report.add_invalid_ids(invalid)
    row = {
        "id": scan_id,
        "label": _label(label),
        "started_by": started_by[:EMAIL_LENGTH] if started_by else None,
        "source": source,
        "status": Status.RUNNING if owner else Status.QUEUED,
        "api_host": api_host,
        "provider_id": provider_id,
        "concurrency": concurrency,
        "input_size": report.total,
        "duplicates": duplicates,
        "created_at": now,
        "started_at": now if owner else None,
        "as_of": now,
        "owner": owner,
        "heartbeat_at": now if owner else None,
        **_aggregates(report),
    }
    extra = extras or {}
    to_json = _json_processor(db.engine.dialect, scan_users.c.extra)
    users: list[tuple[Any, ...]] = [
        (
            scan_id,
            i,
            user_id,
            None,
            to_json(_storable(extra[user_id])) if user_id in extra else None,
        )
        for i, user_id in enumerate(user_ids)
    ]
    first = len(user_ids)
    users += [(scan_id, first + i, shown, why, None) for i, (shown, why) in enumerate(invalid)]

    def insert(connection: Connection) -> None:
        connection.execute(scans.insert(), row)
        _insert(connection, scan_users, _USER_COLUMNS, users)

    db.run(insert, "could not be written (creating the scan)")
    info = get_scan(db, scan_id)
    assert info is not None
    return info


def _aggregates(report: ScanReport) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(report, name) for name in _AGGREGATES}
    values["errors"] = len(report.errors)
    values["done"] = report.outcomes_total
    values["expiry_with_failure"] = list(report.expiry_with_failure)
    values["expiry_without_failure"] = list(report.expiry_without_failure)
    values["elapsed_seconds"] = report.elapsed_seconds
    return values


def get_scan(db: Database, scan_id: str) -> ScanInfo | None:
    with db.connect() as connection:
        row = connection.execute(sa.select(scans).where(scans.c.id == scan_id)).mappings().first()
    return None if row is None else ScanInfo.from_row(row, _now())


def require_scan(db: Database, scan_id: str) -> ScanInfo:
    info = get_scan(db, scan_id)
    if info is None:
        raise ScanStateError(f"There is no stored scan {scan_id!r} in {db.label}.")
    return info


def list_scans(db: Database, *, limit: int = 20, label: str | None = None) -> list[ScanInfo]:
    """The most recent scans first."""
    query = sa.select(scans).order_by(scans.c.created_at.desc(), scans.c.id).limit(limit)
    if label is not None:
        query = query.where(scans.c.label == label)
    with db.connect() as connection:
        rows = connection.execute(query).mappings().all()
    now = _now()
    return [ScanInfo.from_row(row, now) for row in rows]


def load_report(db: Database, scan_id: str, redactor: Redactor = NO_SECRETS) -> ScanReport:
    """The scan's report rebuilt from what is stored: the same aggregates, failures and errors
    as the run that recorded them had."""
    with db.connect() as connection:
        head = connection.execute(sa.select(scans).where(scans.c.id == scan_id)).mappings().first()
        if head is None:
            raise ScanStateError(f"There is no stored scan {scan_id!r} in {db.label}.")
        report = ScanReport(
            total=0,
            duplicates=head["duplicates"],
            as_of=head["as_of"],
            elapsed_seconds=head["elapsed_seconds"],
            redactor=redactor,
        )
        users = connection.execute(
            sa.select(scan_users.c.user_id, scan_users.c.invalid_reason)
            .where(scan_users.c.scan_id == scan_id)
            .order_by(scan_users.c.position)
        ).all()
        report.total = sum(1 for _, reason in users if reason is None)
        failures: dict[str, list[FailureRecord]] = {}
        for row in connection.execute(
            sa.select(scan_failures)
            .where(scan_failures.c.scan_id == scan_id)
            .order_by(scan_failures.c.id)
        ).mappings():
            failures.setdefault(row["user_id"], []).append(
                FailureRecord(
                    row["user_id"],
                    row["product_id"],
                    row["variant"],
                    row["main_product_identifier"],
                    row["count"],
                    row["stocked"],
                )
            )
        for row in connection.execute(
            sa.select(scan_outcomes).where(scan_outcomes.c.scan_id == scan_id)
        ).mappings():
            if row["kind"] is None:
                report.add_summary(
                    BasketSummary(
                        row["checkout_items"],
                        tuple(failures.get(row["user_id"], ())),
                        row["empty"],
                        row["expires_in_hours"],
                        tuple(row["checkout_products"] or ()),
                    )
                )
            else:
                report.errors.append(
                    ErrorRecord(
                        row["user_id"], row["kind"], row["status"], row["api_code"], row["message"]
                    )
                )
    report.add_invalid_ids((user_id, reason) for user_id, reason in users if reason is not None)
    return report


def load_extras(db: Database, scan_id: str) -> dict[str, dict[str, str]]:
    """Each user's other input columns, as the scan was given them (for its exports)."""
    query = sa.select(scan_users.c.user_id, scan_users.c.extra).where(
        scan_users.c.scan_id == scan_id, scan_users.c.extra.is_not(None)
    )
    with db.connect() as connection:
        return {user_id: dict(extra) for user_id, extra in connection.execute(query) if extra}


def shared_user_count(db: Database, scan_id: str, other_id: str) -> int:
    """How many input users (invalid ids included, as shown) the two scans have in common."""

    # INTERSECT sorts or hashes each side once; a join on user_id (no index) would compare every
    # pair, 10^10 for two scans of 100,000 users.
    def users_of(scan: str) -> sa.Select[tuple[str]]:
        return sa.select(scan_users.c.user_id).where(scan_users.c.scan_id == scan)

    shared = sa.intersect(users_of(scan_id), users_of(other_id)).subquery()
    query = sa.select(sa.func.count()).select_from(shared)
    with db.connect() as connection:
        return int(connection.execute(query).scalar() or 0)


def scan_user_ids(db: Database, scan_id: str) -> list[str]:
    """Every input user of the scan (an invalid id in its shown form), in input order."""
    query = (
        sa.select(scan_users.c.user_id)
        .where(scan_users.c.scan_id == scan_id)
        .order_by(scan_users.c.position)
    )
    with db.connect() as connection:
        return list(connection.execute(query).scalars())


def pending_user_ids(db: Database, scan_id: str) -> list[str]:
    """The scan's valid input users without an outcome yet, in input order."""
    recorded = sa.select(scan_outcomes.c.user_id).where(
        scan_outcomes.c.scan_id == scan_id, scan_outcomes.c.user_id == scan_users.c.user_id
    )
    query = (
        sa.select(scan_users.c.user_id)
        .where(
            scan_users.c.scan_id == scan_id,
            scan_users.c.invalid_reason.is_(None),
            ~sa.exists(recorded),
        )
        .order_by(scan_users.c.position)
    )
    with db.connect() as connection:
        return list(connection.execute(query).scalars())


def _unchanged(info: ScanInfo) -> list[Any]:
    """Conditions that hold only while the row is as `info` read it: a compare-and-set."""
    return [
        scans.c.status == info.stored_status,
        scans.c.owner.is_(None) if info.owner is None else scans.c.owner == info.owner,
        scans.c.heartbeat_at.is_(None)
        if info.heartbeat_at is None
        else scans.c.heartbeat_at == info.heartbeat_at,
    ]


def claim(db: Database, scan_id: str, owner: str) -> ScanInfo:
    """Make `owner` the scan's run, if nothing else runs it and it has work left."""
    info = require_scan(db, scan_id)
    status = info.status
    if status is Status.COMPLETED:
        raise ScanStateError(f"Scan {scan_id} is completed: there is nothing to resume.")
    if status is Status.RUNNING:
        raise ScanStateError(
            f"Scan {scan_id} is still running (its run last reported at "
            f"{info.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC); it is never run twice."
        )
    now = _now()
    claimed = sa.update(scans).where(scans.c.id == scan_id, *_unchanged(info))
    values: dict[str, Any] = {
        "status": Status.RUNNING,
        "owner": owner,
        "heartbeat_at": now,
        "finished_at": None,
        # A Stop that the dead run never saw does not stop its resume.
        "cancel_requested": False,
        "error": None,
    }
    if info.started_at is None:
        values |= {"started_at": now, "as_of": now}
    with db.begin() as connection:
        taken = connection.execute(claimed.values(**values)).rowcount
    if taken != 1:
        raise ScanStateError(f"Scan {scan_id} was just claimed by another run; it runs there.")
    return require_scan(db, scan_id)


class ScanCancelled(Exception):
    """The scan was asked to stop (the page's Stop): its run ends it as cancelled."""


def _fresh(now: datetime) -> Any:
    return scans.c.heartbeat_at > now - timedelta(seconds=STALE_SECONDS)


def request_cancel(db: Database, scan_id: str) -> ScanInfo:
    """Stop the scan: a queued one is cancelled at once, a running one by its run (at its next
    batch or heartbeat, keeping what it fetched). Anything else is left as it is. Each case is
    one conditional statement, so a scan that starts or ends meanwhile is not mistaken."""
    require_scan(db, scan_id)
    with db.begin() as connection:
        cancelled = connection.execute(
            sa.update(scans)
            .where(scans.c.id == scan_id, scans.c.status == Status.QUEUED)
            .values(status=Status.CANCELLED, finished_at=_now())
        ).rowcount
        if not cancelled:
            connection.execute(
                sa.update(scans)
                .where(scans.c.id == scan_id, scans.c.status == Status.RUNNING)
                .values(cancel_requested=True)
            )
    return require_scan(db, scan_id)


def requeue(db: Database, scan_id: str) -> ScanInfo:
    """Put an interrupted or cancelled scan back in the queue, for a worker to resume."""
    info = require_scan(db, scan_id)
    if info.status not in (Status.INTERRUPTED, Status.CANCELLED):
        raise ScanStateError(f"Scan {scan_id} is {info.status}; only a stopped scan is resumed.")
    with db.begin() as connection:
        moved = connection.execute(
            sa.update(scans)
            .where(scans.c.id == scan_id, *_unchanged(info))
            .values(
                status=Status.QUEUED,
                owner=None,
                cancel_requested=False,
                finished_at=None,
                error=None,
            )
        ).rowcount
    if moved != 1:
        raise ScanStateError(f"Scan {scan_id} was just resumed by another run.")
    return require_scan(db, scan_id)


def claim_next(db: Database, owner: str, limit: int = MAX_RUNNING_SCANS) -> ScanInfo | None:
    """Take the oldest queued scan for `owner`, unless `limit` scans already run."""
    now = _now()
    oldest = (
        sa.select(scans.c.id)
        .where(scans.c.status == Status.QUEUED)
        .order_by(scans.c.created_at, scans.c.id)
        .limit(1)
        .scalar_subquery()
    )
    running = (
        sa.select(sa.func.count())
        .select_from(scans)
        .where(scans.c.status == Status.RUNNING, _fresh(now))
        .scalar_subquery()
    )
    take = (
        sa.update(scans)
        .where(scans.c.id == oldest, scans.c.status == Status.QUEUED, running < limit)
        .values(status=Status.RUNNING, owner=owner, heartbeat_at=now, cancel_requested=False)
        .returning(scans.c.id)
    )
    with db.begin() as connection:
        if connection.dialect.name == "postgresql":
            # One claimer at a time, so two workers never both see a free slot (SQLite runs
            # one writing statement at a time by itself).
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(7710422)"))
        taken = connection.execute(take).scalar()
        if taken is not None:
            # Expiry bins count from when the scan started, not from when it was queued.
            connection.execute(
                sa.update(scans)
                .where(scans.c.id == taken, scans.c.started_at.is_(None))
                .values(started_at=now, as_of=now)
            )
    return None if taken is None else require_scan(db, taken)


def give_back(db: Database, scan_id: str, owner: str, reason: str) -> None:
    """A run that cannot go on hands its scan back as interrupted, saying why (best effort: the
    database may be what failed)."""
    try:
        with db.begin() as connection:
            connection.execute(
                sa.update(scans)
                .where(scans.c.id == scan_id, scans.c.owner == owner)
                .values(
                    status=Status.INTERRUPTED,
                    owner=None,
                    finished_at=_now(),
                    error=displayable(reason)[:MAX_ERROR_MESSAGE_CHARS],
                )
            )
    except StorageError:
        pass


def running_count(db: Database) -> int:
    query = sa.select(sa.func.count()).where(scans.c.status == Status.RUNNING, _fresh(_now()))
    with db.connect() as connection:
        return int(connection.execute(query).scalar() or 0)


class Recorder:
    """Writes a run's outcomes in batches, and keeps its ownership alive.

    Called by the engine with every outcome (scan.engine's ``on_outcome``). A batch, its failed
    reservations and the scan's aggregates are written in one transaction, so what is stored is
    always a consistent prefix of the run. Should the database fail, recording stops and
    `failure` says why: with `stop_on_failure` (a worker, whose results go nowhere else) the next
    outcome raises it and the scan stops; otherwise (the CLI, which also writes CSV files) the run
    goes on and its report still has every outcome.
    """

    def __init__(
        self,
        db: Database,
        scan_id: str,
        owner: str,
        report: ScanReport,
        *,
        stop_on_failure: bool = False,
    ) -> None:
        self.db = db
        self.stop_on_failure = stop_on_failure
        self.scan_id = scan_id
        self.owner = owner
        self.report = report
        self.failure: BasketError | None = None
        self.cancelled = False  # the scan was asked to stop
        self.stored = report.outcomes_total
        # Rows in _OUTCOME_COLUMNS and _FAILURE_COLUMNS order, ready for the driver.
        self._outcomes: list[tuple[Any, ...]] = []
        self._failures: list[tuple[Any, ...]] = []
        self._products_json = _json_processor(db.engine.dialect, scan_outcomes.c.checkout_products)
        self._last_flush = time.monotonic()
        self._started = time.perf_counter()
        self._elapsed_before = report.elapsed_seconds
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name="scan-heartbeat", daemon=True)
        self._beat.start()

    def __call__(self, user_id: str, outcome: BasketSummary | ErrorRecord) -> None:
        if self.failure is not None:
            if self.stop_on_failure:
                raise self.failure
            return
        scan_id = self.scan_id
        if isinstance(outcome, ErrorRecord):
            self._outcomes.append(
                (
                    scan_id,
                    user_id,
                    outcome.kind,
                    outcome.status,
                    outcome.api_code,
                    outcome.message[:MAX_ERROR_MESSAGE_CHARS],
                    0,  # checkout_items
                    0,  # failed
                    False,  # empty
                    None,  # expires_in_hours
                    None,  # checkout_products
                )
            )
        else:
            products = outcome.products
            self._outcomes.append(
                (
                    scan_id,
                    user_id,
                    None,  # kind: scanned
                    None,  # status
                    None,  # api_code
                    None,  # message
                    outcome.checkout_items,
                    len(outcome.failures),
                    outcome.empty,
                    outcome.expires_in_hours,
                    self._products_json([displayable(p) for p in products]) if products else None,
                )
            )
            for failure in outcome.failures:
                self._failures.append(
                    (
                        scan_id,
                        user_id,
                        # The API's text as PostgreSQL can hold it (a NUL, sent as \u0000).
                        displayable(failure.product_id),
                        displayable(failure.variant) if failure.variant else failure.variant,
                        displayable(main) if (main := failure.main_product_identifier) else main,
                        failure.count,
                        failure.stocked,
                    )
                )
        if (
            len(self._outcomes) >= FLUSH_OUTCOMES
            or time.monotonic() - self._last_flush >= FLUSH_SECONDS
        ):
            self.flush()
        if self.cancelled:
            # After the outcome is buffered: the report and what finish() stores stay equal.
            raise ScanCancelled(self.scan_id)

    def flush(self, **final: Any) -> None:
        """Write what is buffered, with the aggregates (and `final` columns, when finishing)."""
        if self.failure is not None:
            return
        outcomes, self._outcomes = self._outcomes, []
        failures, self._failures = self._failures, []
        self._last_flush = time.monotonic()
        self.report.elapsed_seconds = self._elapsed_before + time.perf_counter() - self._started
        values = {**_aggregates(self.report), "heartbeat_at": _now(), **final}
        update = (
            sa.update(scans)
            .where(scans.c.id == self.scan_id, scans.c.owner == self.owner)
            .values(**values)
        )
        try:
            with self.db.begin() as connection:
                _insert(connection, scan_outcomes, _OUTCOME_COLUMNS, outcomes)
                _insert(connection, scan_failures, _FAILURE_COLUMNS, failures)
                if connection.execute(update).rowcount != 1:
                    raise ScanStateError(
                        f"Scan {self.scan_id} is no longer owned by this run; stopped recording."
                    )
                self._note_cancel(connection)
        except (StorageError, ScanStateError) as exc:
            self.failure = exc
            self._stop.set()
            return
        except BaseException:
            # Ctrl-C or SIGTERM inside the transaction rolled the batch back: it is written
            # again by finish().
            self._outcomes[:0] = outcomes
            self._failures[:0] = failures
            raise
        self.stored += len(outcomes)

    def finish(self, status: Status) -> None:
        """Write the rest and hand the scan back: `status` completed, cancelled or interrupted."""
        self._stop.set()
        self._beat.join()
        final = {"status": status, "owner": None, "finished_at": _now(), "cancel_requested": False}
        if status is Status.COMPLETED:
            self.flush(**final)
            return
        # Stopped part-way: a signal may have cut in between an outcome counted in the report and
        # its buffering, so the stored figures are counted again from the stored rows.
        self.flush()
        if self.failure is not None:
            return
        stored = load_report(self.db, self.scan_id)
        values = {**_aggregates(stored), "elapsed_seconds": self.report.elapsed_seconds, **final}
        try:
            with self.db.begin() as connection:
                connection.execute(
                    sa.update(scans)
                    .where(scans.c.id == self.scan_id, scans.c.owner == self.owner)
                    .values(**values)
                )
        except StorageError as exc:
            self.failure = exc

    def _note_cancel(self, connection: Connection) -> None:
        flag = connection.execute(
            sa.select(scans.c.cancel_requested).where(scans.c.id == self.scan_id)
        ).scalar()
        if flag:
            self.cancelled = True

    def cancel(self) -> None:
        self.finish(Status.CANCELLED)

    def discard(self) -> None:
        """Stop the heartbeat without writing anything (the run hands its scan back)."""
        self._stop.set()
        self._beat.join()

    def complete(self) -> None:
        self.finish(Status.COMPLETED)

    def interrupt(self) -> None:
        self.finish(Status.INTERRUPTED)

    def _heartbeat(self) -> None:
        update = (
            sa.update(scans)
            .where(scans.c.id == self.scan_id, scans.c.owner == self.owner)
            .values(heartbeat_at=sa.bindparam("now"))
        )
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                with self.db.begin() as connection:
                    connection.execute(update, {"now": _now()})
                    self._note_cancel(connection)
            except StorageError:
                continue  # the next flush reports a database that stays broken
