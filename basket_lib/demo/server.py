"""The demo API over HTTP/1.1 on a loopback socket, with faults injected per request.

HTTP is aiohttp's (``aiohttp.web``): keep-alive, pipelining, ``Connection: close``, chunked and
``Expect: 100-continue`` request bodies, and the request-size limits below. The server runs its
own event loop in a background thread so synchronous tests, the CLI and the benchmarks can use it
alike. Waiting (latency, stalls) is always ``asyncio.sleep``, so one slow request never holds up
the others.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import random
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, cast

from aiohttp import StreamReader, hdrs, web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http import RawRequestMessage
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_urldispatcher import _default_expect_handler

from basket_lib.api.defaults import DEFAULT_API_VERSION
from basket_lib.demo.api import (
    DemoApi,
    DemoResponse,
    bad_gateway_page,
    error_response,
    rate_limited,
    service_unavailable,
    truncated,
)

# The request line and each header field; aiohttp answers 400 beyond it and closes.
MAX_LINE_BYTES = 64 * 1024
MAX_HEADERS = 128
MAX_BODY_BYTES = 1024 * 1024
_log = logging.getLogger(__name__)


class _Server(web.Server):
    """aiohttp's server, saying when a connection is made and when it has ended with every
    request on it handled."""

    def __init__(
        self,
        *args: Any,
        on_made: Callable[[], None],
        on_closed: Callable[[], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._on_made = on_made
        self._on_closed = on_closed

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        self._on_made()

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        # Requests read before the connection ended are still handled (or cancelled) by its
        # task: it is done once nothing more of that connection can be counted. aiohttp's own
        # Server forgets the connection at the same moment, by the same (private) attribute.
        task = getattr(handler, "_task_handler", None)
        super().connection_lost(handler, exc)
        if task is None:
            self._on_closed()
        else:
            task.add_done_callback(lambda _: self._on_closed())


def check_rate(value: float) -> float:
    if not 0 <= value <= 1:  # also rejects NaN
        raise ValueError(f"must be between 0 and 1, got {value:g}")
    return value


def check_duration(value: float) -> float:
    if not 0 <= value < math.inf:
        raise ValueError(f"must be a non-negative number, got {value:g}")
    return value


@dataclass(frozen=True)
class Faults:
    """Faults the loopback server injects, each request drawing from a seeded RNG.

    Rates are probabilities per request, checked in this order: drop (close without answering),
    stall (hold the request for the API's ``stall_seconds``, then close), error (503), rate limit
    (429 with ``Retry-After``), malformed (half a truncated JSON 200, half a proxy's HTML 502).
    Latency (``latency_ms`` ± ``jitter_ms``) comes before any answer.
    """

    latency_ms: float = 0
    jitter_ms: float = 0
    error_rate: float = 0
    rate_limit_rate: float = 0
    retry_after: float = 1
    stall_rate: float = 0
    malformed_rate: float = 0
    drop_rate: float = 0
    seed: int = 1

    def __post_init__(self) -> None:
        checks = dict.fromkeys(("latency_ms", "jitter_ms", "retry_after"), check_duration)
        checks |= dict.fromkeys(
            ("error_rate", "rate_limit_rate", "stall_rate", "malformed_rate", "drop_rate"),
            check_rate,
        )
        for name, check in checks.items():
            try:
                check(getattr(self, name))
            except ValueError as exc:
                raise ValueError(f"{name} {exc}") from None


class DemoServer:
    """The demo API on ``host:port`` (127.0.0.1 and a free port by default).

    ``start()``/``stop()`` or ``with DemoServer(...) as server:``; ``base_url`` includes the
    ``/v2`` prefix the real API documents. ``stop()`` closes every connection, also those in the
    middle of a stall, so nothing waits for it.
    """

    def __init__(
        self,
        *,
        api: DemoApi | None = None,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        path_prefix: str = "/v2",
    ) -> None:
        self.api = api or DemoApi()
        self.faults = faults or Faults()
        self.host = host
        self.path_prefix = path_prefix
        self._requested_port = port
        self._port: int | None = None
        self._rng = random.Random(self.faults.seed)
        self._stats = threading.Condition()
        self._request_count = 0
        self._requests_by_user: Counter[str] = Counter()
        self._faults_injected: Counter[str] = Counter()
        self._connections_accepted = 0
        self._connections_open = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: asyncio.Server | None = None
        self._http: web.Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> DemoServer:
        if self._thread is not None:
            raise RuntimeError("The demo server is already running.")
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(self._listen())
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                loop.close()
                ready.set()
                return
            self._loop = loop
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="demo-basket-api", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()

        def request(
            message: RawRequestMessage,
            payload: StreamReader,
            protocol: RequestHandler,
            writer: AbstractStreamWriter,
            task: asyncio.Task[None],
        ) -> web.BaseRequest:
            return web.BaseRequest(
                message, payload, protocol, writer, task, loop, client_max_size=MAX_BODY_BYTES
            )

        # The bare web.Server, not an Application with a catch-all route: the router costs CPU
        # on every request (12 % more per request in the same benchmark run) and routes nothing.
        http_server = _Server(
            self._handle,
            on_made=self._connection_made,
            on_closed=self._connection_closed,
            request_factory=request,
            access_log=None,
            max_line_size=MAX_LINE_BYTES,
            max_field_size=MAX_LINE_BYTES,
            max_headers=MAX_HEADERS,
            # The API sees request bodies as sent.
            auto_decompress=False,
            # Connections live for a whole scan; there is no need to probe them.
            tcp_keepalive=False,
            # A client that gives up on a delayed or stalled request ends its wait here too.
            handler_cancellation=True,
        )
        self._http = http_server

        def connection() -> RequestHandler:
            with self._stats:
                self._connections_accepted += 1
            return http_server()

        self._listener = await loop.create_server(connection, self.host, self._requested_port)
        self._port = self._listener.sockets[0].getsockname()[1]

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            self._thread = self._loop = self._listener = self._http = None

    async def _shutdown(self) -> None:
        assert self._listener is not None and self._http is not None
        self._listener.close()
        # Not aiohttp's graceful shutdown: that waits for handlers, and a stalled one would hold
        # stop() up for the whole stall.
        for connection in self._http.connections:
            connection.force_close()
        current = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Closed transports close their sockets in callbacks of the next loop iteration.
        await asyncio.sleep(0)
        await self._listener.wait_closed()

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- what callers read --------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("The demo server has not been started.")
        return self._port

    @property
    def base_url(self) -> str:
        host = self.host
        if ":" in host and ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
        return f"http://{host}:{self.port}{self.path_prefix}"

    @property
    def request_count(self) -> int:
        with self._stats:
            return self._request_count

    @property
    def requests_by_user(self) -> Counter[str]:
        """Basket requests per decoded user id (a copy)."""
        with self._stats:
            return Counter(self._requests_by_user)

    @property
    def faults_injected(self) -> Counter[str]:
        """Faults injected so far by kind: drop, stall, 503, 429, truncated, html-502 (a copy)."""
        with self._stats:
            return Counter(self._faults_injected)

    @property
    def connections_accepted(self) -> int:
        with self._stats:
            return self._connections_accepted

    def wait_for_closed_connections(self, timeout: float = 5.0) -> bool:
        """Block until every client connection it accepted has ended and each request sent on it
        is counted (a killed client's last requests may still be read after it died); False on
        timeout."""
        with self._stats:
            return self._stats.wait_for(lambda: self._connections_open == 0, timeout)

    def _connection_made(self) -> None:
        with self._stats:
            self._connections_open += 1

    def _connection_closed(self) -> None:
        with self._stats:
            self._connections_open -= 1
            self._stats.notify_all()

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> bool:
        """Block until the server has received ``count`` requests; False on timeout."""
        with self._stats:
            return self._stats.wait_for(lambda: self._request_count >= count, timeout)

    # --- on the event loop --------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        body = b""
        if request.body_exists:
            if hdrs.EXPECT in request.headers:
                # What aiohttp's router does for every route; the bare web.Server leaves it out.
                await _default_expect_handler(cast(web.Request, request))
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                return self._too_large()
        # The raw target: user ids arrive as one percent-encoded path segment, as sent.
        answer, delay = self._answer(request.method, request.raw_path, request.headers, body)
        if answer.fault == "stall":
            delay += self.api.stall_seconds
        if delay:
            await asyncio.sleep(delay)
        if answer.fault is not None:
            # Closed before a byte of the answer: the client sees the connection end unanswered.
            # aiohttp then finds the transport closing and writes nothing of the response.
            if request.transport is not None:
                request.transport.close()
            return web.Response()
        return web.Response(status=answer.status, headers=answer.headers, body=answer.body)

    def _too_large(self) -> web.Response:
        message = f"Request body larger than {MAX_BODY_BYTES} bytes."
        answer = error_response(413, 413, message, DEFAULT_API_VERSION)
        response = web.Response(status=413, headers=answer.headers, body=answer.body)
        # The rest of the body stays unread: aiohttp discards it for a while, then closes.
        response.force_close()
        return response

    def _answer(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[DemoResponse, float]:
        """The API's answer with this request's faults applied, and its delay."""
        try:
            answer = self.api.handle(method, target, headers, body)
        except Exception:
            _log.exception("The demo API failed on %s %s", method, target)
            answer = error_response(500, 3001, "Internal server error.", DEFAULT_API_VERSION)
        with self._stats:
            self._request_count += 1
            if answer.user_id is not None:
                self._requests_by_user[answer.user_id] += 1
            self._stats.notify_all()
        return self._inject(answer)

    def _inject(self, answer: DemoResponse) -> tuple[DemoResponse, float]:
        faults, draw = self.faults, self._rng.random
        delay = 0.0
        if faults.latency_ms or faults.jitter_ms:
            jitter = (2 * draw() - 1) * faults.jitter_ms
            delay = max(0.0, faults.latency_ms + jitter) / 1000
        version = answer.headers.get("X-API-Version", DEFAULT_API_VERSION)
        injected: str | None = None
        if faults.drop_rate and draw() < faults.drop_rate:
            answer, injected = replace(answer, fault="drop"), "drop"
        elif faults.stall_rate and draw() < faults.stall_rate:
            answer, injected = replace(answer, fault="stall"), "stall"
        elif faults.error_rate and draw() < faults.error_rate:
            answer, injected = service_unavailable(version), "503"
        elif faults.rate_limit_rate and draw() < faults.rate_limit_rate:
            answer, injected = rate_limited(version, faults.retry_after), "429"
        elif faults.malformed_rate and draw() < faults.malformed_rate:
            if draw() < 0.5:
                answer, injected = truncated(answer), "truncated"
            else:
                answer, injected = bad_gateway_page(), "html-502"
        if injected is not None:
            with self._stats:
                self._faults_injected[injected] += 1
        return answer, delay
