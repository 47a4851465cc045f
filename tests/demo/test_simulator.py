"""The demo API: its contract in-process (DemoTransport) and over loopback HTTP (DemoServer)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from pydantic import ValidationError

from basket_lib.api.models import BasketEnvelope, ProductDetailsEnvelope
from basket_lib.demo.catalogue import HOSTILE_PRODUCTS, PURCHASABLE
from basket_lib.demo.server import MAX_BODY_BYTES, MAX_LINE_BYTES
from basket_lib.simulator import (
    CATALOGUE,
    DEFAULT_DEMO_USERS,
    DEMO_BASE_URL,
    SCENARIOS,
    DemoApi,
    DemoServer,
    DemoTransport,
    Faults,
    demo_user_ids,
    main,
)

NOW = datetime(2025, 6, 4, 12, 0, 0, tzinfo=UTC)
MiB = 1024 * 1024
HOSTILE_STRINGS = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "**bold**",
    "_em_",
    "$x$",
)


def fixed_api(**kwargs: Any) -> DemoApi:
    return DemoApi(clock=lambda: NOW, **kwargs)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=DEMO_BASE_URL, transport=DemoTransport(fixed_api())) as c:
        yield c


def basket_of(client: httpx.Client, user: str) -> dict[str, Any]:
    response = client.get(f"/baskets/users/{user}")
    assert response.status_code == 200
    return response.json()


def details(client: httpx.Client, product_ids: list[str]) -> list[dict[str, Any]]:
    response = client.post("/baskets/products/details", json=product_ids)
    assert response.status_code == 200
    return response.json()["data"]["products"]


# --- named scenarios through the in-process transport ------------------------------------------

EXPECTED_STATUS = {
    "demo-normal": 200,
    "demo-checkout-failed": 200,
    "demo-variants": 200,
    "demo-empty": 200,
    "demo-expiring": 200,
    "demo-expired": 200,
    "demo-full-cart": 200,
    "demo-next-token": 200,
    "demo-hostile": 200,
    "demo-fault-401": 401,
    "demo-fault-403": 403,
    "demo-fault-404": 404,
    "demo-fault-422": 422,
    "demo-fault-429": 429,
    "demo-fault-500": 500,
    "demo-fault-503": 503,
    "demo-fault-undocumented": 400,
}
NOT_AN_ENVELOPE = {
    "demo-fault-502-html": 502,
    "demo-fault-malformed": 200,
    "demo-fault-schema": 200,
    "demo-fault-huge": 200,
}
NO_ANSWER = {"demo-fault-timeout": httpx.ReadTimeout, "demo-fault-drop": httpx.RemoteProtocolError}
DATA_SCENARIOS = [user for user in SCENARIOS if not user.startswith("demo-fault-")]


def test_every_scenario_is_covered_here() -> None:
    assert set(SCENARIOS) == set(EXPECTED_STATUS) | set(NOT_AN_ENVELOPE) | set(NO_ANSWER)
    assert all(text and "\n" not in text for text in SCENARIOS.values())


@pytest.mark.parametrize("user", list(EXPECTED_STATUS))
def test_scenario_answers_an_envelope_with_its_status(client: httpx.Client, user: str) -> None:
    response = client.get(f"/baskets/users/{user}")
    assert response.status_code == EXPECTED_STATUS[user]
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-api-version"] == "2025-09-15"
    body = response.json()
    assert {"data", "nextToken"} <= set(body)
    if response.status_code == 200:
        assert "error" not in body
        assert {"expires", "lastChanged", "cart", "saved", "checkout"} == set(body["data"])
    else:
        assert body["data"] is None
        assert {"code", "message", "details"} == set(body["error"])
        assert body["error"]["message"]


@pytest.mark.parametrize("user", DATA_SCENARIOS)
def test_data_scenarios_match_the_models_and_their_products_have_details(
    client: httpx.Client, user: str
) -> None:
    envelope = BasketEnvelope.model_validate_json(client.get(f"/baskets/users/{user}").content)
    assert envelope.data is not None
    wanted = envelope.data.product_ids()
    assert {p["productId"] for p in details(client, wanted)} == set(wanted)


def test_normal_basket(client: httpx.Client) -> None:
    body = basket_of(client, "demo-normal")
    data = body["data"]
    assert 2 <= len(data["cart"]) <= 5 and len(data["saved"]) == 1 and data["checkout"] == []
    assert body["nextToken"] is None
    assert data["lastChanged"] < "2025-06-04T12:00:00Z" < data["expires"]


def test_checkout_failed_has_failed_reserved_and_unlimited_items(client: httpx.Client) -> None:
    stocked = [
        item["stocked"] for item in basket_of(client, "demo-checkout-failed")["data"]["checkout"]
    ]
    assert any(s is not None and s < 0 for s in stocked)
    assert any(s is not None and s > 0 for s in stocked)
    assert None in stocked


def test_variants_name_their_main_product(client: httpx.Client) -> None:
    cart = basket_of(client, "demo-variants")["data"]["cart"]
    sized = [item for item in cart if item.get("variant")]
    assert len(sized) >= 3
    assert all(item["mainProductIdentifier"] for item in sized)
    assert {item["variant"] for item in sized} >= {"M", "XL"}
    # An explicitly empty variant addresses the main product.
    assert any(item.get("variant") == "" for item in cart)


def test_empty_scenario(client: httpx.Client) -> None:
    data = basket_of(client, "demo-empty")["data"]
    assert data["cart"] == data["saved"] == data["checkout"] == []


def test_expiry_scenarios_follow_the_clock(client: httpx.Client) -> None:
    expiring = basket_of(client, "demo-expiring")["data"]
    assert expiring["expires"] == "2025-06-04T12:37:00Z"
    expired = basket_of(client, "demo-expired")["data"]
    assert expired["expires"] == "2025-06-02T12:00:00Z"
    assert expired["lastChanged"] < expired["expires"]


def test_full_cart_holds_the_maximum_of_twenty_distinct_products(client: httpx.Client) -> None:
    cart = basket_of(client, "demo-full-cart")["data"]["cart"]
    assert len({item["productId"] for item in cart}) == len(cart) == 20


def test_next_token_scenario(client: httpx.Client) -> None:
    assert basket_of(client, "demo-next-token")["nextToken"]


def test_hostile_strings_reach_ids_variants_and_names(client: httpx.Client) -> None:
    data = basket_of(client, "demo-hostile")["data"]
    items = data["cart"] + data["saved"] + data["checkout"]
    ids = {item["productId"] for item in items}
    assert set(HOSTILE_STRINGS) <= ids
    assert any("<" in item.get("variant", "") for item in items)
    assert any("<" in item.get("mainProductIdentifier", "") for item in items)
    names = " ".join(p["name"] for p in details(client, sorted(ids)))
    assert all(text in names for text in HOSTILE_STRINGS)


def test_fault_422_sends_its_code_as_a_string(client: httpx.Client) -> None:
    assert client.get("/baskets/users/demo-fault-422").json()["error"]["code"] == "3002"


def test_fault_codes(client: httpx.Client) -> None:
    codes = {
        user: client.get(f"/baskets/users/{user}").json()["error"]["code"]
        for user in (
            "demo-fault-401",
            "demo-fault-404",
            "demo-fault-500",
            "demo-fault-undocumented",
        )
    }
    assert codes == {
        "demo-fault-401": 2002,
        "demo-fault-404": 2005,
        "demo-fault-500": 3001,
        "demo-fault-undocumented": 2017,
    }


def test_fault_429_says_when_to_retry(client: httpx.Client) -> None:
    assert client.get("/baskets/users/demo-fault-429").headers["retry-after"] == "1"


def test_fault_502_is_a_proxy_html_page(client: httpx.Client) -> None:
    response = client.get("/baskets/users/demo-fault-502-html")
    assert response.status_code == 502
    assert response.headers["content-type"] == "text/html"
    assert response.text.startswith("<html>")


@pytest.mark.parametrize(("user", "error"), list(NO_ANSWER.items()))
def test_faults_without_an_answer_raise_as_httpx_does(
    client: httpx.Client, user: str, error: type[Exception]
) -> None:
    with pytest.raises(error) as caught:
        client.get(f"/baskets/users/{user}")
    assert caught.value.request.url.path.endswith(user)


def test_malformed_fault_is_truncated_json(client: httpx.Client) -> None:
    response = client.get("/baskets/users/demo-fault-malformed")
    assert response.status_code == 200
    assert response.content.startswith(b'{"data":')
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_schema_fault_has_wrong_types(client: httpx.Client) -> None:
    response = client.get("/baskets/users/demo-fault-schema")
    data = response.json()["data"]
    assert data["cart"][0]["productId"] == 1009
    assert data["checkout"][0]["stocked"] == "lots"
    with pytest.raises(ValidationError):
        BasketEnvelope.model_validate_json(response.content)


def test_huge_fault_is_valid_json_over_four_mebibytes(client: httpx.Client) -> None:
    response = client.get("/baskets/users/demo-fault-huge")
    assert response.status_code == 200
    assert len(response.content) > 4 * MiB + 1
    assert response.json()["data"]["saved"]


def test_async_client_uses_the_same_transport() -> None:
    transport = DemoTransport(fixed_api())

    async def fetch() -> tuple[int, type[Exception] | None]:
        async with httpx.AsyncClient(base_url=DEMO_BASE_URL, transport=transport) as c:
            status = (await c.get("/baskets/users/demo-normal")).status_code
            try:
                await c.get("/baskets/users/demo-fault-timeout")
            except httpx.TimeoutException as exc:
                return status, type(exc)
            return status, None

    assert asyncio.run(fetch()) == (200, httpx.ReadTimeout)
    assert transport.request_count == 2


def test_transport_counts_requests_from_many_threads() -> None:
    transport = DemoTransport()
    with httpx.Client(base_url=DEMO_BASE_URL, transport=transport) as c:
        threads = [
            threading.Thread(target=lambda: [c.get("/baskets/users/demo-empty") for _ in range(25)])
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert transport.request_count == 100


def test_default_transport_needs_no_configuration() -> None:
    with httpx.Client(base_url=DEMO_BASE_URL, transport=DemoTransport()) as c:
        response = c.get("/baskets/users/demo-expiring")
    expires = datetime.fromisoformat(response.json()["data"]["expires"].replace("Z", "+00:00"))
    assert timedelta(0) < expires - datetime.now(UTC) <= timedelta(minutes=37)


# --- seeded users -------------------------------------------------------------------------------


def test_demo_user_ids() -> None:
    ids = demo_user_ids()
    assert len(ids) == DEFAULT_DEMO_USERS == 5000
    assert ids[0] == "user-00001" and ids[-1] == "user-05000"
    assert demo_user_ids(3) == ["user-00001", "user-00002", "user-00003"]
    with pytest.raises(ValueError):
        demo_user_ids(-1)


def test_seeded_baskets_are_deterministic_per_seed() -> None:
    def body(api: DemoApi, user: str) -> bytes:
        return api.handle("GET", f"/v2/baskets/users/{user}", {}, b"").body

    users = demo_user_ids(40)
    first, again, other = fixed_api(seed=7), fixed_api(seed=7), fixed_api(seed=8)
    assert [body(first, u) for u in users] == [body(again, u) for u in users]
    assert sum(body(first, u) != body(other, u) for u in users) > 30
    assert body(first, "user-00001") != body(first, "user-00002")
    # Beyond the listed 5000, any user- and up to six digits is seeded too.
    assert BasketEnvelope.model_validate_json(body(first, "user-999999")).data.last_changed


def test_seeded_baskets_move_with_the_clock() -> None:
    later = NOW + timedelta(days=1)
    now_api, later_api = fixed_api(), DemoApi(clock=lambda: later)
    target = "/v2/baskets/users/user-00003"
    before = json.loads(now_api.handle("GET", target, {}, b"").body)["data"]
    after = json.loads(later_api.handle("GET", target, {}, b"").body)["data"]
    assert before["cart"] == after["cart"]
    assert before["expires"] != after["expires"]


def test_seeded_baskets_are_varied_and_realistic() -> None:
    api = fixed_api()
    kinds: Counter[str] = Counter()
    stocked: Counter[str] = Counter()
    for user in demo_user_ids(500):
        response = api.handle("GET", f"/v2/baskets/users/{user}", {}, b"")
        basket = BasketEnvelope.model_validate_json(response.body).data
        assert basket is not None
        assert len(basket.cart) <= 20
        kinds["empty" if basket.is_empty else "checkout" if basket.checkout else "cart"] += 1
        kinds["saved"] += bool(basket.saved)
        kinds["variant"] += any(item.main_product_identifier for item in basket.cart)
        for item in basket.checkout:
            assert item.product_id in {i.product_id for i in basket.cart}
            stocked[
                "unlimited" if item.stocked is None else "failed" if item.stocked < 0 else "ok"
            ] += 1
        if basket.last_changed is not None:
            assert basket.expires is not None
            assert basket.last_changed <= NOW and basket.last_changed < basket.expires
            assert NOW - timedelta(days=3) <= basket.expires <= NOW + timedelta(days=30)
        for product_id in basket.product_ids():
            assert CATALOGUE[product_id] not in HOSTILE_PRODUCTS
    assert 40 <= kinds["empty"] <= 110
    assert 200 <= kinds["cart"] <= 340
    assert 100 <= kinds["checkout"] <= 200
    assert kinds["saved"] > 50 and kinds["variant"] > 50
    total = sum(stocked.values())
    assert 0.05 < stocked["failed"] / total < 0.25
    assert 0.45 < stocked["ok"] / total < 0.75
    assert 0.1 < stocked["unlimited"] / total < 0.4


@pytest.mark.parametrize(
    "user",
    [
        "someone@example.com",
        "user-1234567",
        "USER-1",
        "demo-unknown",
        "demo-fault-x",
        "timeout",
        "401",
    ],
)
def test_unknown_users_get_an_empty_basket(client: httpx.Client, user: str) -> None:
    body = basket_of(client, user)
    assert body["data"] == {
        "expires": None,
        "lastChanged": None,
        "cart": [],
        "saved": [],
        "checkout": [],
    }
    assert body["nextToken"] is None


# --- authentication, validation, routing --------------------------------------------------------


def test_no_key_is_needed_when_none_is_configured(client: httpx.Client) -> None:
    assert client.get("/baskets/users/demo-normal", headers={"X-API-Key": "anything"}).is_success
    assert client.get("/baskets/users/demo-normal").is_success


@pytest.mark.parametrize("sent", [None, "wrong-key-4711"])
def test_a_configured_key_must_match(sent: str | None) -> None:
    transport = DemoTransport(fixed_api(api_key="s3cret-demo-key"))
    headers = {"X-API-Key": sent} if sent else {}
    with httpx.Client(base_url=DEMO_BASE_URL, transport=transport, headers=headers) as c:
        for response in (
            c.get("/baskets/users/demo-normal"),
            c.post("/baskets/products/details", json=["prod-1001"]),
        ):
            assert response.status_code == 401
            assert response.json()["error"] == {
                "code": 2002,
                "message": "Invalid API key",
                "details": None,
            }
            everything = response.text + str(response.headers)
            assert "s3cret-demo-key" not in everything and "wrong-key-4711" not in everything


def test_the_configured_key_is_accepted() -> None:
    transport = DemoTransport(fixed_api(api_key="s3cret-demo-key"))
    with httpx.Client(base_url=DEMO_BASE_URL, transport=transport) as c:
        response = c.get("/baskets/users/demo-normal", headers={"X-API-Key": "s3cret-demo-key"})
    assert response.status_code == 200
    assert "s3cret" not in repr(transport.api)


@pytest.mark.parametrize(
    ("segment", "named"),
    [
        ("a%20b", "' '"),
        ("%3Cscript%3E", "'<'"),
        ("a%2Fb", "'/'"),
        ("x" * 257, "257 characters"),
        ("%FF", "UTF-8"),
        ("caf%C3%A9", "'é'"),
    ],
)
def test_invalid_user_ids_are_rejected_with_the_problem_named(segment: str, named: str) -> None:
    response = fixed_api().handle("GET", f"/v2/baskets/users/{segment}", {}, b"")
    assert response.status == 422
    error = json.loads(response.body)["error"]
    assert error["code"] == "3002"
    assert named in error["message"]


def test_longest_and_punctuated_user_ids_are_accepted() -> None:
    api = fixed_api()
    for user in ("x" * 256, "a.b_c@d:e+f-g"):
        assert api.handle("GET", f"/v2/baskets/users/{user}", {}, b"").status == 200


def test_percent_encoded_user_ids_are_decoded() -> None:
    api = fixed_api()
    plain = api.handle("GET", "/v2/baskets/users/user-00001", {}, b"")
    encoded = api.handle("GET", "/v2/baskets/users/user%2D00001", {}, b"")
    assert encoded.body == plain.body and encoded.user_id == "user-00001"
    assert api.handle("GET", "/v2/baskets/users/demo%2Dexpiring", {}, b"").body == (
        api.handle("GET", "/v2/baskets/users/demo-expiring", {}, b"").body
    )


@pytest.mark.parametrize(
    "target",
    [
        "/baskets/users/demo-normal",
        "/api/v9/baskets/users/demo-normal",
        "/v2/baskets/users/demo-normal?provider_id=netflix",
        "http://demo.jay-basket.invalid/v2/baskets/users/demo-normal",
    ],
)
def test_any_path_prefix_query_or_absolute_target_is_accepted(target: str) -> None:
    assert fixed_api().handle("GET", target, {}, b"").status == 200


@pytest.mark.parametrize(
    "target",
    ["/v2/baskets/users/", "/v2/baskets/users/a/b", "/v2/baskets/users/a/", "/v2/nothing", "/"],
)
def test_unknown_paths_are_404_envelopes(target: str) -> None:
    response = fixed_api().handle("GET", target, {}, b"")
    assert response.status == 404
    assert json.loads(response.body)["error"]["code"] == 404


def test_wrong_methods_are_405_envelopes(client: httpx.Client) -> None:
    post = client.post("/baskets/users/demo-normal")
    get = client.get("/baskets/products/details")
    assert (post.status_code, post.headers["allow"]) == (405, "GET")
    assert (get.status_code, get.headers["allow"]) == (405, "POST")
    assert get.json()["error"]["code"] == 405


def test_api_version_is_echoed(client: httpx.Client) -> None:
    response = client.get("/baskets/users/demo-normal", headers={"x-jay-api-version": "2024-01-01"})
    assert response.headers["x-api-version"] == "2024-01-01"
    assert client.get("/baskets/users/demo-normal").headers["x-api-version"] == "2025-09-15"
    unreasonable = client.get("/baskets/users/demo-normal", headers={"x-jay-api-version": "v" * 99})
    assert unreasonable.headers["x-api-version"] == "2025-09-15"


# --- product details ----------------------------------------------------------------------------


def test_product_details(client: httpx.Client) -> None:
    response = client.post(
        "/baskets/products/details",
        json=["prod-1001-m", "prod-1009", "no-such-product", "prod-1009"],
    )
    products = ProductDetailsEnvelope.model_validate_json(response.content).data.products
    assert [p.product_id for p in products] == ["prod-1001-m", "prod-1009"]
    shirt = response.json()["data"]["products"][0]
    assert shirt["price"] == "29.99" and shirt["currency"] == "EUR"
    assert (shirt["variant"], shirt["mainProductIdentifier"]) == ("M", "prod-1001")
    assert (products[1].price, products[1].currency) == (Decimal("14.99"), "EUR")


def test_catalogue_is_realistic() -> None:
    mains = [p for p in CATALOGUE.values() if p not in HOSTILE_PRODUCTS and not p.main_product_id]
    assert 40 <= len(mains) <= 60
    stocks = [p.stock for p in PURCHASABLE]
    assert None in stocks and any(s is not None and s < 0 for s in stocks)
    assert any(s == 0 for s in stocks) and any(s is not None and s > 10 for s in stocks)
    for product in CATALOGUE.values():
        whole, cents = product.price.split(".")
        assert whole.isdigit() and len(cents) == 2 and cents.isdigit()
        if product.main_product_id and product not in HOSTILE_PRODUCTS:
            assert product.variant in {"S", "M", "L", "XL"}
            assert product.main_product_id in CATALOGUE


@pytest.mark.parametrize("body", [b"not json", b'{"ids": ["prod-1001"]}', b"[1, 2]", b"\xff"])
def test_product_details_reject_a_body_that_is_not_a_list_of_ids(
    client: httpx.Client, body: bytes
) -> None:
    response = client.post("/baskets/products/details", content=body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "3002"


# --- the loopback server ------------------------------------------------------------------------


def test_server_speaks_the_same_contract_as_the_transport() -> None:
    api = fixed_api()
    with DemoServer(api=api) as server, httpx.Client(base_url=server.base_url) as c:
        assert server.base_url == f"http://127.0.0.1:{server.port}/v2"
        over_http = c.get("/baskets/users/user-00007", headers={"x-jay-api-version": "v-test"})
        in_process = DemoTransport(api).handle_request(
            httpx.Request("GET", f"{DEMO_BASE_URL}/baskets/users/user-00007")
        )
        assert over_http.status_code == 200
        assert over_http.content == in_process.read()
        assert over_http.headers["x-api-version"] == "v-test"
        products = c.post("/baskets/products/details", json=["prod-1009"]).json()
        assert products["data"]["products"][0]["name"] == "Night Harbor Enamel Mug"


def test_server_keeps_connections_alive_and_counts_requests() -> None:
    with DemoServer(api=fixed_api()) as server, httpx.Client(base_url=server.base_url) as c:
        for user in ("demo-normal", "user-00001", "demo-normal", "a%40b.com", "demo-empty"):
            assert c.get(f"/baskets/users/{user}").status_code == 200
        assert server.connections_accepted == 1
        assert server.request_count == 5
        assert server.requests_by_user == Counter(
            {"demo-normal": 2, "user-00001": 1, "a@b.com": 1, "demo-empty": 1}
        )


def test_server_says_when_its_connections_have_ended() -> None:
    with DemoServer(api=fixed_api()) as server:
        with httpx.Client(base_url=server.base_url) as c:
            assert c.get("/baskets/users/demo-normal").status_code == 200
            # Kept alive by the client: not ended.
            assert not server.wait_for_closed_connections(timeout=0.1)
        assert server.wait_for_closed_connections(timeout=10)
        # A client gone right after sending: ended once the server is done with what it sent.
        request = b"GET /v2/baskets/users/demo-normal HTTP/1.1\r\nHost: demo\r\n\r\n"
        with socket.create_connection((server.host, server.port)) as raw:
            raw.sendall(request)
            assert raw.recv(12) == b"HTTP/1.1 200"  # accepted (counted from here on)
            assert not server.wait_for_closed_connections(timeout=0.1)
            raw.sendall(request * 20)
        assert server.wait_for_closed_connections(timeout=10)
        assert server.connections_accepted == 2


def test_server_honours_connection_close() -> None:
    with DemoServer(api=fixed_api()) as server, httpx.Client(base_url=server.base_url) as c:
        response = c.get("/baskets/users/demo-normal", headers={"Connection": "close"})
        assert response.headers["connection"] == "close"
        c.get("/baskets/users/demo-normal")
        assert server.connections_accepted == 2


def test_server_answers_a_user_id_as_its_encoded_path_segment() -> None:
    # Decoded before routing, %2F would make two path segments (404) and %3F start a query.
    with DemoServer(api=fixed_api()) as server, httpx.Client(base_url=server.base_url) as c:
        slash = c.get("/baskets/users/a%2Fb")
        question = c.get("/baskets/users/a%3Fb")
        assert c.get("/baskets/users/user%2D00001").status_code == 200
        assert server.requests_by_user == Counter({"a/b": 1, "a?b": 1, "user-00001": 1})
    assert slash.status_code == question.status_code == 422
    assert "'/'" in slash.json()["error"]["message"]
    assert "'?'" in question.json()["error"]["message"]


def test_server_reads_chunked_request_bodies() -> None:
    def chunks() -> Iterator[bytes]:
        yield b'["prod-'
        yield b'1009"]'

    with DemoServer() as server:
        response = httpx.post(f"{server.base_url}/baskets/products/details", content=chunks())
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 200
    assert response.json()["data"]["products"][0]["productId"] == "prod-1009"


def test_server_reads_a_body_as_large_as_the_limit() -> None:
    start = b'["prod-1009"'
    body = start + b" " * (MAX_BODY_BYTES - len(start) - 1) + b"]"
    assert len(body) == MAX_BODY_BYTES
    with DemoServer() as server:
        response = httpx.post(f"{server.base_url}/baskets/products/details", content=body)
    assert response.status_code == 200
    assert response.json()["data"]["products"][0]["productId"] == "prod-1009"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_server_refuses_a_body_over_the_limit_and_closes(chunked: bool) -> None:
    body = b"[" + b" " * MAX_BODY_BYTES + b"]"

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    with DemoServer() as server, httpx.Client(base_url=server.base_url) as c:
        response = c.post("/baskets/products/details", content=chunks() if chunked else body)
        assert response.status_code == 413
        assert response.json()["error"]["code"] == 413
        assert response.headers["connection"] == "close"
        assert server.request_count == 0
        assert c.get("/baskets/users/demo-normal").status_code == 200
        assert server.connections_accepted == 2


def test_server_reads_header_fields_and_targets_up_to_the_limit() -> None:
    with DemoServer() as server, httpx.Client(base_url=server.base_url) as c:
        # aiohttp's own default (8190 bytes) would refuse both.
        header = c.get("/baskets/users/demo-normal", headers={"X-Big": "a" * 60_000})
        target = c.get(f"/baskets/users/{'u' * 60_000}")
        assert server.connections_accepted == 1
    assert header.status_code == 200
    assert target.status_code == 422  # the demo's own limit on user ids, not HTTP's


def test_server_refuses_a_header_field_over_the_limit_and_closes() -> None:
    with DemoServer() as server, httpx.Client(base_url=server.base_url) as c:
        big = {"X-Big": "a" * (MAX_LINE_BYTES + 1)}
        assert c.get("/baskets/users/demo-normal", headers=big).status_code == 400
        assert server.request_count == 0
        assert c.get("/baskets/users/demo-normal").status_code == 200
        assert server.connections_accepted == 2


@pytest.mark.parametrize("shape", ["one endless line", "endless header lines"])
def test_a_request_head_that_never_ends_is_cut_off_not_buffered(shape: str) -> None:
    """48 MiB of request head without its end: the server stops reading at its limits and
    closes, instead of buffering what it is sent."""
    sent = 0
    chunk = b"a" * 65536 if shape == "one endless line" else b"X-Pad: " + b"a" * 1017 + b"\r\n"
    with DemoServer() as server, socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.settimeout(10)
        sock.sendall(b"GET /v2/baskets/users/demo-normal HTTP/1.1\r\nHost: x\r\n")
        try:
            while sent < 48 * 1024 * 1024:
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while part := sock.recv(65536):
                answer += part
        assert server.request_count == 0
    # Cut off at the first line over 64 KiB, or past 128 header lines: what was sent beyond
    # that sat in the sockets' buffers, not in the server.
    assert sent < 16 * 1024 * 1024, sent
    assert answer.split(b" ", 2)[1].startswith(b"4"), answer[:100]  # a 4xx, then closed


def test_server_refuses_a_target_over_the_limit() -> None:
    # httpx refuses to send a URL this long; aiohttp's client does not.
    async def get(url: str) -> int:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return response.status

    with DemoServer() as server:
        status = asyncio.run(get(f"{server.base_url}/baskets/users/{'a' * MAX_LINE_BYTES}"))
        assert server.request_count == 0
    assert status == 400


def test_server_answers_expect_100_continue() -> None:
    async def post(url: str) -> tuple[int, Any]:
        timeout = aiohttp.ClientTimeout(total=5)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, data=b'["prod-1009"]', expect100=True) as response,
        ):
            return response.status, await response.json()

    with DemoServer() as server:
        status, body = asyncio.run(post(f"{server.base_url}/baskets/products/details"))
    assert status == 200
    assert body["data"]["products"][0]["productId"] == "prod-1009"


def test_head_requests_get_no_body() -> None:
    with DemoServer() as server:
        response = httpx.head(f"{server.base_url}/baskets/users/demo-normal")
    assert response.status_code == 405 and response.content == b""
    assert int(response.headers["content-length"]) > 0


def test_server_answers_500_when_the_api_itself_fails() -> None:
    def broken_clock() -> datetime:
        raise RuntimeError("clock failure")

    with DemoServer(api=DemoApi(clock=broken_clock)) as server, httpx.Client() as c:
        response = c.get(f"{server.base_url}/baskets/users/demo-normal")
        assert response.status_code == 500
        assert response.json()["error"]["code"] == 3001
        # The connection stays usable.
        assert c.get(f"{server.base_url}/baskets/users/%20").status_code == 422


def test_server_lifecycle_misuse() -> None:
    server = DemoServer()
    server.stop()  # never started: nothing to do
    with pytest.raises(RuntimeError):
        _ = server.port
    with server, pytest.raises(RuntimeError):
        server.start()
    server.stop()  # already stopped


def test_ipv6_base_url_has_brackets() -> None:
    try:
        server = DemoServer(host="::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        assert server.base_url == f"http://[::1]:{server.port}/v2"
        assert httpx.get(f"{server.base_url}/baskets/users/demo-normal").status_code == 200
    finally:
        server.stop()


def test_error_rate_one_answers_503_envelopes() -> None:
    with DemoServer(faults=Faults(error_rate=1)) as server:
        response = httpx.get(f"{server.base_url}/baskets/users/demo-normal")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == 503


def test_rate_limit_rate_one_answers_429_with_retry_after() -> None:
    with DemoServer(faults=Faults(rate_limit_rate=1, retry_after=0.5)) as server:
        response = httpx.get(f"{server.base_url}/baskets/users/demo-normal")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "0.5"


def test_malformed_rate_one_answers_truncated_json_or_an_html_502() -> None:
    seen: set[tuple[int, str]] = set()
    with DemoServer(faults=Faults(malformed_rate=1)) as server, httpx.Client() as c:
        for _ in range(12):
            response = c.get(f"{server.base_url}/baskets/users/demo-normal")
            with pytest.raises(json.JSONDecodeError):
                response.json()
            seen.add((response.status_code, response.headers["content-type"]))
    assert seen == {(200, "application/json"), (502, "text/html")}


# What httpx says when the connection ends before a single byte of an answer.
UNANSWERED = "Server disconnected without sending a response"


def test_drop_rate_one_closes_without_an_answer() -> None:
    async def aiohttp_get(url: str) -> None:
        async with aiohttp.ClientSession() as session, session.get(url):
            pass

    with DemoServer(faults=Faults(drop_rate=1)) as server:
        url = f"{server.base_url}/baskets/users/demo-normal"
        with pytest.raises(httpx.RemoteProtocolError, match=UNANSWERED):
            httpx.get(url)
        assert server.request_count == 1
        # aiohttp's client tries an idempotent request again once it was disconnected.
        with pytest.raises(aiohttp.ServerDisconnectedError):
            asyncio.run(aiohttp_get(url))
        assert server.faults_injected == Counter({"drop": server.request_count})


def test_a_stall_ends_with_the_connection_closed_unanswered() -> None:
    with DemoServer(api=fixed_api(stall_seconds=0.2)) as server:
        with pytest.raises(httpx.RemoteProtocolError, match=UNANSWERED):
            httpx.get(f"{server.base_url}/baskets/users/demo-fault-timeout", timeout=10)
        assert server.request_count == 1


def test_a_stalled_request_holds_up_no_other() -> None:
    server = DemoServer(api=fixed_api(stall_seconds=60)).start()
    outcome: list[BaseException] = []

    def stalled() -> None:
        try:
            httpx.get(f"{server.base_url}/baskets/users/demo-fault-timeout", timeout=30)
        except httpx.TransportError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=stalled)
    thread.start()
    try:
        assert server.wait_for_requests(1)
        response = httpx.get(f"{server.base_url}/baskets/users/demo-normal", timeout=5)
        assert response.status_code == 200
    finally:
        server.stop()
        thread.join(timeout=20)
    assert len(outcome) == 1


def test_stall_rate_one_makes_the_client_time_out() -> None:
    with DemoServer(faults=Faults(stall_rate=1)) as server, pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{server.base_url}/baskets/users/demo-normal", timeout=0.2)


def test_fault_users_fail_over_http_too() -> None:
    with DemoServer(api=fixed_api()) as server, httpx.Client(base_url=server.base_url) as c:
        with pytest.raises(httpx.ReadTimeout):
            c.get("/baskets/users/demo-fault-timeout", timeout=0.2)
        with pytest.raises(httpx.RemoteProtocolError):
            c.get("/baskets/users/demo-fault-drop")
        assert len(c.get("/baskets/users/demo-fault-huge").content) > 4 * MiB + 1


def test_latency_delays_but_answers_every_request() -> None:
    with DemoServer(faults=Faults(latency_ms=5, jitter_ms=5)) as server:

        async def fetch_all() -> list[int]:
            async with httpx.AsyncClient(base_url=server.base_url) as c:
                responses = await asyncio.gather(
                    *(c.get(f"/baskets/users/user-{n:05d}") for n in range(1, 21))
                )
            return [r.status_code for r in responses]

        assert asyncio.run(fetch_all()) == [200] * 20
        assert server.request_count == 20


def test_faults_are_drawn_from_a_seeded_rng() -> None:
    def statuses(seed: int) -> list[int]:
        faults = Faults(error_rate=0.5, seed=seed)
        with DemoServer(faults=faults) as server, httpx.Client(base_url=server.base_url) as c:
            return [c.get("/baskets/users/demo-normal").status_code for _ in range(30)]

    first = statuses(3)
    assert first == statuses(3)
    assert {200, 503} == set(first)
    assert first != statuses(4)


def test_stop_ends_a_stalled_request_with_a_connection_error() -> None:
    server = DemoServer(api=DemoApi(stall_seconds=60)).start()
    outcome: list[BaseException] = []

    def request() -> None:
        try:
            httpx.get(f"{server.base_url}/baskets/users/demo-fault-timeout", timeout=30)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=request)
    thread.start()
    assert server.wait_for_requests(1)
    server.stop()
    thread.join(timeout=20)
    assert not thread.is_alive()
    # Not the client's own timeout: the server closed the connection.
    assert isinstance(outcome[0], httpx.TransportError)
    assert not isinstance(outcome[0], httpx.TimeoutException)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.base_url}/baskets/users/demo-normal", timeout=2)


def test_faults_reject_impossible_values() -> None:
    with pytest.raises(ValueError, match="error_rate must be between 0 and 1"):
        Faults(error_rate=1.5)
    with pytest.raises(ValueError, match="drop_rate"):
        Faults(drop_rate=float("nan"))
    with pytest.raises(ValueError, match="latency_ms must be a non-negative number"):
        Faults(latency_ms=-1)


# --- command line -------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def test_cli_serves_until_terminated() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "basket_lib.simulator", "--port", "0", "--api-key", "cli-key-0815"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v2")
        assert "cli-key-0815" not in url
        response = httpx.get(
            f"{url}/baskets/users/demo-normal", headers={"X-API-Key": "cli-key-0815"}
        )
        assert response.status_code == 200
        assert httpx.get(f"{url}/baskets/users/demo-normal").status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr


def test_cli_rejects_a_rate_outside_zero_to_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--port", "0", "--error-rate", "1.5"])
    assert exited.value.code != 0
    assert "argument --error-rate: must be between 0 and 1, got 1.5" in capsys.readouterr().err


def test_cli_reports_a_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert main(["--port", str(busy.getsockname()[1])]) == 1
    assert "Cannot listen on 127.0.0.1" in capsys.readouterr().err
