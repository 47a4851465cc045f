"""Hostile input on every surface (issue 4 §2), one table per surface.

Each row ends in a specific, readable error or a faithful result, and every faithful result
survives the display side (tables, metrics, expiry text, the timeline chart, the cache's pickling,
Arrow conversion as st.dataframe does it). No row may end in any other exception.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import pickle
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from babel import Locale
from streamlit import dataframe_util

from basket_lib.api import errors
from basket_lib.api.client import AsyncBasketClient, BasketClient
from basket_lib.api.errors import (
    BasketError,
    InvalidInputError,
    InvalidUserIdError,
    RequestValidationError,
    ResponseFormatError,
    ResponseTooLargeError,
    ResponseValidationError,
    ServerError,
    TrackingDecodeError,
    TrackingNotBase64Error,
    TrackingNotJsonError,
    TrackingNotObjectError,
    TrackingNotUtf8Error,
    TrackingTooLargeError,
    UnexpectedStatusError,
)
from basket_lib.api.models import MAX_JSON_DEPTH, BasketResult
from basket_lib.scan.inputs import MAX_SCAN_USERS, MAX_UPLOAD_BYTES, parse_uploaded_csv
from basket_lib.simulator import DemoApi, DemoServer
from basket_lib.tracking import decode_tracking
from basket_lib.views import tables, timeline, times
from basket_lib.views.text import describe_error

BASE = "http://api.hostile.test/v2"
KEY = "hostile-key-SECRET-4711"
NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
ZONES = (None, "UTC", "Europe/Berlin", "Pacific/Kiritimati", "Etc/GMT+12", "Not/AZone")
# The two zones furthest from UTC, either side.
CHART_ZONES = ("Pacific/Kiritimati", "Etc/GMT+12")


class Recorder:
    """A MockTransport handler that answers from the demo API and keeps every request."""

    def __init__(self) -> None:
        self.api = DemoApi()
        self.requests: list[httpx.Request] = []
        self.decoded_users: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.api.handle(
            request.method, request.url.raw_path.decode("ascii"), request.headers, b""
        )
        self.decoded_users.append(answer.user_id)
        return httpx.Response(answer.status, headers=answer.headers, content=answer.body)


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> BasketClient:
    return BasketClient(BASE, KEY, transport=httpx.MockTransport(handler), max_retries=0)


def _assert_displayable(text: str) -> None:
    # What Streamlit's protobuf messages and every file export do with text.
    text.encode("utf-8")


# --- user ids -------------------------------------------------------------------------------------

REJECTED_USER_IDS = [
    pytest.param("", "empty", id="empty"),
    pytest.param(" ", "only whitespace", id="blank"),
    pytest.param(" \t  ", "only whitespace", id="blanks-and-tab"),
    pytest.param("x" * 10_000, "10000 characters long", id="10000-chars"),
    pytest.param("user\x00id", "U+0000 NUL", id="nul"),
    pytest.param("user\nid", "line feed", id="line-feed"),
    pytest.param("user\rid", "carriage return", id="carriage-return"),
    pytest.param("\x1b[31mred", "escape", id="ansi-escape"),
    pytest.param("user\x7f", "DEL", id="del"),
    pytest.param("user\x85", "control character", id="c1-control"),
    pytest.param(".", "cannot be '.'", id="dot"),
    pytest.param("..", "cannot be '..'", id="dot-dot"),
    pytest.param(" user-1", "leading or trailing whitespace", id="leading-space"),
    pytest.param("user-1 ", "leading or trailing whitespace", id="trailing-space"),
    pytest.param("user\ud800", "lone surrogate", id="lone-surrogate"),
    pytest.param("\u200fuser\u200e", "invisible character at position 1", id="rtl-ltr-marks"),
    pytest.param("\u202eresu", "U+202E RIGHT-TO-LEFT OVERRIDE", id="rtl-override"),
    pytest.param("user\u200b1", "U+200B ZERO WIDTH SPACE", id="zero-width-space"),
    pytest.param("user\ufeff1", "U+FEFF ZERO WIDTH NO-BREAK SPACE", id="byte-order-mark"),
]


@pytest.mark.parametrize(("user_id", "reason"), REJECTED_USER_IDS)
def test_user_ids_that_cannot_be_ids_are_refused_before_any_request(
    user_id: str, reason: str
) -> None:
    recorder = Recorder()
    with _client(recorder) as client, pytest.raises(InvalidUserIdError) as raised:
        client.get_basket(user_id)
    assert reason in raised.value.message
    assert recorder.requests == []
    # The message quotes no more than a few characters of the id and is printable text.
    assert len(raised.value.message) < 200
    _assert_displayable(raised.value.message)


SENT_USER_IDS = [
    pytest.param("../x", id="dot-dot-slash"),
    pytest.param("../../admin", id="traversal"),
    pytest.param("a/b", id="slash"),
    pytest.param("?", id="question-mark"),
    pytest.param("#", id="hash"),
    pytest.param("%", id="percent"),
    pytest.param("%2F", id="encoded-slash"),
    pytest.param("%2e%2e", id="encoded-dot-dot"),
    pytest.param("%00", id="encoded-nul"),
    pytest.param("user 1", id="inner-space"),
    pytest.param("user\u00a01", id="no-break-space"),
    pytest.param("🛒👩‍👩‍👧", id="emoji"),
    pytest.param("用户", id="cjk"),
    pytest.param("'; DROP TABLE baskets;--", id="sql"),
    pytest.param('" OR 1=1 --', id="sql-quote"),
    pytest.param("$(rm -rf /)", id="shell-subst"),
    pytest.param("`id`", id="backticks"),
    pytest.param("a|b", id="pipe"),
    pytest.param("a && b", id="and-and"),
    pytest.param("a;b", id="semicolon"),
    pytest.param("a\\b", id="backslash"),
    pytest.param("user-1?x=1#frag", id="query-and-fragment"),
    pytest.param("a+b", id="plus"),
    pytest.param("<script>alert(1)</script>", id="html"),
    pytest.param("x" * 256, id="256-chars"),
]
_ONE_ENCODED_SEGMENT = re.compile(r"(?:[A-Za-z0-9_.~-]|%[0-9A-F]{2})+")


@pytest.mark.parametrize("user_id", SENT_USER_IDS)
def test_other_user_ids_are_sent_as_exactly_one_encoded_path_segment(user_id: str) -> None:
    recorder = Recorder()
    with _client(recorder) as client:
        try:
            result: BasketResult | BasketError = client.get_basket(user_id)
        except BasketError as exc:
            result = exc
    # The demo API refuses most of these ids with a 422; the real API may do either.
    assert isinstance(result, BasketResult | RequestValidationError)
    assert len(recorder.requests) == 1
    url = recorder.requests[0].url
    assert url.query == b"" and url.fragment == ""
    prefix, segment = url.raw_path.decode("ascii").rsplit("/", 1)
    assert prefix == "/v2/baskets/users"
    assert _ONE_ENCODED_SEGMENT.fullmatch(segment)
    assert segment == quote(user_id.encode("utf-8"), safe="")
    assert unquote(segment) == user_id
    assert recorder.decoded_users == [user_id]


async def _fetch_all_async(base_url: str, user_ids: list[str]) -> None:
    # No transport: the async client's own default HTTP path, as bulk scans use it.
    async with AsyncBasketClient(base_url, KEY, max_retries=0) as client:
        for user_id in user_ids:
            with contextlib.suppress(RequestValidationError):
                await client.get_basket(user_id)


@pytest.mark.parametrize("client_kind", ["sync", "async"])
def test_every_sent_user_id_round_trips_through_the_loopback_server(client_kind: str) -> None:
    user_ids = [param.values[0] for param in SENT_USER_IDS]
    with DemoServer() as server:
        if client_kind == "async":
            asyncio.run(_fetch_all_async(server.base_url, user_ids))
        else:
            with BasketClient(server.base_url, KEY, max_retries=0) as client:
                for user_id in user_ids:
                    with contextlib.suppress(RequestValidationError):
                        client.get_basket(user_id)
        assert server.requests_by_user == Counter(dict.fromkeys(user_ids, 1))
        assert server.request_count == len(user_ids)


# --- tracking values ------------------------------------------------------------------------------


def _b64(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return base64.b64encode(data).decode("ascii")


def _nested(depth: int, open_: str = "[", close: str = "]", leaf: str = "1") -> str:
    return open_ * depth + leaf + close * depth


MALFORMED_TRACKING = [
    pytest.param("", TrackingDecodeError, "empty", id="empty"),
    pytest.param("   \n\t", TrackingDecodeError, "empty", id="blank"),
    pytest.param('""', TrackingDecodeError, "empty", id="empty-quotes"),
    pytest.param("A" * 9_000, TrackingTooLargeError, "8,192 bytes", id="too-large"),
    pytest.param("é" * 5_000, TrackingTooLargeError, "10,000 bytes", id="too-large-in-bytes"),
    pytest.param("!!!!", TrackingNotBase64Error, "'!'", id="punctuation"),
    pytest.param("'; DROP TABLE x;--", TrackingNotBase64Error, "not base64", id="sql"),
    pytest.param("$(rm -rf /)", TrackingNotBase64Error, "not base64", id="shell"),
    pytest.param("eyJh\x00IjoxfQ==", TrackingNotBase64Error, "'\\x00'", id="nul"),
    pytest.param("eyJh🙂IjoxfQ==", TrackingNotBase64Error, "not base64", id="emoji"),
    pytest.param("ab\ud800cd", TrackingNotBase64Error, "not base64", id="lone-surrogate-char"),
    pytest.param("====", TrackingNotBase64Error, "only padding", id="only-padding"),
    pytest.param("e", TrackingNotBase64Error, "truncated", id="one-char"),
    pytest.param("ab==cdef", TrackingNotBase64Error, "padding", id="inner-padding"),
    pytest.param("ab+c_d", TrackingNotBase64Error, "mixed", id="mixed-alphabets"),
    pytest.param(_b64('{"a":"é"}'.encode("latin-1")), TrackingNotUtf8Error, "0xe9", id="latin-1"),
    pytest.param(
        _b64('{"a":1}'.encode("utf-16")), TrackingNotUtf8Error, "not UTF-8", id="utf-16"
    ),
    pytest.param(_b64(bytes(range(256))), TrackingNotUtf8Error, "not UTF-8", id="binary"),
    pytest.param(_b64("hello"), TrackingNotJsonError, "not JSON", id="not-json"),
    pytest.param(_b64('{"a":1'), TrackingNotJsonError, "not JSON", id="truncated-json"),
    pytest.param(_b64('{"a":1} x'), TrackingNotJsonError, "Extra data", id="trailing-garbage"),
    pytest.param(
        _b64('{"a":"x\x00"}'), TrackingNotJsonError, "Invalid control character at line 1",
        id="raw-control-character-in-string",
    ),
    pytest.param(_b64('{"n":NaN}'), TrackingNotJsonError, "NaN", id="nan"),
    pytest.param(_b64('{"n":-Infinity}'), TrackingNotJsonError, "Infinity", id="infinity"),
    pytest.param(_b64("[]"), TrackingNotObjectError, "JSON array", id="array"),
    pytest.param(_b64('"s"'), TrackingNotObjectError, "JSON string", id="string"),
    pytest.param(_b64("null"), TrackingNotObjectError, "JSON null", id="null"),
    pytest.param(_b64("12"), TrackingNotObjectError, "JSON number", id="number"),
    pytest.param(_b64("true"), TrackingNotObjectError, "JSON boolean", id="boolean"),
    # JSON of the wrong shape.
    pytest.param(
        _b64('{"session_id":{"id":"s"}}'), TrackingDecodeError, "session_id must be a string",
        id="nested-object-as-id",
    ),
    pytest.param(
        _b64('{"sessionId":["s1","s2"]}'), TrackingDecodeError, "sessionId must be a string",
        id="array-as-id",
    ),
    pytest.param(
        _b64('{"session_id":' + "9" * 5000 + "}"), TrackingDecodeError, "got number",
        id="huge-number-as-id",
    ),
    pytest.param(
        _b64('{"userId":12345}'), TrackingDecodeError, "userId must be a string",
        id="number-as-id",
    ),
    pytest.param(
        _b64('{"source":true}'), TrackingDecodeError, "got boolean", id="boolean-as-source"
    ),
    pytest.param(
        _b64('{"start_time":1735732800}'), TrackingDecodeError, "not an ISO-8601",
        id="number-as-time",
    ),
    pytest.param(
        _b64('{"startTime":"yesterday"}'), TrackingDecodeError, "'yesterday'", id="garbage-time"
    ),
    pytest.param(
        _b64('{"start_time":"0001-01-01T00:00:00+02:00"}'), TrackingDecodeError, "0001-9999",
        id="time-before-year-1-in-utc",
    ),
    pytest.param(
        _b64('{"start_time":"9999-12-31T23:59:59-05:00"}'), TrackingDecodeError, "0001-9999",
        id="time-after-year-9999-in-utc",
    ),
    pytest.param(
        _b64('{"x":' + _nested(MAX_JSON_DEPTH) + "}"), TrackingNotJsonError, "nested more than",
        id="deeply-nested",
    ),
    pytest.param(
        _b64('{"x":' + _nested(700, '{"a":', "}") + "}"), TrackingNotJsonError, "nested",
        id="deeply-nested-objects",
    ),
    pytest.param(_b64(_nested(3000)), TrackingNotJsonError, "too deeply", id="nested-past-parser"),
    pytest.param(
        _b64('{"session_id":"\\ud800"}'), TrackingNotUtf8Error, "U+D800", id="lone-surrogate-escape"
    ),
    pytest.param(
        _b64('{"\\udfff":1}'), TrackingNotUtf8Error, "U+DFFF", id="lone-surrogate-in-key"
    ),
    pytest.param(
        "session=abc; Path=/", TrackingDecodeError, "not __Secure-jay_tracking", id="other-cookie"
    ),
]  # fmt: skip


@pytest.mark.parametrize(("value", "error", "fragment"), MALFORMED_TRACKING)
def test_malformed_tracking_values_raise_their_specific_error(
    value: str, error: type[TrackingDecodeError], fragment: str
) -> None:
    with pytest.raises(TrackingDecodeError) as raised:
        decode_tracking(value)
    assert type(raised.value) is error
    assert fragment in raised.value.message
    # The message quotes at most a short piece of the input and can be shown.
    assert len(raised.value.message) < 400
    _assert_displayable(raised.value.message)


ODD_BUT_VALID_TRACKING = [
    pytest.param('{"session_id":null,"start_time":null,"userId":null}', id="null-values"),
    pytest.param('{"session_id":"s","extra":{"a":{"b":{"c":[1,2]}}}}', id="nested-extra"),
    pytest.param('{"session_id":"s","big":' + "9" * 5000 + "}", id="huge-integer-extra"),
    pytest.param('{"tiny":1e-300,"huge":1e999,"list":[null,true]}', id="odd-numbers"),
    pytest.param('{"session_id":"<script>alert(1)</script>"}', id="html-id"),
    pytest.param('{"session_id":"a\\u0000b","source":"\\u202etxet"}', id="control-characters"),
    pytest.param('{"x":' + _nested(MAX_JSON_DEPTH - 1, leaf="") + "}", id="nested-to-the-limit"),
    pytest.param('{"startTime":"2025-01-01T14:00:00+02:00"}', id="offset-time"),
    pytest.param('{"a":1,"a":2}', id="duplicate-keys"),
    pytest.param("{}", id="empty-object"),
]


def _exact(text: str) -> Any:
    return json.loads(text, parse_int=Decimal, parse_float=Decimal)


@pytest.mark.parametrize("text", ODD_BUT_VALID_TRACKING)
def test_odd_but_valid_tracking_payloads_decode_faithfully_and_display(text: str) -> None:
    session = decode_tracking(_b64(text))
    assert _exact(session.to_json()) == _exact(text)
    for name, shown in session.fields():
        _assert_displayable(name)
        _assert_displayable(shown)
    assert pickle.loads(pickle.dumps(session)) == session
    if session.start_time is not None:
        assert session.start_time == datetime(2025, 1, 1, 12, tzinfo=UTC)
        assert session.start_time.utcoffset() == timedelta(0)
        assert times.format_time(session.start_time, "Pacific/Kiritimati")


# --- API responses --------------------------------------------------------------------------------

GOOD = {
    "expires": "2025-06-29T08:12:34Z",
    "lastChanged": "2025-06-04T12:34:56Z",
    "cart": [{"productId": "prod-123", "count": 2}],
    "saved": [{"productId": "prod-789", "count": 0}],
    "checkout": [{"productId": "prod-123", "count": 1, "stocked": -1}],
}


def _data(**changes: Any) -> dict[str, Any]:
    return {"data": {**GOOD, **changes}}


def _item(**changes: Any) -> dict[str, Any]:
    return {"data": {**GOOD, "cart": [{"productId": "prod-123", "count": 2, **changes}]}}


def _checkout(**changes: Any) -> dict[str, Any]:
    return {"data": {**GOOD, "checkout": [{"productId": "prod-1", "count": 1, **changes}]}}


def _raw(text: str) -> bytes:
    return text.encode("utf-8")


Check = Callable[[BasketResult], None]


def _expires_utc(*parts: int) -> Check:
    def check(result: BasketResult) -> None:
        expires = result.basket.expires
        assert expires == datetime(*parts, tzinfo=UTC)
        assert expires is not None and expires.utcoffset() == timedelta(0)

    return check


def _cart(*items: tuple[str, int]) -> Check:
    def check(result: BasketResult) -> None:
        assert [(p.product_id, p.count) for p in result.basket.cart] == list(items)

    return check


def _stocked(value: int | None) -> Check:
    def check(result: BasketResult) -> None:
        assert [item.stocked for item in result.basket.checkout] == [value]

    return check


def _no_expiry(result: BasketResult) -> None:
    assert times.expiry_text(result.basket.expires, NOW) == "no expiry date"


def _empty_basket(result: BasketResult) -> None:
    assert result.basket.is_empty
    assert result.basket.expires is None


def _unchanged(result: BasketResult) -> None:
    assert result.basket.cart[0].product_id == "prod-123"
    assert result.basket.failed_reservations[0].stocked == -1


def _many_items(count: int) -> Check:
    def check(result: BasketResult) -> None:
        assert len(result.basket.cart) == count
        assert tables.cart_table(result.basket).num_rows == count
        assert tables.basket_metrics(result.basket).cart_products == count

    return check


def _duplicates(result: BasketResult) -> None:
    assert tables.cart_table(result.basket).num_rows == 2
    assert result.basket.product_ids() == ["prod-1", "prod-789", "prod-123"]
    assert tables.basket_metrics(result.basket).cart_units == 3


def _negative(result: BasketResult) -> None:
    assert tables.cart_table(result.basket).column("count").to_pylist() == [-3]
    assert tables.basket_metrics(result.basket).cart_units == -3


def _stocked_string(result: BasketResult) -> None:
    assert tables.checkout_table(result.basket).column("status").to_pylist() == ["failed (-1)"]


def _extra_kept_raw(result: BasketResult) -> None:
    assert "__proto__" in tables.basket_summary_json(result)
    assert result.basket.cart[0].product_id == "prod-123"


HUGE_CART = json.dumps(
    {"data": {"cart": [{"productId": f"p{i:06d}", "count": 1} for i in range(100_000)]}}
).encode()
assert len(HUGE_CART) < 4 * 1024 * 1024  # within the client's default size cap

# (body, status, expected): expected is an error class and a fragment of its message, or a check of
# the faithful result.
Expected = tuple[type[BasketError], str] | Check
API_RESPONSES: list[Any] = [
    # wrong types
    pytest.param(_data(cart={"productId": "p"}), 200, (ResponseValidationError, "data.cart"),
                 id="cart-object"),
    pytest.param(_data(cart="prod-1"), 200, (ResponseValidationError, "data.cart"),
                 id="cart-string"),
    pytest.param(_data(cart=["prod-1"]), 200, (ResponseValidationError, "data.cart.0"),
                 id="cart-of-strings"),
    pytest.param({"data": [GOOD]}, 200, (ResponseValidationError, "data:"), id="data-array"),
    pytest.param({"data": "basket"}, 200, (ResponseValidationError, "data:"), id="data-string"),
    pytest.param(_item(productId=123), 200, (ResponseValidationError, "data.cart.0.productId"),
                 id="product-id-number"),
    pytest.param(_item(productId={"id": "p"}), 200,
                 (ResponseValidationError, "data.cart.0.productId"), id="product-id-object"),
    pytest.param(_item(count="2"), 200, _cart(("prod-123", 2)), id="count-numeric-string"),
    pytest.param(_item(count=2.0), 200, _cart(("prod-123", 2)), id="count-integral-float"),
    pytest.param(_item(count=2.5), 200, (ResponseValidationError, "data.cart.0.count"),
                 id="count-fraction"),
    pytest.param(_item(count=True), 200, (ResponseValidationError, "boolean"), id="count-bool"),
    pytest.param(_item(count="two"), 200, (ResponseValidationError, "data.cart.0.count"),
                 id="count-word"),
    pytest.param(_item(variant=["M", "L"]), 200, (ResponseValidationError, "variant"),
                 id="variant-array"),
    pytest.param({"data": GOOD, "nextToken": 5}, 200, (ResponseValidationError, "nextToken"),
                 id="next-token-number"),
    pytest.param({"data": None, "error": "boom"}, 500, (ServerError, "HTTP 500"),
                 id="error-string-on-500"),
    pytest.param({"data": GOOD, "error": {"code": "abc", "message": "m"}}, 200,
                 (ResponseValidationError, "error.code"), id="error-code-word"),
    # extra fields
    pytest.param(
        {"data": {**GOOD, "cart": [{"productId": "prod-123", "count": 2, "__proto__": {}}],
                  "price": "9.99"}, "extra": [1, 2], "meta": {"x": None}},
        200, _extra_kept_raw, id="extra-fields",
    ),
    # nulls in every field
    pytest.param(None, 200, (ResponseValidationError, "expected an object"), id="body-null"),
    pytest.param({"data": None}, 200, _empty_basket, id="data-null"),
    pytest.param({"data": dict.fromkeys(GOOD)}, 200, _empty_basket, id="every-data-field-null"),
    pytest.param(_data(expires=None), 200, _no_expiry, id="expires-null"),
    pytest.param(_item(productId=None), 200, (ResponseValidationError, "data.cart.0.productId"),
                 id="product-id-null"),
    pytest.param(_item(count=None), 200, (ResponseValidationError, "data.cart.0.count"),
                 id="count-null"),
    pytest.param(_item(variant=None, mainProductIdentifier=None), 200, _cart(("prod-123", 2)),
                 id="variant-null"),
    pytest.param(_checkout(stocked=None), 200, _stocked(None), id="stocked-null"),
    pytest.param({"data": GOOD, "nextToken": None, "error": None}, 200, _unchanged,
                 id="envelope-nulls"),
    pytest.param({"data": None, "error": {"code": None, "message": None}}, 500,
                 (ServerError, "HTTP 500"), id="error-fields-null"),
    # huge arrays and numbers
    pytest.param(HUGE_CART, 200, _many_items(100_000), id="100000-cart-items"),
    pytest.param(b'{"data":{"cart":[' + b'{"productId":"p"},' * 250_000 + b'{"productId":"p"}]}}',
                 200, (ResponseTooLargeError, "limit"), id="over-the-size-cap"),
    pytest.param(_item(count=2**63 - 1), 200, _cart(("prod-123", 2**63 - 1)), id="count-int64-max"),
    pytest.param(_item(count=10**30), 200, (ResponseValidationError, "data.cart.0.count"),
                 id="count-huge"),
    pytest.param(_checkout(stocked=-(10**19)), 200,
                 (ResponseValidationError, "data.checkout.0.stocked"), id="stocked-huge"),
    pytest.param(_raw('{"data":{"cart":[{"productId":"p","count":1e400}]}}'), 200,
                 (ResponseValidationError, "finite"), id="count-overflows-to-infinity"),
    pytest.param(_raw('{"data":{"cart":[{"productId":"p","count":NaN}]}}'), 200,
                 (ResponseValidationError, "finite"), id="count-nan"),
    # deep nesting
    pytest.param(_raw('{"data":null,"error":{"code":1,"message":"m","details":'
                      + _nested(10_000) + "}}"),
                 200, (ResponseFormatError, "nested too deeply"), id="details-10000-deep"),
    pytest.param(_raw('{"error":{"code":3001,"message":"m","details":' + _nested(10_000) + "}}"),
                 500, (ResponseFormatError, "nested too deeply"), id="details-10000-deep-on-500"),
    pytest.param(_raw('{"error":{"code":3001,"message":"m","details":' + _nested(600) + "}}"),
                 500, (ServerError, "m"), id="details-600-deep-on-500"),
    pytest.param(_raw('{"data":null,"error":{"code":1,"message":"m","details":'
                      + _nested(600) + "}}"),
                 200, (ResponseValidationError, "nested more than 64"), id="details-600-deep"),
    pytest.param(_raw('{"data":{"cart":[],"junk":' + _nested(300, '{"a":', "}") + "}}"), 200,
                 (ResponseValidationError, "nested more than 64"), id="unknown-field-300-deep"),
    pytest.param(_raw('{"data":{"cart":' + _nested(500) + "}}"), 200,
                 (ResponseValidationError, "nested more than 64"), id="cart-500-deep"),
    # duplicates and negative counts: shown as sent
    pytest.param(_data(cart=[{"productId": "prod-1", "count": 1}, {"productId": "prod-1",
                                                                    "count": 2}]),
                 200, _duplicates, id="duplicate-products"),
    pytest.param(_data(cart=[{"productId": "prod-1", "count": -3}]), 200, _negative,
                 id="negative-count"),
    # stocked as a string
    pytest.param(_checkout(stocked="-1"), 200, _stocked_string, id="stocked-numeric-string"),
    pytest.param(_checkout(stocked="lots"), 200,
                 (ResponseValidationError, "data.checkout.0.stocked"), id="stocked-word"),
    pytest.param(_checkout(stocked=False), 200, (ResponseValidationError, "boolean"),
                 id="stocked-bool"),
    pytest.param(_checkout(stocked=1.5), 200, (ResponseValidationError, "stocked"),
                 id="stocked-fraction"),
    # timestamps
    pytest.param(_data(expires="2025-06-29T10:12:34+02:00"), 200,
                 _expires_utc(2025, 6, 29, 8, 12, 34), id="offset-plus-two"),
    pytest.param(_data(expires="2025-06-29T08:12:34+14:00"), 200,
                 _expires_utc(2025, 6, 28, 18, 12, 34), id="offset-plus-fourteen"),
    pytest.param(_data(expires="2025-06-29T08:12:34"), 200,
                 _expires_utc(2025, 6, 29, 8, 12, 34), id="no-zone-is-utc"),
    pytest.param(_data(expires="2025-06-29"), 200, _expires_utc(2025, 6, 29), id="date-only"),
    pytest.param(_data(expires=" 2025-06-29t08:12:34z "), 200,
                 _expires_utc(2025, 6, 29, 8, 12, 34), id="lowercase-and-blanks"),
    pytest.param(_data(expires="2025-06-29T08:12:34.123456789Z"), 200,
                 _expires_utc(2025, 6, 29, 8, 12, 34, 123456), id="nanoseconds"),
    pytest.param(_data(expires=1751184754), 200, _expires_utc(2025, 6, 29, 8, 12, 34),
                 id="unix-seconds"),
    pytest.param(_data(expires="tomorrow"), 200, (ResponseValidationError, "data.expires"),
                 id="garbage"),
    pytest.param(_data(expires=""), 200, (ResponseValidationError, "data.expires"), id="empty"),
    pytest.param(_data(lastChanged="2025-02-30T00:00:00Z"), 200,
                 (ResponseValidationError, "data.lastChanged"), id="no-such-day"),
    pytest.param(_data(expires="2025-06-29T08:12:34+25:00"), 200,
                 (ResponseValidationError, "data.expires"), id="offset-out-of-range"),
    pytest.param(_data(expires="9999-12-31T23:59:59Z"), 200,
                 (ResponseValidationError, "0001-9999"), id="year-9999"),
    pytest.param(_data(expires="0001-01-01T00:00:00+02:00"), 200,
                 (ResponseValidationError, "0001-9999"), id="year-1-with-offset"),
    pytest.param(_data(expires=10**20), 200, (ResponseValidationError, "data.expires"),
                 id="unix-seconds-huge"),
    pytest.param(_data(expires=["2025-06-29T08:12:34Z"]), 200,
                 (ResponseValidationError, "data.expires"), id="array"),
    # garbage bodies
    pytest.param(b"", 200, (ResponseFormatError, "an empty body"), id="empty-body"),
    pytest.param(b"not json at all", 200, (ResponseFormatError, "not json at all"),
                 id="plain-text"),
    pytest.param(b"<html><body><h1>Welcome to nginx</h1></body></html>", 200,
                 (ResponseFormatError, "Welcome to nginx"), id="html"),
    pytest.param(b'{"data":{"cart":[{"productId":"p', 200, (ResponseFormatError, "cut off"),
                 id="truncated"),
    pytest.param(b"\xff\xfe\x00{", 200, (ResponseFormatError, "not valid JSON"), id="not-utf8"),
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00", 200, (ResponseFormatError, "not valid JSON"),
                 id="binary"),
    pytest.param("ok", 200, (ResponseValidationError, "JSON str"), id="json-string"),
    pytest.param([GOOD], 200, (ResponseValidationError, "JSON list"), id="json-array"),
    pytest.param(_raw('{"data":{"cart":[{"productId":"a\\ud800b"}]}}'), 200,
                 (ResponseValidationError, "lone surrogate"), id="lone-surrogate-in-id"),
    pytest.param(_raw('{"error":{"code":3001,"message":"bad \\udfff","details":["\\ud800"]}}'),
                 500, (ServerError, "bad"), id="lone-surrogate-in-error"),
    pytest.param(_raw('{"error":{"code":3001,"message":"bad\\u0000news"}}'), 500,
                 (ServerError, "bad\ufffdnews"), id="nul-in-error"),
    pytest.param({"data": GOOD, "error": {"code": 2005, "message": "Basket not found."}}, 200,
                 (UnexpectedStatusError, "Basket not found."), id="error-envelope-on-200"),
]  # fmt: skip


def _content(body: Any) -> tuple[bytes, str]:
    if isinstance(body, bytes):
        return body, "application/json"
    return json.dumps(body).encode("utf-8"), "application/json"


def _display(result: BasketResult) -> None:
    """Everything the basket page derives from a result, as the page does it."""
    basket = result.basket
    for build in (tables.cart_table, tables.saved_table, tables.checkout_table):
        for locale in (Locale("en", "US"), Locale("de", "DE")):
            # What st.dataframe is given, and what Streamlit makes of it.
            dataframe_util.convert_arrow_table_to_arrow_bytes(build(basket, None, locale))
    checkout = tables.checkout_table(basket)
    tables.with_failed_rows_tinted(checkout, checkout.column_names)
    tables.basket_metrics(basket)
    _assert_displayable(times.expiry_text(basket.expires, NOW))
    _assert_displayable(tables.basket_summary_json(result))
    for zone in ZONES:
        _assert_displayable(times.format_time(basket.expires, zone))
        _assert_displayable(times.format_time(basket.last_changed, zone))
    for zone in CHART_ZONES:
        _assert_displayable(
            timeline.expiry_timeline(basket.last_changed, NOW, basket.expires, zone).html()
        )
    pickle.loads(pickle.dumps(result))  # st.cache_data keeps results pickled


@pytest.mark.parametrize(("body", "status", "expected"), API_RESPONSES)
def test_api_responses_end_in_a_clear_error_or_a_faithful_display(
    body: Any, status: int, expected: Expected
) -> None:
    content, content_type = _content(body)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers={"Content-Type": content_type})

    with _client(handler) as client:
        try:
            outcome: BasketResult | BasketError = client.get_basket("user-1")
        except BasketError as exc:
            outcome = exc
    if isinstance(expected, tuple):
        error_class, fragment = expected
        assert type(outcome) is error_class, outcome
        assert isinstance(outcome, BasketError)
        assert fragment in str(outcome)
        shown = describe_error(outcome).markdown()
        _assert_displayable(shown)
        assert KEY not in shown
        pickle.loads(pickle.dumps(outcome))
    else:
        assert isinstance(outcome, BasketResult), outcome
        expected(outcome)
        _display(outcome)


def test_error_details_deeper_than_the_limit_are_cut_off_not_lost_entirely() -> None:
    nested = _nested(600)
    body = _raw('{"error":{"code":3001,"message":"m","details":{"trace":' + nested + "}}}")
    client = _client(lambda request: httpx.Response(500, content=body))
    with client, pytest.raises(ServerError) as raised:
        client.get_basket("user-1")
    details = raised.value.details
    depth = 0
    while isinstance(details, dict | list):
        details = details["trace"] if isinstance(details, dict) else details[0]
        depth += 1
    assert details == "[nested too deeply to show]"
    assert depth == errors.MAX_DETAILS_DEPTH


PRODUCT_DETAILS_RESPONSES = [
    pytest.param([{"productId": "p1", "name": None, "price": None}], None, id="nulls"),
    pytest.param([{"productId": "p1", "price": "abc"}], "data.products.0.price", id="price-word"),
    pytest.param([{"productId": "p1", "price": "NaN"}], "data.products.0.price", id="price-nan"),
    pytest.param(
        [{"productId": "p1", "currentStockCount": True}], "boolean", id="stock-count-bool"
    ),
    pytest.param(
        [{"productId": "p1", "brand": json.loads(_nested(200))}], "nested", id="brand-deep"
    ),
    pytest.param([{"productId": "p1"}, {"productId": "p1", "name": "B"}], None, id="duplicates"),
]


@pytest.mark.parametrize(("products", "fragment"), PRODUCT_DETAILS_RESPONSES)
def test_product_details_responses_end_in_a_clear_error_or_a_table(
    products: list[dict[str, Any]], fragment: str | None
) -> None:
    body = json.dumps({"data": {"products": products}}).encode()
    basket = BasketResult.model_validate({"user_id": "u", "basket": GOOD, "fetched_at": NOW}).basket
    with _client(lambda request: httpx.Response(200, content=body)) as client:
        if fragment is not None:
            with pytest.raises(ResponseValidationError, match=fragment):
                client.get_product_details(["p1"])
            return
        details = client.get_product_details(["p1"])
    assert set(details) == {"p1"}
    assert tables.cart_table(basket, details).num_rows == len(basket.cart)
    assert tables.checkout_table(basket, details).num_rows == len(basket.checkout)


# --- uploaded CSV ---------------------------------------------------------------------------------

MiB = 1024 * 1024
REJECTED_CSV = [
    pytest.param(b"customer\nu1\n", "has no user_id header: its first line is 'customer'",
                 id="wrong-column"),
    pytest.param(b"id,name\n1,a\n", "found columns: 'id', 'name'", id="wrong-columns"),
    pytest.param(b"", "is empty", id="empty-file"),
    pytest.param(b"\n \r\n\t\n", "is empty", id="blank-file"),
    pytest.param(b"user_id\n", "has a user_id column but no ids", id="header-only"),
    pytest.param(b"user_id\n\n,\n", "but no ids", id="header-and-blank-rows"),
    pytest.param(bytes(range(256)) * 4, "looks binary (it contains NUL bytes)", id="binary"),
    pytest.param(b"\x89PNG\r\n\x1a\n\xff\xd8", "not UTF-8 text", id="binary-without-nul"),
    pytest.param(b"PK\x03\x04\x14\x00", "ZIP archive", id="excel-workbook"),
    pytest.param("user_id\nu1\n".encode("utf-16"), "UTF-16", id="utf-16"),
    pytest.param("user_id\nu1\n".encode("utf-16-be"), "looks binary", id="utf-16-without-bom"),
    pytest.param("user_id\nJosé\n".encode("latin-1"), "byte 0xE9 on line 2", id="latin-1"),
    pytest.param(b"user_id\n" + b"u" * (MAX_UPLOAD_BYTES + 1), "the limit is 20 MiB",
                 id="over-20-mib"),
    pytest.param(b"user_id\n" + b"u" * 200_000 + b"\n", "not a readable CSV", id="huge-cell"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "fragment"), REJECTED_CSV)
def test_unusable_uploads_are_rejected_with_a_clear_message(data: bytes, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_uploaded_csv(data, filename="ids.csv")
    assert fragment in raised.value.message
    assert "'ids.csv'" in raised.value.message
    assert len(raised.value.message) < 400
    _assert_displayable(raised.value.message)


ACCEPTED_CSV = [
    pytest.param(b"\xef\xbb\xbfuser_id\nu1\nu2\n", ["u1", "u2"], id="utf-8-bom"),
    pytest.param(b"name;user_id\nAnna;u1\nBen;u2\n", ["u1", "u2"], id="semicolons"),
    pytest.param(b"\xef\xbb\xbfUser_ID;x\r\nu1;1\r\nu2;2\r\n", ["u1", "u2"],
                 id="bom-semicolon-crlf"),
    pytest.param(b"user_id\tx\nu1\t1\n", ["u1"], id="tabs"),
    pytest.param(b"user_id\ru1\ru2\r", ["u1", "u2"], id="old-mac-line-ends"),
    pytest.param(b'user_id,x\n"u,1",2\n', ["u,1"], id="quoted-delimiter"),
    pytest.param(b" user_id \n u1 \n", ["u1"], id="padded-cells"),
    pytest.param("user_id\nJosé\n用户\n🛒\n".encode(), ["José", "用户", "🛒"], id="non-ascii-ids"),
    pytest.param(b"user_id\n=HYPERLINK(\"x\")\n", ['=HYPERLINK("x")'], id="formula-as-text"),
    pytest.param(b"a,user_id\n1\n2,u2\n", ["u2"], id="ragged-rows"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "ids"), ACCEPTED_CSV)
def test_odd_but_readable_uploads_give_the_right_ids(data: bytes, ids: list[str]) -> None:
    assert parse_uploaded_csv(data, filename="ids.csv").ids == ids


def test_invalid_ids_in_an_upload_are_listed_with_their_reason() -> None:
    data = b"user_id\nu1\n..\n" + b"x" * 10_000 + b"\nu1\nu\xe2\x80\x8b2\n"
    parsed = parse_uploaded_csv(data)
    assert parsed.ids == ["u1"]
    assert parsed.duplicates == 1
    assert [reason for _, reason in parsed.invalid] == [
        "The user id cannot be '..'. (line 3)",
        "The user id is 10000 characters long; at most 256 are allowed. (line 4)",
        "The user id contains an invisible character at position 2 (U+200B ZERO WIDTH SPACE); "
        "it was probably copied along with the id. (line 6)",
    ]
    assert [shown for shown, _ in parsed.invalid] == ["..", "x" * 80 + "…", "u<U+200B>2"]


def test_a_large_upload_within_the_limits_is_capped_with_a_message() -> None:
    count = MAX_SCAN_USERS + 5_000
    data = ("user_id\n" + "\n".join(f"user-{n}" for n in range(count))).encode()
    assert len(data) < 2 * MiB
    parsed = parse_uploaded_csv(data)
    assert len(parsed.ids) == MAX_SCAN_USERS and parsed.truncated == 5_000
    assert f"Only the first {MAX_SCAN_USERS:,} ids are scanned" in " ".join(parsed.messages)
