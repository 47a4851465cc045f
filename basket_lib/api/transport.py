"""The asynchronous client's own HTTP/1.1 connection pool, on asyncio streams of bytes.

`AsyncBasketClient` sends through it when no httpx transport is injected and no proxy applies.
A bulk scan is bound by the client's CPU per request long before the API's latency, and this
pool spends a fraction of the CPU per request of httpx.AsyncClient or even aiohttp (measured in
benchmarks/README.md). It does only what the client needs: GET and POST with small bodies,
keep-alive connections up to a limit, TLS through httpx's trust store, Content-Length, chunked
and close-delimited bodies, gzip and deflate, the client's timeouts, and a size cap enforced
while the body arrives.

Failures are raised as the client's own errors (worded like client.transport_error), so the
client's decoding, error mapping and retries are the same on every path.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections import deque
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit
from urllib.request import getproxies, proxy_bypass

import httpx

from basket_lib.api import errors

# httpx's default keep-alive expiry.
KEEPALIVE_SECONDS = 5.0
MAX_HEAD_BYTES = 64 * 1024
MAX_CHUNK_LINE_BYTES = 4 * 1024
USER_AGENT = "basket-support"
_NO_BODY_STATUSES = frozenset({204, 304})
_DECODERS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def env_proxy(base_url: str) -> str | None:
    """The proxy that HTTP_PROXY / HTTPS_PROXY / ALL_PROXY name for this URL, unless NO_PROXY
    exempts its host (the client then sends through httpx, which speaks to proxies)."""
    parts = urlsplit(base_url)
    if parts.hostname and proxy_bypass(parts.hostname):
        return None
    proxies = getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")


class Headers(dict[str, str]):
    """Response headers by lower-cased name, looked up case-insensitively (repeats joined)."""

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return dict.get(self, key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return dict.__getitem__(self, key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and dict.__contains__(self, key.lower())


class ResponseHead:
    """Status, headers and URL of a response, under httpx.Response's attribute names."""

    __slots__ = ("_url", "headers", "status_code")

    def __init__(self, status_code: int, headers: Headers, url: str) -> None:
        self.status_code = status_code
        self.headers = headers
        self._url = url

    @property
    def url(self) -> httpx.URL:
        # Built on demand: only a redirect's message needs it.
        return httpx.URL(self._url)


class BodyTooLarge(Exception):
    """The body passed the cap while arriving; reading stopped and the connection was closed."""

    def __init__(self, head: ResponseHead) -> None:
        super().__init__("response body over the cap")
        self.head = head


class _Broken(Exception):
    """The answer broke the HTTP protocol (the reason is the message)."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection. A request's answer is parsed as its bytes arrive: the head,
    then the body (by length, chunked or until close), decoded and capped on the way."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._loop = pool.loop
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[None] | None = None
        self._failure: BaseException | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last_data = 0.0
        self.closed = False
        self.active = False  # between send() and the pool's release()
        self.idle_since = 0.0
        self.url = ""
        self._reset()

    def _reset(self) -> None:
        self.head: ResponseHead | None = None
        self.body = bytearray()
        self.complete = False
        self.reusable = False
        self._cap = 0
        self._length: int | None = None  # bytes of body still expected; None: chunked/close
        self._chunked = False
        self._chunk_left = 0  # data bytes left in the current chunk; -1: expecting its CRLF
        self._trailers = False
        self._decoder: Any = None

    # --- asyncio callbacks ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        if not self.active:
            # Nothing was asked: an unsolicited answer makes the connection unusable.
            self.close()
            return
        self._last_data = self._loop.time()
        self._buffer += data
        try:
            self._advance()
        except (_Broken, BodyTooLarge) as exc:
            self._fail(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pool.discard(self)
        close_delimited = self.head is not None and self._length is None and not self._chunked
        pending = self.active and not self.complete and self._failure is None
        if close_delimited and pending and exc is None:
            try:
                self._finish_body()
            except (_Broken, BodyTooLarge) as error:
                self._fail(error)
            return
        if pending:
            reason = f"{type(exc).__name__}: {exc}" if exc else "the server closed the connection"
            self._fail(ConnectionError(reason))

    # --- one request ---------------------------------------------------------------------------

    def send(self, request: bytes, url: str, cap: int, read_timeout: float | None) -> None:
        self._reset()
        self.active = True
        self.url = url
        self._cap = cap
        self._failure = None
        assert self._transport is not None
        if self._transport.is_closing():
            # Closed by the server while idle, and not yet reported.
            self._failure = ConnectionError("the server closed the connection")
            return
        self._transport.write(request)
        if read_timeout is not None:
            self._last_data = self._loop.time()
            self._timer = self._loop.call_at(
                self._last_data + read_timeout, self._check_timeout, read_timeout
            )

    async def wait(self, for_body: bool) -> None:
        """Until the head (or the whole body) has arrived; raises what went wrong."""
        while self._failure is None and not (self.complete if for_body else self.head):
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self._failure is not None:
            raise self._failure

    def done(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        self.closed = True
        self.done()
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        self.closed = True
        self.done()
        if self._transport is not None:
            self._transport.abort()

    def closing(self) -> bool:
        return self._transport is None or self._transport.is_closing()

    def reusable_now(self) -> bool:
        """Whether this connection may carry the next request: the answer was read to its end
        and nothing else arrived after it."""
        return not self.closed and self.complete and self.reusable and not self._buffer

    def _check_timeout(self, read_timeout: float) -> None:
        idle = self._loop.time() - self._last_data
        if idle >= read_timeout:
            self._timer = None
            self._fail(TimeoutError())
        else:
            self._timer = self._loop.call_at(
                self._last_data + read_timeout, self._check_timeout, read_timeout
            )

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None and not self.complete:
            self._failure = exc
        self.abort()
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # --- parsing -------------------------------------------------------------------------------

    def _advance(self) -> None:
        if self.head is None:
            while self.head is None:
                if not self._parse_head():
                    return
            if self._length is not None and self._length > self._cap:
                # Declared too large: the client says so from the head; nothing more is read.
                self.reusable = False
                self.active = False
                self._wake()
                return
        if not self.complete:
            self._read_body()
        self._wake()

    def _parse_head(self) -> bool:
        buffer = self._buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > MAX_HEAD_BYTES:
                raise _Broken(f"response head larger than {MAX_HEAD_BYTES} bytes")
            return False
        status_line, *lines = buffer[:end].decode("latin-1").split("\r\n")
        del buffer[: end + 4]
        version, _, rest = status_line.partition(" ")
        code = rest[:3]
        valid_code = code.isdigit() and len(code) == 3 and rest[3:4] in ("", " ")
        if version not in ("HTTP/1.1", "HTTP/1.0") or not valid_code:
            raise _Broken(f"malformed status line {status_line[:80]!r}")
        status = int(code)
        headers = Headers()
        for line in lines:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip() or line[0] in " \t":
                raise _Broken(f"malformed header line {line[:80]!r}")
            name, value = name.lower(), value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        if 100 <= status < 200:
            return True  # an interim answer (100 Continue, 103 Early Hints): the real one follows
        self.head = ResponseHead(status, headers, self.url)
        self._frame(version, headers, status)
        return True

    def _frame(self, version: str, headers: Headers, status: int) -> None:
        """How the body ends and whether the connection can carry another request (RFC 9112)."""
        connection = headers.get("connection", "").lower()
        self.reusable = version == "HTTP/1.1" and "close" not in connection
        transfer = headers.get("transfer-encoding")
        length = headers.get("content-length")
        if status in _NO_BODY_STATUSES:
            self._length = 0
        elif transfer is not None:
            self._chunked = transfer.lower().rsplit(",", 1)[-1].strip() == "chunked"
            # Without chunked, or beside a Content-Length, the end is only the close.
            self.reusable = self.reusable and self._chunked and length is None
        elif length is not None:
            values = {v.strip() for v in length.split(",")}
            if len(values) != 1 or not (value := values.pop()).isdigit():
                raise _Broken(f"invalid Content-Length {length[:40]!r}")
            self._length = int(value)
        else:
            self.reusable = False
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            wbits = _DECODERS.get(encoding)
            if wbits is None:
                raise ResponseDecodingError(f"unsupported Content-Encoding {encoding[:40]!r}")
            self._decoder = zlib.decompressobj(wbits)

    def _read_body(self) -> None:
        buffer = self._buffer
        if self._length is not None:
            take = min(len(buffer), self._length)
            if take:
                self._append(buffer[:take])
                del buffer[:take]
                self._length -= take
            if self._length == 0:
                self._finish_body()
            return
        if not self._chunked:
            self._append(buffer)  # until the close
            buffer.clear()
            return
        while True:
            if self._trailers:
                if buffer.startswith(b"\r\n"):
                    del buffer[:2]
                    self._finish_body()
                    return
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                del buffer[: end + 4]
                self._finish_body()
                return
            if self._chunk_left > 0:
                take = min(len(buffer), self._chunk_left)
                if not take:
                    return
                self._append(buffer[:take])
                del buffer[:take]
                self._chunk_left -= take
                if self._chunk_left:
                    return
                self._chunk_left = -1
            if self._chunk_left < 0:
                if len(buffer) < 2:
                    return
                if buffer[:2] != b"\r\n":
                    raise _Broken("chunk not followed by CRLF")
                del buffer[:2]
                self._chunk_left = 0
            end = buffer.find(b"\r\n")
            if end < 0:
                if len(buffer) > MAX_CHUNK_LINE_BYTES:
                    raise _Broken("chunk size line too long")
                return
            size = bytes(buffer[:end]).split(b";", 1)[0].strip()
            del buffer[: end + 2]
            try:
                self._chunk_left = int(size, 16)
            except ValueError:
                raise _Broken(f"invalid chunk size {size[:20]!r}") from None
            if self._chunk_left < 0:
                raise _Broken("negative chunk size")
            if self._chunk_left == 0:
                self._trailers = True

    def _append(self, data: bytes | bytearray) -> None:
        if self._decoder is not None:
            try:
                # One byte past the cap is enough to know it is over.
                data = self._decoder.decompress(data, self._cap + 1 - len(self.body))
            except zlib.error as exc:
                raise ResponseDecodingError(str(exc)) from None
            if self._decoder.unconsumed_tail:
                self._too_large()
        self.body += data
        if len(self.body) > self._cap:
            self._too_large()

    def _too_large(self) -> None:
        assert self.head is not None
        raise BodyTooLarge(self.head)

    def _finish_body(self) -> None:
        if self._decoder is not None:
            try:
                tail = self._decoder.flush()
            except zlib.error as exc:
                raise ResponseDecodingError(str(exc)) from None
            if not self._decoder.eof:
                raise ResponseDecodingError("the compressed body ends early")
            self.body += tail
            if len(self.body) > self._cap:
                self._too_large()
        self.complete = True
        self.done()
        self._wake()


class ResponseDecodingError(_Broken):
    """A body in a Content-Encoding that cannot be decoded."""


class Exchange:
    """A request whose head has arrived; `read()` the body, then `release()` the connection."""

    __slots__ = ("_connection", "_pool", "head")

    def __init__(self, pool: Pool, connection: _Connection) -> None:
        self._pool = pool
        self._connection = connection
        assert connection.head is not None
        self.head = connection.head

    async def read(self) -> bytes:
        connection = self._connection
        if not connection.complete:
            try:
                await connection.wait(for_body=True)
            except Exception as exc:
                raise self._pool.error(exc) from exc
        return bytes(connection.body)

    def release(self) -> None:
        self._pool.release(self._connection)


class Pool:
    """Keep-alive connections to the origin of `base_url`, at most `max_connections` at once.

    Bound to the running event loop it is created in.
    """

    def __init__(self, base_url: str, *, timeout: httpx.Timeout, max_connections: int) -> None:
        url = httpx.URL(base_url)
        self.loop = asyncio.get_running_loop()
        self._base_url = base_url
        self._base_path = url.raw_path.decode("ascii").split("?", 1)[0].rstrip("/")
        self._host = url.host
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._ssl: ssl.SSLContext | None = _ssl_context() if url.scheme == "https" else None
        self.label = f"{url.host}:{url.port}" if url.port else url.host
        # The request head's fixed lines: the Host header names the origin as it was configured.
        self._host_header = url.netloc.decode("ascii")
        self._timeout = timeout
        self._max = max_connections
        self._idle: deque[_Connection] = deque()
        self._open: set[_Connection] = set()
        self._waiters: deque[asyncio.Future[None]] = deque()
        parts = urlsplit(base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self.closed = False

    # --- sending -------------------------------------------------------------------------------

    async def send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str],
        body: bytes | None,
        cap: int,
    ) -> Exchange:
        """Send one request and wait for its head. Raises the client's errors, BodyTooLarge."""
        target = self._base_path + path
        if params:
            target += "?" + "&".join(f"{_quote(k)}={_quote(v)}" for k, v in params.items())
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._host_header}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append(f"User-Agent: {USER_AGENT}\r\nAccept-Encoding: gzip, deflate")
        if body is not None or method == "POST":
            lines.append(f"Content-Length: {len(body or b'')}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        # One attempt, one request: a kept-alive connection the server closed in the meantime
        # fails like any dropped one, and the client's retries decide (httpx does the same).
        connection = await self._acquire()
        connection.send(request, self._origin + target, cap, self._timeout.read)
        try:
            await connection.wait(for_body=False)
        except BaseException as exc:
            self.release(connection)
            if not isinstance(exc, Exception):
                raise  # cancelled: the connection is closed, the cancellation goes on
            raise self.error(exc) from exc
        return Exchange(self, connection)

    def error(self, exc: BaseException) -> BaseException:
        """The client's error for a failed exchange (BodyTooLarge passes through)."""
        host = self.label
        if isinstance(exc, (BodyTooLarge, errors.APIError)):
            return exc
        if isinstance(exc, TimeoutError):
            return errors.APITimeoutError(
                f"The API at {host} timed out while waiting for the response."
            )
        reason = str(exc)[:200] or type(exc).__name__
        if isinstance(exc, ResponseDecodingError):
            return errors.ResponseFormatError(
                f"The API at {host} sent a body that could not be decoded ({reason})."
            )
        if isinstance(exc, (_Broken, ConnectionError)):
            return errors.APIConnectionError(
                f"The API at {host} closed the connection or broke the HTTP protocol ({reason})."
            )
        return errors.APIConnectionError(
            f"The connection to the API at {host} failed ({type(exc).__name__}: {reason})."
        )

    # --- connections ---------------------------------------------------------------------------

    async def _acquire(self) -> _Connection:
        if self.closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        if (connection := self._take_idle()) is not None:
            return connection
        if len(self._open) < self._max:
            return await self._connect()
        try:
            async with asyncio.timeout(self._timeout.pool):
                while True:
                    waiter = self.loop.create_future()
                    self._waiters.append(waiter)
                    try:
                        await waiter
                    except BaseException:
                        if waiter in self._waiters:
                            self._waiters.remove(waiter)
                        elif waiter.done() and not waiter.cancelled():
                            self._notify()  # the free connection it was told of goes to the next
                        raise
                    if (connection := self._take_idle()) is not None:
                        return connection
                    if len(self._open) < self._max:
                        break
        except TimeoutError:
            raise errors.APITimeoutError(
                f"The API at {self.label} timed out while waiting for a free connection."
            ) from None
        return await self._connect()

    def _take_idle(self) -> _Connection | None:
        now = self.loop.time()
        while self._idle:
            connection = self._idle.pop()  # the most recently used: least likely to be stale
            fresh = now - connection.idle_since < KEEPALIVE_SECONDS
            if fresh and not connection.closed and not connection.closing():
                return connection
            connection.close()
            self._open.discard(connection)
        return None

    async def _connect(self) -> _Connection:
        connection = _Connection(self)
        self._open.add(connection)
        try:
            async with asyncio.timeout(self._timeout.connect):
                await self.loop.create_connection(
                    lambda: connection,
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._host if self._ssl else None,
                )
        except BaseException as exc:
            self._open.discard(connection)
            self._notify()
            if isinstance(exc, TimeoutError):
                raise errors.APITimeoutError(
                    f"The API at {self.label} timed out while connecting."
                ) from None
            if isinstance(exc, OSError):
                reason = f"{type(exc).__name__}: {str(exc)[:200]}"
                raise errors.APIConnectionError(
                    f"Could not connect to the API at {self.label} ({reason})."
                ) from exc
            raise
        return connection

    def release(self, connection: _Connection) -> None:
        connection.done()
        connection.active = False
        if self.closed or not connection.reusable_now():
            connection.close()
            self._open.discard(connection)
        else:
            connection.head = None
            connection.idle_since = self.loop.time()
            self._idle.append(connection)
        self._notify()

    def discard(self, connection: _Connection) -> None:
        """A connection closed (by either side)."""
        if connection in self._idle:
            self._idle.remove(connection)
            self._open.discard(connection)
            self._notify()

    def _notify(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def aclose(self) -> None:
        self.closed = True
        for connection in list(self._open):
            connection.close()
        self._open.clear()
        self._idle.clear()
        # Transports close their sockets in a callback of the next loop iteration.
        await asyncio.sleep(0)


def _quote(value: str) -> str:
    return quote(value, safe="")


_SSL_CONTEXT: ssl.SSLContext | None = None


def _ssl_context() -> ssl.SSLContext:
    # httpx's trust store (certifi, or SSL_CERT_FILE / SSL_CERT_DIR), as the httpx path uses.
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        _SSL_CONTEXT = httpx.create_ssl_context()
    return _SSL_CONTEXT
