"""The asynchronous client's own HTTP path: aiohttp, without httpx's per-request machinery.

`AsyncBasketClient` sends over this path when no httpx transport is injected. Measured on a
bulk scan, httpx.AsyncClient costs several times more CPU per request than aiohttp under
concurrency (see benchmarks/README.md), so the hot path talks to aiohttp directly while keeping
httpx's configuration objects (`httpx.Timeout`) and the client's error classes.

Imported only when that path is used, so that synchronous users never load aiohttp.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
import httpx
import yarl

from basket_lib import errors

# httpx's default keep-alive expiry.
KEEPALIVE_SECONDS = 5.0

# Everything aiohttp raises for a failed exchange; what the client maps with `error_for`.
FAILURES = (aiohttp.ClientError, asyncio.TimeoutError)


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """Status, headers and URL of an aiohttp response, under httpx.Response's attribute names."""

    status_code: int
    headers: Mapping[str, str]  # case-insensitive (aiohttp's CIMultiDictProxy)
    raw_url: yarl.URL

    @property
    def url(self) -> httpx.URL:
        # Built on demand: only a redirect's message needs it.
        return httpx.URL(str(self.raw_url))


def open_session(
    base_url: str, *, timeout: httpx.Timeout, max_connections: int
) -> aiohttp.ClientSession:
    """A session bound to the running loop, configured like the client's httpx.AsyncClient."""
    scheme = urlsplit(base_url).scheme
    connector = aiohttp.TCPConnector(
        limit=max_connections,
        keepalive_timeout=KEEPALIVE_SECONDS,
        # httpx's trust store (certifi, or SSL_CERT_FILE/SSL_CERT_DIR), not the system's.
        ssl=_ssl_context() if scheme == "https" else True,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(
            total=None,
            # aiohttp's `connect` covers the wait for a pooled connection, like httpx's `pool`.
            connect=timeout.pool,
            sock_connect=timeout.connect,
            sock_read=timeout.read,
        ),
        # Proxy variables apply as they do for httpx, looked up once: aiohttp's trust_env would
        # look up the proxy and ~/.netrc in a worker thread on every request.
        proxy=env_proxy(base_url),
        trust_env=False,
        # An API client has no use for cookies, and one user's must never reach the next request.
        cookie_jar=aiohttp.DummyCookieJar(),
    )


def env_proxy(base_url: str) -> str | None:
    """The proxy that HTTP_PROXY / HTTPS_PROXY / ALL_PROXY name for this URL, unless NO_PROXY
    exempts its host."""
    parts = urlsplit(base_url)
    if parts.hostname and proxy_bypass(parts.hostname):
        return None
    proxies = getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")


_SSL_CONTEXT: ssl.SSLContext | None = None


def _ssl_context() -> ssl.SSLContext:
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        _SSL_CONTEXT = httpx.create_ssl_context()
    return _SSL_CONTEXT


def url(base_url: str, path: str, params: Mapping[str, str] | None) -> yarl.URL:
    """The request URL exactly as built: the path is already percent-encoded segment by segment,
    so it must not be re-quoted (that would decode "%2F" into a path separator)."""
    text = base_url + path
    if params:
        text += "?" + "&".join(f"{_quote(k)}={_quote(v)}" for k, v in params.items())
    return yarl.URL(text, encoded=True)


def _quote(value: str) -> str:
    return quote(value, safe="")


async def read_body(
    response: aiohttp.ClientResponse, cap: int, too_large: Callable[[], Exception]
) -> bytes:
    """The body, read at most `cap` bytes far; the caller has rejected a larger Content-Length.

    A body of declared length is read at once (aiohttp stops at that length); any other, or one
    that is decompressed on the way, chunk by chunk so that reading stops at the cap.
    """
    if response.content_length is not None and "Content-Encoding" not in response.headers:
        return await response.read()
    body = bytearray()
    async for chunk in response.content.iter_any():
        body += chunk
        if len(body) > cap:
            raise too_large()
    return bytes(body)


def error_for(exc: BaseException, host: str) -> errors.APIError:
    """The client's error for an aiohttp failure: what happened and the host, never the headers.

    Worded like client.transport_error, so both paths read the same to an agent.
    """
    if isinstance(exc, asyncio.TimeoutError):
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            phase = "connecting"
        elif isinstance(exc, aiohttp.SocketTimeoutError):
            phase = "waiting for the response"
        else:
            phase = "talking to it"
        return errors.APITimeoutError(f"The API at {host} timed out while {phase}.")
    reason = f"{type(exc).__name__}: {str(exc)[:200]}" if str(exc) else type(exc).__name__
    if isinstance(exc, aiohttp.ClientPayloadError) and "content-encoding" in str(exc).lower():
        return errors.ResponseFormatError(
            f"The API at {host} sent a body that could not be decoded ({reason})."
        )
    if isinstance(exc, (aiohttp.ClientProxyConnectionError, aiohttp.ClientHttpProxyError)):
        what = f"The proxy in front of the API at {host} failed"
    elif isinstance(exc, aiohttp.ClientConnectorError):
        what = f"Could not connect to the API at {host}"
    elif isinstance(
        exc,
        (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError),
    ):
        # ClientResponseError here is aiohttp rejecting the answer itself (a malformed status
        # line, an oversized header), never an HTTP error status: those are not raised.
        what = f"The API at {host} closed the connection or broke the HTTP protocol"
    else:
        what = f"The connection to the API at {host} failed"
    return errors.APIConnectionError(f"{what} ({reason}).")
