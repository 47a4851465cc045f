"""The agent's answer: checkout lines in words, the failure alert, the ticket summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from babel import Locale

from basket_lib.api.models import Basket, BasketResult, CheckoutProduct, ProductDetails
from basket_lib.views import answer, times
from basket_lib.views.answer import LineKind, StockNow

NOW = datetime(2026, 12, 1, 10, 51, 3, tzinfo=UTC)


def line(product_id: str = "prod-1017", **fields: Any) -> CheckoutProduct:
    return CheckoutProduct(product_id=product_id, **fields)


def details(product_id: str = "prod-1017", **fields: Any) -> dict[str, ProductDetails]:
    fields.setdefault("name", "Salt & Ember Signed Cookbook")
    return {product_id: ProductDetails(product_id=product_id, **fields)}


def test_the_issue_example_word_for_word() -> None:
    found = answer.explain_line(
        line(count=2, stocked=-2), details(current_stock_count=0, out_of_stock=True)
    )
    assert found.text == (
        "Salt & Ember Signed Cookbook (prod-1017): 2 ordered, reservation failed (stocked −2); "
        "current stock 0, out of stock"
    )
    assert found.failed and found.stock is StockNow.OUT and not found.may_succeed_on_retry


@pytest.mark.parametrize(
    ("stock", "clause", "state", "retry"),
    [
        ({"current_stock_count": 14}, "in stock now (14): the reservation may succeed on retry",
         StockNow.AVAILABLE, True),
        ({"current_stock_count": 1}, "only 1 in stock now: a retry with fewer units may succeed",
         StockNow.SHORT, False),
        ({"current_stock_count": None}, "unlimited stock now: the reservation may succeed on retry",
         StockNow.UNLIMITED, True),
        ({"current_stock_count": -2}, "current stock −2: no longer available",
         StockNow.GONE, False),
        ({"current_stock_count": 5, "out_of_stock": True}, "current stock 5, out of stock",
         StockNow.OUT, False),
        ({"current_stock_count": None, "out_of_stock": True}, "out of stock", StockNow.OUT, False),
    ],
)  # fmt: skip
def test_a_failed_line_says_what_the_stock_is_now(
    stock: dict[str, Any], clause: str, state: StockNow, retry: bool
) -> None:
    found = answer.explain_line(line(count=2, stocked=-1), details(**stock))
    assert found.text.endswith(f"reservation failed (stocked −1); {clause}")
    assert found.stock is state and found.may_succeed_on_retry is retry


def test_without_product_details_the_line_is_explained_from_the_basket_alone() -> None:
    unavailable = answer.explain_line(line(count=2, stocked=-2), None)
    assert unavailable.text == (
        "prod-1017: 2 ordered, reservation failed (stocked −2); current stock unknown (product "
        "details unavailable)"
    )
    # Details were fetched but this product had none.
    missing = answer.explain_line(line(count=2, stocked=-2), {})
    assert missing.text.endswith("current stock unknown (no product details for it)")
    assert unavailable.price is None and missing.stock is StockNow.UNKNOWN


def test_a_variant_is_named_with_its_main_product_but_never_takes_its_stock() -> None:
    item = line(
        "prod-1001-m", count=1, stocked=-1, variant="M", main_product_identifier="prod-1001"
    )
    main = details("prod-1001", name="Night Harbor Logo T-Shirt", current_stock_count=39)
    found = answer.explain_line(item, main)
    assert found.label == "Night Harbor Logo T-Shirt, variant M (prod-1001-m)"
    assert found.customer_name == "Night Harbor Logo T-Shirt (M)"
    assert found.stock is StockNow.UNKNOWN  # 39 is the main product's stock, not the variant's
    assert answer.product_label(line("p-2", variant="L"), None) == "p-2 (variant L)"


@pytest.mark.parametrize(
    ("stocked", "count", "kind", "text"),
    [
        (2, 2, LineKind.RESERVED, "2 ordered, 2 reserved in stock"),
        (3, 2, LineKind.RESERVED, "2 ordered, 3 reserved in stock"),
        (1, 3, LineKind.PARTLY_RESERVED, "3 ordered, only 1 reserved in stock"),
        (0, 3, LineKind.PARTLY_RESERVED, "3 ordered, only 0 reserved in stock"),
        (None, 3, LineKind.UNLIMITED, "3 ordered, no reservation needed (unlimited stock)"),
    ],
)
def test_reserved_and_unlimited_lines(
    stocked: int | None, count: int, kind: LineKind, text: str
) -> None:
    found = answer.explain_line(line(count=count, stocked=stocked), details())
    assert found.kind is kind and not found.failed
    assert found.text == f"Salt & Ember Signed Cookbook (prod-1017): {text}"


def test_failed_lines_come_first_and_the_alert_names_them() -> None:
    checkout = [
        line("a", stocked=1),
        line("b", stocked=-1),
        line("c", stocked=None),
        line("d", stocked=-3, count=3),
        line("e", stocked=-1),
    ]
    lines = answer.explain_checkout(checkout, {})
    assert [found.product_id for found in lines] == ["b", "d", "e", "a", "c"]
    assert answer.failure_alert(lines) == (
        "3 stock reservations failed in this checkout: b, d and e."
    )
    assert (
        answer.failure_alert(answer.explain_checkout([line("a", stocked=0, count=0)], {})) is None
    )
    assert answer.failure_alert(lines[:1]) == "1 stock reservation failed in this checkout: b."


def test_value_at_risk_is_the_failed_lines_total_per_currency() -> None:
    catalogue = {
        "a": ProductDetails(product_id="a", price=Decimal("39.90"), currency="EUR"),
        "b": ProductDetails(product_id="b", price=Decimal("10"), currency="USD"),
        "c": ProductDetails(product_id="c", price=Decimal("1000"), currency="EUR"),
    }
    lines = answer.explain_checkout(
        [line("a", count=2, stocked=-2), line("b", stocked=-1), line("c", stocked=4)], catalogue
    )
    risk = answer.value_at_risk(lines)
    assert risk.amounts == {"EUR": Decimal("79.80"), "USD": Decimal("10")}
    assert risk.text() == "€79.80 + $10.00"
    assert lines[0].total == Decimal("79.80")


def expiry(status: times.ExpiryStatus = times.ExpiryStatus.OK) -> tuple[Any, ...]:
    return (status, "2026-12-01 11:28 CET")


@pytest.mark.parametrize(
    ("stocks", "reply"),
    [
        ([{"current_stock_count": 0}], "I'm sorry: Salt & Ember Signed Cookbook could not be "
         "reserved for you because it is out of stock."),
        ([{"current_stock_count": 9}], "I'm sorry: Salt & Ember Signed Cookbook could not be "
         "reserved when you checked out, but it is available again now, so please try checking "
         "out again."),
        ([{"current_stock_count": 1}], "I'm sorry: Salt & Ember Signed Cookbook could not be "
         "reserved in the quantity you ordered; fewer are available now, so please try again "
         "with fewer."),
        ([None], "I'm sorry: the product prod-1017 could not be reserved for you."),
    ],
)  # fmt: skip
def test_customer_reply_gives_the_reason_it_knows_and_invents_none(
    stocks: list[dict[str, Any] | None], reply: str
) -> None:
    (stock,) = stocks
    lines = [answer.explain_line(line(count=2, stocked=-2), details(**stock) if stock else None)]
    assert answer.customer_reply(lines, *expiry()) == reply


def test_customer_reply_for_mixed_and_clean_checkouts_and_expiry() -> None:
    catalogue = {
        **details("a", name="Mug", current_stock_count=0),
        **details("b", name="Poster", current_stock_count=0),
        **details("c", name="Shirt", current_stock_count=5),
    }
    lines = answer.explain_checkout(
        [line("a", stocked=-1), line("b", stocked=-1), line("c", stocked=1)], catalogue
    )
    assert answer.customer_reply(lines, *expiry(times.ExpiryStatus.EXPIRING)) == (
        "I'm sorry: Mug and Poster could not be reserved for you because they are out of stock. "
        "The other items in your checkout are reserved for you. Your basket expires at "
        "2026-12-01 11:28 CET; please complete your order before then."
    )
    assert answer.customer_reply(lines[2:], *expiry()) == (
        "Every item in your checkout is reserved for you."
    )
    assert answer.customer_reply([], *expiry(times.ExpiryStatus.EXPIRED)) == (
        "I looked at your basket: there is no checkout in progress right now. Your basket has "
        "expired, so the items need to be added again."
    )


def test_in_an_expired_basket_reservations_have_lapsed_and_the_reply_says_so() -> None:
    catalogue = {
        **details("a", name="Mug", current_stock_count=0),
        **details("b", name="Poster"),
        **details("c", name="Shirt"),
    }
    checkout = [line("a", stocked=-1), line("b", stocked=1), line("c", count=3, stocked=1)]
    lines = answer.explain_checkout(checkout, catalogue, expired=True)
    assert [(found.kind, found.text) for found in lines] == [
        (LineKind.FAILED, "Mug (a): 1 ordered, reservation failed (stocked −1); current stock 0, "
         "out of stock"),
        (LineKind.LAPSED, "Poster (b): 1 ordered, 1 had been reserved in stock; the reservation "
         "lapsed when the basket expired"),
        (LineKind.LAPSED, "Shirt (c): 3 ordered, only 1 had been reserved in stock; the "
         "reservation lapsed when the basket expired"),
    ]  # fmt: skip
    lapsed = (
        "Your basket has expired, so nothing in your checkout is reserved for you any more: "
        "please add the items to your basket again and check out."
    )
    expired = expiry(times.ExpiryStatus.EXPIRED)
    assert answer.customer_reply(lines, *expired) == (
        f"I'm sorry: Mug could not be reserved for you because it is out of stock. {lapsed}"
    )
    assert answer.customer_reply(lines[1:], *expired) == lapsed


def test_ticket_summary_of_an_expired_basket_in_utc() -> None:
    found = result(
        expires=NOW - timedelta(days=2),
        checkout=[{"productId": "prod-1009", "count": 1, "stocked": 1}],
    )
    text = answer.ticket_summary(found, CATALOGUE, now=NOW, tz_name="UTC").splitlines()
    assert text[1] == "Basket fetched: 2026-12-01 10:50:51 UTC"
    assert text[3] == (
        "- Enamel Mug (prod-1009): 1 ordered, 1 had been reserved in stock; the reservation "
        "lapsed when the basket expired"
    )
    assert text[5] == "Expires: 2026-11-29 10:51 UTC, expired 2 days ago"
    assert "reserved for you." not in text[-1] and "has expired" in text[-1]


def result(**basket: Any) -> BasketResult:
    return BasketResult(
        user_id="user-00042",
        basket=Basket(**basket),
        fetched_at=NOW - timedelta(seconds=12),
        api_version="2025-09-15",
    )


CATALOGUE = {
    "prod-1017": ProductDetails(
        product_id="prod-1017",
        name="Salt & Ember Signed Cookbook",
        price=Decimal("39.90"),
        currency="EUR",
        current_stock_count=0,
        out_of_stock=True,
    ),
    "prod-1009": ProductDetails(
        product_id="prod-1009", name="Enamel Mug", price=Decimal("14.99"), currency="EUR"
    ),
}


def test_ticket_summary_has_everything_the_reply_needs() -> None:
    found = result(
        expires=NOW + timedelta(days=5, hours=2),
        cart=[{"productId": "prod-1009", "count": 1}],
        saved=[{"productId": "prod-1017", "count": 0}],
        checkout=[
            {"productId": "prod-1017", "count": 2, "stocked": -2},
            {"productId": "prod-1009", "count": 1, "stocked": 1},
        ],
    )
    text = answer.ticket_summary(found, CATALOGUE, now=NOW, tz_name="Europe/Berlin")
    assert text.splitlines() == [
        "User: user-00042",
        "Basket fetched: 2026-12-01 11:50:51 CET (2026-12-01 10:50:51 UTC)",
        "Checkout: 2 items, 3 units, total €94.79",
        "- Salt & Ember Signed Cookbook (prod-1017): 2 ordered, reservation failed (stocked −2); "
        "current stock 0, out of stock",
        "- Enamel Mug (prod-1009): 1 ordered, 1 reserved in stock",
        "Failed reservations: 1 of 2; value at risk €79.80",
        "Cart: 1 item, total €14.99",
        "Saved for later: 1 item",
        "Expires: 2026-12-06 13:51 CET (2026-12-06 12:51 UTC), expires in 5 days 2 h",
        "",
        "Suggested reply:",
        "I'm sorry: Salt & Ember Signed Cookbook could not be reserved for you because it is out "
        "of stock. The other items in your checkout are reserved for you.",
    ]


def test_ticket_summary_of_a_basket_without_checkout_or_details() -> None:
    found = result(cart=[{"productId": "prod-1009", "count": 2}])
    text = answer.ticket_summary(
        found, None, now=NOW, tz_name=None, locale=Locale("de", "DE")
    ).splitlines()
    assert text[2:6] == [
        "Checkout: none in progress",
        "Cart: 1 item, total unknown (no prices)",
        "Expires: no expiry date",
        "Product details were unavailable: names, prices and stock are not shown.",
    ]
    clean = answer.ticket_summary(
        result(checkout=[{"productId": "prod-1009", "stocked": 1}]),
        CATALOGUE,
        now=NOW,
        tz_name="UTC",
    )
    assert "Failed reservations: none" in clean
    assert "Every item in your checkout is reserved for you." in clean


def test_signed_numbers_use_a_real_minus() -> None:
    assert answer.signed(-1234) == "−1,234"
    assert answer.signed(0) == "0"
    assert answer.signed(7) == "7"
