"""The bulk-scan engine: one outcome per user, bounded concurrency, streaming aggregation."""

from __future__ import annotations

import asyncio
import gc
import math
import signal
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import pytest

from basket_lib.api.errors import NotFoundError, RateLimitError
from basket_lib.api.models import Basket, BasketResult, CheckoutProduct, Product
from basket_lib.api.redaction import Redactor
from basket_lib.scan import report as scan_report
from basket_lib.scan.engine import scan_users, scan_users_sync
from basket_lib.scan.report import (
    EXPIRY_BIN_LABELS,
    ErrorRecord,
    FailureRecord,
    ScanProgress,
    ScanReport,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
Outcome = Basket | BaseException


def _now() -> datetime:
    return NOW


class FakeClient:
    """Answers from a table; records calls, requests in flight and tasks alive."""

    def __init__(
        self,
        outcomes: Mapping[str, Outcome] | None = None,
        *,
        default: Callable[[str], Outcome] = lambda _: Basket(),
    ) -> None:
        self.outcomes = outcomes or {}
        self.default = default
        self.redactor = Redactor()
        self.calls: Counter[str] = Counter()
        self.provider_ids: set[str | None] = set()
        self.in_flight = 0
        self.max_in_flight = 0
        self.max_tasks = 0
        self.results: list[weakref.ref[BasketResult]] = []
        self.closed = False
        self.gate: asyncio.Event | None = None  # when set, requests wait for it
        self.all_started: asyncio.Event | None = None
        self.started_target = 0

    async def get_basket(
        self, user_id: str, *, tracking: str | None = None, provider_id: str | None = None
    ) -> BasketResult:
        self.calls[user_id] += 1
        self.provider_ids.add(provider_id)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.max_tasks = max(self.max_tasks, len(asyncio.all_tasks()))
        try:
            if self.all_started is not None and self.in_flight >= self.started_target:
                self.all_started.set()
            if self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(0)  # a yield, so that other workers' requests overlap
            outcome = self.outcomes.get(user_id) or self.default(user_id)
            if isinstance(outcome, BaseException):
                raise outcome
            result = BasketResult(user_id=user_id, basket=outcome, fetched_at=NOW)
            self.results.append(weakref.ref(result))
            return result
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        self.closed = True


def _checkout(product_id: str, stocked: int | None, **extra: object) -> CheckoutProduct:
    return CheckoutProduct(product_id=product_id, stocked=stocked, **extra)


HAND_MADE: dict[str, Outcome] = {
    "u-fail2": Basket(
        expires=NOW + timedelta(hours=2),
        checkout=(
            _checkout("p1", -1, count=2),
            _checkout("p2", -3, variant="XL", main_product_identifier="p2-main"),
            _checkout("p3", 5),
        ),
    ),
    "u-fail1": Basket(
        expires=NOW - timedelta(hours=30),
        checkout=(_checkout("p1", -2), _checkout("p4", None)),
    ),
    "u-ok": Basket(
        expires=NOW + timedelta(hours=100),
        cart=(Product(product_id="x"),),
        checkout=(_checkout("p1", 1),),
    ),
    "u-cart": Basket(cart=(Product(product_id="x"),)),
    "u-empty": Basket(),
    "u-404": NotFoundError("No such basket.", status=404, api_code=2005),
    "u-429": RateLimitError("Slow down.", status=429),
    "u-boom": RuntimeError("boom"),
}


def _scan(client: FakeClient, ids: list[str], **options: object) -> ScanReport:
    return asyncio.run(scan_users(client, ids, now=_now, **options))  # type: ignore[arg-type]


# --- outcomes and aggregates ------------------------------------------------------------------


def test_every_user_ends_in_exactly_one_outcome() -> None:
    client = FakeClient(HAND_MADE)
    ids = [*HAND_MADE, "u-ok", "u-404", "u-fail1"]
    report = _scan(client, ids, concurrency=3)
    assert report.total == len(HAND_MADE)
    assert report.duplicates == 3
    assert client.calls == Counter(dict.fromkeys(HAND_MADE, 1))
    assert report.scanned == 5
    assert sorted(e.user_id for e in report.errors) == ["u-404", "u-429", "u-boom"]
    report.check_complete()


def test_errors_keep_kind_status_code_and_summary() -> None:
    report = _scan(FakeClient(HAND_MADE), list(HAND_MADE))
    errors = {e.user_id: e for e in report.errors}
    assert errors["u-404"] == ErrorRecord(
        "u-404", "not found", 404, 2005, "HTTP 404 · code 2005 BASKET_NOT_FOUND · No such basket."
    )
    assert errors["u-429"].kind == "rate limited" and errors["u-429"].status == 429
    assert errors["u-boom"] == ErrorRecord(
        "u-boom", "unexpected error", None, None, "RuntimeError: boom"
    )
    assert report.errors_by_kind() == Counter(
        {"not found": 1, "rate limited": 1, "unexpected error": 1}
    )


def test_aggregates_on_a_hand_made_set() -> None:
    report = _scan(FakeClient(HAND_MADE), list(HAND_MADE))
    assert report.as_of == NOW
    assert report.baskets_with_checkout == 3
    assert report.checkout_items == 6
    assert report.failed_reservations == 3
    assert report.users_with_failure == 2
    assert report.reservation_failure_rate == pytest.approx(3 / 6)
    assert report.user_failure_rate == pytest.approx(2 / 3)
    assert report.empty_baskets == 1
    assert report.expired_baskets == 1
    assert report.baskets_without_expiry == 2
    assert sorted(report.failures, key=lambda f: (f.user_id, f.product_id)) == [
        FailureRecord("u-fail1", "p1", None, None, 1, -2),
        FailureRecord("u-fail2", "p1", None, None, 2, -1),
        FailureRecord("u-fail2", "p2", "XL", "p2-main", 1, -3),
    ]
    with_failure = dict.fromkeys(range(len(EXPIRY_BIN_LABELS)), 0) | {
        EXPIRY_BIN_LABELS.index("1-6 h"): 1,
        EXPIRY_BIN_LABELS.index("expired 1-3 days"): 1,
    }
    assert report.expiry_with_failure == list(with_failure.values())
    assert report.expiry_without_failure == [
        1 if label == "3-7 days" else 0 for label in EXPIRY_BIN_LABELS
    ]
    counts = report.expiry_counts()
    assert counts[(EXPIRY_BIN_LABELS.index("1-6 h"), True)] == 1
    assert counts[(EXPIRY_BIN_LABELS.index("3-7 days"), False)] == 1
    assert sum(counts.values()) == 3
    assert "failed_reservations=3 errors=3" in report.summary_line()
    # Checkouts holding each product: the per-product failure rates' denominators (the cart of
    # u-ok does not count, only checkouts do).
    assert report.checkouts_by_product == Counter({"p1": 3, "p2": 1, "p3": 1, "p4": 1})


def test_the_details_asked_for_include_each_failed_variants_main_product() -> None:
    report = _scan(FakeClient(HAND_MADE), list(HAND_MADE))
    # p2 is the variant XL of p2-main: details_for falls back to p2-main's entry.
    assert report.product_ids() == ["p1", "p2", "p2-main"]
    assert ScanReport().product_ids() == []


def test_a_product_twice_in_one_checkout_counts_that_checkout_once() -> None:
    basket = Basket(checkout=(_checkout("p1", -1), _checkout("p1", 2), _checkout("p2", 1)))
    report = _scan(FakeClient({"u": basket}), ["u"])
    assert report.checkouts_by_product == Counter({"p1": 1, "p2": 1})


def test_rates_are_none_without_a_checkout() -> None:
    report = _scan(FakeClient(), ["a", "b"])
    assert report.reservation_failure_rate is None
    assert report.user_failure_rate is None
    assert report.empty_baskets == 2


def test_provider_id_is_passed_to_the_client() -> None:
    client = FakeClient()
    _scan(client, ["a", "b"], provider_id="netflix")
    assert client.provider_ids == {"netflix"}


def test_unexpected_error_messages_are_redacted_and_bounded() -> None:
    secret = "sk-bulk-test-secret-4711"
    outcomes: dict[str, Outcome] = {
        "a": RuntimeError(f"header was {secret}"),
        "b": ValueError("x" * 5000),
    }
    client = FakeClient(outcomes)
    client.redactor = Redactor(secret)  # the scanning client's own secrets
    report = _scan(client, ["a", "b"])
    messages = {e.user_id: e.message for e in report.errors}
    assert secret not in messages["a"] and "[redacted]" in messages["a"]
    assert len(messages["b"]) == scan_report.MAX_ERROR_MESSAGE_CHARS


def test_invalid_ids_become_outcomes() -> None:
    report = _scan(FakeClient(), ["a"])
    report.add_invalid_ids([("..", "The user id cannot be '..'.")])
    assert report.total == 2
    assert report.errors == [
        ErrorRecord("..", "invalid user id", None, None, "The user id cannot be '..'.")
    ]
    report.check_complete()


def test_check_complete_detects_a_lost_user() -> None:
    report = ScanReport(total=3, scanned=1)
    report.add_error("u", RuntimeError("x"))
    with pytest.raises(RuntimeError, match="1 scanned \\+ 1 errors != 3 users"):
        report.check_complete()


# --- concurrency, progress, memory ------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [1, 4, 32])
def test_concurrency_is_bounded_and_used(concurrency: int) -> None:
    client = FakeClient()
    _scan(client, [f"u{i}" for i in range(200)], concurrency=concurrency)
    assert client.max_in_flight == concurrency
    # A fixed pool: workers plus the scan's own task, never a task per user.
    assert client.max_tasks <= concurrency + 1


def test_fewer_users_than_workers() -> None:
    client = FakeClient()
    report = _scan(client, ["a", "b"], concurrency=50)
    assert report.scanned == 2 and client.max_tasks <= 3


def test_concurrency_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        _scan(FakeClient(), ["a"], concurrency=0)


def test_progress_is_throttled_and_ends_at_the_total() -> None:
    seen: list[ScanProgress] = []
    outcomes: dict[str, Outcome] = {"u7": RuntimeError("x"), "u9": HAND_MADE["u-fail2"]}
    _scan(FakeClient(outcomes), [f"u{i}" for i in range(1000)], on_progress=seen.append)
    assert len(seen) == 200  # every total // 200 completions
    assert [p.done for p in seen] == list(range(5, 1001, 5))
    assert seen[-1] == ScanProgress(
        done=1000, total=1000, errors=1, failures=2, baskets_with_checkout=1
    )


def test_progress_every_and_a_final_call_off_the_step() -> None:
    seen: list[ScanProgress] = []
    _scan(FakeClient(), [f"u{i}" for i in range(25)], on_progress=seen.append, progress_every=10)
    assert [p.done for p in seen] == [10, 20, 25]


def test_progress_for_an_empty_list() -> None:
    seen: list[ScanProgress] = []
    report = _scan(FakeClient(), [], on_progress=seen.append)
    assert seen == [ScanProgress(0, 0, 0, 0, 0)]
    assert report.total == 0
    report.check_complete()


def test_report_keeps_no_baskets() -> None:
    def fresh_basket(user_id: str) -> Basket:
        return Basket(
            expires=NOW + timedelta(days=3),
            checkout=(_checkout(f"p-{user_id}", 1), _checkout("shared", None)),
        )

    client = FakeClient(default=fresh_basket)
    # Enough users for every worker to take hundreds: a reference kept per user would show.
    report = _scan(client, [f"user-{i:05d}" for i in range(5_000)], concurrency=16)
    gc.collect()
    assert report.scanned == 5_000 and report.checkout_items == 10_000
    assert len(client.results) == 5_000
    assert all(ref() is None for ref in client.results)  # no BasketResult is referenced
    # Without failures or errors, nothing in the report grows with the number of users.
    assert report.failures == [] and report.errors == []
    assert len(report.expiry_without_failure) == len(EXPIRY_BIN_LABELS)
    assert client.max_tasks <= 17


# --- stopping ---------------------------------------------------------------------------------


class StopScript(BaseException):
    """Stands in for Streamlit's StopException, raised from a progress callback."""


def test_exception_from_progress_stops_every_worker_and_propagates_unchanged() -> None:
    client = FakeClient()

    def stop(progress: ScanProgress) -> None:
        if progress.done >= 10:
            raise StopScript

    async def run() -> set[asyncio.Task[object]]:
        with pytest.raises(StopScript):
            await scan_users(client, [f"u{i}" for i in range(1000)], on_progress=stop)
        return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]

    assert asyncio.run(run()) == set()
    assert client.in_flight == 0
    assert sum(client.calls.values()) < 1000


def test_cancelling_the_scan_cancels_the_workers() -> None:
    client = FakeClient()

    async def run() -> set[asyncio.Task[object]]:
        client.gate = asyncio.Event()  # never set: every request hangs
        client.all_started = asyncio.Event()
        client.started_target = 8
        scan = asyncio.create_task(scan_users(client, [f"u{i}" for i in range(100)], concurrency=8))
        await client.all_started.wait()
        scan.cancel()
        with pytest.raises(asyncio.CancelledError):
            await scan
        return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]

    assert asyncio.run(run()) == set()
    assert client.in_flight == 0
    assert sum(client.calls.values()) == 8


# --- synchronous callers ----------------------------------------------------------------------


def test_scan_users_sync_from_a_thread_without_a_loop() -> None:
    clients: list[FakeClient] = []
    loops: list[asyncio.AbstractEventLoop] = []

    def factory() -> FakeClient:
        loops.append(asyncio.get_running_loop())  # built inside the scan's loop
        clients.append(FakeClient(HAND_MADE))
        return clients[-1]

    reports: list[ScanReport] = []
    thread = threading.Thread(target=lambda: reports.append(scan_users_sync(factory, ["u-ok"])))
    thread.start()
    thread.join()
    assert reports[0].scanned == 1
    assert len(loops) == 1 and clients[0].closed


def test_scan_users_sync_inside_a_running_loop() -> None:
    async def run() -> ScanReport:
        return scan_users_sync(lambda: FakeClient(HAND_MADE), ["u-fail1"], now=_now)

    report = asyncio.run(run())
    assert report.failed_reservations == 1


def test_scan_users_sync_closes_the_client_when_the_scan_fails() -> None:
    client = FakeClient()

    def stop(progress: ScanProgress) -> None:
        raise StopScript

    with pytest.raises(StopScript):
        scan_users_sync(lambda: client, ["a"], on_progress=stop)
    assert client.closed


class Terminated(BaseException):
    """Stands in for the command line's SIGTERM exception."""


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signal handlers are set from the main thread only",
)
def test_sigterm_during_a_scan_is_raised_by_its_handler_once_the_loop_has_unwound() -> None:
    # Raised inside the loop, it can land between a future's result and its task's wakeup: the
    # task then never ends, nor the loop's shutdown (a SIGTERMed scan hung about once in forty).
    raised_in_loop: list[bool] = []

    def handler(signum: int, frame: object) -> None:
        raised_in_loop.append(_loop_running())
        raise Terminated

    def outcome(user_id: str, _: object) -> None:
        if len(client.calls) == 10:
            signal.raise_signal(signal.SIGTERM)

    client = FakeClient()
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with pytest.raises(Terminated):
            scan_users_sync(
                lambda: client, [f"u-{i}" for i in range(1000)], concurrency=4, on_outcome=outcome
            )
        assert raised_in_loop == [False]  # once, after the loop
        assert signal.getsignal(signal.SIGTERM) is handler  # the caller's handler is back
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert len(client.calls) < 1000 and client.closed and client.in_flight == 0


# --- expiry bins ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "label"),
    [
        (-math.inf, "expired > 3 days"),
        (-1e9, "expired > 3 days"),
        (-1000, "expired > 3 days"),
        (-72, "expired > 3 days"),
        (-71.9, "expired 1-3 days"),
        (-24, "expired 1-3 days"),
        (-23.5, "expired 1-24 h"),
        (-1, "expired 1-24 h"),
        (-0.5, "expired < 1 h"),
        (0, "expired < 1 h"),
        (0.001, "< 1 h"),
        (0.999, "< 1 h"),
        (1, "1-6 h"),
        (6, "6-24 h"),
        (24, "1-3 days"),
        (72, "3-7 days"),
        (168, "7-14 days"),
        (336, "14-30 days"),
        (719.9, "14-30 days"),
        (720, "> 30 days"),
        (1e9, "> 30 days"),
        (math.inf, "> 30 days"),
    ],
)
def test_expiry_bins_at_the_edges(hours: float, label: str) -> None:
    assert EXPIRY_BIN_LABELS[scan_report.expiry_bin(hours)] == label


def test_expiry_bin_rejects_nan() -> None:
    with pytest.raises(ValueError):
        scan_report.expiry_bin(math.nan)


def test_expiry_exactly_now_counts_as_expired() -> None:
    report = _scan(FakeClient({"a": Basket(expires=NOW)}), ["a"])
    assert report.expired_baskets == 1
    assert report.expiry_without_failure[EXPIRY_BIN_LABELS.index("expired < 1 h")] == 1
