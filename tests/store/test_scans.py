"""Stored scans on SQLite and PostgreSQL: what a run records is what a reader rebuilds; one run
owns a scan at a time; a dead run's scan is resumable; a broken database loses nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from basket_lib import connect, simulator
from basket_lib.api.errors import ScanStateError
from basket_lib.scan import engine
from basket_lib.scan.report import BasketSummary, ErrorRecord, FailureRecord, ScanReport
from basket_lib.settings import Settings
from basket_lib.store import scans
from basket_lib.store.database import Database
from basket_lib.store.scans import Status
from basket_lib.store.schema import scan_failures, scan_outcomes, scan_users

USERS = [*simulator.demo_user_ids(300), "demo-fault-500", "demo-checkout-failed"]
INVALID = [("bad id!", "The user id contains ' ' (line 9)")]


def _scan(db: Database, users: list[str] = USERS, **options: object) -> scans.ScanInfo:
    return scans.create_scan(
        db, user_ids=users, invalid=INVALID, concurrency=8, owner=scans.new_owner(), **options
    )


def _run(db: Database, info: scans.ScanInfo, owner: str, users: list[str]) -> ScanReport:
    return _run_with(
        db, info, lambda: connect.build_async_client(Settings(max_retries=0)), users, owner
    )


def _run_with(
    db: Database,
    info: scans.ScanInfo,
    client: Callable[[], engine.AsyncBasketSource],
    users: list[str] | None = None,
    owner: str | None = None,
) -> ScanReport:
    report = scans.load_report(db, info.id)
    recorder = scans.Recorder(db, info.id, owner or info.owner or "", report)
    result = engine.scan_users_sync(
        client,
        scans.pending_user_ids(db, info.id) if users is None else users,
        concurrency=8,
        report=report,
        on_outcome=recorder,
    )
    recorder.complete()
    assert recorder.failure is None
    return result


def _same(a: ScanReport, b: ScanReport) -> None:
    key = lambda r: (r.user_id, getattr(r, "product_id", ""))  # noqa: E731
    assert sorted(a.failures, key=key) == sorted(b.failures, key=key)
    assert sorted(a.errors, key=key) == sorted(b.errors, key=key)
    for name in (
        "total", "scanned", "baskets_with_checkout", "checkout_items", "failed_reservations",
        "users_with_failure", "empty_baskets", "expired_baskets", "baskets_without_expiry",
        "expiry_with_failure", "expiry_without_failure", "as_of", "invalid", "duplicates",
        "checkouts_by_product",
    ):  # fmt: skip
        assert getattr(a, name) == getattr(b, name), name


def test_a_run_is_rebuilt_exactly_from_what_it_stored(database_url: str) -> None:
    db = Database(database_url)
    info = _scan(db, label="  nightly   run ", source="cli", api_host="api.example:8443")
    assert info.label == "nightly run" and info.status is Status.RUNNING
    ran = _run(db, info, info.owner or "", USERS)
    ran.check_complete()
    assert ran.failed_reservations > 0 and len(ran.errors) == 2  # the fault user and the invalid
    stored = scans.load_report(db, info.id)
    _same(stored, ran)
    stored.check_complete()
    done = scans.require_scan(db, info.id)
    assert done.status is Status.COMPLETED and done.owner is None and done.finished_at
    assert (done.done, done.input_size, done.errors) == (len(USERS) + 1, len(USERS) + 1, 2)
    assert done.failed_reservations == ran.failed_reservations
    assert done.reservation_failure_rate == ran.reservation_failure_rate
    assert done.api_host == "api.example:8443" and scans.pending_user_ids(db, info.id) == []


def test_a_resumed_scan_fetches_only_the_rest_and_ends_with_one_outcome_each(
    database_url: str,
) -> None:
    db = Database(database_url)
    info = _scan(db)
    owner = info.owner or ""
    report = scans.load_report(db, info.id)
    recorder = scans.Recorder(db, info.id, owner, report)
    engine.scan_users_sync(
        lambda: connect.build_async_client(Settings(max_retries=0)),
        USERS[:120],
        concurrency=8,
        report=report,
        on_outcome=recorder,
    )
    recorder.interrupt()
    interrupted = scans.require_scan(db, info.id)
    assert interrupted.status is Status.INTERRUPTED and interrupted.partial
    assert interrupted.done == 121  # 120 fetched and the invalid id
    pending = scans.pending_user_ids(db, info.id)
    assert pending == USERS[120:]
    resumed = scans.claim(db, info.id, scans.new_owner())
    _run(db, resumed, resumed.owner or "", pending)
    final = scans.load_report(db, info.id)
    final.check_complete()
    with db.connect() as connection:
        rows = connection.execute(
            sa.select(scan_outcomes.c.user_id).where(scan_outcomes.c.scan_id == info.id)
        ).scalars()
        recorded = list(rows)
    assert sorted(recorded) == sorted(USERS)
    fresh = Database(database_url)
    whole = _scan(fresh)
    _same_counts = _run(fresh, whole, whole.owner or "", USERS)
    assert final.failed_reservations == _same_counts.failed_reservations
    assert final.expiry_with_failure == _same_counts.expiry_with_failure


def test_a_completed_scan_and_a_live_run_cannot_be_claimed(database_url: str) -> None:
    db = Database(database_url)
    live = _scan(db)
    with pytest.raises(ScanStateError, match="still running"):
        scans.claim(db, live.id, scans.new_owner())
    done = _scan(db, USERS[:5])
    _run(db, done, done.owner or "", USERS[:5])
    with pytest.raises(ScanStateError, match="completed: there is nothing to resume"):
        scans.claim(db, done.id, scans.new_owner())
    with pytest.raises(ScanStateError, match="no stored scan 'nope'"):
        scans.claim(db, "nope", scans.new_owner())


def test_a_run_whose_process_died_is_interrupted_at_once_and_claimed_once(
    database_url: str,
) -> None:
    db = Database(database_url)
    # The owner of a process that has exited, on this machine: known dead without waiting.
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    owner = f"{scans.new_owner().split(':')[0]}:{gone}:0000"
    info = scans.create_scan(db, user_ids=USERS[:3], concurrency=1, owner=owner)
    assert scans.require_scan(db, info.id).status is Status.INTERRUPTED
    first = scans.claim(db, info.id, scans.new_owner())
    assert first.status is Status.RUNNING and first.alive
    with pytest.raises(ScanStateError, match="still running"):
        scans.claim(db, info.id, scans.new_owner())


def test_a_run_on_another_machine_is_dead_once_its_heartbeat_is_stale(database_url: str) -> None:
    db = Database(database_url)
    info = scans.create_scan(db, user_ids=USERS[:3], concurrency=1, owner="elsewhere:1:abcd")
    assert scans.require_scan(db, info.id).status is Status.RUNNING  # heartbeat fresh
    old = datetime.now(UTC) - timedelta(seconds=scans.STALE_SECONDS + 1)
    with db.begin() as connection:
        connection.execute(
            sa.update(scans.scans).where(scans.scans.c.id == info.id).values(heartbeat_at=old)
        )
    assert scans.require_scan(db, info.id).status is Status.INTERRUPTED
    scans.claim(db, info.id, scans.new_owner())


def test_of_two_claims_read_at_once_only_one_wins(database_url: str) -> None:
    db = Database(database_url)
    info = scans.create_scan(db, user_ids=USERS[:3], concurrency=1)  # queued: no owner yet
    seen = scans.require_scan(db, info.id)
    scans.claim(db, info.id, "first:1:aaaa")
    # A second claimer that read the row before the first one's write: its compare-and-set fails.
    original = scans.require_scan
    try:
        scans.require_scan = lambda *_: seen  # type: ignore[assignment]
        with pytest.raises(ScanStateError, match="just claimed by another run"):
            scans.claim(db, info.id, "second:2:bbbb")
    finally:
        scans.require_scan = original
    assert scans.require_scan(db, info.id).owner == "first:1:aaaa"


def test_a_run_that_lost_its_scan_stops_recording(database_url: str) -> None:
    db = Database(database_url)
    info = _scan(db, USERS[:50])
    report = scans.load_report(db, info.id)
    recorder = scans.Recorder(db, info.id, info.owner or "", report)
    with db.begin() as connection:  # another run took it over
        connection.execute(
            sa.update(scans.scans).where(scans.scans.c.id == info.id).values(owner="other:1:x")
        )
    engine.scan_users_sync(
        lambda: connect.build_async_client(Settings(max_retries=0)),
        USERS[:50],
        report=report,
        on_outcome=recorder,
    )
    recorder.complete()
    assert isinstance(recorder.failure, ScanStateError)
    assert "no longer owned by this run" in recorder.failure.message
    assert scans.pending_user_ids(db, info.id) == USERS[:50]  # the batch went with the failure
    report.check_complete()  # and the run's own report still has every outcome


def test_a_database_that_breaks_mid_run_loses_no_fetched_result(tmp_path: object) -> None:
    path = f"{tmp_path}/scans.db"
    db = Database(f"sqlite:///{path}")
    info = _scan(db, USERS[:40])
    report = scans.load_report(db, info.id)
    recorder = scans.Recorder(db, info.id, info.owner or "", report)
    os.remove(path)
    os.mkdir(path)  # the file is gone and nothing can be created in its place
    db.dispose()
    engine.scan_users_sync(
        lambda: connect.build_async_client(Settings(max_retries=0)),
        USERS[:40],
        report=report,
        on_outcome=recorder,
    )
    recorder.complete()
    assert recorder.failure is not None and "could not be written" in recorder.failure.message
    report.check_complete()
    assert report.outcomes_total == 41


def test_whatever_the_api_and_the_input_may_hold_is_stored_on_every_database(
    database_url: str,
) -> None:
    # Values the client accepts that a 32-bit INTEGER or PostgreSQL's text refuses: any int64 in
    # a reservation or an error's code, a NUL in an error's message, a label, an invalid id or an
    # extra input column. Each used to fail the batch, so the scan could never be finished.
    import httpx

    from basket_lib.api.client import AsyncBasketClient

    big = {"productId": "p-big", "count": 2**40, "stocked": -3_000_000_000}
    nul = {
        "productId": "p\u0000x",
        "variant": "M\u0000",
        "mainProductIdentifier": "p\u0000",
        "stocked": -1,
    }
    answers = {
        "/v2/baskets/users/big": (200, {"data": {"checkout": [big]}}),
        "/v2/baskets/users/nul": (200, {"data": {"checkout": [nul]}}),
        "/v2/baskets/users/odd": (400, {"error": {"code": 2**62, "message": "bad\u0000news"}}),
    }

    def api(request: httpx.Request) -> httpx.Response:
        status, body = answers[request.url.path]
        return httpx.Response(status, json=body)

    db = Database(database_url)
    info = scans.create_scan(
        db,
        user_ids=["big", "odd", "nul"],
        invalid=[("bad\x00id", "The user id contains a control character at position 4")],
        extras={"big": {"ticket\x00": "T-\x001"}},
        label="nightly\x00run",
        concurrency=2,
        owner=scans.new_owner(),
    )
    ran = _run_with(db, info, lambda: AsyncBasketClient(
        "https://api.example/v2", "key-123456", transport=httpx.MockTransport(api), max_retries=0
    ))  # fmt: skip
    stored = scans.load_report(db, info.id)
    assert len(stored.failures) == len(ran.failures) == 2
    assert stored.checkouts_by_product == {"p-big": 1, "p\ufffdx": 1}
    failures = {f.user_id: f for f in stored.failures}
    assert (failures["big"].count, failures["big"].stocked) == (2**40, -3_000_000_000)
    nul_row = failures["nul"]
    assert (nul_row.product_id, nul_row.variant, nul_row.main_product_identifier) == (
        "p\ufffdx",
        "M\ufffd",
        "p\ufffd",
    )
    odd = next(e for e in stored.errors if e.user_id == "odd")
    assert odd.api_code == 2**62 and "bad\ufffdnews" in odd.message
    assert any(e.user_id == "bad\ufffdid" for e in stored.errors)
    assert scans.load_extras(db, info.id) == {"big": {"ticket\ufffd": "T-\ufffd1"}}
    assert scans.require_scan(db, info.id).label == "nightly\ufffdrun"


def test_a_value_the_driver_cannot_bind_stops_recording_with_a_clear_error(
    tmp_path: object,
) -> None:
    # The driver's own refusal (here sqlite3's OverflowError, which SQLAlchemy does not wrap) is
    # the database failing, not the scan: the run goes on and its report keeps every outcome.
    db = Database(f"sqlite:///{tmp_path}/scans.db")
    info = _scan(db, ["u1", "u2"])
    report = scans.load_report(db, info.id)
    recorder = scans.Recorder(db, info.id, info.owner or "", report)
    too_big = FailureRecord("u1", "p", None, None, 1, -(2**64))
    summary = BasketSummary(1, (too_big,), False, None, ("p",))
    report.add_summary(summary)
    recorder("u1", summary)
    recorder.complete()
    assert recorder.failure is not None
    assert "could not be written" in recorder.failure.message
    assert "OverflowError" in recorder.failure.message or "too large" in recorder.failure.message


def test_the_users_two_scans_share_are_counted(database_url: str) -> None:
    db = Database(database_url)
    first = scans.create_scan(db, user_ids=["a", "b", "c"], invalid=[("x y", "why")], concurrency=1)
    second = scans.create_scan(
        db, user_ids=["c", "b", "d"], invalid=[("x y", "why")], concurrency=1
    )
    assert scans.shared_user_count(db, first.id, second.id) == 3  # b, c and the invalid one
    assert scans.shared_user_count(db, first.id, first.id) == 4


def test_recent_scans_first_and_by_label(database_url: str) -> None:
    db = Database(database_url)
    ids = [_scan(db, USERS[:2], label=label).id for label in ("a", "b", "a")]
    assert [s.id for s in scans.list_scans(db)] == ids[::-1]
    assert [s.id for s in scans.list_scans(db, label="a")] == [ids[2], ids[0]]
    assert [s.id for s in scans.list_scans(db, limit=1)] == [ids[2]]


def test_a_label_too_long_is_refused_before_anything_is_stored(database_url: str) -> None:
    db = Database(database_url)
    with pytest.raises(ScanStateError, match="at most 200"):
        _scan(db, label="x" * 201)
    assert scans.list_scans(db) == []


def test_no_stored_row_holds_the_key_even_when_the_api_echoes_it(database_url: str) -> None:
    import httpx

    from basket_lib.api.client import AsyncBasketClient

    key = "sk-stored-secret-0123456789"

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/u-err"):
            body = {"error": {"code": 3001, "message": f"bad key {key} ({key[:14]}…)"}}
            return httpx.Response(500, json=body)
        item = {"productId": f"p-{key}", "count": 1, "stocked": -1, "variant": key[:13]}
        return httpx.Response(200, json={"data": {"checkout": [item]}})

    db = Database(database_url)
    users = ["u-ok", "u-err"]
    info = scans.create_scan(db, user_ids=users, concurrency=2, owner=scans.new_owner(),
                             api_host="api.example")  # fmt: skip
    report = scans.load_report(db, info.id, Settings(api_url="https://api.example/v2",
                                                     api_key=key).redactor)  # fmt: skip
    recorder = scans.Recorder(db, info.id, info.owner or "", report)
    engine.scan_users_sync(
        lambda: AsyncBasketClient(
            "https://api.example/v2", key, transport=httpx.MockTransport(answer), max_retries=0
        ),
        users,
        report=report,
        on_outcome=recorder,
    )
    recorder.complete()
    assert report.failed_reservations == 1 and len(report.errors) == 1
    with db.connect() as connection:
        stored = " ".join(
            str(row)
            for table in ("scans", "scan_users", "scan_outcomes", "scan_failures")
            for row in connection.execute(sa.text(f"SELECT * FROM {table}"))
        )
    assert "[redacted]" in stored
    assert key not in stored and key[:12] not in stored


def test_an_interrupted_run_stores_the_figures_of_what_it_stored(database_url: str) -> None:
    db = Database(database_url)
    info = _scan(db, USERS[:30])
    report = scans.load_report(db, info.id)
    recorder = scans.Recorder(db, info.id, info.owner or "", report)
    engine.scan_users_sync(
        lambda: connect.build_async_client(Settings(max_retries=0)),
        USERS[:20],
        report=report,
        on_outcome=recorder,
    )
    # A signal between an outcome counted in the report and its buffering: counted, not stored.
    report.add_error("user-99999", RuntimeError("cut off"))
    recorder.interrupt()
    stored = scans.require_scan(db, info.id)
    assert stored.done == scans.load_report(db, info.id).outcomes_total == 21  # 20 + the invalid
    assert stored.errors == 1


def test_a_signal_inside_a_batch_write_loses_none_of_it(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(database_url)
    info = _scan(db, USERS[:40])
    report = scans.load_report(db, info.id)
    recorder = scans.Recorder(db, info.id, info.owner or "", report)
    engine.scan_users_sync(
        lambda: connect.build_async_client(Settings(max_retries=0)),
        USERS[:40],
        report=report,
        on_outcome=recorder,
    )
    chunks = scans._chunks

    def interrupted(*args: object, **kwargs: object) -> object:
        monkeypatch.setattr(scans, "_chunks", chunks)
        raise KeyboardInterrupt

    monkeypatch.setattr(scans, "_chunks", interrupted)
    with pytest.raises(KeyboardInterrupt):
        recorder.flush()
    recorder.interrupt()  # as run_claimed does on Ctrl-C / SIGTERM
    assert scans.pending_user_ids(db, info.id) == []
    assert scans.require_scan(db, info.id).done == 41


def test_reading_an_unknown_or_broken_scan_database_is_a_clear_error(tmp_path: object) -> None:
    from basket_lib.api.errors import StorageError

    path = f"{tmp_path}/read.db"
    db = Database(f"sqlite:///{path}")
    with pytest.raises(ScanStateError, match="no stored scan 'nope'"):
        scans.load_report(db, "nope")
    db.dispose()
    os.remove(path)
    os.mkdir(path)
    with pytest.raises(StorageError, match=r"read\.db could not be read"):
        scans.list_scans(db)


def test_a_requeue_that_loses_the_race_says_so(database_url: str) -> None:
    db = Database(database_url)
    info = scans.create_scan(db, user_ids=USERS[:3], concurrency=1, owner="gone:1:x")
    with db.begin() as connection:
        connection.execute(
            sa.update(scans.scans).where(scans.scans.c.id == info.id).values(heartbeat_at=None)
        )
    seen = scans.require_scan(db, info.id)
    scans.requeue(db, info.id)  # someone else, first
    original = scans.require_scan
    try:
        scans.require_scan = lambda *_: seen  # type: ignore[assignment]
        with pytest.raises(ScanStateError, match="just resumed by another run"):
            scans.requeue(db, info.id)
    finally:
        scans.require_scan = original


def test_rows_written_at_the_driver_level_are_those_core_writes(database_url: str) -> None:
    """The batches bypass Core's per-row converters: what they store must be what Core would
    have stored for the same values (JSON text, booleans, floats), on every database."""
    db = Database(database_url)
    fast = scans.create_scan(
        db,
        user_ids=["a"],
        invalid=INVALID,
        concurrency=1,
        owner=scans.new_owner(),
        extras={"a": {"ticket": "T-1 é"}},
    )
    failure = FailureRecord("a", "p-1", "red", "p", 2, -1)
    recorder = scans.Recorder(db, fast.id, fast.owner or "", scans.load_report(db, fast.id))
    recorder("a", BasketSummary(3, (failure,), False, 12.5, ("p-1", "p-2 ü")))
    recorder("b", ErrorRecord("b", "server error", 503, 9, "down"))
    recorder("c", BasketSummary(0, (), True, None, ()))
    recorder.complete()

    core = scans.create_scan(db, user_ids=[], concurrency=1)
    with db.begin() as connection:
        for table in (scan_users, scan_outcomes, scan_failures):
            rows = connection.execute(sa.select(table).where(table.c.scan_id == fast.id))
            values = [{**row, "scan_id": core.id} for row in rows.mappings()]
            for row in values:
                row.pop("id", None)
            connection.execute(table.insert(), values)

    def stored(scan_id: str) -> dict[str, list[tuple[object, ...]]]:
        # Through the driver, as the database holds them: no result converters either.
        found = {}
        with db.connect() as connection:
            for table, order in (
                (scan_users, "position"),
                (scan_outcomes, "user_id"),
                (scan_failures, "product_id"),
            ):
                columns = ", ".join(c.name for c in table.c if c.name not in ("id", "scan_id"))
                result = connection.exec_driver_sql(
                    f"SELECT {columns} FROM {table.name} WHERE scan_id = '{scan_id}' "
                    f"ORDER BY {order}"
                )
                found[table.name] = [tuple(row) for row in result]
        return found

    written = stored(fast.id)
    assert len(written["scan_outcomes"]) == 3 and len(written["scan_users"]) == 2
    assert written == stored(core.id)


def test_a_bulk_insert_whose_columns_are_out_of_the_tables_order_is_refused() -> None:
    # A positional INSERT binds by place: rows built in another order would land in the wrong
    # columns, so the statement is refused when it is compiled.
    from sqlalchemy.dialects import sqlite

    columns = tuple(reversed(scans._OUTCOME_COLUMNS))
    with pytest.raises(ValueError, match="not in the order of scan_outcomes"):
        scans._insert_sql(sqlite.dialect(), scan_outcomes, columns)
