"""HTTP clients of the Jay Basket API (sync and async) over httpx.

Everything that is not I/O (headers, URLs, response decoding, error mapping, retry decisions and
delays) lives in plain functions and `_ClientCore`, so `BasketClient` and `AsyncBasketClient`
differ only in how they send, read and sleep.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import html
import json
import math
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, Self, TypeVar

import httpx
import pydantic

from basket_lib import errors, models
from basket_lib.validation import (
    clean_provider_id,
    clean_tracking_header,
    distinct_product_ids,
    user_path_segment,
    validate_user_id,
)

if TYPE_CHECKING:
    from basket_lib import transport

DEFAULT_API_VERSION = "2025-09-15"
DEFAULT_TIMEOUT = 10.0
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
RETRY_AFTER_CAP = 30.0

# The API publishes no retry guidance: retry only what is transient by nature.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
BACKOFF_BASE = 0.5
BACKOFF_FACTOR = 2.0
BACKOFF_MAX = 8.0

EXCERPT_CHARS = 200
# Only the start of a non-JSON body is inspected for the excerpt, keeping the tag stripping cheap.
_EXCERPT_SCAN_BYTES = 16 * 1024
_MAX_LISTED_PROBLEMS = 5

T = TypeVar("T")


class ResponseHead(Protocol):
    """What decoding reads of a response: httpx.Response has it, and so has the async client's
    own connection pool (basket_lib.transport.ResponseHead)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...  # case-insensitive

    @property
    def url(self) -> httpx.URL: ...


# --- retry timing -------------------------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait according to a Retry-After header (delta-seconds or HTTP date).

    None when the header is absent or unreadable, so the caller falls back to its backoff.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
        return seconds if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_delay(retry_index: int, jitter: Callable[[], float]) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(max, base * factor**n))."""
    ceiling = min(BACKOFF_MAX, BACKOFF_BASE * BACKOFF_FACTOR ** min(retry_index, 32))
    return ceiling * min(1.0, max(0.0, jitter()))


def retry_delay(
    retry_index: int,
    retry_after: str | None,
    *,
    cap: float,
    jitter: Callable[[], float],
    now: datetime | None = None,
) -> float:
    asked = parse_retry_after(retry_after, now=now)
    if asked is not None:
        return min(asked, cap)
    return backoff_delay(retry_index, jitter)


def is_retryable(error: errors.APIError) -> bool:
    return isinstance(error, errors.APIConnectionError) or error.status in RETRY_STATUSES


# --- response decoding --------------------------------------------------------------------------

_COMMENT = re.compile(r"<!--.*?-->", re.S)
_SCRIPT_STYLE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.S | re.I)
# `[^<>]` keeps this linear on bodies full of unmatched "<".
_TAG = re.compile(r"<[^<>]*>")


def text_excerpt(body: bytes, limit: int = EXCERPT_CHARS) -> str:
    """A short plain-text rendering of a body: tags stripped, whitespace collapsed."""
    text = body[:_EXCERPT_SCAN_BYTES].decode("utf-8", errors="replace")
    text = _TAG.sub(" ", _SCRIPT_STYLE.sub(" ", _COMMENT.sub(" ", text)))
    text = html.unescape(text)
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _content_type(response: ResponseHead) -> str:
    value = response.headers.get("Content-Type", "").strip()
    return value[:100] if value else "no content type"


def decode_json(response: ResponseHead, body: bytes) -> Any:
    """The decoded JSON body, or ResponseFormatError quoting status, content type and excerpt."""
    status = response.status_code
    content_type = _content_type(response)
    try:
        return json.loads(body)
    except RecursionError:
        reason = "it is nested too deeply"
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        reason = str(exc)
    excerpt = text_excerpt(body)
    quoted = f'"{excerpt}"' if excerpt else "an empty body"
    if "json" in content_type.lower():
        message = (
            f"The API answered HTTP {status} with {content_type}, but the body is not valid JSON "
            f"({reason}; it may have been cut off): {quoted}"
        )
    else:
        message = f"The API answered HTTP {status} with {content_type} instead of JSON: {quoted}"
    raise errors.ResponseFormatError(
        message,
        status=status,
        details={"content_type": content_type, "excerpt": excerpt},
    )


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(body)"


def validate_payload(model: type[T], payload: Any, status: int) -> T:
    """The payload as `model`, or ResponseValidationError naming each bad field's path."""
    if not isinstance(payload, dict):
        raise errors.ResponseValidationError(
            f"The API answered HTTP {status} with JSON {type(payload).__name__}, "
            "expected an object.",
            status=status,
        )
    try:
        return model.model_validate(payload)  # type: ignore[attr-defined,no-any-return]
    except pydantic.ValidationError as exc:
        # include_input=False: the offending values may be large or carry personal data.
        problems = [
            {"field": _field_path(err["loc"]), "problem": err["msg"], "type": err["type"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        listed = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:_MAX_LISTED_PROBLEMS])
        more = len(problems) - _MAX_LISTED_PROBLEMS
        if more > 0:
            listed += f"; and {more} more"
        raise errors.ResponseValidationError(
            f"The API's response does not match the documented schema: {listed}",
            status=status,
            details=problems,
        ) from None


def _lenient_error_fields(payload: Any) -> tuple[int | None, str | None, Any]:
    """API code, message and details of an error body, taking whatever is readable.

    Used for error statuses, where the status already decides the class and a malformed envelope
    must not hide it.
    """
    if not isinstance(payload, dict):
        return None, None, payload
    error = payload.get("error")
    if isinstance(error, dict):
        code = error.get("code")
        if isinstance(code, str) and code.strip().lstrip("-").isdigit():
            code = int(code.strip())
        message = error.get("message")
        return (
            code if isinstance(code, int) and not isinstance(code, bool) else None,
            message if isinstance(message, str) else None,
            error.get("details"),
        )
    detail = payload.get("detail")  # FastAPI's own error body
    if isinstance(detail, str):
        return None, detail, None
    return None, None, detail


def _host_label(url: httpx.URL) -> str:
    return f"{url.host}:{url.port}" if url.port else url.host


def redirect_error(response: ResponseHead) -> errors.APIStatusError:
    """A 3xx is never followed: the key would travel to wherever the Location points."""
    status = response.status_code
    source = response.url
    location = response.headers.get("Location")
    target: str
    try:
        target_host = source.join(location).host if location else None
    except httpx.InvalidURL:
        target_host = None
    if target_host is None:
        target = "an invalid location"
    elif target_host == source.host:
        target = f"another URL on the same host {target_host}"
    else:
        target = f"host {target_host}"
    return errors.status_error_class(status)(
        f"The API redirected the request (HTTP {status}) to {target}; redirects are not followed "
        "so the API key only goes to the configured host. Check BASKET_API_URL.",
        status=status,
    )


def transport_error(exc: httpx.HTTPError, request: httpx.Request) -> errors.APIError:
    """Map an httpx exception to ours: what happened and the host, never the headers."""
    host = _host_label(request.url)
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


def _declared_length_error(response: ResponseHead, cap: int) -> errors.ResponseTooLargeError | None:
    declared = response.headers.get("Content-Length", "")
    if declared.strip().isdigit() and int(declared) > cap:
        return errors.ResponseTooLargeError(
            f"The API's response (HTTP {response.status_code}) declares {int(declared):,} bytes, "
            f"more than the {cap:,}-byte limit; it was not read.",
            status=response.status_code,
        )
    return None


def _read_limit_error(response: ResponseHead, cap: int) -> errors.ResponseTooLargeError:
    return errors.ResponseTooLargeError(
        f"The API's response (HTTP {response.status_code}) exceeded the {cap:,}-byte limit; "
        "reading was stopped.",
        status=response.status_code,
    )


def _read_capped(response: httpx.Response, cap: int) -> bytes:
    if (error := _declared_length_error(response, cap)) is not None:
        raise error
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > cap:
            raise _read_limit_error(response, cap)
    return bytes(body)


async def _aread_capped(response: ResponseHead, chunks: AsyncIterator[bytes], cap: int) -> bytes:
    if (error := _declared_length_error(response, cap)) is not None:
        raise error
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > cap:
            raise _read_limit_error(response, cap)
    return bytes(body)


# --- per-endpoint parsing -----------------------------------------------------------------------


def _raise_envelope_error(status: int, error: models.ErrorInfo | None) -> None:
    if error is not None:
        raise errors.error_for_status(
            status, api_code=error.code, api_message=error.message, details=error.details
        )


def parse_basket(user_id: str, response: ResponseHead, payload: Any) -> models.BasketResult:
    envelope = validate_payload(models.BasketEnvelope, payload, response.status_code)
    _raise_envelope_error(response.status_code, envelope.error)
    return models.BasketResult(
        user_id=user_id,
        # A user without a basket gets an empty one; some servers send `data: null` for it.
        basket=envelope.data or models.Basket(),
        next_token=envelope.next_token,
        api_version=response.headers.get("X-API-Version"),
        fetched_at=datetime.now(UTC),
        raw=payload,
    )


def parse_product_details(response: ResponseHead, payload: Any) -> dict[str, models.ProductDetails]:
    envelope = validate_payload(models.ProductDetailsEnvelope, payload, response.status_code)
    _raise_envelope_error(response.status_code, envelope.error)
    products = envelope.data.products if envelope.data else ()
    return {product.product_id: product for product in products}


def interpret(response: ResponseHead, body: bytes, parse: Callable[[ResponseHead, Any], T]) -> T:
    """The parsed result of a fully read response, or the mapped error."""
    status = response.status_code
    if 300 <= status < 400:
        raise redirect_error(response)
    is_success = 200 <= status < 300
    if not is_success and not body.strip():
        raise errors.error_for_status(status)
    payload = decode_json(response, body)
    if not is_success:
        code, message, details = _lenient_error_fields(payload)
        raise errors.error_for_status(status, api_code=code, api_message=message, details=details)
    return parse(response, payload)


# --- configuration ------------------------------------------------------------------------------


def _header_safe(value: str) -> bool:
    return value.isascii() and value.isprintable()


def _normalise_base_url(base_url: str) -> str:
    if not isinstance(base_url, str) or not base_url.strip():
        raise errors.ConfigurationError("The API base URL is empty.")
    try:
        url = httpx.URL(base_url.strip())
    except httpx.InvalidURL as exc:
        raise errors.ConfigurationError(f"The API base URL is not a valid URL ({exc}).") from None
    if url.scheme not in {"http", "https"} or not url.host:
        raise errors.ConfigurationError(
            "The API base URL must start with https:// or http:// and name a host."
        )
    if url.userinfo:
        # Credentials in the URL would show up wherever the URL is displayed.
        raise errors.ConfigurationError("The API base URL must not contain credentials.")
    if url.query or url.fragment:
        raise errors.ConfigurationError("The API base URL must not have a query or fragment.")
    return str(url).rstrip("/")


def _timeout(timeout: float | httpx.Timeout) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise errors.ConfigurationError(f"The timeout must be a positive number, not {timeout!r}.")
    return httpx.Timeout(float(timeout), connect=min(float(timeout), DEFAULT_CONNECT_TIMEOUT))


def _non_negative_int(name: str, value: int, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise errors.ConfigurationError(f"{name} must be an integer >= {minimum}, not {value!r}.")
    return value


@dataclass(frozen=True, slots=True)
class _Call(Generic[T]):
    """One logical API call; retried attempts rebuild their request from it."""

    method: str
    path: str
    parse: Callable[[ResponseHead, Any], T]
    headers: Mapping[str, str] = field(default_factory=dict)
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
        # Registered before any check, so no message raised below can carry them.
        errors.register_secret(api_key if isinstance(api_key, str) else None)
        errors.register_secret(token if isinstance(token, str) else None)
        if not isinstance(api_key, str) or not api_key.strip():
            raise errors.ConfigurationError("The API key is empty.")
        api_key = api_key.strip()
        if not _header_safe(api_key):
            raise errors.ConfigurationError(
                "The API key contains characters that cannot be sent in a header."
            )
        if token is not None:
            if not isinstance(token, str):
                raise errors.ConfigurationError("The bearer token must be text.")
            # Accept a whole pasted header value ("Bearer eyJ...") as well as the bare token.
            token = re.sub(r"(?i)^\s*bearer\s+", "", token).strip() or None
            if token is not None and not _header_safe(token):
                raise errors.ConfigurationError(
                    "The bearer token contains characters that cannot be sent in a header."
                )
        if not isinstance(api_version, str) or not api_version.strip():
            raise errors.ConfigurationError("The API version is empty.")
        if not _header_safe(api_version.strip()):
            raise errors.ConfigurationError("The API version contains invalid characters.")
        if (
            isinstance(retry_after_cap, bool)
            or not isinstance(retry_after_cap, (int, float))
            or not retry_after_cap >= 0
        ):
            raise errors.ConfigurationError(
                f"retry_after_cap must be a number >= 0, not {retry_after_cap!r}."
            )
        self.base_url = _normalise_base_url(base_url)
        self.api_version = api_version.strip()
        self.timeout = _timeout(timeout)
        self.max_retries = _non_negative_int("max_retries", max_retries)
        self.max_response_bytes = _non_negative_int("max_response_bytes", max_response_bytes, 1)
        self.max_connections = _non_negative_int("max_connections", max_connections, 1)
        self.retry_after_cap = float(retry_after_cap)
        self.request_count = 0
        self._api_key = api_key
        self._token = token
        self._jitter = jitter

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, api_version={self.api_version!r})"
        )

    def _http_options(self) -> dict[str, Any]:
        return {
            "timeout": self.timeout,
            # Never: a redirect would carry X-API-Key to wherever it points.
            "follow_redirects": False,
            "limits": httpx.Limits(
                max_connections=self.max_connections,
                max_keepalive_connections=min(20, self.max_connections),
            ),
        }

    def _headers(self, tracking: str | None = None) -> dict[str, str]:
        headers = {
            "Accept": "application/json",
            "X-API-Key": self._api_key,
            "x-jay-api-version": self.api_version,
        }
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if tracking:
            headers["X-JAY-Tracking"] = tracking
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
            headers=self._headers(tracking),
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
            headers=self._headers(),
            json=ids,
        )

    def _build_request(
        self, http: httpx.Client | httpx.AsyncClient, call: _Call[Any]
    ) -> httpx.Request:
        return http.build_request(
            call.method,
            self.base_url + call.path,
            headers=dict(call.headers),
            params=dict(call.params) if call.params else None,
            json=call.json,
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
        self._http = httpx.Client(transport=transport, **self._http_options())

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
        return self._request(self._basket_call(user_id, tracking, provider_id))

    def get_product_details(self, product_ids: Iterable[str]) -> dict[str, models.ProductDetails]:
        call = self._details_call(product_ids)
        return {} if call is None else self._request(call)

    def _request(self, call: _Call[T]) -> T:
        retry_index = 0
        while True:
            retry_after: str | None = None
            try:
                request = self._build_request(self._http, call)
                self.request_count += 1
                try:
                    response = self._http.send(request, stream=True)
                    try:
                        retry_after = response.headers.get("Retry-After")
                        body = _read_capped(response, self.max_response_bytes)
                    finally:
                        response.close()
                except httpx.HTTPError as exc:
                    raise transport_error(exc, request) from exc
                return interpret(response, body, call.parse)
            except errors.APIError as error:
                delay = self._retry_delay(error, retry_after, retry_index)
                if delay is None:
                    raise
            self._sleep(delay)
            retry_index += 1


class AsyncBasketClient(_ClientCore):
    """Asyncio client. Use with `async with`, or await aclose().

    Without `transport` it sends through its own HTTP/1.1 connection pool (basket_lib.transport):
    httpx.AsyncClient costs several times more CPU per request under concurrency, which caps a
    bulk scan far below what the API's latency allows. An injected httpx transport (a mock, the
    demo API) is used through httpx.AsyncClient as given, and so is httpx's own transport when a
    proxy variable applies to the API's URL. Either way the requests, decoding, error mapping and
    retries are the same. The pool is opened on first use, inside the running loop.
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
        from basket_lib import transport as lean

        self._sleep = sleep
        self._http: httpx.AsyncClient | None = None
        if transport is not None or lean.env_proxy(self.base_url) is not None:
            self._http = httpx.AsyncClient(transport=transport, **self._http_options())
        self._pool: lean.Pool | None = None
        self._pool_loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

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
        self._closed = True
        if self._http is not None:
            await self._http.aclose()
        pool, self._pool = self._pool, None
        # A pool of another (ended) loop cannot be closed from this one.
        if pool is not None and self._pool_loop is asyncio.get_running_loop():
            await pool.aclose()

    async def get_basket(
        self, user_id: str, *, tracking: str | None = None, provider_id: str | None = None
    ) -> models.BasketResult:
        return await self._request(self._basket_call(user_id, tracking, provider_id))

    async def get_product_details(
        self, product_ids: Iterable[str]
    ) -> dict[str, models.ProductDetails]:
        call = self._details_call(product_ids)
        return {} if call is None else await self._request(call)

    def _lean_pool(self) -> transport.Pool:
        if self._closed:
            # httpx.AsyncClient's words for the same mistake.
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        loop = asyncio.get_running_loop()
        if self._pool is None:
            from basket_lib import transport as lean

            self._pool = lean.Pool(
                self.base_url, timeout=self.timeout, max_connections=self.max_connections
            )
            self._pool_loop = loop
        elif self._pool_loop is not loop:
            # Its connections belong to the first loop (httpx would fail with "Event loop is
            # closed" here); bulk.scan_users_sync builds a client per scan for this reason.
            raise RuntimeError(
                "This AsyncBasketClient was first used in another event loop; "
                "create one client per event loop."
            )
        return self._pool

    async def _request(self, call: _Call[T]) -> T:
        if self._http is None:
            return await self._request_lean(call)
        retry_index = 0
        while True:
            retry_after: str | None = None
            try:
                request = self._build_request(self._http, call)
                self.request_count += 1
                try:
                    response = await self._http.send(request, stream=True)
                    try:
                        retry_after = response.headers.get("Retry-After")
                        body = await _aread_capped(
                            response, response.aiter_bytes(), self.max_response_bytes
                        )
                    finally:
                        await response.aclose()
                except httpx.HTTPError as exc:
                    raise transport_error(exc, request) from exc
                return interpret(response, body, call.parse)
            except errors.APIError as error:
                delay = self._retry_delay(error, retry_after, retry_index)
                if delay is None:
                    raise
            await self._sleep(delay)
            retry_index += 1

    async def _request_lean(self, call: _Call[T]) -> T:
        """_request over the client's own pool: the same steps, without httpx objects."""
        from basket_lib.transport import BodyTooLarge

        pool = self._lean_pool()
        cap = self.max_response_bytes
        headers: Mapping[str, str] = call.headers
        body = None
        if call.json is not None:
            body = _json_body(call.json)
            headers = {**headers, "Content-Type": "application/json"}
        retry_index = 0
        while True:
            retry_after: str | None = None
            try:
                self.request_count += 1
                try:
                    exchange = await pool.send(
                        call.method, call.path, call.params, headers, body, cap
                    )
                    try:
                        head = exchange.head
                        retry_after = head.headers.get("Retry-After")
                        if (error := _declared_length_error(head, cap)) is not None:
                            raise error
                        content = await exchange.read()
                    finally:
                        exchange.release()
                except BodyTooLarge as exc:
                    raise _read_limit_error(exc.head, cap) from None
                return interpret(head, content, call.parse)
            except errors.APIError as error:
                delay = self._retry_delay(error, retry_after, retry_index)
                if delay is None:
                    raise
            await self._sleep(delay)
            retry_index += 1


def _json_body(value: Any) -> bytes:
    # The bytes httpx sends for `json=`, so both paths put the same body on the wire.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
