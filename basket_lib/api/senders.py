"""How the clients put one request on the wire and get back its head and body.

A sender makes one attempt: it returns the response head and the whole (decoded, capped) body, or
raises one of the client's own `errors.APIError` subclasses. The retry loops in
basket_lib.api.client sit on top, so retries, decoding and error mapping are the same whichever
library carries the bytes:

- `AiohttpSender` (basket_lib.api.aiohttp_sender, imported only once an async client without a
  transport is built: the dashboard's pages mostly need the sync client): the async client's
  default, raw `aiohttp.ClientSession`;
- `HttpxAsyncSender`: the async client over an injected `httpx.AsyncBaseTransport` (mocks, the
  in-process demo API);
- `send_httpx`: the sync client's attempt over `httpx.Client`.

None of them lets the library decompress (see responses.BoundedDecoder) or follow redirects.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpcore
import httpx

from basket_lib.api import errors
from basket_lib.api.responses import (
    BoundedDecoder,
    ResponseHead,
    declared_length_error,
    read_limit_error,
)
from basket_lib.api.wire import Attempt, PhaseTimeouts, WireRequest, host_label


def _in_memory_body(response: httpx.Response, cap: int) -> bytes | None:
    """The body of a response an injected transport built from bytes in memory (httpx reads and
    decodes those when they are made, so there are no raw bytes left to read), capped."""
    if not response.is_stream_consumed:
        return None
    body = response.content
    if len(body) > cap:
        raise read_limit_error(response, cap)
    return body


# How long an idle connection waits in httpx's pool for the next request, in seconds.
#
# httpx's default, 5 s, is what the async client keeps: a scan keeps its connections busy and
# closes them when it ends. The sync client serves the dashboard's lookups, and an agent reads a
# basket for 20-60 s before the next one: with 5 s every lookup after such a pause paid a new TCP
# and TLS handshake, two round trips to the API before the request's own (benchmarks/README.md,
# "Sync client: idle connections"). 120 s spans those pauses with room to spare, and stays below
# the 4 minutes after which some NAT gateways and load balancers (Azure's, by default) forget an
# idle connection without telling either end, so that a request sent on it would wait for its
# read timeout. A server or load balancer that closes idle connections sooner (AWS ALB after
# 60 s, nginx after 75 s) costs nothing more than the expiry would have: httpcore drops a pooled
# connection the server has closed instead of reusing it, and a close that crosses the request
# on the wire is a connection error, which the client's retry policy retries.
# docs/decisions/0004-sync-keepalive.md.
HTTPX_KEEPALIVE_EXPIRY = 5.0
SYNC_KEEPALIVE_EXPIRY = 120.0


def httpx_options(
    timeout: PhaseTimeouts,
    max_connections: int,
    *,
    keepalive_expiry: float = HTTPX_KEEPALIVE_EXPIRY,
) -> dict[str, Any]:
    """The options of the clients' httpx.Client / httpx.AsyncClient."""
    return {
        "timeout": timeout
        if isinstance(timeout, httpx.Timeout)
        else httpx.Timeout(
            connect=timeout.connect, read=timeout.read, write=timeout.write, pool=timeout.pool
        ),
        # Never: a redirect would carry X-API-Key to wherever it points.
        "follow_redirects": False,
        "limits": httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=min(20, max_connections),
            keepalive_expiry=keepalive_expiry,
        ),
    }


def transport_error(exc: httpx.HTTPError, request: httpx.Request) -> errors.APIError:
    """Map an httpx exception to ours: what happened and the host, never the headers."""
    host = host_label(request.url)
    if isinstance(exc, httpx.TimeoutException):
        phase = {
            httpx.ConnectTimeout: "connecting",
            httpx.ReadTimeout: "waiting for the response",
            httpx.WriteTimeout: "sending the request",
            httpx.PoolTimeout: "waiting for a free connection",
        }.get(type(exc), "talking to it")
        return errors.APITimeoutError(f"The API at {host} timed out while {phase}.")
    if isinstance(exc, httpx.RemoteProtocolError) and str(exc).startswith(
        "Invalid URL in location header"
    ):
        # httpx parses Location even when not following; this is a redirect, not a network fault.
        return errors.UnexpectedStatusError(
            f"The API at {host} redirected the request to an invalid location; redirects are not "
            "followed. Check BASKET_API_URL."
        )
    reason = f"{type(exc).__name__}: {str(exc)[:200]}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.DecodingError):
        return errors.ResponseFormatError(
            f"The API at {host} sent a body that could not be decoded ({reason})."
        )
    if isinstance(exc, httpx.ConnectError):
        what = f"Could not connect to the API at {host}"
    elif isinstance(exc, httpx.ProxyError):
        what = f"The proxy in front of the API at {host} failed"
    elif isinstance(exc, httpx.RemoteProtocolError):
        what = f"The API at {host} closed the connection or broke the HTTP protocol"
    else:
        what = f"The connection to the API at {host} failed"
    return errors.APIConnectionError(f"{what} ({reason}).")


# --- sync: httpx.Client, with a deadline httpx does not have -------------------------------------

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "basket_http_deadline", default=None
)


def _time_left(timeout: float | None) -> float | None:
    """`timeout` clamped to what the current attempt's deadline leaves."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


def _check_deadline() -> None:
    _time_left(None)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket whose every read and write waits at most until the attempt's deadline: httpx's
    timeouts apply to each read, so a byte every few seconds would otherwise never time out.

    It also tells whether anything was read since the last request was written. A response
    whose head arrives with no read after its request was already in h11's buffer before the
    request was sent: bytes the server sent behind an earlier response, never this request's
    answer. Such a stream is `stale`, and reports itself readable, so httpcore drops it from
    its pool instead of reusing it (as it drops a socket with unsolicited data on it)."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream
        self.read_since_write = False
        self.stale = False

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.read_since_write = True
        return self._stream.read(max_bytes, _time_left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.read_since_write = False
        self._stream.write(buffer, _time_left(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, _time_left(timeout))
        )

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self.stale:
            return True
        return self._stream.get_extra_info(info)


def _resolve(host: str, port: int, timeout: float | None) -> list[str]:
    """The host's addresses, in the resolver's order, or ConnectTimeout once `timeout` has
    passed. The lookup runs in a daemon thread: a resolver that hangs keeps that thread, not
    the request (nor the interpreter's exit)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [host]
    found: list[list[Any]] = []
    failed: list[OSError] = []
    done = threading.Event()

    def look_up() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            failed.append(exc)
        finally:
            done.set()

    threading.Thread(target=look_up, name="basket-dns", daemon=True).start()
    if not done.wait(timeout):
        raise httpcore.ConnectTimeout(f"looking up {host} took longer than the deadline")
    if failed:
        raise httpcore.ConnectError(str(failed[0]))
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found[0]))
    if not addresses:
        raise httpcore.ConnectError(f"{host} has no address")
    return addresses


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend, with `_DeadlineStream` sockets."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        # Resolved here, within the deadline: the socket module's own lookup has no timeout.
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in _resolve(host, port, _time_left(timeout)):
            try:
                stream = self._backend.connect_tcp(
                    address, port, _time_left(timeout), local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc  # the next address, as socket.create_connection would
                continue
            # TLS still checks the URL's host name: httpcore passes it to start_tls itself.
            return _DeadlineStream(stream)
        assert failure is not None  # _resolve gives at least one address
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_unix_socket(path, _time_left(timeout), socket_options)
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def enforce_deadlines(http: httpx.Client) -> None:
    """Give every connection pool of `http` (its own and its proxies') the deadline backend.

    httpx builds its transports, including those for proxy variables, from the same options; the
    backend is the one part of them it does not let a caller choose, so it is swapped in here.
    """
    transports: list[httpx.BaseTransport] = [http._transport]
    transports += [t for t in http._mounts.values() if t is not None]
    for transport in transports:
        if isinstance(transport, httpx.HTTPTransport):
            pool = transport._pool
            if not isinstance(pool._network_backend, DeadlineBackend):
                pool._network_backend = DeadlineBackend(pool._network_backend)


def send_httpx(
    http: httpx.Client,
    request: WireRequest,
    cap: int,
    deadline: float | None,
    attempt: Attempt,
) -> tuple[ResponseHead, bytes]:
    """One attempt over httpx.Client."""
    http_request = http.build_request(
        request.method, request.url, headers=dict(request.headers), content=request.body
    )
    token = _DEADLINE.set(None if deadline is None else time.monotonic() + deadline)
    try:
        try:
            response = http.send(http_request, stream=True)
            try:
                _refuse_a_leftover_answer(response)
                attempt.head = response
                if (error := declared_length_error(response, cap)) is not None:
                    raise error
                if (body := _in_memory_body(response, cap)) is not None:
                    return response, body
                decoder = BoundedDecoder(response, cap)
                for chunk in response.iter_raw():
                    decoder.feed(chunk)
                    # An injected transport does not read through the deadline backend.
                    _check_deadline()
                return response, decoder.finish()
            finally:
                response.close()
        except httpcore.ReadTimeout as exc:
            raise transport_error(httpx.ReadTimeout(str(exc)), http_request) from None
        except httpx.HTTPError as exc:
            raise transport_error(exc, http_request) from exc
    finally:
        _DEADLINE.reset(token)


def _refuse_a_leftover_answer(response: httpx.Response) -> None:
    """A response read entirely from what an earlier response left in the connection's buffer
    is some other request's (or nobody's): refused, and its connection never used again. The
    retry that follows gets a connection of its own."""
    stream = response.extensions.get("network_stream")
    if isinstance(stream, _DeadlineStream) and not stream.read_since_write:
        stream.stale = True
        raise httpx.RemoteProtocolError(
            "an answer arrived before the request was sent (the server sent more than one "
            "response to an earlier request); the connection is dropped",
            request=response.request,
        )


# --- async: httpx.AsyncClient over an injected transport ----------------------------------------


class HttpxAsyncSender:
    """The async client's sender when an httpx transport is injected."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        options: Mapping[str, Any],
        cap: int,
        deadline: float | None,
    ) -> None:
        self.http = httpx.AsyncClient(transport=transport, **options)
        self._cap = cap
        self._deadline = deadline

    async def send(self, request: WireRequest, attempt: Attempt) -> tuple[ResponseHead, bytes]:
        http_request = self.http.build_request(
            request.method, request.url, headers=dict(request.headers), content=request.body
        )
        try:
            async with asyncio.timeout(self._deadline):
                response = await self.http.send(http_request, stream=True)
                try:
                    attempt.head = response
                    if (error := declared_length_error(response, self._cap)) is not None:
                        raise error
                    if (body := _in_memory_body(response, self._cap)) is not None:
                        return response, body
                    decoder = BoundedDecoder(response, self._cap)
                    async for chunk in response.aiter_raw():
                        decoder.feed(chunk)
                    return response, decoder.finish()
                finally:
                    await response.aclose()
        except TimeoutError:
            raise transport_error(httpx.ReadTimeout("deadline"), http_request) from None
        except httpx.HTTPError as exc:
            raise transport_error(exc, http_request) from exc

    async def aclose(self) -> None:
        await self.http.aclose()
