"""HTTP clients of the Jay Basket API (sync and async).

Everything that is not I/O lives in `_ClientCore` (configuration, headers, calls), in
basket_lib.api.responses (decoding, limits, error mapping) and basket_lib.api.retry (the retry
policy), so `BasketClient` and `AsyncBasketClient` differ only in how they send, read and sleep.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import re
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar
from urllib.parse import quote

from basket_lib.api import errors, models, options
from basket_lib.api.defaults import (
    DEFAULT_API_VERSION,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    RETRY_AFTER_CAP,
)
from basket_lib.api.redaction import Redactor
from basket_lib.api.responses import (
    ResponseHead,
    interpret,
    parse_basket,
    parse_product_details,
)
from basket_lib.api.retry import is_retryable, retry_delay
from basket_lib.api.validation import (
    clean_provider_id,
    clean_tracking_header,
    distinct_product_ids,
    user_path_segment,
    validate_user_id,
)
from basket_lib.api.wire import (
    USER_AGENT,
    Attempt,
    PhaseTimeouts,
    Sender,
    Timeouts,
    WireRequest,
    deadline_seconds,
)

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")


# --- configuration ------------------------------------------------------------------------------


# What an HTTP/1.1 field value cannot carry: CR, LF or NUL (they end the line: header injection),
# or anything outside latin-1 (each library would encode it differently, or fail).
_UNSENDABLE = re.compile("[\r\n\x00\u0100-\U0010ffff]")


def _timeouts(timeout: float | httpx.Timeout) -> PhaseTimeouts:
    # httpx is imported only by the clients that send through it (a scan never does); a value
    # can only be an httpx.Timeout if httpx was imported to make it.
    httpx_module = sys.modules.get("httpx")
    if httpx_module is not None and isinstance(timeout, httpx_module.Timeout):
        return timeout  # type: ignore[no-any-return]
    seconds = options.timeout(timeout, "The timeout")
    connect = min(seconds, DEFAULT_CONNECT_TIMEOUT)
    return Timeouts(connect=connect, read=seconds, write=seconds, pool=seconds)


def _non_negative_int(name: str, value: int, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise errors.ConfigurationError(f"{name} must be an integer >= {minimum}, not {value!r}.")
    return value


def _check_sendable(headers: Mapping[str, str]) -> None:
    """Every header value passes here before any library sees it, whatever its source (input
    validation already refuses such values: this is the last line)."""
    for name, value in headers.items():
        if _UNSENDABLE.search(value):
            raise errors.InvalidInputError(
                f"The {name} header contains characters that cannot be sent in a header."
            )


@dataclass(frozen=True, slots=True)
class _Call(Generic[T]):
    """One logical API call; retried attempts rebuild their request from it."""

    method: str
    path: str
    parse: Callable[[ResponseHead, Any, bool], T]
    headers: Mapping[str, str] = field(default_factory=dict)  # besides the client's own
    params: Mapping[str, str] | None = None
    json: Any = None


class _ClientCore:
    """Configuration and every decision that does not do I/O, shared by both clients."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        token: str | None,
        api_version: str,
        timeout: float | httpx.Timeout,
        max_retries: int,
        max_response_bytes: int,
        retry_after_cap: float,
        max_connections: int,
        jitter: Callable[[], float],
    ) -> None:
        # Before any check: should a message below ever carry a secret, it is scrubbed.
        self.redactor = Redactor(
            api_key if isinstance(api_key, str) else None, token if isinstance(token, str) else None
        )
        with self.redactor.scrubbing():
            # The rules are the settings' rules (basket_lib.api.options), worded for code.
            self._api_key = options.api_key(api_key, "The API key")
            self._token = options.token(token, "The bearer token")
            self.base_url = options.base_url(base_url, "The API base URL")
            self.api_version = options.api_version(api_version, "The API version")
            self.timeouts = _timeouts(timeout)
            self.max_retries = options.max_retries(max_retries, "max_retries")
            if (
                isinstance(retry_after_cap, bool)
                or not isinstance(retry_after_cap, (int, float))
                or not retry_after_cap >= 0
            ):
                raise errors.ConfigurationError(
                    f"retry_after_cap must be a number >= 0, not {retry_after_cap!r}."
                )
            self.max_response_bytes = _non_negative_int("max_response_bytes", max_response_bytes, 1)
            self.max_connections = _non_negative_int("max_connections", max_connections, 1)
            self.retry_after_cap = float(retry_after_cap)
            self.deadline = deadline_seconds(self.timeouts)
        # The bare token too: a pasted "Bearer xyz" must not leave "xyz" unredacted.
        self.redactor = Redactor(self._api_key, self._token, *self.redactor.secrets)
        with self.redactor.scrubbing():
            self._headers = self._static_headers()
        self.request_count = 0
        self._jitter = jitter

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, api_version={self.api_version!r})"
        )

    @property
    def timeout(self) -> httpx.Timeout:
        """The timeouts as an httpx.Timeout (the type the constructor accepts)."""
        import httpx

        t = self.timeouts
        if isinstance(t, httpx.Timeout):
            return t
        return httpx.Timeout(connect=t.connect, read=t.read, write=t.write, pool=t.pool)

    def _static_headers(self) -> dict[str, str]:
        """The headers every request carries, built and checked once per client."""
        headers = {
            "Accept": "application/json",
            # Compression is accepted because every path inflates through BoundedDecoder, which
            # stops at the size cap: basket JSON shrinks several times over a slow link. Only
            # what zlib decodes is offered, so no path needs another decoder.
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": USER_AGENT,
            "X-API-Key": self._api_key,
            "x-jay-api-version": self.api_version,
        }
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        _check_sendable(headers)
        return headers

    def _basket_call(
        self, user_id: str, tracking: str | None, provider_id: str | None
    ) -> _Call[models.BasketResult]:
        user_id = validate_user_id(user_id)
        tracking = clean_tracking_header(tracking)
        provider_id = clean_provider_id(provider_id)
        return _Call(
            method="GET",
            path=f"/baskets/users/{user_path_segment(user_id)}",
            parse=functools.partial(parse_basket, user_id),
            headers={"X-JAY-Tracking": tracking} if tracking else {},
            params={"provider_id": provider_id} if provider_id else None,
        )

    def _details_call(
        self, product_ids: Iterable[str]
    ) -> _Call[dict[str, models.ProductDetails]] | None:
        ids = distinct_product_ids(product_ids)
        if not ids:
            return None
        return _Call(
            method="POST",
            path="/baskets/products/details",
            parse=parse_product_details,
            json=ids,
        )

    def _wire_request(self, call: _Call[Any]) -> WireRequest:
        """The request every attempt of `call` sends: the client's headers and the call's own."""
        extra = dict(call.headers)
        body = None
        if call.json is not None:
            body = _json_body(call.json)
            extra["Content-Type"] = "application/json"
        _check_sendable(extra)
        url = self.base_url + call.path
        if call.params:
            url += "?" + "&".join(
                f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in call.params.items()
            )
        # The shared dict is never changed: senders copy headers before adding their own.
        return WireRequest(
            call.method, url, {**self._headers, **extra} if extra else self._headers, body
        )

    def _retry_delay(
        self, error: errors.APIError, retry_after: str | None, retry_index: int
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to give up and raise `error`."""
        if retry_index >= self.max_retries or not is_retryable(error):
            return None
        return retry_delay(retry_index, retry_after, cap=self.retry_after_cap, jitter=self._jitter)


class BasketClient(_ClientCore):
    """Blocking client. Use as a context manager, or call close()."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        token: str | None = None,
        api_version: str = DEFAULT_API_VERSION,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        transport: httpx.BaseTransport | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        sleep: Callable[[float], None] = time.sleep,
        retry_after_cap: float = RETRY_AFTER_CAP,
        max_connections: int = 100,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(
            base_url,
            api_key,
            token=token,
            api_version=api_version,
            timeout=timeout,
            max_retries=max_retries,
            max_response_bytes=max_response_bytes,
            retry_after_cap=retry_after_cap,
            max_connections=max_connections,
            jitter=jitter,
        )
        self._sleep = sleep
        import httpx

        from basket_lib.api import senders

        self._send = senders.send_httpx
        self._http = httpx.Client(
            transport=transport,
            **senders.httpx_options(
                self.timeouts,
                self.max_connections,
                keepalive_expiry=senders.SYNC_KEEPALIVE_EXPIRY,
            ),
        )
        senders.enforce_deadlines(self._http)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get_basket(
        self, user_id: str, *, tracking: str | None = None, provider_id: str | None = None
    ) -> models.BasketResult:
        try:
            return self._request(self._basket_call(user_id, tracking, provider_id))
        except errors.BasketError as exc:  # Redactor.scrubbing, without its per-call cost
            self.redactor.error(exc)
            raise

    def get_product_details(self, product_ids: Iterable[str]) -> dict[str, models.ProductDetails]:
        with self.redactor.scrubbing():
            call = self._details_call(product_ids)
            return {} if call is None else self._request(call)

    def _request(self, call: _Call[T]) -> T:
        request = self._wire_request(call)
        retry_index = 0
        while True:
            attempt = Attempt()
            try:
                self.request_count += 1
                head, body = self._send(
                    self._http, request, self.max_response_bytes, self.deadline, attempt
                )
                return interpret(head, self.redactor.body(body), call.parse)
            except errors.APIError as error:
                delay = self._retry_delay(error, attempt.retry_after, retry_index)
                if delay is None:
                    raise
            self._sleep(delay)
            retry_index += 1


class AsyncBasketClient(_ClientCore):
    """Asyncio client. Use with `async with`, or await aclose().

    Without `transport` it sends through raw aiohttp (basket_lib.api.aiohttp_sender):
    httpx.AsyncClient costs several times more CPU per request under concurrency, which caps a
    bulk scan far below what the API's latency allows (docs/decisions/0001-async-http-client.md).
    An injected httpx transport (a mock, the demo API) is used through httpx.AsyncClient as given.
    Either way the requests, decoding, limits, error mapping and retries are the same. aiohttp's
    session is opened on first use, inside the running loop.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        token: str | None = None,
        api_version: str = DEFAULT_API_VERSION,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        transport: httpx.AsyncBaseTransport | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        retry_after_cap: float = RETRY_AFTER_CAP,
        max_connections: int = 100,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(
            base_url,
            api_key,
            token=token,
            api_version=api_version,
            timeout=timeout,
            max_retries=max_retries,
            max_response_bytes=max_response_bytes,
            retry_after_cap=retry_after_cap,
            max_connections=max_connections,
            jitter=jitter,
        )
        self._sleep = sleep
        # Each sender's library is imported only when that sender is built: the dashboard's
        # pages mostly need the sync client, and a scan never needs httpx.
        self._sender: Sender
        if transport is not None:
            from basket_lib.api import senders

            self._sender = senders.HttpxAsyncSender(
                transport,
                senders.httpx_options(self.timeouts, self.max_connections),
                self.max_response_bytes,
                self.deadline,
            )
        else:
            from basket_lib.api.aiohttp_sender import AiohttpSender

            self._sender = AiohttpSender(
                self.base_url, self.timeouts, self.max_connections, self.max_response_bytes
            )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._sender.aclose()

    async def get_basket(
        self, user_id: str, *, tracking: str | None = None, provider_id: str | None = None
    ) -> models.BasketResult:
        try:
            return await self._request(self._basket_call(user_id, tracking, provider_id))
        except errors.BasketError as exc:  # Redactor.scrubbing, without its per-call cost
            self.redactor.error(exc)
            raise

    async def get_product_details(
        self, product_ids: Iterable[str]
    ) -> dict[str, models.ProductDetails]:
        with self.redactor.scrubbing():
            call = self._details_call(product_ids)
            return {} if call is None else await self._request(call)

    async def _request(self, call: _Call[T]) -> T:
        request = self._wire_request(call)
        send = self._sender.send
        retry_index = 0
        while True:
            attempt = Attempt()
            try:
                self.request_count += 1
                head, body = await send(request, attempt)
                return interpret(head, self.redactor.body(body), call.parse)
            except errors.APIError as error:
                delay = self._retry_delay(error, attempt.retry_after, retry_index)
                if delay is None:
                    raise
            await self._sleep(delay)
            retry_index += 1


def _json_body(value: Any) -> bytes:
    # The bytes httpx sends for `json=`, so every path puts the same body on the wire.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
