"""The demo API over HTTP/1.1 on a loopback socket, with faults injected per request.

A minimal hand-written HTTP/1.1 server on asyncio: keep-alive, Content-Length bodies,
``Connection: close``, pipelined requests answered in order. It runs its own event loop in a
background thread so synchronous tests and the CLI can use it alike. Waiting (latency, stalls) is
always ``asyncio.sleep``, so one slow request never holds up the others.
"""

from __future__ import annotations

import asyncio
import http
import ipaddress
import logging
import math
import random
import threading
from collections import Counter
from dataclasses import dataclass, replace
from types import TracebackType

from basket_lib.demo.api import (
    DEFAULT_API_VERSION,
    DemoApi,
    DemoResponse,
    bad_gateway_page,
    error_response,
    rate_limited,
    service_unavailable,
    truncated,
)

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024
_REASONS = {status.value: status.phrase for status in http.HTTPStatus}
_log = logging.getLogger(__name__)


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


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class _Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


class _Connection(asyncio.Protocol):
    """One client connection: parses requests from the buffer and answers them in order."""

    def __init__(self, server: DemoServer) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        # The request being answered after a wait; later requests stay in the buffer meanwhile.
        # A timer rather than a task per request: at thousands of requests a second, a task and
        # its sleep cost the server more CPU than answering.
        self._pending: asyncio.TimerHandle | None = None
        self._continue_sent = False
        self._closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._server._connection_opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._server._connection_closed(self)
        if self._pending is not None:
            self._pending.cancel()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._pending is None:
            self._serve_buffered()

    def abort(self) -> None:
        self._closed = True
        if self._pending is not None:
            self._pending.cancel()
        if self._transport is not None:
            self._transport.abort()

    def _close(self) -> None:
        self._closed = True
        if self._transport is not None:
            self._transport.close()

    def _serve_buffered(self) -> None:
        while not self._closed:
            try:
                request = self._next_request()
            except _BadRequest as exc:
                answer = error_response(exc.status, exc.status, exc.message, DEFAULT_API_VERSION)
                self._write(answer, keep_alive=False, head_only=False)
                return
            if request is None:
                return
            answer, delay = self._server._answer(request)
            stall = answer.fault == "stall"
            if delay or stall:
                if stall:
                    delay += self._server.api.stall_seconds
                self._pending = asyncio.get_running_loop().call_later(
                    delay, self._answer_later, request, answer
                )
                return
            self._send(request, answer)

    def _answer_later(self, request: _Request, answer: DemoResponse) -> None:
        self._pending = None
        if answer.fault == "stall":
            self._close()
            return
        self._send(request, answer)
        self._serve_buffered()

    def _send(self, request: _Request, answer: DemoResponse) -> None:
        if answer.fault == "drop":
            self._close()
        else:
            self._write(answer, request.keep_alive, head_only=request.method == "HEAD")

    def _write(self, answer: DemoResponse, keep_alive: bool, head_only: bool) -> None:
        assert self._transport is not None
        lines = [
            f"HTTP/1.1 {answer.status} {_REASONS.get(answer.status, 'Unknown')}",
            f"Content-Length: {len(answer.body)}",
            *(f"{name}: {value}" for name, value in answer.headers.items()),
            "Connection: keep-alive" if keep_alive else "Connection: close",
            "\r\n",
        ]
        head = "\r\n".join(lines).encode("latin-1")
        self._transport.write(head if head_only else head + answer.body)
        if not keep_alive:
            self._close()

    def _next_request(self) -> _Request | None:
        """The next complete request in the buffer, None if it has not fully arrived yet."""
        buffer = self._buffer
        while buffer.startswith(b"\r\n"):  # tolerated before a request line (RFC 9112 2.2)
            del buffer[:2]
        head_end = buffer.find(b"\r\n\r\n")
        if head_end < 0:
            if len(buffer) > MAX_HEAD_BYTES:
                raise _BadRequest(431, "Request header fields too large.")
            return None
        request_line, *header_lines = buffer[:head_end].decode("latin-1").split("\r\n")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest(400, "Malformed request line.")
        method, target, version = parts
        headers: dict[str, str] = {}
        for header_line in header_lines:
            name, colon, value = header_line.partition(":")
            if not colon or not name or name != name.strip():
                raise _BadRequest(400, "Malformed header line.")
            headers[name.lower()] = value.strip()
        if "transfer-encoding" in headers:
            raise _BadRequest(501, "Only Content-Length request bodies are supported.")
        length_text = headers.get("content-length", "0")
        if not length_text.isdigit():
            raise _BadRequest(400, "Invalid Content-Length.")
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            raise _BadRequest(413, f"Request body larger than {MAX_BODY_BYTES} bytes.")
        end = head_end + 4 + length
        if len(buffer) < end:
            if headers.get("expect", "").lower() == "100-continue" and not self._continue_sent:
                self._continue_sent = True
                assert self._transport is not None
                self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            return None
        body = bytes(buffer[head_end + 4 : end])
        del buffer[:end]
        self._continue_sent = False
        connection = headers.get("connection", "").lower()
        keep_alive = (
            "keep-alive" in connection if version == "HTTP/1.0" else "close" not in connection
        )
        return _Request(method, target, headers, body, keep_alive)


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
        self._connections: set[_Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
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
                self._server = loop.run_until_complete(
                    loop.create_server(lambda: _Connection(self), self.host, self._requested_port)
                )
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                loop.close()
                ready.set()
                return
            self._loop = loop
            self._port = self._server.sockets[0].getsockname()[1]
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

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            self._thread = self._loop = self._server = None

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for connection in list(self._connections):
            connection.abort()
        current = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Aborted transports close their sockets in callbacks of the next loop iteration.
        await asyncio.sleep(0)
        await self._server.wait_closed()

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

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> bool:
        """Block until the server has received ``count`` requests; False on timeout."""
        with self._stats:
            return self._stats.wait_for(lambda: self._request_count >= count, timeout)

    # --- called on the event loop by connections ----------------------------------------------

    def _connection_opened(self, connection: _Connection) -> None:
        self._connections.add(connection)
        with self._stats:
            self._connections_accepted += 1

    def _connection_closed(self, connection: _Connection) -> None:
        self._connections.discard(connection)

    def _answer(self, request: _Request) -> tuple[DemoResponse, float]:
        """The API's answer to ``request`` with this request's faults applied, and its delay."""
        try:
            answer = self.api.handle(request.method, request.target, request.headers, request.body)
        except Exception:
            _log.exception("The demo API failed on %s %s", request.method, request.target)
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
