"""The async client's default sender: raw `aiohttp.ClientSession` (its C parser), no httpx.

Chosen by measurement over httpx.AsyncClient, httpx over an aiohttp transport and pyreqwest:
docs/decisions/0001-async-http-client.md.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import aiohttp
import yarl

from basket_lib.api import errors
from basket_lib.api.responses import (
    BoundedDecoder,
    ResponseHead,
    declared_length_error,
)
from basket_lib.api.wire import Attempt, PhaseTimeouts, WireRequest, deadline_seconds, host_label

# httpx's default keep-alive expiry (senders.HTTPX_KEEPALIVE_EXPIRY): a scan keeps its
# connections busy and closes them when it ends, so idle ones need not wait longer. The sync
# client, idle between an agent's lookups, keeps them longer (senders.SYNC_KEEPALIVE_EXPIRY).
KEEPALIVE_SECONDS = 5.0


class AiohttpHead:
    """Status, headers and URL of an aiohttp response, under httpx.Response's names."""

    __slots__ = ("headers", "status_code", "url")

    def __init__(self, status_code: int, headers: Mapping[str, str], url: str) -> None:
        self.status_code = status_code
        self.headers = headers  # aiohttp's CIMultiDictProxy: looked up case-insensitively
        self.url = url


class FreshConnector(aiohttp.TCPConnector):
    """A connector that never hands out a kept-alive connection on which bytes arrived while it
    was idle.

    aiohttp parses whatever arrives on an idle connection and queues it as the answer of the next
    request sent on it: a second, unsolicited response (or the tail of a mis-framed one) would
    become another user's basket. Such a connection is closed instead.
    """

    async def _get(self, key: Any, traces: Any) -> Any:
        while (connection := await super()._get(key, traces)) is not None:
            protocol = connection.protocol
            if protocol is not None and not protocol.should_close:
                return connection
            connection.close()
        return None


class AiohttpSender:
    """One `aiohttp.ClientSession`, opened on first use inside the running loop, bound to it."""

    def __init__(
        self, base_url: str, timeout: PhaseTimeouts, max_connections: int, cap: int
    ) -> None:
        url = yarl.URL(base_url)
        self._base_url = base_url
        self._https = url.scheme == "https"
        self._host = host_label(base_url)
        self._timeout = timeout
        self._max_connections = max_connections
        self._cap = cap
        self.session: aiohttp.ClientSession | None = None
        self._proxy: yarl.URL | None = None
        self._proxy_auth: aiohttp.BasicAuth | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def _open(self) -> aiohttp.ClientSession:
        if self._closed:
            # httpx.AsyncClient's words for the same mistake.
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        loop = asyncio.get_running_loop()
        if self.session is not None:
            if self._loop is not loop:
                # Its connections belong to the first loop; bulk.scan_users_sync builds a client
                # per scan for this reason.
                raise RuntimeError(
                    "This AsyncBasketClient was first used in another event loop; "
                    "create one client per event loop."
                )
            return self.session
        timeout = self._timeout
        total = deadline_seconds(timeout)
        # The deadline is the longest phase timeout; a read timeout as long as it can never fire
        # first, and would reschedule a timer on every read.
        read = timeout.read
        sock_read = read if read is not None and total is not None and read < total else None
        ssl: Any = True
        if self._https:
            # The trust store of the sync client (certifi, or SSL_CERT_FILE / SSL_CERT_DIR).
            import httpx

            ssl = httpx.create_ssl_context()
        connector = FreshConnector(
            limit=self._max_connections, keepalive_timeout=KEEPALIVE_SECONDS, ssl=ssl
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            # Cookies set by the API are never sent back: requests carry only what the client
            # chose to send.
            cookie_jar=aiohttp.DummyCookieJar(),
            # aiohttp inflates a whole read at once, and reads concatenated gzip members, so a
            # small body can grow large and data after a gzip stream goes unnoticed; the raw
            # bytes go through BoundedDecoder instead, as on every path.
            auto_decompress=False,
            # trust_env=True would look the proxy (and ~/.netrc) up again for every request, in a
            # worker thread: two thread hand-offs per request, most of a scan's CPU. Every request
            # goes to the one origin, so its proxy is looked up once, below.
            trust_env=False,
            timeout=aiohttp.ClientTimeout(
                total=total, sock_connect=timeout.connect, sock_read=sock_read
            ),
        )
        # aiohttp silently sends a GET again when a kept-alive connection drops before the answer;
        # retries are the client's one retry policy, counted in request_count, and nowhere else.
        self.session._retry_connection = False
        # HTTPS_PROXY / HTTP_PROXY / ALL_PROXY unless NO_PROXY names the host, as trust_env=True
        # (and the sync client) would apply them, with the same aiohttp function.
        with contextlib.suppress(LookupError):
            self._proxy, self._proxy_auth = aiohttp.helpers.get_env_proxy_for_url(
                yarl.URL(self._base_url)
            )
        self._loop = loop
        return self.session

    async def send(self, request: WireRequest, attempt: Attempt) -> tuple[ResponseHead, bytes]:
        session = self._open()
        cap = self._cap
        try:
            async with session.request(
                request.method,
                yarl.URL(request.url, encoded=True),
                headers=request.headers,
                data=request.body,
                allow_redirects=False,
                proxy=self._proxy,
                proxy_auth=self._proxy_auth,
            ) as response:
                headers = response.headers
                head = AiohttpHead(response.status, headers, request.url)
                attempt.head = head
                if (error := declared_length_error(head, cap)) is not None:
                    raise error
                decoder = BoundedDecoder(
                    head, cap, ", ".join(headers.getall("Content-Encoding", ()))
                )
                content = response.content
                while chunk := await content.readany():
                    decoder.feed(chunk)
                return head, decoder.finish()
        except (aiohttp.ClientError, TimeoutError) as exc:
            failure = aiohttp_error(exc, self._host)
        # Raised outside the handler, so neither chained nor kept as context: aiohttp's
        # exceptions carry the request's headers, the key among them.
        raise failure

    async def aclose(self) -> None:
        self._closed = True
        session, self.session = self.session, None
        # A session of another (ended) loop cannot be closed from this one.
        if session is not None and self._loop is asyncio.get_running_loop():
            await session.close()


def aiohttp_error(exc: BaseException, host: str) -> errors.APIError:
    """An aiohttp failure as the client's error, in responses.transport_error's words."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return errors.APITimeoutError(f"The API at {host} timed out while connecting.")
    if isinstance(exc, TimeoutError):
        # A socket read timeout, or the attempt's deadline while the answer was still awaited.
        return errors.APITimeoutError(
            f"The API at {host} timed out while waiting for the response."
        )
    reason = f"{type(exc).__name__}: {str(exc)[:200]}" if str(exc) else type(exc).__name__
    if isinstance(exc, (aiohttp.ClientProxyConnectionError, aiohttp.ClientHttpProxyError)):
        what = f"The proxy in front of the API at {host} failed"
    elif isinstance(exc, aiohttp.ClientConnectorError):
        what = f"Could not connect to the API at {host}"
    elif isinstance(
        exc,
        (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError),
    ):
        what = f"The API at {host} closed the connection or broke the HTTP protocol"
    else:
        what = f"The connection to the API at {host} failed"
    return errors.APIConnectionError(f"{what} ({reason}).")
