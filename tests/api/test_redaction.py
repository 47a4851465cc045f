"""basket_lib.api.redaction: each client and each Settings scrubs its own secrets, nobody else's."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from basket_lib.api import errors
from basket_lib.api.client import AsyncBasketClient, BasketClient
from basket_lib.api.redaction import Redactor

KEY = "key-redaction-0123456789"
BARE_TOKEN = "tok-redaction-abcdefghij"


def _echoing_client(token: str) -> BasketClient:
    def echo(request: httpx.Request) -> httpx.Response:
        auth = request.headers.get("Authorization", "")
        body = {"error": {"code": 2002, "message": f"rejected {auth.removeprefix('Bearer ')}"}}
        return httpx.Response(401, content=json.dumps(body).encode())

    transport = httpx.MockTransport(echo)
    return BasketClient("https://api.example.test", KEY, token=token, transport=transport)


@pytest.mark.parametrize("token", [BARE_TOKEN, f"Bearer {BARE_TOKEN}", f"  bearer   {BARE_TOKEN} "])
def test_the_bare_token_is_redacted_however_it_was_given(token: str) -> None:
    with _echoing_client(token) as client, pytest.raises(errors.AuthenticationError) as caught:
        client.get_basket("u")
    assert BARE_TOKEN not in str(caught.value) and BARE_TOKEN not in repr(caught.value)
    assert "[redacted]" in caught.value.message


def test_a_redactor_scrubs_text_nested_values_and_errors() -> None:
    redactor = Redactor(KEY, None, "")
    assert redactor.text(f"a {KEY} b") == "a [redacted] b"
    assert redactor.value({KEY: [f"x{KEY}", 3]}) == {"[redacted]": ["x[redacted]", 3]}
    error = redactor.error(errors.ServerError(f"echo {KEY}", api_message=KEY, details=[KEY]))
    assert KEY not in str(error) and KEY not in repr(error) and error.details == ["[redacted]"]


def test_a_longer_secret_containing_a_shorter_one_is_replaced_whole() -> None:
    assert Redactor("abcd", "abcdefgh").text("abcdefgh") == "[redacted]"


def test_too_short_values_are_not_treated_as_secrets() -> None:
    assert Redactor("abc").text("abc def") == "abc def"


def test_a_percent_encoded_or_cut_short_echo_is_redacted_too() -> None:
    key = "k3y/with+odd=chars-0123456789"
    redactor = Redactor(key)
    assert (
        redactor.text("url ?key=k3y%2Fwith%2Bodd%3Dchars-0123456789&x") == "url ?key=[redacted]&x"
    )
    assert redactor.text(f"the key {key[:16]}... is unknown") == "the key [redacted]... is unknown"
    # A start shorter than PREFIX_LENGTH is not a secret's echo: "k3y/with" stays readable.
    assert redactor.text("k3y/with") == "k3y/with"


def test_a_short_secret_is_still_redacted_whole() -> None:
    assert Redactor("demo-key").text("x demo-key y demo-kez") == "x [redacted] y demo-kez"


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_key_echoed_in_a_200_body_reaches_no_field_and_no_raw_copy(flavour: str) -> None:
    basket = {
        "data": {
            "cart": [{"productId": f"p-{KEY}", "count": 1}],
            "echo": {"headers": {"x-api-key": KEY, "url": f"/v2?key={KEY[:16]}"}},
        }
    }

    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps(basket).encode())

    transport = httpx.MockTransport(echo)
    if flavour == "sync":
        with BasketClient("https://api.example.test", KEY, transport=transport) as client:
            result = client.get_basket("u")
    else:

        async def fetch() -> Any:
            async with AsyncBasketClient(
                "https://api.example.test", KEY, transport=transport
            ) as client:
                return await client.get_basket("u")

        result = asyncio.run(fetch())
    shown = json.dumps(result.raw) + repr(result) + result.basket.cart[0].product_id
    assert KEY not in shown and KEY[:12] not in shown
    assert result.basket.cart[0].product_id == "p-[redacted]"
    assert result.raw["data"]["echo"]["headers"]["x-api-key"] == "[redacted]"


def test_a_key_echoed_with_json_escapes_is_redacted_too() -> None:
    # Byte for byte the body holds no key; decoded, a field would.
    escaped = "".join(f"\\u{ord(c):04x}" for c in KEY)
    cart = '{"productId":"p-' + escaped + '","count":1}'
    body = ('{"data":{"cart":[' + cart + '],"note":"a\\/b"}}').encode()
    assert KEY.encode() not in body
    cleaned = json.loads(Redactor(KEY).body(body))
    assert cleaned["data"]["cart"][0]["productId"] == "p-[redacted]"
    assert cleaned["data"]["note"] == "a/b"
    # Escapes without a secret behind them: the body as it came.
    plain = b'{"data":{"cart":[{"productId":"caf\\u00e9","count":1}]}}'
    assert Redactor(KEY).body(plain) is plain


def test_a_body_without_a_secret_is_left_as_it_is() -> None:
    body = b'{"data":{"cart":[{"productId":"p1"}]}}'
    assert Redactor(KEY).body(body) is body
