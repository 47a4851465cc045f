"""Pure functions behind the pages: basket → tables and texts, failure aggregation.

Every value returned here is data (no HTML, no markdown): pages render it with ``st.dataframe``,
``st.metric`` and friends, which escape text themselves.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pandas as pd
import pyarrow as pa
from babel import Locale

from basket_lib.api.models import (
    Basket,
    BasketResult,
    CheckoutProduct,
    Product,
    ProductDetails,
    details_for,
)
from basket_lib.scan.export import ERROR_COLUMNS, FAILURE_COLUMNS
from basket_lib.scan.report import ErrorRecord, FailureRecord
from basket_lib.views import money

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

# --- reservations and metrics -----------------------------------------------------------------


def reservation_status(stocked: int | None) -> str:
    """ "failed (-2)" below zero, "reserved N" from zero up, "unlimited" when no reservation was
    needed (None)."""
    if stocked is None:
        return "unlimited"
    return f"failed ({stocked})" if stocked < 0 else f"reserved {stocked}"


@dataclass(frozen=True, slots=True)
class BasketMetrics:
    cart_products: int
    cart_units: int
    saved_products: int
    checkout_products: int
    checkout_units: int
    # Checkout items with stocked < 0, and the units (count) those items asked for.
    failed_reservations: int
    failed_units: int
    # Units actually held in stock (sum of stocked >= 0).
    reserved_units: int
    # Checkout items with stocked = None: no reservation needed.
    unlimited_products: int


def basket_metrics(basket: Basket) -> BasketMetrics:
    checkout = basket.checkout
    failed = basket.failed_reservations
    return BasketMetrics(
        cart_products=len(basket.cart),
        cart_units=sum(item.count for item in basket.cart),
        saved_products=len(basket.saved),
        checkout_products=len(checkout),
        checkout_units=sum(item.count for item in checkout),
        failed_reservations=len(failed),
        failed_units=sum(item.count for item in failed),
        reserved_units=sum(i.stocked for i in checkout if i.stocked is not None and i.stocked >= 0),
        unlimited_products=sum(1 for item in checkout if item.stocked is None),
    )


# --- basket tables ----------------------------------------------------------------------------

PRODUCT_COLUMNS: tuple[str, ...] = (
    "product_id",
    "name",
    "price",
    "currency",
    "variant",
    "main_product",
    "count",
)
CHECKOUT_COLUMNS: tuple[str, ...] = (*PRODUCT_COLUMNS, "stocked", "status", "failed")

# Text columns stay `object` so a missing name is None, exactly as the API (not) sent it.
_DTYPES: dict[str, Any] = {
    "user_id": object,
    "product_id": object,
    "name": object,
    "price": "float64",
    "currency": object,
    "variant": object,
    "main_product": object,
    "count": "int64",
    "stocked": "Int64",
    "status": object,
    "failed": "bool",
    "failed_reservations": "int64",
    "users": "int64",
    "failed_units": "int64",
    "checkouts": "int64",
    "failure_rate": "float64",
    "value_at_risk": "float64",
    "kind": object,
    "http_status": "Int64",
    "api_code": "Int64",
    "message": object,
}


def _typed_frame(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    # Built column by column: letting pandas infer first would turn None into NaN and an empty
    # input into untyped columns.
    rows = list(rows)
    return pd.DataFrame(
        {c: pd.Series([row[c] for row in rows], dtype=_DTYPES[c]) for c in columns},
        columns=list(columns),
    )


def _product_row(item: Product, details: Mapping[str, ProductDetails] | None) -> dict[str, Any]:
    info = details_for(item.product_id, item.main_product_identifier, details)
    price = info.price if info is not None else None
    return {
        "product_id": item.product_id,
        "name": info.name if info is not None else None,
        "price": float(price) if price is not None else math.nan,
        "currency": info.currency if info is not None else None,
        # An empty variant addresses the main product: shown as missing, not as "".
        "variant": item.variant or None,
        "main_product": item.main_product_identifier or None,
        "count": item.count,
    }


def _checkout_row(
    item: CheckoutProduct, details: Mapping[str, ProductDetails] | None
) -> dict[str, Any]:
    return {
        **_product_row(item, details),
        "stocked": item.stocked,
        "status": reservation_status(item.stocked),
        "failed": item.reservation_failed,
    }


def cart_table(
    basket: Basket,
    details: Mapping[str, ProductDetails] | None = None,
    locale: Locale = money.DEFAULT_LOCALE,
) -> pa.Table:
    return _products_table(basket.cart, details, locale)


def saved_table(
    basket: Basket,
    details: Mapping[str, ProductDetails] | None = None,
    locale: Locale = money.DEFAULT_LOCALE,
) -> pa.Table:
    return _products_table(basket.saved, details, locale)


def _products_table(
    items: Sequence[Product], details: Mapping[str, ProductDetails] | None, locale: Locale
) -> pa.Table:
    return _display_table([_product_row(item, details) for item in items], PRODUCT_COLUMNS, locale)


def checkout_table(
    basket: Basket,
    details: Mapping[str, ProductDetails] | None = None,
    locale: Locale = money.DEFAULT_LOCALE,
) -> pa.Table:
    rows = [_checkout_row(item, details) for item in basket.checkout]
    return _display_table(rows, CHECKOUT_COLUMNS, locale)


def _display_table(
    rows: Sequence[Mapping[str, Any]], names: Sequence[str], locale: Locale
) -> pa.Table:
    """A basket table as the page shows it: the price with its currency in the viewer's locale,
    the line total (price × count), and every missing value an empty cell, never "None".

    An Arrow table built from the rows' plain values, which st.dataframe sends as it is: no pandas
    frame in between (a typed frame per table was a tenth of a lookup's server CPU,
    benchmarks/README.md).
    """
    columns: dict[str, list[Any]] = {name: [row[name] for row in rows] for name in names}
    if "price" in columns:
        prices = [None if _missing(price) else Decimal(str(price)) for price in columns["price"]]
        currencies = columns.pop("currency")
        totals = [
            money.line_total(price, int(count))
            for price, count in zip(prices, columns["count"], strict=True)
        ]
        shown: dict[str, list[Any]] = {}
        for name, values in columns.items():
            shown[name] = values
            if name == "price":
                shown["price"] = _money_texts(prices, currencies, locale)
                shown["line_total"] = _money_texts(totals, currencies, locale)
        columns = shown
    return _blank_missing(columns)


def blank_missing(frame: pd.DataFrame) -> pa.Table:
    """A scan's table as the page shows it: every missing value an empty cell, never "None", as
    in the basket tables (the frame itself keeps None for what the API did not send)."""
    return _blank_missing({name: frame[name].tolist() for name in frame.columns})


def _blank_missing(columns: Mapping[str, list[Any]]) -> pa.Table:
    arrays = {}
    for name, values in columns.items():
        if not any(_missing(value) for value in values):
            arrays[name] = pa.array(values, type=_ARROW_TYPES.get(name))
            continue
        # A column with gaps becomes text: Arrow cannot hold "" among numbers.
        texts = [
            "" if _missing(value) else str(int(value) if isinstance(value, float) else value)
            for value in values
        ]
        arrays[name] = pa.array(texts, type=pa.string())
    return pa.table(arrays)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _money_texts(
    amounts: Sequence[Decimal | None], currencies: Sequence[Any], locale: Locale
) -> list[str]:
    return [
        "" if amount is None else money.format_money(amount, currency, locale)
        for amount, currency in zip(amounts, currencies, strict=True)
    ]


# The display table's types where its values are complete; any column with gaps is text.
_ARROW_TYPES: dict[str, pa.DataType] = {
    "price": pa.string(),
    "line_total": pa.string(),
    "count": pa.int64(),
    "stocked": pa.int64(),
    "failed": pa.bool_(),
}


# Translucent, so the tint reads on light and dark themes alike.
FAILED_ROW_CSS = "background-color: rgba(220, 38, 38, 0.22)"


def with_failed_rows_tinted(table: pa.Table, columns: Sequence[str]) -> pa.Table | Styler:
    """The checkout's display table, its failed rows tinted, reduced to `columns`.

    A pandas Styler is the one way st.dataframe colours rows, and it is the page's dearest
    element (its rendering of every cell cost about a fifth of a lookup's server CPU,
    benchmarks/README.md): a checkout without a failed line gets the table itself, and the
    Styler renders only the columns shown.
    """
    failed = [bool(value) for value in table.column("failed").to_pylist()]
    shown = table.select(list(columns))
    if not any(failed):
        return shown
    frame = shown.to_pandas()
    css = pd.DataFrame(
        [[FAILED_ROW_CSS if row_failed else ""] * len(columns) for row_failed in failed],
        index=frame.index,
        columns=frame.columns,
    )
    return frame.style.apply(lambda _: css, axis=None)


def basket_summary_json(result: BasketResult) -> str:
    """The API's response as received, pretty-printed for engineers. Falls back to the parsed
    basket in the API's own field names when no raw body was kept."""
    raw = result.raw
    if raw is None:
        raw = {
            "data": result.basket.model_dump(mode="json", by_alias=True),
            "nextToken": result.next_token,
        }
    return json.dumps(raw, indent=2, ensure_ascii=False, default=str)


def deep_link(base_url: str, user_id: str) -> str:
    """Link to the basket page for one user; every reserved character of the id is encoded."""
    return f"{base_url.rstrip('/')}/?user={quote(user_id, safe='')}"


# --- failures across many users ---------------------------------------------------------------


BY_PRODUCT_COLUMNS: tuple[str, ...] = (
    "product_id",
    "name",
    "failed_reservations",
    "users",
    "failed_units",
)


def failures_frame(
    failures: Iterable[FailureRecord], details: Mapping[str, ProductDetails] | None = None
) -> pd.DataFrame:
    """A scan's failed reservations, one row each, named from the product details when known."""
    rows = []
    for record in failures:
        item = Product(
            product_id=record.product_id,
            main_product_identifier=record.main_product_identifier,
        )
        info = details_for(item.product_id, item.main_product_identifier, details)
        rows.append(
            {
                "user_id": record.user_id,
                "product_id": record.product_id,
                "name": info.name if info is not None else None,
                "variant": record.variant or None,
                "main_product": record.main_product_identifier or None,
                "count": record.count,
                "stocked": record.stocked,
            }
        )
    return _typed_frame(rows, FAILURE_COLUMNS)


def _first_known(values: pd.Series) -> Any:
    # Any, not `str | None`: pandas-stubs only accept an aggregate of a series dtype, not None.
    return next((value for value in values if pd.notna(value)), None)


def failures_by_product(frame: pd.DataFrame) -> pd.DataFrame:
    """Per product: failed reservations, distinct users and units asked for, most failures first
    (ties: most units, then product id, so the order is stable)."""
    if frame.empty:
        return _typed_frame([], BY_PRODUCT_COLUMNS)
    grouped = frame.groupby("product_id", sort=False, dropna=False)
    result = pd.DataFrame(
        {
            # The first name any user's details supplied; None when none did.
            "name": grouped["name"].agg(_first_known),
            "failed_reservations": grouped.size(),
            "users": grouped["user_id"].nunique(),
            "failed_units": grouped["count"].sum(),
        }
    ).reset_index()
    result = result.astype({c: _DTYPES[c] for c in BY_PRODUCT_COLUMNS})
    result["name"] = result["name"].where(result["name"].notna(), None)
    result = result.sort_values(
        ["failed_reservations", "failed_units", "product_id"],
        ascending=[False, False, True],
        kind="stable",
    )
    return result[list(BY_PRODUCT_COLUMNS)].reset_index(drop=True)


PRODUCT_TABLE_COLUMNS: tuple[str, ...] = (
    "product_id", "name", "failed_reservations", "failed_units", "users", "checkouts",
    "failure_rate", "price", "currency", "value_at_risk",
)  # fmt: skip


def product_table(
    failures: pd.DataFrame,
    checkouts_by_product: Mapping[str, int],
    details: Mapping[str, ProductDetails] | None = None,
) -> pd.DataFrame:
    """Every product with a failed reservation: failures_by_product's figures, the checkouts
    holding it, the share of those whose reservation of it failed, and the value at risk
    (price × failed units, in the product's own currency; none without a known price)."""
    rows = []
    # Priced as the failures are named: a variant without details of its own takes its main
    # product's (details_for), so the value at risk agrees with the basket page's.
    mains = failures.groupby("product_id", sort=False)["main_product"].agg(_first_known)
    for record in failures_by_product(failures).to_dict("records"):
        product_id = str(record["product_id"])
        info = details_for(product_id, mains.get(product_id), details)
        checkouts = int(checkouts_by_product.get(product_id, 0))
        users = int(record["users"])
        units = int(record["failed_units"])
        price = float(info.price) if info is not None and info.price is not None else None
        rows.append(
            {
                "product_id": product_id,
                "name": record["name"],
                "failed_reservations": int(record["failed_reservations"]),
                "failed_units": units,
                "users": users,
                "checkouts": checkouts,
                # Checkouts count each product once, as users do: at most 1.
                "failure_rate": users / checkouts if checkouts else None,
                "price": price,
                "currency": info.currency if info is not None else None,
                "value_at_risk": price * units if price is not None else None,
            }
        )
    return _typed_frame(rows, PRODUCT_TABLE_COLUMNS)


# The products download: the table's columns headed as the page labels them (Affected users,
# Checkouts holding it), in the snake case of every other export.
PRODUCT_CSV_HEADER: tuple[str, ...] = (
    "product_id", "name", "failed_reservations", "failed_units", "affected_users",
    "checkouts_holding_it", "failure_rate", "price", "currency", "value_at_risk",
)  # fmt: skip
RATE_DECIMALS = 4  # a hundredth of a percent


def product_csv_rows(products: pd.DataFrame) -> list[tuple[Any, ...]]:
    """product_table's rows for export.table_csv under PRODUCT_CSV_HEADER: money to the
    currency's minor unit and rates to RATE_DECIMALS, still numbers (float arithmetic leaves
    194.96999999999997 for 3 × 64.99)."""
    rows = []
    for row in frame_rows(products[list(PRODUCT_TABLE_COLUMNS)]):
        cells = dict(zip(PRODUCT_TABLE_COLUMNS, row, strict=True))
        currency = cells["currency"]
        for name in ("price", "value_at_risk"):
            if cells[name] is not None:
                cells[name] = money.round_money(cells[name], currency)
        if cells["failure_rate"] is not None:
            cells["failure_rate"] = round(cells["failure_rate"], RATE_DECIMALS)
        rows.append(tuple(cells.values()))
    return rows


def value_at_risk_by_currency(products: pd.DataFrame) -> dict[str, float]:
    """The failed units' value per currency; amounts in different currencies are never added."""
    known = products.dropna(subset=["value_at_risk", "currency"])
    totals = known.groupby("currency")["value_at_risk"].sum()
    return {str(currency): float(total) for currency, total in totals.items()}


def affected_users(failures: pd.DataFrame, product_id: str) -> pd.DataFrame:
    """The users whose reservation of `product_id` failed, with a link to each one's basket."""
    chosen = failures[failures["product_id"] == product_id]
    grouped = chosen.groupby("user_id", sort=True)
    frame = pd.DataFrame(
        {
            "failed_units": grouped["count"].sum(),
            "stocked": grouped["stocked"].min(),
        }
    ).reset_index()
    frame.insert(1, "basket", [deep_link("", user) for user in frame["user_id"]])
    return frame


def frame_rows(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """A frame's rows for export.table_csv: missing values (NaN, <NA>) as None, an empty cell."""
    cleaned = frame.astype(object).where(frame.notna(), None)
    return [tuple(row) for row in cleaned.itertuples(index=False)]


def errors_frame(errors: Iterable[ErrorRecord]) -> pd.DataFrame:
    """The users a scan could not read, one row each, with the reason."""
    rows = [
        {
            "user_id": e.user_id,
            "kind": e.kind,
            "http_status": e.status,
            "api_code": e.api_code,
            "message": e.message,
        }
        for e in errors
    ]
    return _typed_frame(rows, ERROR_COLUMNS)
