"""Scanning many users' baskets for failed stock reservations.

One engine for the page and the command line. A fixed pool of workers pulls user ids from a shared
iterator, so memory and task count do not grow with the number of users; each basket is folded
into the report (basket_lib.scan.report) as soon as it arrives and then dropped.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from basket_lib.api.models import BasketResult
from basket_lib.api.redaction import NO_SECRETS
from basket_lib.scan.report import BasketSummary, ErrorRecord, ScanProgress, ScanReport

DEFAULT_CONCURRENCY = 32


class AsyncBasketSource(Protocol):
    async def get_basket(
        self, user_id: str, *, tracking: str | None = None, provider_id: str | None = None
    ) -> BasketResult: ...


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
    report: ScanReport | None = None,
    on_outcome: Callable[[str, BasketSummary | ErrorRecord], Any] | None = None,
) -> ScanReport:
    """Read every distinct user's basket once and aggregate the failed reservations.

    Every distinct user ends as exactly one outcome: a scanned basket or an ErrorRecord (any
    exception from the client, BasketError or not, is recorded; the scan goes on), each passed to
    ``on_outcome`` as it is added. An exception raised by ``on_progress`` or ``on_outcome`` (the
    page was stopped, the database failed) or a cancellation of this coroutine cancels all
    workers and propagates unchanged.

    ``report``: the report to add to (a resumed scan's outcomes so far; ``user_ids`` are then the
    users still to fetch), else a new one for ``user_ids``.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    started = time.perf_counter()
    distinct = list(dict.fromkeys(user_ids))
    if report is None:
        report = ScanReport(
            total=len(distinct),
            duplicates=len(user_ids) - len(distinct),
            as_of=now(),
            redactor=getattr(client, "redactor", NO_SECRETS),
        )
        done = 0
    else:
        done = report.outcomes_total - report.invalid
    elapsed_before = report.elapsed_seconds
    total = done + len(distinct)
    every = progress_every or max(1, total // 200)
    pending = iter(distinct)

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
            outcome: BasketSummary | ErrorRecord
            try:
                result = await client.get_basket(user_id, provider_id=provider_id)
            except Exception as exc:  # one user's failure is that user's outcome
                outcome = report.add_error(user_id, exc)
            else:
                outcome = report.add_basket(user_id, result.basket)
            if on_outcome is not None:
                on_outcome(user_id, outcome)
            done += 1
            if done % every == 0 or done == total:
                progress()

    workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(distinct)))]
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
    report.elapsed_seconds = elapsed_before + time.perf_counter() - started
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
