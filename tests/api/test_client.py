"""BasketClient and AsyncBasketClient through the real httpx request path (httpx.MockTransport).

Most tests run twice, once per client, through the `api` fixture.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import inspect
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
import pytest

from basket_lib.api import errors
from basket_lib.api.client import AsyncBasketClient, BasketClient
from basket_lib.api.defaults import DEFAULT_API_VERSION
from basket_lib.api.responses import text_excerpt
from basket_lib.api.retry import backoff_delay, parse_retry_after
from basket_lib.demo.api import DemoApi, DemoResponse
from basket_lib.demo.server import DemoServer
from basket_lib.scan.engine import scan_users_sync

BASE = "https://api.example.test/v2"
KEY = "key-SECRET-0123456789"
TOKEN = "jwt-SECRET-abcdefghij"

BASKET_DATA = {
    "expires": "2025-06-29T08:12:34Z",
    "lastChanged": "2025-06-04T12:34:56Z",
    "cart": [{"productId": "prod-123", "count": 2}, {"productId": "prod-456", "count": 1}],
    "saved": [{"productId": "prod-789", "count": 0}],
    "checkout": [
        {"productId": "prod-123", "count": 1, "stocked": 1},
        {"productId": "prod-456", "count": 1, "stocked": -1},
    ],
}

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def reply(status: int = 200, body: Any = None, **kwargs: Any) -> Callable[..., httpx.Response]:
    """A fresh response per request (a Response object cannot be sent twice)."""
    if body is None and "content" not in kwargs:
        body = {"data": BASKET_DATA}
    payload = {} if body is None else {"json": body}
    return lambda request: httpx.Response(status, **payload, **kwargs)


def api_error(status: int, code: object = 3002, message: str = "Something failed") -> Reply:
    return reply(status, {"data": None, "error": {"code": code, "message": message}})


class Server:
    """Scripted API: answers with the replies in order (the last one repeats), records requests."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies) or [reply()]
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.replies[min(len(self.requests), len(self.replies)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer(request) if callable(answer) else answer

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


class WireApi:
    """A Server's replies sent over a loopback socket (the demo server's HTTP/1.1), for the async
    client's default path (raw aiohttp). Requests reach the Server with the URL
    the test configured, so the same assertions hold; a raised exception closes the connection
    unanswered."""

    stall_seconds = 30.0

    def __init__(self) -> None:
        self.server = Server()
        self.origin = ""

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> DemoResponse:
        request = httpx.Request(method, self.origin + target, headers=headers, content=body)
        try:
            response = self.server(request)
        except Exception:
            return DemoResponse(502, {}, b"", fault="drop")
        content = b"".join(response.stream)  # type: ignore[arg-type]  # as sent, still compressed
        # The demo server writes its own framing headers.
        framing = {"content-length", "transfer-encoding", "connection"}
        kept = {k: v for k, v in response.headers.items() if k.lower() not in framing}
        return DemoResponse(response.status_code, kept, content)


class Api:
    """Builds either client over a Server and runs its calls, awaiting them for the async one.

    Modes: "sync" and "async" send through httpx.MockTransport; "wire" is the async client
    without a transport, i.e. its default aiohttp path, against the Server over 127.0.0.1.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sleeps: list[float] = []
        self._clients: list[BasketClient | AsyncBasketClient] = []
        self._wire: DemoServer | None = None
        # One loop for the whole test: the client's pool belongs to the loop it was opened in.
        self._runner = asyncio.Runner() if mode == "wire" else None

    @property
    def host(self) -> str:
        """The host the client talks to, as error messages name it."""
        return "127.0.0.1" if self._wire else "api.example.test"

    def client(self, server: Server, **options: Any) -> Any:
        options = {"jitter": lambda: 0.5, **options}
        options.setdefault("base_url", BASE)
        options.setdefault("api_key", KEY)
        if self.mode == "sync":
            transport = httpx.MockTransport(server)
            client: Any = BasketClient(transport=transport, sleep=self.sleeps.append, **options)
        else:

            async def sleep(seconds: float) -> None:
                self.sleeps.append(seconds)

            if self.mode == "wire":
                options["base_url"] = self._on_wire(server, options["base_url"])
            else:
                options["transport"] = httpx.MockTransport(server)
            client = AsyncBasketClient(sleep=sleep, **options)
        self._clients.append(client)
        return client

    def _on_wire(self, server: Server, base_url: str) -> str:
        """The loopback address standing in for `base_url`'s origin."""
        if self._wire is None:
            self._wire = DemoServer(api=WireApi(), path_prefix="").start()  # type: ignore[arg-type]
        wire: WireApi = self._wire.api  # type: ignore[assignment]
        wire.server = server
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or "@" in parts.netloc or not parts.hostname:
            return base_url  # a configuration error the client must still report
        wire.origin = f"{parts.scheme}://{parts.netloc}"
        return base_url.replace(wire.origin, self._wire.base_url, 1)

    def run(self, value: Any) -> Any:
        if not inspect.isawaitable(value):
            return value
        return self._runner.run(value) if self._runner else asyncio.run(value)  # type: ignore[arg-type]

    def stream(self, chunks: int, size: int, consumed: list[int]) -> Any:
        """A body of `chunks` chunks that records how many were pulled."""

        def body() -> Iterator[bytes]:
            for index in range(chunks):
                consumed.append(index)
                yield b"x" * size

        async def abody() -> AsyncIterator[bytes]:
            for chunk in body():
                yield chunk

        return body() if self.mode in ("sync", "wire") else abody()

    @property
    def pulls_whole_bodies(self) -> bool:
        """Whether a streamed reply is produced in full whatever the client reads (over the wire
        the server sends it all; the client's cap is tested on its own below)."""
        return self.mode == "wire"

    def close(self) -> None:
        for client in self._clients:
            self.run(client.close() if isinstance(client, BasketClient) else client.aclose())
        if self._runner is not None:
            self._runner.close()
        if self._wire is not None:
            self._wire.stop()


@pytest.fixture(params=["sync", "async", "wire"])
def api(request: pytest.FixtureRequest) -> Iterator[Api]:
    harness = Api(request.param)
    yield harness
    harness.close()


def raises(
    api: Api, call: Callable[[], Any], error: type[errors.BasketError]
) -> errors.BasketError:
    """The error `call` raises, whether it raises at once (sync) or when awaited (async)."""
    with pytest.raises(error) as caught:
        api.run(call())
    return caught.value


# --- requests -----------------------------------------------------------------------------------


def test_get_basket_sends_key_version_and_accept_only(api: Api) -> None:
    server = Server()
    api.run(api.client(server).get_basket("user-1"))
    request = server.last
    assert request.method == "GET"
    assert str(request.url) == f"{BASE}/baskets/users/user-1"
    assert request.headers["X-API-Key"] == KEY
    assert request.headers["x-jay-api-version"] == DEFAULT_API_VERSION
    assert request.headers["Accept"] == "application/json"
    assert "Authorization" not in request.headers
    assert "X-JAY-Tracking" not in request.headers
    assert request.url.query == b""
    assert KEY not in str(request.url)


def test_token_tracking_provider_and_version_are_sent_when_given(api: Api) -> None:
    server = Server()
    client = api.client(server, token=TOKEN, api_version="2026-01-01")
    api.run(client.get_basket("user-1", tracking="  eyJhIjoxfQ==\n", provider_id="netflix"))
    request = server.last
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["X-JAY-Tracking"] == "eyJhIjoxfQ=="
    assert request.headers["x-jay-api-version"] == "2026-01-01"
    assert request.url.params["provider_id"] == "netflix"
    assert request.url.raw_path == b"/v2/baskets/users/user-1?provider_id=netflix"


def test_a_pasted_bearer_prefix_is_not_doubled(api: Api) -> None:
    server = Server()
    api.run(api.client(server, token=f"Bearer {TOKEN}").get_basket("u"))
    assert server.last.headers["Authorization"] == f"Bearer {TOKEN}"


def test_blank_tracking_sends_no_header(api: Api) -> None:
    server = Server()
    api.run(api.client(server).get_basket("u", tracking="   "))
    assert "X-JAY-Tracking" not in server.last.headers


@pytest.mark.parametrize(
    ("base_url", "path"),
    [
        ("https://api.example.test/v2", b"/v2/baskets/users/u"),
        ("https://api.example.test/v2/", b"/v2/baskets/users/u"),
        ("https://api.example.test/a/b//", b"/a/b/baskets/users/u"),
        ("https://api.example.test", b"/baskets/users/u"),
        ("http://127.0.0.1:8080/v2", b"/v2/baskets/users/u"),
    ],
)
def test_base_url_keeps_its_path_prefix(api: Api, base_url: str, path: bytes) -> None:
    server = Server()
    api.run(api.client(server, base_url=base_url).get_basket("u"))
    assert server.last.url.raw_path == path


@pytest.mark.parametrize(
    "user_id",
    ["", " ", "\t", "x" * 257, "x" * 10_000, "a\x00b", "a\rb", "a\nb", "a\x7f", "\x1b", ".", "..",
     "trailing ", None],
)  # fmt: skip
def test_hostile_user_ids_are_rejected_without_a_request(api: Api, user_id: Any) -> None:
    server = Server()
    client = api.client(server)
    raises(api, lambda: client.get_basket(user_id), errors.InvalidUserIdError)
    assert server.requests == []
    assert client.request_count == 0


@pytest.mark.parametrize(
    "user_id",
    ["a/b", "../x", "a?b=c", "a#b", "100%", "%2F", "a b", "😀", "ü-ß",
     "'; DROP TABLE baskets;--", "$(rm -rf /)", "a&b|c`d`", "..%2F..%2Fadmin"],
)  # fmt: skip
@pytest.mark.parametrize("provider_id", [None, "netflix"])
def test_odd_user_ids_travel_as_exactly_one_path_segment(
    api: Api, user_id: str, provider_id: str | None
) -> None:
    server = Server()
    result = api.run(api.client(server).get_basket(user_id, provider_id=provider_id))
    url = server.last.url
    path, _, query = url.raw_path.decode("ascii").partition("?")
    assert path == "/v2/baskets/users/" + quote(user_id.encode(), safe="")
    segments = path.split("/")
    assert segments[:4] == ["", "v2", "baskets", "users"] and len(segments) == 5
    assert unquote(segments[4], errors="strict") == user_id
    assert query == ("provider_id=netflix" if provider_id else "")
    assert url.fragment == ""
    assert result.user_id == user_id


@pytest.mark.parametrize(
    ("tracking", "provider_id"),
    [
        ("abc\r\nX-Evil: 1", None),
        ("a" * 8193, None),
        ("é", None),
        (None, ""),
        (None, "  "),
        (None, "net\nflix"),
    ],
)
def test_bad_tracking_or_provider_is_rejected_without_a_request(
    api: Api, tracking: str | None, provider_id: str | None
) -> None:
    server = Server()
    client = api.client(server)
    call = lambda: client.get_basket("u", tracking=tracking, provider_id=provider_id)  # noqa: E731
    raises(api, call, errors.InvalidInputError)
    assert server.requests == []


# --- successful responses -----------------------------------------------------------------------


def test_basket_result_carries_basket_token_version_and_raw_body(api: Api) -> None:
    body = {"data": BASKET_DATA, "nextToken": "page-2", "someNewField": 1}
    server = Server(reply(200, body, headers={"X-API-Version": "2025-09-15"}))
    before = datetime.now(UTC)
    result = api.run(api.client(server).get_basket("user-1"))
    assert result.user_id == "user-1"
    assert [p.product_id for p in result.basket.cart] == ["prod-123", "prod-456"]
    assert [p.product_id for p in result.basket.failed_reservations] == ["prod-456"]
    assert result.next_token == "page-2"
    assert result.api_version == "2025-09-15"
    assert result.raw == body
    assert result.fetched_at.tzinfo is not None and result.fetched_at >= before


@pytest.mark.parametrize("body", [{"data": None}, {}, {"data": None, "nextToken": None}])
def test_null_or_absent_data_is_an_empty_basket(api: Api, body: dict[str, Any]) -> None:
    result = api.run(api.client(Server(reply(200, body))).get_basket("u"))
    assert result.basket.is_empty
    assert result.next_token is None
    assert result.api_version is None


# --- error statuses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (422, errors.RequestValidationError),
        (429, errors.RateLimitError),
        (500, errors.ServerError),
        (502, errors.ServerError),
        (503, errors.ServerError),
        (504, errors.ServerError),
        (418, errors.UnexpectedStatusError),
    ],
)
@pytest.mark.parametrize("code", [3002, "3002"])
def test_error_statuses_map_to_their_class_with_code_and_message(
    api: Api, status: int, error_class: type[errors.APIStatusError], code: int | str
) -> None:
    server = Server(api_error(status, code, "The request was malformed: userId"))
    error = raises(api, lambda: api.client(server, max_retries=0).get_basket("u"), error_class)
    assert type(error) is error_class
    assert error.status == status
    assert error.api_code == 3002
    assert error.code_info.name == "REQUEST_VALIDATION_ERROR"
    assert error.api_message == "The request was malformed: userId"
    assert "The request was malformed: userId" in str(error)


def test_undocumented_code_is_labelled_as_such(api: Api) -> None:
    server = Server(api_error(422, 2019, "Odd"))
    error = raises(api, lambda: api.client(server).get_basket("u"), errors.RequestValidationError)
    assert error.code_info.name == "undocumented code 2019"
    assert "undocumented code 2019" in str(error)
    assert "Odd" in str(error)


# Not a whole number within int64 (what the scan database's BIGINT holds): no code at all, and
# the status still decides the class. int() alone would read "²" and "1_000", raise on "--5"
# (which passes str.isdigit after lstrip("-")) and take seconds over thousands of digits.
@pytest.mark.parametrize(
    "code",
    ["--5", "\u00b2", "\u0663", "1_000", "9" * 5000, 10**20, -(2**63) - 1, True, 2.5],
    ids=["double-minus", "superscript", "arabic-digit", "underscore", "5000-digits", "1e20",
         "below-int64", "true", "fraction"],
)  # fmt: skip
def test_a_code_that_is_not_a_whole_int64_is_left_out_of_an_error_status(
    api: Api, code: object
) -> None:
    server = Server(api_error(400, code, "bad"))
    error = raises(
        api, lambda: api.client(server, max_retries=0).get_basket("u"), errors.BadRequestError
    )
    assert error.api_code is None
    assert error.api_message == "bad"


@pytest.mark.parametrize(
    ("code", "read"), [(" 3002 ", 3002), ("-3002", -3002), (2**63 - 1, 2**63 - 1)]
)
def test_codes_within_int64_are_read(api: Api, code: object, read: int) -> None:
    server = Server(api_error(400, code, "bad"))
    error = raises(
        api, lambda: api.client(server, max_retries=0).get_basket("u"), errors.BadRequestError
    )
    assert error.api_code == read


@pytest.mark.parametrize("code", [10**20, "--5"])
def test_an_error_envelope_on_200_with_an_unreadable_code_is_a_schema_error(
    api: Api, code: object
) -> None:
    server = Server(api_error(200, code, "bad"))
    error = raises(api, lambda: api.client(server).get_basket("u"), errors.ResponseValidationError)
    assert "error.code" in error.message


def test_error_envelope_on_200_is_an_error(api: Api) -> None:
    server = Server(api_error(200, 1010, "Tracking session invalid"))
    error = raises(api, lambda: api.client(server).get_basket("u"), errors.UnexpectedStatusError)
    assert (error.status, error.api_code) == (200, 1010)
    assert error.code_info.name == "TRACKING_NOT_VALID"


def test_error_status_without_an_envelope_still_maps_by_status(api: Api) -> None:
    server = Server(reply(404, {"detail": "Not Found"}))
    error = raises(api, lambda: api.client(server).get_basket("u"), errors.NotFoundError)
    assert error.message == "Not Found"
    assert error.api_code is None


def test_error_status_with_empty_body_maps_by_status(api: Api) -> None:
    server = Server(reply(401, content=b""))
    error = raises(api, lambda: api.client(server).get_basket("u"), errors.AuthenticationError)
    assert error.status == 401


# --- retries ------------------------------------------------------------------------------------


def test_503_then_200_succeeds_after_one_backoff(api: Api) -> None:
    server = Server(api_error(503), reply())
    client = api.client(server)
    result = api.run(client.get_basket("u"))
    assert not result.basket.is_empty
    assert client.request_count == 2
    assert api.sleeps == [0.25]  # full jitter 0.5 of the first step, 0.5 s


def test_html_502_from_a_proxy_is_retried(api: Api) -> None:
    html = b"<html><body>Bad Gateway</body></html>"
    page = reply(502, content=html, headers={"Content-Type": "text/html"})
    server = Server(page, reply())
    assert not api.run(api.client(server).get_basket("u")).basket.is_empty
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("retry_after", "cap", "expected"),
    [
        ("3", 30.0, 3.0),
        ("0", 30.0, 0.0),
        ("1.5", 30.0, 1.5),
        ("120", 30.0, 30.0),
        ("120", 5.0, 5.0),
    ],
)
def test_retry_after_seconds_are_honoured_and_capped(
    api: Api, retry_after: str, cap: float, expected: float
) -> None:
    server = Server(reply(429, content=b"", headers={"Retry-After": retry_after}), reply())
    api.run(api.client(server, retry_after_cap=cap).get_basket("u"))
    assert api.sleeps == [expected]


def test_retry_after_http_date_is_honoured_and_capped(api: Api) -> None:
    now = datetime.now(UTC)
    dates = [now + timedelta(seconds=20), now + timedelta(hours=1), now - timedelta(hours=1)]
    server = Server(
        *(
            reply(503, content=b"", headers={"Retry-After": format_datetime(d, usegmt=True)})
            for d in dates
        ),
        reply(),
    )
    api.run(api.client(server, max_retries=3).get_basket("u"))
    soon, capped, past = api.sleeps
    assert 10.0 < soon <= 20.0  # whole seconds on the wire; a generous margin, never a wait
    assert capped == 30.0
    assert past == 0.0


def test_unreadable_retry_after_falls_back_to_backoff(api: Api) -> None:
    server = Server(reply(503, content=b"", headers={"Retry-After": "soon"}), reply())
    api.run(api.client(server).get_basket("u"))
    assert api.sleeps == [0.25]


def test_backoff_grows_exponentially_and_is_jittered(api: Api) -> None:
    jitter = iter([1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.0]).__next__
    server = Server(api_error(503))
    client = api.client(server, max_retries=7, jitter=jitter)
    with pytest.raises(errors.ServerError):
        api.run(client.get_basket("u"))
    # Growing ceilings (0.5, 1, 2, 4, 8, capped 8), scaled by the jitter draw.
    assert api.sleeps[:7] == [0.5, 1.0, 2.0, 4.0, 8.0, 4.0, 0.0]


def test_backoff_helpers() -> None:
    assert backoff_delay(0, lambda: 1.0) == 0.5
    assert backoff_delay(3, lambda: 0.25) == 1.0
    assert backoff_delay(1000, lambda: 1.0) == 8.0
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:07 GMT", now=now) == 7.0
    assert parse_retry_after("7", now=now) == 7.0
    assert parse_retry_after("-7", now=now) is None
    assert parse_retry_after("", now=now) is None
    assert parse_retry_after(None, now=now) is None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 500, 418])
def test_no_retry_on_non_transient_statuses(api: Api, status: int) -> None:
    server = Server(api_error(status), reply())
    client = api.client(server)
    with pytest.raises(errors.APIStatusError):
        api.run(client.get_basket("u"))
    assert client.request_count == 1
    assert api.sleeps == []


@pytest.mark.parametrize(
    ("failure", "error_class"),
    [
        (httpx.ConnectError("Connection refused"), errors.APIConnectionError),
        (httpx.RemoteProtocolError("Server disconnected"), errors.APIConnectionError),
        (httpx.ReadError("reset by peer"), errors.APIConnectionError),
        (httpx.ConnectTimeout("timed out"), errors.APITimeoutError),
        (httpx.ReadTimeout("timed out"), errors.APITimeoutError),
    ],
)
def test_transport_failures_are_retried_then_raised(
    api: Api, failure: Exception, error_class: type[errors.BasketError]
) -> None:
    if api.mode == "wire":
        # On the wire every failure is a connection closed unanswered; timeouts are tested below.
        error_class = errors.APIConnectionError
    server = Server(failure, reply())
    assert not api.run(api.client(server).get_basket("u")).basket.is_empty
    assert len(server.requests) == 2

    server = Server(failure)
    client = api.client(server, max_retries=2)
    error = raises(api, lambda: client.get_basket("u"), error_class)
    assert type(error) is error_class
    assert api.host in error.message
    assert client.request_count == 3


@pytest.mark.parametrize("max_retries", [0, 1, 4])
def test_attempts_are_bounded_and_the_last_error_is_raised(api: Api, max_retries: int) -> None:
    replies = [api_error(503, message=f"attempt {n + 1}") for n in range(max_retries)]
    server = Server(*replies, api_error(429, message="last attempt"), reply())
    client = api.client(server, max_retries=max_retries)
    error = raises(api, lambda: client.get_basket("u"), errors.RateLimitError)
    assert error.message == "last attempt"
    assert client.request_count == max_retries + 1
    assert len(api.sleeps) == max_retries


# --- redirects, size, format --------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_never_followed(api: Api, status: int) -> None:
    location = "https://evil.example/steal?where=here"
    server = Server(reply(status, content=b"", headers={"Location": location}), reply())
    error = raises(api, lambda: api.client(server).get_basket("u"), errors.UnexpectedStatusError)
    assert len(server.requests) == 1
    assert error.status == status
    assert "redirected" in error.message and "host evil.example" in error.message
    assert "steal" not in error.message


def test_same_host_redirect_is_reported_too(api: Api) -> None:
    server = Server(reply(301, content=b"", headers={"Location": "/v3/baskets/users/u"}))
    error = raises(api, lambda: api.client(server).get_basket("u"), errors.UnexpectedStatusError)
    assert f"same host {api.host}" in error.message
    assert len(server.requests) == 1


def test_redirect_to_an_unparsable_location_is_not_a_retried_network_error(api: Api) -> None:
    server = Server(reply(302, content=b"", headers={"Location": "http://[::1"}))
    client = api.client(server)
    error = raises(api, lambda: client.get_basket("u"), errors.UnexpectedStatusError)
    assert "redirected" in error.message and "invalid location" in error.message
    assert client.request_count == 1


def test_declared_content_length_over_the_cap_is_not_read(api: Api) -> None:
    consumed: list[int] = []
    body = api.stream(chunks=100, size=1000, consumed=consumed)
    headers = {"Content-Length": "100000"}
    server = Server(lambda request: httpx.Response(200, content=body, headers=headers))
    client = api.client(server, max_response_bytes=4096)
    error = raises(api, lambda: client.get_basket("u"), errors.ResponseTooLargeError)
    assert "100,000 bytes" in error.message
    assert consumed == [] or api.pulls_whole_bodies


def test_streamed_body_over_the_cap_stops_reading(api: Api) -> None:
    consumed: list[int] = []
    body = api.stream(chunks=1000, size=1024, consumed=consumed)
    server = Server(lambda request: httpx.Response(200, content=body))
    client = api.client(server, max_response_bytes=4096)
    error = raises(api, lambda: client.get_basket("u"), errors.ResponseTooLargeError)
    assert "4,096-byte limit" in error.message
    # The cap plus one chunk, not the 1000 on offer.
    assert len(consumed) <= 6 or api.pulls_whole_bodies


def test_body_exactly_at_the_cap_is_accepted(api: Api) -> None:
    content = json.dumps({"data": BASKET_DATA}).encode()
    server = Server(reply(200, content=content))
    client = api.client(server, max_response_bytes=len(content))
    assert not api.run(client.get_basket("u")).basket.is_empty
    client = api.client(Server(reply(200, content=content)), max_response_bytes=len(content) - 1)
    raises(api, lambda: client.get_basket("u"), errors.ResponseTooLargeError)


HTML_502 = b"""<!DOCTYPE html><html><head><title>502 Bad Gateway</title>
<style>body { color: red }</style><script>var leak = 1;</script></head>
<body><h1>502   Bad&nbsp;Gateway</h1>\n\n<hr><center>nginx</center></body></html>"""


def test_html_error_page_is_a_format_error_with_a_plain_excerpt(api: Api) -> None:
    server = Server(reply(502, content=HTML_502, headers={"Content-Type": "text/html"}))
    error = raises(
        api, lambda: api.client(server, max_retries=0).get_basket("u"), errors.ResponseFormatError
    )
    assert error.status == 502
    assert "HTTP 502" in error.message and "text/html" in error.message
    assert '"502 Bad Gateway 502 Bad Gateway nginx"' in error.message
    assert "<" not in error.message and "leak" not in error.message and "color" not in error.message


def test_excerpt_is_short() -> None:
    excerpt = text_excerpt(b"<p>" + b"word " * 1000 + b"</p>")
    assert len(excerpt) <= 200 and excerpt.endswith("…")
    assert text_excerpt(b"a\x00b\r\n\tc") == "a b c"


def test_truncated_json_is_a_format_error(api: Api) -> None:
    content = b'{"data": {"cart": [{"productId": "p'
    server = Server(reply(200, content=content, headers={"Content-Type": "application/json"}))
    error = raises(api, lambda: api.client(server).get_basket("u"), errors.ResponseFormatError)
    assert "HTTP 200" in error.message and "application/json" in error.message
    assert "not valid JSON" in error.message and "cut off" in error.message


def test_empty_200_body_is_a_format_error(api: Api) -> None:
    server = Server(reply(200, content=b""))
    error = raises(api, lambda: api.client(server).get_basket("u"), errors.ResponseFormatError)
    assert "an empty body" in error.message


def test_schema_mismatch_names_the_field_paths(api: Api) -> None:
    data = {"cart": [{"count": 1}, {"productId": "p", "count": "many"}], "expires": "soon"}
    server = Server(reply(200, {"data": data}))
    error = raises(api, lambda: api.client(server).get_basket("u"), errors.ResponseValidationError)
    assert "data.cart.0.productId: Field required" in error.message
    assert "data.cart.1.count" in error.message
    assert "data.expires" in error.message
    problems = error.details["problems"]
    assert {p["field"] for p in problems} >= {"data.cart.0.productId", "data.cart.1.count"}
    # The response itself travels with the error, for the agent to escalate with.
    assert error.details["response"] == {"data": data}


@pytest.mark.parametrize("body", [[], "basket", 3, None])
def test_json_that_is_not_an_object_is_a_validation_error(api: Api, body: Any) -> None:
    server = Server(reply(200, content=json.dumps(body).encode()))
    error = raises(api, lambda: api.client(server).get_basket("u"), errors.ResponseValidationError)
    assert "expected an object" in error.message
    assert error.details == {"response": body}


# --- product details ----------------------------------------------------------------------------

DETAILS = {
    "data": {
        "products": [
            {"productId": "p1", "name": "Mug", "price": "29.99", "currency": "EUR"},
            {"productId": "p2", "name": "Cap", "currentStockCount": -1},
        ]
    }
}


def test_product_details_posts_distinct_ids_and_returns_them_by_id(api: Api) -> None:
    server = Server(reply(200, DETAILS))
    client = api.client(server, token=TOKEN)
    details = api.run(client.get_product_details(["p1", "p2", "p1"]))
    request = server.last
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/baskets/products/details"
    assert json.loads(request.content) == ["p1", "p2"]
    assert request.headers["X-API-Key"] == KEY
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert set(details) == {"p1", "p2"}
    assert (details["p1"].price, details["p1"].currency) == (Decimal("29.99"), "EUR")
    assert details["p2"].current_stock_count == -1


def test_product_details_of_nothing_sends_no_request(api: Api) -> None:
    server = Server()
    client = api.client(server)
    assert api.run(client.get_product_details([])) == {}
    assert server.requests == [] and client.request_count == 0


def test_product_details_rejects_a_bare_string(api: Api) -> None:
    server = Server()
    raises(api, lambda: api.client(server).get_product_details("p1"), errors.InvalidInputError)
    assert server.requests == []


def test_product_details_are_retried_and_mapped_like_the_basket(api: Api) -> None:
    server = Server(api_error(503), reply(200, DETAILS))
    assert set(api.run(api.client(server).get_product_details(["p1"]))) == {"p1", "p2"}
    assert len(server.requests) == 2 and api.sleeps == [0.25]
    server = Server(api_error(401, 2002, "Authorization header invalid"))
    raises(api, lambda: api.client(server).get_product_details(["p1"]), errors.AuthenticationError)


def test_product_details_null_data_is_empty(api: Api) -> None:
    server = Server(reply(200, {"data": None}))
    assert api.run(api.client(server).get_product_details(["p1"])) == {}


# --- secrets ------------------------------------------------------------------------------------


def _assert_no_secret(error: BaseException) -> None:
    for text in (str(error), repr(error), repr(getattr(error, "details", None))):
        assert KEY not in text and TOKEN not in text


def test_echoed_key_and_token_never_reach_error_text(api: Api) -> None:
    echo = {
        "error": {
            "code": 2002,
            "message": f"Bad key {KEY} / {TOKEN}",
            "details": {"key": KEY, "headers": [f"Bearer {TOKEN}"]},
        }
    }
    page = f"<html><body>Denied for {KEY} {TOKEN}</body></html>".encode()
    cases: list[tuple[Reply, type[errors.BasketError]]] = [
        (reply(401, echo), errors.AuthenticationError),
        (reply(200, echo), errors.UnexpectedStatusError),
        (
            reply(403, content=page, headers={"Content-Type": "text/html"}),
            errors.ResponseFormatError,
        ),
        (httpx.ConnectError(f"failed sending {KEY}"), errors.APIConnectionError),
    ]
    if api.mode == "wire":
        cases.pop()  # a connection closed on the wire carries no text
    for answer, error_class in cases:
        server = Server(answer)
        client = api.client(server, token=TOKEN, max_retries=0)
        error = raises(api, functools.partial(client.get_basket, "u"), error_class)
        assert "[redacted]" in str(error)
        _assert_no_secret(error)


def test_client_repr_shows_url_and_version_but_no_secret(api: Api) -> None:
    client = api.client(Server(), token=TOKEN)
    text = repr(client)
    assert client.base_url in text and DEFAULT_API_VERSION in text
    assert KEY not in text and TOKEN not in text and KEY not in str(client)


# --- configuration and lifecycle ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"base_url": "ftp://api.example.test"}, "https://"),
        ({"base_url": ""}, "empty"),
        ({"base_url": f"https://user:{KEY}@api.example.test/v2"}, "credentials"),
        ({"base_url": f"{BASE}?key=1"}, "query"),
        ({"api_key": ""}, "API key is empty"),
        ({"api_key": KEY + "\n" + KEY}, "cannot be sent in a header"),
        ({"token": TOKEN + "\x00"}, "cannot be sent in a header"),
        ({"api_version": " "}, "API version is empty"),
        ({"timeout": 0}, "positive number"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_response_bytes": 0}, "max_response_bytes"),
    ],
)
def test_bad_configuration_is_rejected_without_echoing_secrets(
    api: Api, options: dict[str, Any], expected: str
) -> None:
    with pytest.raises(errors.ConfigurationError) as caught:
        api.client(Server(), **options)
    assert expected in caught.value.message
    _assert_no_secret(caught.value)


def test_timeouts_default_to_10_s_with_a_5_s_connect(api: Api) -> None:
    client = api.client(Server())
    assert client.timeout == httpx.Timeout(10.0, connect=5.0)
    assert api.client(Server(), timeout=2).timeout == httpx.Timeout(2.0, connect=2.0)
    custom = httpx.Timeout(1.0)
    assert api.client(Server(), timeout=custom).timeout is custom


def test_sync_client_is_a_context_manager() -> None:
    with BasketClient(BASE, KEY, transport=httpx.MockTransport(Server())) as client:
        assert not client.get_basket("u").basket.is_empty
    assert client._http.is_closed


def test_async_client_is_an_async_context_manager() -> None:
    async def scenario() -> AsyncBasketClient:
        transport = httpx.MockTransport(Server())
        async with AsyncBasketClient(BASE, KEY, transport=transport) as client:
            assert not (await client.get_basket("u")).basket.is_empty
        return client

    assert asyncio.run(scenario())._sender.http.is_closed  # type: ignore[attr-defined]


def test_both_clients_take_the_same_arguments() -> None:
    sync = inspect.signature(BasketClient.__init__).parameters
    asynchronous = inspect.signature(AsyncBasketClient.__init__).parameters
    assert list(sync) == list(asynchronous)
    differing = {name for name in sync if sync[name].default is not asynchronous[name].default}
    assert differing == {"sleep"}


# --- the async client's own HTTP path -----------------------------------------------------------


def test_a_compressed_body_is_capped_after_decompression(api: Api) -> None:
    content = gzip.compress(json.dumps({"data": BASKET_DATA, "pad": "x" * 100_000}).encode())
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    server = Server(reply(200, content=content, headers=headers))
    client = api.client(server, max_response_bytes=len(content) * 2)
    error = raises(api, lambda: client.get_basket("u"), errors.ResponseTooLargeError)
    assert "limit; reading was stopped" in error.message
    small = gzip.compress(json.dumps({"data": BASKET_DATA}).encode())
    server = Server(reply(200, content=small, headers=headers))
    assert not api.run(api.client(server).get_basket("u")).basket.is_empty


def test_a_body_that_does_not_decompress_is_a_format_error(api: Api) -> None:
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    corrupt = httpx.ByteStream(b"not gzip at all")  # a stream: httpx decodes it only when read
    server = Server(lambda request: httpx.Response(200, headers=headers, stream=corrupt))
    error = raises(api, lambda: api.client(server).get_basket("u"), errors.ResponseFormatError)
    assert "could not be decoded" in error.message
    assert len(server.requests) == 1  # not retried: sending it again would not help


@pytest.fixture
def demo_server() -> Iterator[DemoServer]:
    with DemoServer(api=DemoApi(api_key=KEY)) as server:
        yield server


def test_without_a_transport_the_client_opens_its_session_in_the_loop_and_closes_it(
    demo_server: DemoServer,
) -> None:
    client = AsyncBasketClient(demo_server.base_url, KEY, max_connections=4)  # outside any loop
    sender = client._sender
    assert sender.session is None  # type: ignore[attr-defined]

    async def scan() -> Any:
        results = await asyncio.gather(*(client.get_basket(f"user-{n:05d}") for n in range(1, 9)))
        session = sender.session  # type: ignore[attr-defined]
        assert session is not None and not session.closed
        await client.aclose()
        return results, session

    results, session = asyncio.run(scan())
    assert [r.user_id for r in results] == [f"user-{n:05d}" for n in range(1, 9)]
    assert session.closed and sender.session is None  # type: ignore[attr-defined]
    # Four connections carried the eight requests: kept alive and capped by max_connections.
    assert demo_server.connections_accepted == 4
    with pytest.raises(RuntimeError, match="client has been closed"):
        asyncio.run(client.get_basket("user-00001"))


def test_a_client_is_bound_to_the_loop_it_first_ran_in(demo_server: DemoServer) -> None:
    client = AsyncBasketClient(demo_server.base_url, KEY)
    with asyncio.Runner() as first:
        first.run(client.get_basket("demo-normal"))
        with pytest.raises(RuntimeError, match="another event loop"):
            asyncio.run(client.get_basket("demo-normal"))
        first.run(client.aclose())


def _wire_client(base_url: str, **options: Any) -> AsyncBasketClient:
    async def no_sleep(seconds: float) -> None:
        pass

    return AsyncBasketClient(base_url, KEY, sleep=no_sleep, jitter=lambda: 0.0, **options)


async def _fetch(client: AsyncBasketClient, user_id: str) -> Any:
    async with client:
        return await client.get_basket(user_id)


def test_connection_refused_is_retried_then_names_the_host() -> None:
    with DemoServer() as server:
        base_url = server.base_url  # a port that was free a moment ago and is closed now
    client = _wire_client(base_url, max_retries=2)
    with pytest.raises(errors.APIConnectionError) as caught:
        asyncio.run(_fetch(client, "u"))
    assert type(caught.value) is errors.APIConnectionError
    assert f"Could not connect to the API at 127.0.0.1:{urlsplit(base_url).port}" in str(
        caught.value
    )
    assert client.request_count == 3


def test_a_dropped_connection_is_retried(demo_server: DemoServer) -> None:
    client = _wire_client(demo_server.base_url, max_retries=1)
    with pytest.raises(errors.APIConnectionError, match="closed the connection"):
        asyncio.run(_fetch(client, "demo-fault-drop"))
    assert client.request_count == demo_server.requests_by_user["demo-fault-drop"] == 2


def test_an_unanswered_request_times_out_while_waiting_for_the_response(
    demo_server: DemoServer,
) -> None:
    client = _wire_client(demo_server.base_url, max_retries=0, timeout=0.2)
    with pytest.raises(errors.APITimeoutError, match="timed out while waiting for the response"):
        asyncio.run(_fetch(client, "demo-fault-timeout"))


def test_an_endless_chunked_body_stops_at_the_cap() -> None:
    sent = 0
    closed = threading.Event()

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
        try:
            while sent < 256 * 1024 * 1024:
                writer.write(chunk)
                await writer.drain()
                sent += 65536
        except ConnectionError:
            pass
        finally:
            writer.close()
            closed.set()

    async def scenario() -> errors.BasketError:
        listener = await asyncio.start_server(endless, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        client = _wire_client(f"http://127.0.0.1:{port}", max_response_bytes=100_000)
        try:
            with pytest.raises(errors.ResponseTooLargeError) as caught:
                await _fetch(client, "u")
            await asyncio.wait_for(asyncio.to_thread(closed.wait), 10)
        finally:
            listener.close()
        return caught.value

    error = asyncio.run(scenario())
    assert "100,000-byte limit" in error.message
    assert sent < 32 * 1024 * 1024  # what socket buffers hold, not the 256 MiB on offer


def test_cookies_set_by_the_api_are_not_sent_back(api: Api) -> None:
    server = Server(reply(headers={"Set-Cookie": "session=abc; Path=/"}))
    client = api.client(server)
    api.run(client.get_basket("u1"))
    api.run(client.get_basket("u2"))
    if api.mode == "wire":
        assert "cookie" not in server.last.headers


def test_proxy_variables_apply_unless_no_proxy_names_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTP_PROXY sends the default path's requests to the proxy; NO_PROXY exempts the host."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    request_lines: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_lines.append(head.split(b"\r\n", 1)[0])
        writer.write(OK_ANSWER)
        await writer.drain()
        writer.close()

    async def scenario() -> tuple[Any, BaseException | None]:
        listener = await asyncio.start_server(proxy, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        try:
            async with _wire_client("http://api.example.test/v2", max_retries=0) as client:
                proxied = await client.get_basket("u")
            monkeypatch.setenv("NO_PROXY", "api.example.test")
            async with _wire_client("http://api.example.test/v2", max_retries=0) as client:
                try:
                    await client.get_basket("u")
                except errors.APIError as exc:
                    return proxied, exc
            return proxied, None
        finally:
            listener.close()

    proxied, direct_error = asyncio.run(scenario())
    assert proxied.basket.is_empty
    assert request_lines == [b"GET http://api.example.test/v2/baskets/users/u HTTP/1.1"]
    # Exempted, the request goes to api.example.test itself, which does not exist.
    assert isinstance(direct_error, errors.APIConnectionError)
    assert "Could not connect to the API at api.example.test" in direct_error.message


def test_a_bulk_scan_over_the_wire_reads_every_basket(demo_server: DemoServer) -> None:
    user_ids = [f"user-{n:05d}" for n in range(1, 301)] + ["demo-fault-404"]
    report = scan_users_sync(
        lambda: AsyncBasketClient(demo_server.base_url, KEY, max_connections=16),
        user_ids,
        concurrency=16,
    )
    assert report.scanned == 300 and [e.user_id for e in report.errors] == ["demo-fault-404"]
    assert sum(demo_server.requests_by_user.values()) == 301
    assert demo_server.connections_accepted == 16


# --- the default (aiohttp) path against scripted servers ---------------------------------------


def _scripted(answers: list[bytes | None]) -> Callable[..., Any]:
    """A loopback server answering the n-th request (on any connection) with answers[n];
    None closes that connection unanswered. Yields (port, connections accepted)."""
    state = {"requests": 0, "connections": 0}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state["connections"] += 1
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                answer = answers[min(state["requests"], len(answers) - 1)]
                state["requests"] += 1
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def run(scenario: Callable[[str], Awaitable[Any]]) -> tuple[Any, dict[str, int]]:
        listener = await asyncio.start_server(handle, "127.0.0.1", 0)
        try:
            port = listener.sockets[0].getsockname()[1]
            return await scenario(f"http://127.0.0.1:{port}"), state
        finally:
            listener.close()

    return run


OK_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n" + (
    b'{"data": null}'
)


def test_a_kept_alive_connection_closed_unanswered_is_one_failed_attempt() -> None:
    async def scenario(base_url: str) -> int:
        async with _wire_client(base_url, max_retries=1) as client:
            await client.get_basket("a")
            await client.get_basket("b")  # its connection is closed before it is answered
            return client.request_count

    count, state = asyncio.run(_scripted([OK_ANSWER, None, OK_ANSWER])(scenario))
    # The client counts what the server saw: no request is sent again behind its back.
    assert count == state["requests"] == 3 and state["connections"] == 2


def test_a_closing_answer_is_followed_by_a_new_connection() -> None:
    closing = OK_ANSWER.replace(b"Content-Length", b"Connection: close\r\nContent-Length")

    async def scenario(base_url: str) -> None:
        async with _wire_client(base_url) as client:
            for user_id in ("a", "b", "c"):
                await client.get_basket(user_id)

    _, state = asyncio.run(_scripted([closing])(scenario))
    assert state == {"requests": 3, "connections": 3}


def test_a_cancelled_request_is_cancelled_and_its_connection_closed(
    demo_server: DemoServer,
) -> None:
    async def scenario() -> Any:
        async with _wire_client(demo_server.base_url, max_connections=1) as client:
            stalled = asyncio.ensure_future(client.get_basket("demo-fault-timeout"))
            assert await asyncio.to_thread(demo_server.wait_for_requests, 1)
            stalled.cancel()
            with pytest.raises(asyncio.CancelledError):
                await stalled
            session = client._sender.session  # type: ignore[attr-defined]
            assert session is not None and not session.connector._conns
            # The connection's slot is free again.
            return await client.get_basket("demo-normal")

    assert not asyncio.run(scenario()).basket.is_empty


def test_the_package_names_resolve_on_first_use() -> None:
    # basket_lib/__init__ loads its names lazily: each listed name must lead to the real object.
    import basket_lib
    from basket_lib.api import client, models
    from basket_lib.tracking import decode_tracking

    assert set(basket_lib.__all__) == set(basket_lib._HOMES)
    assert basket_lib.AsyncBasketClient is client.AsyncBasketClient
    assert basket_lib.BasketResult is models.BasketResult
    assert basket_lib.decode_tracking is decode_tracking
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        basket_lib.nope  # noqa: B018
