"""basket_lib.views.tables: texts, time zones, basket tables, failure aggregation and CSV export."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pytest
from babel import Locale
from pandas.io.formats.style import Styler

from basket_lib.api.errors import error_for_status
from basket_lib.api.models import Basket, BasketResult, ProductDetails
from basket_lib.api.redaction import Redactor
from basket_lib.scan.report import ErrorRecord, FailureRecord
from basket_lib.views import tables
from basket_lib.views.tables import (
    ERROR_COLUMNS,
    FAILED_ROW_CSS,
    FAILURE_COLUMNS,
    BasketMetrics,
    basket_metrics,
    basket_summary_json,
    cart_table,
    checkout_table,
    deep_link,
    errors_frame,
    failures_by_product,
    failures_frame,
    reservation_status,
    saved_table,
    with_failed_rows_tinted,
)
from basket_lib.views.times import (
    ExpiryStatus,
    expiry_status,
    expiry_text,
    format_time,
    humanize_delta,
    to_local,
)

NOW = datetime(2025, 6, 29, 6, 0, tzinfo=UTC)

# A basket as the API sends it: a variant without its own details, a failed reservation, an
# unlimited item and a saved product.
BASKET_JSON: dict[str, Any] = {
    "expires": "2025-06-29T08:12:34Z",
    "lastChanged": "2025-06-04T12:34:56Z",
    "cart": [
        {"productId": "shirt", "count": 2},
        {"productId": "shirt-L", "count": 1, "variant": "L", "mainProductIdentifier": "shirt"},
        {"productId": "mug", "count": 3, "variant": ""},
    ],
    "saved": [{"productId": "poster", "count": 0}],
    "checkout": [
        {"productId": "shirt", "count": 2, "stocked": 2},
        {"productId": "shirt-L", "count": 3, "stocked": -2, "mainProductIdentifier": "shirt"},
        {"productId": "mug", "count": 1, "stocked": -1},
        {"productId": "ebook", "count": 1, "stocked": None},
        {"productId": "cap", "count": 4, "stocked": 0},
    ],
}
BASKET = Basket.model_validate(BASKET_JSON)

DETAILS = {
    "shirt": ProductDetails(
        product_id="shirt", name="Shirt", price=Decimal("29.99"), currency="EUR"
    ),
    "mug": ProductDetails(product_id="mug", name="Mug <b>bold</b>", price=None, currency=None),
}


def _result(raw: Any) -> BasketResult:
    return BasketResult(user_id="u-1", basket=BASKET, fetched_at=NOW, raw=raw)


# --- durations and expiry ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(0), "under a minute"),
        (timedelta(seconds=59), "under a minute"),
        (timedelta(seconds=60), "1 min"),
        (timedelta(minutes=37, seconds=59), "37 min"),
        (timedelta(minutes=59, seconds=59), "59 min"),
        (timedelta(hours=1), "1 h"),
        (timedelta(hours=3, minutes=12, seconds=40), "3 h 12 min"),
        (timedelta(hours=23, minutes=59), "23 h 59 min"),
        (timedelta(days=1), "1 day"),
        (timedelta(days=1, hours=3), "1 day 3 h"),
        (timedelta(days=2), "2 days"),
        (timedelta(days=2, minutes=30), "2 days"),
        (timedelta(days=2, hours=4, minutes=30), "2 days 4 h"),
        (-timedelta(hours=3, minutes=12), "3 h 12 min"),
    ],
)
def test_humanize_delta(delta: timedelta, expected: str) -> None:
    assert humanize_delta(delta) == expected


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(hours=3, minutes=12), "expires in 3 h 12 min"),
        (timedelta(days=25, hours=2), "expires in 25 days 2 h"),
        (timedelta(seconds=1), "expires in under a minute"),
        (timedelta(0), "expired under a minute ago"),
        (-timedelta(seconds=30), "expired under a minute ago"),
        (-timedelta(minutes=5), "expired 5 min ago"),
        (-timedelta(days=2), "expired 2 days ago"),
    ],
)
def test_expiry_text(offset: timedelta, expected: str) -> None:
    assert expiry_text(NOW + offset, NOW) == expected


def test_expiry_text_without_expiry() -> None:
    assert expiry_text(None, NOW) == "no expiry date"


def test_expiry_text_takes_naive_timestamps_as_utc() -> None:
    assert expiry_text(datetime(2025, 6, 29, 7, 0), NOW) == "expires in 1 h"


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (None, ExpiryStatus.UNKNOWN),
        (-timedelta(days=3), ExpiryStatus.EXPIRED),
        (-timedelta(seconds=1), ExpiryStatus.EXPIRED),
        (timedelta(0), ExpiryStatus.EXPIRED),
        (timedelta(seconds=1), ExpiryStatus.EXPIRING),
        (timedelta(minutes=59, seconds=59), ExpiryStatus.EXPIRING),
        (timedelta(hours=1), ExpiryStatus.OK),
        (timedelta(days=2), ExpiryStatus.OK),
    ],
)
def test_expiry_status(offset: timedelta | None, expected: ExpiryStatus) -> None:
    expires = None if offset is None else NOW + offset
    assert expiry_status(expires, NOW) is expected


def test_expiry_status_is_a_plain_string_and_soon_is_configurable() -> None:
    assert expiry_status(NOW + timedelta(hours=2), NOW, soon=timedelta(days=1)) == "expiring"
    assert expiry_status(NOW - timedelta(hours=2), NOW) == "expired"


# --- time zones -------------------------------------------------------------------------------

EXPIRES = datetime(2025, 6, 29, 8, 12, 34, tzinfo=UTC)


def test_to_local_converts_to_the_named_zone() -> None:
    local = to_local(EXPIRES, "Europe/Berlin")
    assert local is not None
    assert (local.hour, local.minute) == (10, 12)
    assert local.utcoffset() == timedelta(hours=2)
    assert local == EXPIRES


@pytest.mark.parametrize("tz_name", [None, "", "Mars/Olympus_Mons", "../../etc/passwd", "UTC"])
def test_to_local_falls_back_to_utc(tz_name: str | None) -> None:
    local = to_local(EXPIRES, tz_name)
    assert local is not None
    assert local.utcoffset() == timedelta(0)
    assert local.hour == 8


def test_to_local_none_and_naive() -> None:
    assert to_local(None, "Europe/Berlin") is None
    local = to_local(datetime(2025, 6, 29, 8, 12), "Europe/Berlin")
    assert local is not None
    assert local.hour == 10


@pytest.mark.parametrize(
    ("ts", "tz_name", "expected"),
    [
        (EXPIRES, "Europe/Berlin", "2025-06-29 10:12 CEST"),
        (datetime(2025, 1, 15, 8, 12, tzinfo=UTC), "Europe/Berlin", "2025-01-15 09:12 CET"),
        (EXPIRES, "America/New_York", "2025-06-29 04:12 EDT"),
        (EXPIRES, "Asia/Kolkata", "2025-06-29 13:42 IST"),
        (EXPIRES, "Not/AZone", "2025-06-29 08:12 UTC"),
        (EXPIRES, None, "2025-06-29 08:12 UTC"),
        # Spring forward in Berlin: 02:00 CET jumps to 03:00 CEST at 01:00 UTC.
        (datetime(2025, 3, 30, 0, 59, tzinfo=UTC), "Europe/Berlin", "2025-03-30 01:59 CET"),
        (datetime(2025, 3, 30, 1, 0, tzinfo=UTC), "Europe/Berlin", "2025-03-30 03:00 CEST"),
        # Fall back: 02:30 local happens twice, told apart by the abbreviation.
        (datetime(2025, 10, 26, 0, 30, tzinfo=UTC), "Europe/Berlin", "2025-10-26 02:30 CEST"),
        (datetime(2025, 10, 26, 1, 30, tzinfo=UTC), "Europe/Berlin", "2025-10-26 02:30 CET"),
    ],
)
def test_format_time(ts: datetime, tz_name: str | None, expected: str) -> None:
    assert format_time(ts, tz_name) == expected


def test_utc_and_missing_timestamps() -> None:
    assert format_time(EXPIRES.astimezone(ZoneInfo("Asia/Tokyo")), "UTC") == "2025-06-29 08:12 UTC"
    assert format_time(None, "UTC") == "unknown"
    assert format_time(None, "Europe/Berlin") == "unknown"


# --- reservations and metrics -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("stocked", "expected"),
    [
        (-3, "failed (-3)"),
        (-1, "failed (-1)"),
        (0, "reserved 0"),
        (2, "reserved 2"),
        (None, "unlimited"),
    ],
)
def test_reservation_status(stocked: int | None, expected: str) -> None:
    assert reservation_status(stocked) == expected


def test_basket_metrics() -> None:
    assert basket_metrics(BASKET) == BasketMetrics(
        cart_products=3,
        cart_units=6,
        saved_products=1,
        checkout_products=5,
        checkout_units=11,
        failed_reservations=2,
        failed_units=4,
        reserved_units=2,
        unlimited_products=1,
    )


def test_basket_metrics_of_an_empty_basket() -> None:
    metrics = basket_metrics(Basket())
    assert metrics == BasketMetrics(0, 0, 0, 0, 0, 0, 0, 0, 0)


# --- basket tables ----------------------------------------------------------------------------


DISPLAYED = ("product_id", "name", "price", "line_total", "variant", "main_product", "count")


def test_cart_table_with_details_and_variant_fallback() -> None:
    table = cart_table(BASKET, DETAILS)
    assert table.column_names == list(DISPLAYED)
    assert table.column("product_id").to_pylist() == ["shirt", "shirt-L", "mug"]
    # The variant has no details of its own: its main product's name and price are shown.
    assert table.column("name").to_pylist() == ["Shirt", "Shirt", "Mug <b>bold</b>"]
    assert table.column("price").to_pylist() == ["€29.99", "€29.99", ""]
    assert table.column("line_total").to_pylist() == ["€59.98", "€29.99", ""]
    assert table.column("variant").to_pylist() == ["", "L", ""]
    assert table.column("main_product").to_pylist() == ["", "shirt", ""]
    assert table.column("count").to_pylist() == [2, 1, 3]
    assert table.schema.field("count").type == pa.int64()


def test_a_variant_with_its_own_details_uses_them() -> None:
    details = {
        **DETAILS,
        "shirt-L": ProductDetails(product_id="shirt-L", name="Shirt, size L", price=Decimal("31")),
    }
    row = cart_table(BASKET, details).to_pylist()[1]
    assert row["name"] == "Shirt, size L"
    # Its own price, without a currency: none is borrowed from the main product.
    assert row["price"] == "31.00 (no currency)"


@pytest.mark.parametrize("details", [None, {}])
def test_tables_without_details_have_no_names(details: dict[str, ProductDetails] | None) -> None:
    for table in (cart_table(BASKET, details), checkout_table(BASKET, details)):
        for column in ("name", "price", "line_total"):
            assert set(table.column(column).to_pylist()) == {""}


def test_saved_table() -> None:
    assert saved_table(BASKET, DETAILS).to_pylist() == [
        {
            "product_id": "poster",
            "name": "",
            "price": "",
            "line_total": "",
            "variant": "",
            "main_product": "",
            "count": 0,
        }
    ]


def test_checkout_table() -> None:
    table = checkout_table(BASKET, DETAILS)
    assert table.column_names == [*DISPLAYED, "stocked", "status", "failed"]
    # The unlimited line has no stock count: the column is text, with an empty cell for it.
    assert table.column("stocked").to_pylist() == ["2", "-2", "-1", "", "0"]
    assert table.column("status").to_pylist() == [
        "reserved 2",
        "failed (-2)",
        "failed (-1)",
        "unlimited",
        "reserved 0",
    ]
    assert table.schema.field("failed").type == pa.bool_()
    assert table.column("failed").to_pylist() == [False, True, True, False, False]
    assert table.column("name").to_pylist()[1] == "Shirt"  # main product fallback in checkout too


def test_a_complete_stock_column_stays_a_number() -> None:
    basket = Basket.model_validate({"checkout": [{"productId": "mug", "count": 1, "stocked": -1}]})
    table = checkout_table(basket)
    assert table.schema.field("stocked").type == pa.int64()
    assert table.column("stocked").to_pylist() == [-1]


def test_empty_basket_tables_keep_their_columns() -> None:
    empty = Basket()
    pairs = [
        (cart_table(empty), cart_table(BASKET, DETAILS)),
        (saved_table(empty), saved_table(BASKET, DETAILS)),
        (checkout_table(empty), checkout_table(BASKET, DETAILS)),
    ]
    for empty_table, full_table in pairs:
        assert empty_table.num_rows == 0
        assert empty_table.column_names == full_table.column_names


SHOWN = ("product_id", "status", "count")


def test_failed_rows_are_tinted_across_the_columns_shown() -> None:
    styler = with_failed_rows_tinted(checkout_table(BASKET, DETAILS), SHOWN)
    assert isinstance(styler, Styler)
    assert list(styler.data.columns) == list(SHOWN)
    html = styler.to_html()
    css = html.split("</style>")[0]
    # Rows 1 and 2 failed, in every column shown; the others are not tinted.
    for row in (1, 2):
        assert all(f"row{row}_col{col}" in css for col in range(len(SHOWN)))
    assert "row0_col0" not in css and "row3_col0" not in css and "row4_col0" not in css
    assert "rgba(220, 38, 38, 0.22)" in css


def test_highlight_colour_is_translucent() -> None:
    alpha = float(FAILED_ROW_CSS.rsplit(",", 1)[1].strip(" )"))
    assert FAILED_ROW_CSS.startswith("background-color: rgba(")
    assert 0 < alpha < 1


def test_a_checkout_without_a_failure_is_the_table_itself() -> None:
    basket = Basket.model_validate(
        {
            "checkout": [
                {"productId": "mug", "count": 1, "stocked": 1},
                {"productId": "pen", "count": 2},
            ]
        }
    )
    shown = with_failed_rows_tinted(checkout_table(basket), SHOWN)
    assert isinstance(shown, pa.Table)  # no Styler to render
    assert shown.column_names == list(SHOWN)
    assert shown.column("status").to_pylist() == ["reserved 1", "unlimited"]


# --- raw JSON and deep links ------------------------------------------------------------------


def test_basket_summary_json_pretty_prints_the_raw_response() -> None:
    raw = {"data": {**BASKET_JSON, "note": "Müller 🛒"}, "nextToken": None}
    text = basket_summary_json(_result(raw))
    assert json.loads(text) == raw
    assert "Müller 🛒" in text
    assert text.splitlines()[1].startswith('  "data"')


def test_basket_summary_json_survives_values_json_cannot_encode() -> None:
    assert json.loads(basket_summary_json(_result({"price": Decimal("1.50")}))) == {"price": "1.50"}


def test_basket_summary_json_without_raw_uses_the_api_field_names() -> None:
    parsed = json.loads(basket_summary_json(_result(None)))
    assert parsed["data"]["lastChanged"] == "2025-06-04T12:34:56Z"
    assert parsed["data"]["checkout"][1]["productId"] == "shirt-L"
    assert parsed["nextToken"] is None


@pytest.mark.parametrize(
    ("user_id", "encoded"),
    [
        ("plain-123", "plain-123"),
        ("a/b", "a%2Fb"),
        ("a?b", "a%3Fb"),
        ("a#b", "a%23b"),
        ("a b", "a%20b"),
        ("x&user=evil", "x%26user%3Devil"),
        ("🛒", "%F0%9F%9B%92"),
    ],
)
def test_deep_link_encodes_the_user_id(user_id: str, encoded: str) -> None:
    for base in ("https://support.example/app", "https://support.example/app/"):
        link = deep_link(base, user_id)
        assert link == f"https://support.example/app/?user={encoded}"
        assert parse_qs(urlsplit(link).query) == {"user": [user_id]}
        assert urlsplit(link).fragment == ""


# --- failures across many users ---------------------------------------------------------------


def _scan_frame() -> pd.DataFrame:
    details = {
        "p1": ProductDetails(product_id="p1", name="Shirt"),
        "p2": ProductDetails(product_id="p2", name="Mug"),
    }
    return failures_frame(
        [
            FailureRecord("u1", "p1", "L", None, 2, -2),
            FailureRecord("u2", "p1-M", "M", "p1", 1, -1),
            FailureRecord("u1", "p1", None, None, 3, -3),
            FailureRecord("u3", "p2", None, None, 5, -5),
            FailureRecord("u4", "p3", "", None, 1, -1),
        ],
        details,
    )


def test_failures_frame_names_products_from_details() -> None:
    frame = _scan_frame()
    assert list(frame.columns) == list(FAILURE_COLUMNS)
    assert frame["user_id"].tolist() == ["u1", "u2", "u1", "u3", "u4"]
    # A variant without details of its own is named after its main product.
    assert frame["name"].tolist() == ["Shirt", "Shirt", "Shirt", "Mug", None]
    assert frame["variant"].tolist() == ["L", "M", None, None, None]
    assert frame["main_product"].tolist() == [None, "p1", None, None, None]
    assert frame["stocked"].tolist() == [-2, -1, -3, -5, -1]
    assert str(frame["stocked"].dtype) == "Int64"
    assert frame["count"].dtype == "int64"


def test_failures_frame_without_details_keeps_ids() -> None:
    frame = failures_frame([FailureRecord("u1", "p1", None, None, 1, -1)])
    assert frame.loc[0, "product_id"] == "p1"
    assert frame.loc[0, "name"] is None


def test_empty_failures_frame_keeps_columns() -> None:
    frame = failures_frame([])
    assert frame.empty
    assert list(frame.columns) == list(FAILURE_COLUMNS)
    assert str(frame["stocked"].dtype) == "Int64"


def test_failures_by_product() -> None:
    by_product = failures_by_product(_scan_frame())
    assert list(by_product.columns) == [
        "product_id",
        "name",
        "failed_reservations",
        "users",
        "failed_units",
    ]
    assert by_product.to_dict("records") == [
        # u1 failed twice on p1: two reservations, one user.
        {"product_id": "p1", "name": "Shirt", "failed_reservations": 2, "users": 1,
         "failed_units": 5},
        {"product_id": "p2", "name": "Mug", "failed_reservations": 1, "users": 1,
         "failed_units": 5},
        # Ties on reservations and units are broken by product id.
        {"product_id": "p1-M", "name": "Shirt", "failed_reservations": 1, "users": 1,
         "failed_units": 1},
        {"product_id": "p3", "name": None, "failed_reservations": 1, "users": 1,
         "failed_units": 1},
    ]  # fmt: skip


def test_failures_by_product_breaks_ties_by_id() -> None:
    frame = failures_frame(
        [FailureRecord("u1", "b", None, None, 1, -1), FailureRecord("u1", "a", None, None, 1, -1)]
    )
    assert failures_by_product(frame)["product_id"].tolist() == ["a", "b"]


def test_failures_by_product_of_nothing() -> None:
    by_product = failures_by_product(failures_frame([]))
    assert by_product.empty
    assert list(by_product.columns) == [
        "product_id",
        "name",
        "failed_reservations",
        "users",
        "failed_units",
    ]
    assert by_product["failed_reservations"].dtype == "int64"


def test_errors_frame_keeps_kind_status_and_code() -> None:
    secret = "sk-views-test-9f8e7d6c"
    frame = errors_frame(
        [
            ErrorRecord.from_exception(
                "u1", error_for_status(401, api_code=2002, api_message="bad key")
            ),
            ErrorRecord.from_exception("u2", RuntimeError(f"boom with {secret}"), Redactor(secret)),
            ErrorRecord("u3", "timeout", None, None, "no answer"),
        ]
    )
    assert list(frame.columns) == ["user_id", "kind", "http_status", "api_code", "message"]
    assert frame["user_id"].tolist() == ["u1", "u2", "u3"]
    assert frame.loc[0, "kind"] == "authentication failed"
    assert frame.loc[0, "http_status"] == 401 and frame.loc[0, "api_code"] == 2002
    assert "bad key" in frame.loc[0, "message"]
    assert frame.loc[1, "kind"] == "unexpected error"
    assert secret not in frame.loc[1, "message"]
    assert pd.isna(frame.loc[2, "http_status"])
    assert list(errors_frame([]).columns) == list(ERROR_COLUMNS)


def test_the_failures_table_shows_every_missing_value_as_a_blank_cell() -> None:
    shown = tables.blank_missing(_scan_frame())
    assert shown.column("variant").to_pylist() == ["L", "M", "", "", ""]
    assert shown.column("main_product").to_pylist() == ["", "p1", "", "", ""]
    assert shown.column("name").to_pylist() == ["Shirt", "Shirt", "Shirt", "Mug", ""]
    # Complete columns keep their types.
    assert shown.schema.field("stocked").type == pa.int64()
    assert shown.column("stocked").to_pylist() == [-2, -1, -3, -5, -1]


def test_product_table_rates_and_value_at_risk_per_currency() -> None:
    from basket_lib.scan.export import table_csv
    from basket_lib.views.tables import (
        PRODUCT_TABLE_COLUMNS,
        frame_rows,
        product_table,
        value_at_risk_by_currency,
    )

    details = {
        "p1": ProductDetails(product_id="p1", name="Shirt", price=Decimal("19.90"), currency="EUR"),
        "p2": ProductDetails(product_id="p2", name="Mug", price=Decimal("7.50"), currency="USD"),
        "p1-M": ProductDetails(product_id="p1-M", price=Decimal("10"), currency="EUR"),
    }
    checkouts = {"p1": 4, "p2": 1, "p1-M": 2}  # p3 is in no counted checkout
    table = product_table(_scan_frame(), checkouts, details)
    assert list(table.columns) == list(PRODUCT_TABLE_COLUMNS)
    rows = {row["product_id"]: row for row in table.to_dict("records")}
    assert rows["p1"]["checkouts"] == 4 and rows["p1"]["failure_rate"] == 0.25  # 1 user of 4
    assert rows["p1"]["value_at_risk"] == pytest.approx(19.90 * 5)
    assert rows["p2"]["failure_rate"] == 1.0 and rows["p2"]["currency"] == "USD"
    assert math.isnan(rows["p3"]["failure_rate"]) and math.isnan(rows["p3"]["value_at_risk"])
    # Amounts in different currencies are never added together.
    assert value_at_risk_by_currency(table) == pytest.approx({"EUR": 19.90 * 5 + 10.0, "USD": 37.5})
    # Exported, a missing figure is an empty cell, not "nan".
    data = table_csv(PRODUCT_TABLE_COLUMNS, frame_rows(table)).decode("utf-8-sig")
    assert "nan" not in data.lower() and '"p3",""' in data


def test_product_table_prices_a_variant_from_its_main_product() -> None:
    from basket_lib.views.tables import product_table

    details = {
        "prod-1001": ProductDetails(
            product_id="prod-1001", name="Logo T-Shirt", price=Decimal("29.99"), currency="EUR"
        )
    }
    failures = failures_frame(
        [FailureRecord("u1", "prod-1001-m", "M", "prod-1001", 2, -1)], details
    )
    (row,) = product_table(failures, {"prod-1001-m": 1}, details).to_dict("records")
    assert row["name"] == "Logo T-Shirt"
    assert row["price"] == pytest.approx(29.99) and row["currency"] == "EUR"
    assert row["value_at_risk"] == pytest.approx(2 * 29.99)


def test_the_products_csv_is_headed_as_the_page_and_rounded() -> None:
    from basket_lib.scan.export import table_csv
    from basket_lib.views.tables import PRODUCT_CSV_HEADER, product_csv_rows, product_table

    details = {
        "p1": ProductDetails(product_id="p1", name="Shirt", price=Decimal("64.99"), currency="EUR")
    }
    failures = failures_frame(
        [FailureRecord("u1", "p1", None, None, 1, -1), FailureRecord("u2", "p1", None, None, 2, -1),
         FailureRecord("u3", "p2", None, None, 1, -1)],
        details,
    )  # fmt: skip
    products = product_table(failures, {"p1": 3}, details)
    data = table_csv(PRODUCT_CSV_HEADER, product_csv_rows(products)).decode("utf-8-sig")
    header, shirt, unknown = data.splitlines()
    assert header == (
        "product_id,name,failed_reservations,failed_units,affected_users,checkouts_holding_it,"
        "failure_rate,price,currency,value_at_risk"
    )
    # Unrounded: 0.6666666666666666 and 194.96999999999997; numbers stay unquoted.
    assert shirt == '"p1","Shirt",2,3,2,3,0.6667,64.99,"EUR",194.97'
    assert unknown == '"p2","",1,1,1,0,"","","",""'


def test_affected_users_link_to_each_basket() -> None:
    from basket_lib.views.tables import affected_users

    frame = affected_users(_scan_frame(), "p1")
    assert frame.to_dict("records") == [
        {"user_id": "u1", "basket": "/?user=u1", "failed_units": 5, "stocked": -3}
    ]
    assert affected_users(_scan_frame(), "nope").empty


def test_display_tables_format_money_in_the_locale_and_blank_every_missing_value() -> None:
    basket = Basket.model_validate(
        {
            "checkout": [
                {"productId": "a", "count": 2, "stocked": -1},
                {"productId": "b", "count": 1, "variant": "M", "mainProductIdentifier": "b0"},
            ]
        }
    )
    details = {
        "a": ProductDetails(product_id="a", name="Mug", price=Decimal("14.99"), currency="EUR")
    }
    shown = tables.checkout_table(basket, details, Locale("de", "DE"))
    assert shown.column_names == [
        "product_id", "name", "price", "line_total", "variant", "main_product", "count",
        "stocked", "status", "failed",
    ]  # fmt: skip
    assert shown.to_pylist() == [
        {"product_id": "a", "name": "Mug", "price": "14,99\xa0€", "line_total": "29,98\xa0€",
         "variant": "", "main_product": "", "count": 2, "stocked": "-1",
         "status": "failed (-1)", "failed": True},
        {"product_id": "b", "name": "", "price": "", "line_total": "", "variant": "M",
         "main_product": "b0", "count": 1, "stocked": "", "status": "unlimited",
         "failed": False},
    ]  # fmt: skip
    # Complete columns keep their types; a column with gaps is text.
    assert shown.schema.field("failed").type == pa.bool_()
    assert shown.schema.field("count").type == pa.int64()
    assert shown.schema.field("stocked").type == pa.string()
