"""Scanning many users' baskets for failed stock reservations.

One engine for the page and the command line. A fixed pool of workers pulls user ids from a shared
iterator, so memory and task count do not grow with the number of users; each basket is folded
into the report's counters as soon as it arrives and then dropped. What the report keeps grows only
with what it must show one by one: the failed reservations and the users that could not be read.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import csv
import math
import re
import time
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, Protocol

from basket_lib.api.errors import BasketError, redact
from basket_lib.api.models import Basket, BasketResult

# Hours from the scan's start until a basket expires; negative = already expired. The same edges,
# labels and binning rule as views.charts (this module avoids importing pandas and altair).
EXPIRY_BIN_EDGES_HOURS: tuple[float, ...] = (
    -math.inf, -72, -24, -1, 0, 1, 6, 24, 72, 168, 336, 720, math.inf,
)  # fmt: skip
EXPIRY_BIN_LABELS: tuple[str, ...] = (
    "expired > 3 days",
    "expired 1-3 days",
    "expired 1-24 h",
    "expired < 1 h",
    "< 1 h",
    "1-6 h",
    "6-24 h",
    "1-3 days",
    "3-7 days",
    "7-14 days",
    "14-30 days",
    "> 30 days",
)

DEFAULT_CONCURRENCY = 32
MAX_ERROR_MESSAGE_CHARS = 500
INVALID_USER_ID_KIND = "invalid user id"
UNEXPECTED_ERROR_KIND = "unexpected error"


def expiry_bin(hours: float) -> int:
    """Index into EXPIRY_BIN_LABELS of a time to expiry in hours.

    Bins count age away from now on both sides: a future bin holds ``lo <= hours < hi``, an
    expired bin ``lo < hours <= hi``; exactly 0 is expired (as in views.expiry_status).
    """
    if math.isnan(hours):
        raise ValueError("hours to expiry is NaN")
    if hours <= 0:
        return max(bisect_left(EXPIRY_BIN_EDGES_HOURS, hours) - 1, 0)
    return min(bisect_right(EXPIRY_BIN_EDGES_HOURS, hours) - 1, len(EXPIRY_BIN_LABELS) - 1)


class AsyncBasketSource(Protocol):
    async def get_basket(
        self, user_id: str, *, tracking: str | None = None, provider_id: str | None = None
    ) -> BasketResult: ...


@dataclass(slots=True)
class FailureRecord:
    """One checkout item whose stock reservation failed (stocked < 0)."""

    user_id: str
    product_id: str
    variant: str | None
    main_product_identifier: str | None
    count: int
    stocked: int


@dataclass(slots=True)
class ErrorRecord:
    """One user whose basket could not be read."""

    user_id: str
    kind: str
    status: int | None
    api_code: int | None
    message: str

    @classmethod
    def from_exception(cls, user_id: str, exc: BaseException) -> ErrorRecord:
        if isinstance(exc, BasketError):
            message = exc.summary()
            return cls(
                user_id, exc.kind, exc.status, exc.api_code, message[:MAX_ERROR_MESSAGE_CHARS]
            )
        # Foreign exceptions are not redacted at construction, BasketErrors are.
        message = redact(f"{type(exc).__name__}: {exc}")[:MAX_ERROR_MESSAGE_CHARS]
        return cls(user_id, UNEXPECTED_ERROR_KIND, None, None, message)


@dataclass(frozen=True, slots=True)
class ScanProgress:
    done: int
    total: int
    errors: int
    failures: int  # failed reservations found so far
    baskets_with_checkout: int


@dataclass
class ScanReport:
    """Aggregates of one scan.

    Two failure rates, because one user can have several failed items:
    - ``reservation_failure_rate``: failed reservations / checkout items (every checkout line is
      one reservation);
    - ``user_failure_rate``: users with at least one failed reservation / baskets with a checkout.
    Both are None when their denominator is 0.
    """

    total: int = 0  # distinct users, each ends as scanned or as an error
    duplicates: int = 0
    scanned: int = 0
    errors: list[ErrorRecord] = field(default_factory=list)
    failures: list[FailureRecord] = field(default_factory=list)
    baskets_with_checkout: int = 0
    checkout_items: int = 0
    failed_reservations: int = 0
    users_with_failure: int = 0
    empty_baskets: int = 0
    expired_baskets: int = 0
    baskets_without_expiry: int = 0
    failed_by_product: Counter[str] = field(default_factory=Counter)
    # Scanned baskets with an expiry, per EXPIRY_BIN_LABELS bin, split by failed reservations.
    expiry_with_failure: list[int] = field(default_factory=lambda: [0] * len(EXPIRY_BIN_LABELS))
    expiry_without_failure: list[int] = field(default_factory=lambda: [0] * len(EXPIRY_BIN_LABELS))
    as_of: datetime = field(default_factory=lambda: datetime.now(UTC))  # histogram's "now"
    elapsed_seconds: float = 0.0

    def add_basket(self, user_id: str, basket: Basket) -> None:
        self.scanned += 1
        failed = False
        checkout = basket.checkout
        if checkout:
            self.baskets_with_checkout += 1
            self.checkout_items += len(checkout)
            for item in checkout:
                stocked = item.stocked
                if stocked is not None and stocked < 0:
                    failed = True
                    self.failed_reservations += 1
                    self.failures.append(
                        FailureRecord(
                            user_id,
                            item.product_id,
                            item.variant,
                            item.main_product_identifier,
                            item.count,
                            stocked,
                        )
                    )
                    self.failed_by_product[item.product_id] += 1
            if failed:
                self.users_with_failure += 1
        elif not (basket.cart or basket.saved):
            self.empty_baskets += 1
        expires = basket.expires
        if expires is None:
            self.baskets_without_expiry += 1
            return
        hours = (expires - self.as_of).total_seconds() / 3600
        if hours <= 0:
            self.expired_baskets += 1
        bins = self.expiry_with_failure if failed else self.expiry_without_failure
        bins[expiry_bin(hours)] += 1

    def add_error(self, user_id: str, exc: BaseException) -> None:
        self.errors.append(ErrorRecord.from_exception(user_id, exc))

    def add_invalid_ids(self, invalid: Iterable[tuple[str, str]]) -> None:
        """Count ids rejected before the scan (see inputs.ParsedIds.invalid) as outcomes too."""
        for user_id, reason in invalid:
            self.total += 1
            self.errors.append(ErrorRecord(user_id, INVALID_USER_ID_KIND, None, None, reason))

    @property
    def reservation_failure_rate(self) -> float | None:
        return self.failed_reservations / self.checkout_items if self.checkout_items else None

    @property
    def user_failure_rate(self) -> float | None:
        if not self.baskets_with_checkout:
            return None
        return self.users_with_failure / self.baskets_with_checkout

    @property
    def outcomes_total(self) -> int:
        return self.scanned + len(self.errors)

    def check_complete(self) -> None:
        """Raise unless every user ended in exactly one outcome."""
        if self.outcomes_total != self.total:
            raise RuntimeError(
                f"Scan incomplete: {self.scanned} scanned + {len(self.errors)} errors "
                f"!= {self.total} users."
            )

    def users_by_product(self) -> dict[str, int]:
        """Distinct users with a failed reservation, per product."""
        users: dict[str, set[str]] = {}
        for record in self.failures:
            users.setdefault(record.product_id, set()).add(record.user_id)
        return {product_id: len(ids) for product_id, ids in users.items()}

    def product_table(self) -> list[tuple[str, int, int]]:
        """(product_id, failed reservations, distinct users), most failures first."""
        users = self.users_by_product()
        rows = [(pid, count, users[pid]) for pid, count in self.failed_by_product.items()]
        return sorted(rows, key=lambda row: (-row[1], -row[2], row[0]))

    def expiry_counts(self) -> dict[tuple[int, bool], int]:
        """{(bin index, has a failed reservation): baskets}, the input of
        charts.expiry_histogram_frame."""
        counts = {(i, True): n for i, n in enumerate(self.expiry_with_failure)}
        counts.update({(i, False): n for i, n in enumerate(self.expiry_without_failure)})
        return counts

    def errors_by_kind(self) -> Counter[str]:
        return Counter(record.kind for record in self.errors)

    def summary_line(self) -> str:
        return (
            f"users={self.total} scanned={self.scanned} with_checkout={self.baskets_with_checkout} "
            f"failed_reservations={self.failed_reservations} errors={len(self.errors)} "
            f"seconds={self.elapsed_seconds:.2f}"
        )


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def scan_users(
    client: AsyncBasketSource,
    user_ids: Sequence[str],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    provider_id: str | None = None,
    on_progress: Callable[[ScanProgress], Any] | None = None,
    progress_every: int | None = None,
    now: Callable[[], datetime] = _utc_now,
) -> ScanReport:
    """Read every distinct user's basket once and aggregate the failed reservations.

    Every distinct user ends as exactly one outcome: a scanned basket or an ErrorRecord (any
    exception from the client, BasketError or not, is recorded; the scan goes on). An exception
    raised by ``on_progress`` (e.g. the page was stopped) or a cancellation of this coroutine
    cancels all workers and propagates unchanged.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    started = time.perf_counter()
    distinct = list(dict.fromkeys(user_ids))
    report = ScanReport(total=len(distinct), duplicates=len(user_ids) - len(distinct), as_of=now())
    total = report.total
    every = progress_every or max(1, total // 200)
    pending = iter(distinct)
    done = 0

    def progress() -> None:
        if on_progress is not None:
            on_progress(
                ScanProgress(
                    done,
                    total,
                    len(report.errors),
                    report.failed_reservations,
                    report.baskets_with_checkout,
                )
            )

    async def worker() -> None:
        nonlocal done
        # Workers share one iterator: next() runs between awaits, so no id is taken twice.
        for user_id in pending:
            try:
                result = await client.get_basket(user_id, provider_id=provider_id)
            except Exception as exc:  # one user's failure is that user's outcome
                report.add_error(user_id, exc)
            else:
                report.add_basket(user_id, result.basket)
            done += 1
            if done % every == 0 or done == total:
                progress()

    workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, total))]
    try:
        if workers:
            finished, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
            for task in finished:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        else:
            progress()
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    report.elapsed_seconds = time.perf_counter() - started
    return report


def scan_users_sync(
    client_factory: Callable[[], AsyncBasketSource],
    user_ids: Sequence[str],
    **options: Any,
) -> ScanReport:
    """Run scan_users from synchronous code (a Streamlit page, the command line).

    The client is built by ``client_factory`` inside the scan's own event loop (an async HTTP
    client is bound to the loop it first runs in) and closed afterwards if it has ``aclose``.
    From a thread that already runs a loop, the scan runs on a separate thread.
    """

    async def run() -> ScanReport:
        client = client_factory()
        try:
            return await scan_users(client, user_ids, **options)
        finally:
            aclose = getattr(client, "aclose", None)
            if aclose is not None:
                await aclose()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        loop_running = False
    else:
        loop_running = True
    if not loop_running:
        return asyncio.run(run())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


# --- CSV export -------------------------------------------------------------------------------

FAILURE_CSV_COLUMNS: tuple[str, ...] = (
    "user_id", "product_id", "variant", "main_product_identifier", "count", "stocked",
)  # fmt: skip
ERROR_CSV_COLUMNS: tuple[str, ...] = ("user_id", "kind", "status", "api_code", "message")

# Characters that make spreadsheet software evaluate a cell as a formula.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def csv_safe(value: object) -> object:
    """A cell a spreadsheet will show as text: formula-like text gets a leading quote; numbers
    (a stocked of -2, an id "-42") are left as they are."""
    if (
        isinstance(value, str)
        and value.startswith(_FORMULA_PREFIXES)
        and not _NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def _write(stream: IO[str], columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if cell is None else csv_safe(cell) for cell in row])


def write_failures_csv(stream: IO[str], failures: Iterable[FailureRecord]) -> None:
    _write(
        stream,
        FAILURE_CSV_COLUMNS,
        (
            (f.user_id, f.product_id, f.variant, f.main_product_identifier, f.count, f.stocked)
            for f in failures
        ),
    )


def write_errors_csv(stream: IO[str], errors: Iterable[ErrorRecord]) -> None:
    _write(
        stream,
        ERROR_CSV_COLUMNS,
        ((e.user_id, e.kind, e.status, e.api_code, e.message) for e in errors),
    )
