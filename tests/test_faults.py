"""Faults (issue 4 §1): bulk.scan_users and the real AsyncBasketClient against the loopback
DemoServer injecting faults, over real sockets.

The client's default HTTP path (raw aiohttp, basket_lib.api.aiohttp_sender, what the pages and
the command line use against a real API) runs every test; the one-fault table runs the httpx path
(an injected transport) as well.

Retry sleeps are injected (instant, and recorded), so the tests take no waiting time; stalls cost
real time, bounded by the client's short timeout. Every scan runs under asyncio.wait_for with a
bound derived from the timeouts (see `no_hang_bound`), so a hang fails the test instead of
blocking the suite.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from basket_lib import simulator
from basket_lib.api.client import AsyncBasketClient
from basket_lib.api.models import BasketResult
from basket_lib.scan.engine import scan_users
from basket_lib.scan.report import ScanProgress, ScanReport
from basket_lib.simulator import DemoApi, DemoServer, Faults

KEY = "faults-key-SECRET-0815"
# The client's timeout: short, yet long enough that a busy test machine does not time out answered
# requests.
TIMEOUT = 1.0
STALL_SECONDS = 5.0  # longer than TIMEOUT: every stall ends in the client's timeout
MAX_RETRIES = 2
RETRY_AFTER = 1.0  # what the server's 429 asks for ...
RETRY_AFTER_CAP = 0.05  # ... and what the client waits at most
ATTEMPT_MARGIN = 4
USERS = [f"user-{n:05d}" for n in range(1, 2001)]

# The kinds a scan reports for the injected faults once retries are exhausted.
FAULT_KINDS = {"server error", "rate limited", "timeout", "response not JSON"}


def no_hang_bound(users: int, concurrency: int, timeout: float = TIMEOUT) -> float:
    """Seconds within which a scan must finish, derived from the timeouts.

    Workers take users one after another, so one worker handles at most ceil(users/concurrency)
    of them. One user costs at most (MAX_RETRIES + 1) attempts, each bounded by one deadline of
    `timeout` (on every HTTP path, from waiting for a connection to the body's last byte), taken
    ATTEMPT_MARGIN times over for a busy machine's event loop to notice it: this catches hangs,
    not slowness. Plus MAX_RETRIES sleeps of at most the longest backoff, which is
    RETRY_AFTER_CAP here: jitter is 0, so backoff without Retry-After is 0 (the injected sleep
    returns at once anyway; the delays it was asked for are asserted).
    """
    per_user = (MAX_RETRIES + 1) * ATTEMPT_MARGIN * timeout + MAX_RETRIES * RETRY_AFTER_CAP
    return math.ceil(users / concurrency) * per_user


class RecordedSleeps:
    """The client's sleep: records each delay asked for, then only yields to the loop."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


class RecordingSource:
    """The client as the scan sees it: records each call and whether it returned a basket."""

    def __init__(self, client: AsyncBasketClient) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()
        self.baskets: list[str] = []

    async def get_basket(
        self, user_id: str, *, tracking: str | None = None, provider_id: str | None = None
    ) -> BasketResult:
        self.calls[user_id] += 1
        result = await self._client.get_basket(user_id, tracking=tracking, provider_id=provider_id)
        self.baskets.append(user_id)
        return result


@dataclass
class Run:
    report: ScanReport
    source: RecordingSource
    sleeps: RecordedSleeps
    client_requests: int
    seconds: float
    bound: float
    server: DemoServer = field(repr=False)

    @property
    def server_requests(self) -> int:
        return self.server.request_count

    @property
    def requests_by_user(self) -> Counter[str]:
        return self.server.requests_by_user

    def error_users(self) -> list[str]:
        return [record.user_id for record in self.report.errors]


def run_scan(
    faults: Faults,
    users: list[str],
    *,
    concurrency: int,
    on_progress: Callable[[DemoServer], Callable[[ScanProgress], Any]] | None = None,
    timeout: float = TIMEOUT,
    http: str = "default",
) -> Run:
    sleeps = RecordedSleeps()
    api = DemoApi(api_key=KEY, stall_seconds=STALL_SECONDS)
    bound = no_hang_bound(len(users), concurrency, timeout)
    with DemoServer(api=api, faults=faults) as server:
        client = AsyncBasketClient(
            server.base_url,
            KEY,
            timeout=timeout,
            max_retries=MAX_RETRIES,
            # Its default limits are the client's own (100 connections, 20 kept alive).
            transport=httpx.AsyncHTTPTransport() if http == "httpx" else None,
            sleep=sleeps,
            retry_after_cap=RETRY_AFTER_CAP,
            jitter=lambda: 0.0,
        )
        source = RecordingSource(client)

        async def scan() -> ScanReport:
            async with client:
                return await asyncio.wait_for(
                    scan_users(
                        source,
                        users,
                        concurrency=concurrency,
                        on_progress=on_progress(server) if on_progress else None,
                        progress_every=1,
                    ),
                    timeout=bound,
                )

        started = time.perf_counter()
        report = asyncio.run(scan())
        seconds = time.perf_counter() - started
        return Run(
            report=report,
            source=source,
            sleeps=sleeps,
            client_requests=client.request_count,
            seconds=seconds,
            bound=bound,
            server=server,
        )


def assert_one_outcome_per_user(run: Run, users: list[str]) -> None:
    report = run.report
    report.check_complete()
    assert report.total == len(users) and report.duplicates == 0
    # The scan asked for each user exactly once; retries stay inside the client.
    assert run.source.calls == Counter(users)
    errors = run.error_users()
    assert len(errors) == len(set(errors)), "a user has two error outcomes"
    assert len(run.source.baskets) == len(set(run.source.baskets)) == report.scanned
    assert not set(errors) & set(run.source.baskets), "a user is both scanned and an error"
    assert set(errors) | set(run.source.baskets) == set(users)
    for record in report.errors:
        assert record.kind and record.message
        assert KEY not in record.message


def assert_retries_bounded(run: Run, users: list[str]) -> None:
    assert run.server_requests <= run.client_requests <= len(users) * (1 + MAX_RETRIES)
    assert max(run.requests_by_user.values(), default=0) <= 1 + MAX_RETRIES
    # One sleep before every retry, and each is a capped Retry-After or (jitter 0) no backoff.
    assert len(run.sleeps.delays) == run.client_requests - len(users)
    assert set(run.sleeps.delays) <= {0.0, RETRY_AFTER_CAP}


# --- the simulator's command line -------------------------------------------------------------


def test_simulator_cli_has_a_flag_for_every_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[dict[str, Any]] = []

    class CapturingServer:
        def __init__(self, **kwargs: Any) -> None:
            built.append(kwargs)

        def start(self) -> None:
            raise OSError("not serving in this test")

    monkeypatch.setattr(simulator, "DemoServer", CapturingServer)
    argv = [
        "--port", "0",
        "--latency-ms", "50", "--jitter-ms", "20",
        "--error-rate", "0.1",
        "--rate-limit-rate", "0.02", "--retry-after", "2",
        "--stall-rate", "0.02", "--stall-seconds", "9",
        "--malformed-rate", "0.01",
        "--drop-rate", "0.005",
        "--seed", "3",
    ]  # fmt: skip
    assert simulator.main(argv) == 1
    (kwargs,) = built
    assert kwargs["faults"] == Faults(
        latency_ms=50,
        jitter_ms=20,
        error_rate=0.1,
        rate_limit_rate=0.02,
        retry_after=2,
        stall_rate=0.02,
        malformed_rate=0.01,
        drop_rate=0.005,
        seed=3,
    )
    assert kwargs["api"].stall_seconds == 9
    assert kwargs["host"] == "127.0.0.1"


# --- 2,000 users under mixed faults -------------------------------------------------------------


def test_scan_of_2000_users_under_mixed_faults_gives_every_user_one_outcome() -> None:
    faults = Faults(
        error_rate=0.10,
        rate_limit_rate=0.02,
        retry_after=RETRY_AFTER,
        stall_rate=0.02,
        malformed_rate=0.01,
        latency_ms=1,
        jitter_ms=1,
        seed=2025,
    )
    run = run_scan(faults, USERS, concurrency=64)
    report = run.report

    assert_one_outcome_per_user(run, USERS)
    assert_retries_bounded(run, USERS)
    assert set(run.requests_by_user) == set(USERS)

    # Every kind of fault was injected ...
    injected = run.server.faults_injected
    assert set(injected) == {"503", "429", "stall", "truncated", "html-502"}, injected
    assert RETRY_AFTER_CAP in run.sleeps.delays  # a 429's Retry-After, capped
    # ... and retries absorb nearly all of it: a user fails only when every attempt hit a
    # retryable fault (~15 % each) or one hit a truncated 200 (not retried: the GET succeeded).
    kinds = report.errors_by_kind()
    assert set(kinds) <= FAULT_KINDS, kinds
    assert report.scanned >= 0.98 * len(USERS)
    assert kinds["response not JSON"] > 0  # truncated bodies are not retried
    for record in report.errors:
        if record.kind in {"server error", "rate limited"}:
            assert record.status in {429, 502, 503}

    print(
        f"\n2,000-user fault scan: outcomes scanned={report.scanned} "
        + " ".join(f"{kind!r}={n}" for kind, n in sorted(kinds.items()))
        + f"; requests={run.server_requests} (bound {len(USERS) * (1 + MAX_RETRIES)}); "
        + "faults injected "
        + " ".join(f"{kind}={n}" for kind, n in sorted(injected.items()))
        + f"; retry sleeps={len(run.sleeps.delays)}; seconds={run.seconds:.1f} "
        + f"(no-hang bound {run.bound:.0f})"
    )


# --- the server goes away in the middle of a scan -------------------------------------------------


def test_server_stopped_mid_scan_turns_the_rest_into_connection_errors() -> None:
    users = USERS[:600]
    concurrency, stop_after = 16, 200
    stopped: list[int] = []

    def stop_once_enough_are_done(server: DemoServer) -> Callable[[ScanProgress], None]:
        def on_progress(progress: ScanProgress) -> None:
            if progress.done >= stop_after and not stopped:
                stopped.append(progress.done)
                # Called right here, blocking the scan's loop until the server is gone: then
                # no user taken after this point can still get an answer.
                server.stop()

        return on_progress

    run = run_scan(Faults(), users, concurrency=concurrency, on_progress=stop_once_enough_are_done)
    report = run.report

    assert stopped == [stop_after]
    assert_one_outcome_per_user(run, users)
    assert_retries_bounded(run, users)
    assert set(report.errors_by_kind()) == {"connection error"}
    # At most the requests in flight at the stop were still answered.
    assert stop_after <= report.scanned <= stop_after + concurrency
    assert set(users[stop_after + concurrency :]) <= set(run.error_users())
    never_reached = [u for u in run.error_users() if u not in run.requests_by_user]
    assert len(never_reached) >= len(users) - stop_after - concurrency
    # Each of them was tried 1 + MAX_RETRIES times, and none of those attempts got through.
    assert run.client_requests >= run.server_requests + len(never_reached) * (1 + MAX_RETRIES)
    host = f"127.0.0.1:{run.server.port}"
    assert all(host in record.message for record in report.errors)


# --- one fault at rate 1.0 ----------------------------------------------------------------------

FEW_USERS = USERS[:20]


# (id, faults, error kind, statuses, every attempt retried, part of each message)
ONE_FAULT_CASES: list[tuple[str, Faults, str, set[int | None], bool, str]] = [
    ("dropped-connections", Faults(drop_rate=1), "connection error", {None}, True,
     "closed the connection"),
    # Every attempt waits for the whole timeout here: the test gives it a shorter one.
    ("stalls", Faults(stall_rate=1), "timeout", {None}, True, "timed out while waiting"),
    ("503", Faults(error_rate=1), "server error", {503}, True, "Service temporarily unavailable"),
    ("429", Faults(rate_limit_rate=1, retry_after=RETRY_AFTER), "rate limited", {429}, True,
     "Too many requests"),
    ("truncated-json-and-html-502", Faults(malformed_rate=1), "response not JSON", {200, 502},
     False, "HTTP"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("faults", "kind", "statuses", "every_attempt_retried", "message", "http"),
    [
        pytest.param(*case, http, id=f"{case_id}-{http}")
        for case_id, *case in ONE_FAULT_CASES
        for http in ("default", "httpx")
    ],
)
def test_one_fault_at_rate_one_gives_its_error_kind_with_bounded_retries(
    faults: Faults,
    kind: str,
    statuses: set[int | None],
    every_attempt_retried: bool,
    message: str,
    http: str,
) -> None:
    # Only the stalls are about time. For the others a deadline as short as TIMEOUT turned one
    # slow answer on a loaded machine into a retried timeout that never reached the server; the
    # stalls get 1 s, so that each of their attempts reaches the server even under load.
    timeout = 1.0 if kind == "timeout" else 5 * TIMEOUT
    run = run_scan(faults, FEW_USERS, concurrency=len(FEW_USERS), timeout=timeout, http=http)

    assert_one_outcome_per_user(run, FEW_USERS)
    assert_retries_bounded(run, FEW_USERS)
    assert run.report.scanned == 0
    assert sum(run.server.faults_injected.values()) == run.server_requests
    assert run.report.errors_by_kind() == {kind: len(FEW_USERS)}
    assert {record.status for record in run.report.errors} <= statuses
    assert all(message in record.message for record in run.report.errors)
    if every_attempt_retried:
        assert run.requests_by_user == Counter(dict.fromkeys(FEW_USERS, 1 + MAX_RETRIES))
    if kind == "rate limited":
        assert run.sleeps.delays == [RETRY_AFTER_CAP] * (len(FEW_USERS) * MAX_RETRIES)


def test_html_502_from_a_proxy_is_retried_then_reported_as_not_json() -> None:
    users = ["demo-fault-502-html", "demo-normal"]
    run = run_scan(Faults(), users, concurrency=2)

    assert_one_outcome_per_user(run, users)
    assert_retries_bounded(run, users)
    (record,) = run.report.errors
    assert (record.user_id, record.kind, record.status) == (
        "demo-fault-502-html",
        "response not JSON",
        502,
    )
    assert "text/html" in record.message and "502 Bad Gateway" in record.message
    assert "<" not in record.message  # the page is quoted as text, tags stripped
    assert run.requests_by_user["demo-fault-502-html"] == 1 + MAX_RETRIES
    assert run.report.scanned == 1
