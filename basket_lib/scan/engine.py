"""Scanning many users' baskets for failed stock reservations.

One engine for the page and the command line. A fixed pool of workers pulls user ids from a shared
iterator, so memory and task count do not grow with the number of users; each basket is folded
into the report (basket_lib.scan.report) as soon as it arrives and then dropped.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import signal
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
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
        return _run_with_sigterm_deferred(run)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


def _run_with_sigterm_deferred(main: Callable[[], Coroutine[Any, Any, ScanReport]]) -> ScanReport:
    """asyncio.run(main()), with SIGTERM's Python handler (the command line's) called only once
    the loop has unwound.

    Such a handler raises where the signal lands. Inside the event loop that can be between a
    future getting its result and the wakeup of the task awaiting it: that task then waits
    forever, and so does the loop's shutdown (about one SIGTERM of a scan in forty, measured). So
    while the loop runs, SIGTERM only asks the loop to cancel the scan, as asyncio.run does with
    Ctrl-C; the handler is called after the loop has closed, and raises from there.
    """
    handler = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is not threading.main_thread() or not callable(handler):
        return asyncio.run(main())
    received = False
    task: asyncio.Task[ScanReport] | None = None

    runner = asyncio.Runner()
    loop = runner.get_loop()

    def cancel() -> None:
        if task is None:  # the signal came before the scan's task started
            loop.call_soon(cancel)
        else:
            task.cancel()

    def on_sigterm(signum: int, frame: Any) -> None:
        nonlocal received
        received = True
        # Appending to the loop's queue is safe wherever the signal lands; a closed loop needs
        # nothing cancelled.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(cancel)

    async def tracked() -> ScanReport:
        nonlocal task
        task = asyncio.current_task()
        return await main()

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        # Closing the runner runs the loop again (tasks left, async generators, the executor):
        # the caller's handler comes back only after it.
        with runner:
            try:
                report = runner.run(tracked())
            except asyncio.CancelledError:
                if not received:
                    raise
    finally:
        signal.signal(signal.SIGTERM, handler)
    if received:
        handler(signal.SIGTERM, None)
        # A handler that did not raise: the scan was stopped all the same.
        raise KeyboardInterrupt("SIGTERM")
    return report
