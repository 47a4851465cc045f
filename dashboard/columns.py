"""Column configurations of the pages' tables, keyed by the columns views.tables builds."""

from __future__ import annotations

from typing import Any

import streamlit as st

_TEXT = st.column_config.TextColumn
_NUMBER = st.column_config.NumberColumn

# The basket tables as views.tables.cart_table etc. give them: money already formatted as text.
PRODUCT_COLUMNS: dict[str, Any] = {
    "product_id": _TEXT("Product id"),
    "name": _TEXT("Name"),
    "price": _TEXT("Price", help="In the product's currency, as the product details give it."),
    "line_total": _TEXT("Line total", help="Price × count."),
    "variant": _TEXT("Variant"),
    "main_product": _TEXT("Main product"),
    "count": _NUMBER("Count", format="%d"),
}
# The reservation next to the product id: beside the answer in words (a third of a 1,024 px
# window) it stays in view without scrolling sideways; a long name would push it out.
CHECKOUT_ORDER = (
    "product_id", "status", "name", "count", "stocked", "price", "line_total", "variant",
    "main_product",
)  # fmt: skip
CHECKOUT_COLUMNS: dict[str, Any] = {
    **PRODUCT_COLUMNS,
    # Text: blank, not "None", for a line that needed no reservation.
    "stocked": _TEXT("Stocked", help="Units reserved in stock; below zero the reservation failed."),
    "status": _TEXT("Reservation", help="failed / reserved N / unlimited (no reservation needed)"),
    "failed": None,  # drives the row tint; not shown
}
FAILURE_COLUMNS: dict[str, Any] = {
    "user_id": _TEXT("User id"),
    "basket": st.column_config.LinkColumn("Basket", display_text="Open basket"),
    "product_id": _TEXT("Product id"),
    "name": _TEXT("Name"),
    "variant": _TEXT("Variant"),
    "main_product": _TEXT("Main product"),
    "count": _NUMBER("Count", format="%d"),
    "stocked": _NUMBER("Stocked", format="%d"),
}
ERROR_COLUMNS: dict[str, Any] = {
    "user_id": _TEXT("User id"),
    "kind": _TEXT("Error"),
    "http_status": _NUMBER("HTTP status", format="%d"),
    "api_code": _NUMBER("API code", format="%d"),
    "message": _TEXT("Reason"),
}
HISTORY_COLUMNS: dict[str, Any] = {
    "scan": st.column_config.LinkColumn("Scan", display_text="Open"),
    "label": _TEXT("Label"),
    "status": _TEXT("Status"),
    "started": _TEXT("Started"),
    "done": _TEXT(
        "Users done / input",
        help="Users with an outcome so far (a basket read, or an error and its reason) / "
        "distinct users in the input.",
    ),
    "failed_reservations": _NUMBER("Failed reservations", format="%d"),
    "failure_rate": _NUMBER("Failure rate", format="percent"),
    "by": _TEXT("Started by"),
}
PRODUCT_TABLE_COLUMNS: dict[str, Any] = {
    "product_id": _TEXT("Product id"),
    "name": _TEXT("Name"),
    "failed_reservations": _NUMBER("Failed reservations", format="%d"),
    "failed_units": _NUMBER("Failed units", format="%d"),
    "users": _NUMBER("Affected users", format="%d"),
    "checkouts": _NUMBER("Checkouts holding it", format="%d"),
    "failure_rate": _NUMBER(
        "Failure rate", format="percent", help="Affected users / checkouts holding the product."
    ),
    "price": _NUMBER("Price", format="%.2f"),
    "currency": _TEXT("Currency"),
    "value_at_risk": _NUMBER("Value at risk", format="%.2f", help="Price × failed units."),
}
AFFECTED_USER_COLUMNS: dict[str, Any] = {
    "user_id": _TEXT("User id"),
    "basket": st.column_config.LinkColumn("Basket", display_text="Open basket"),
    "failed_units": _NUMBER("Failed units", format="%d"),
    "stocked": _NUMBER("Stocked", format="%d"),
}
COMPARISON_COLUMNS: dict[str, Any] = {
    "product_id": _TEXT("Product id"),
    "name": _TEXT("Name"),
    "change": _TEXT("Change", help="new / failing in both / resolved"),
    "failed_before": _NUMBER("Failed before", format="%d"),
    "failed_now": _NUMBER("Failed now", format="%d"),
    "difference": _NUMBER("Difference", format="%+d"),
    "rate_before": _NUMBER("Rate before", format="percent"),
    "rate_now": _NUMBER("Rate now", format="percent"),
}
NEWLY_AFFECTED_COLUMNS: dict[str, Any] = {
    "user_id": _TEXT("User id"),
    "basket": st.column_config.LinkColumn("Basket", display_text="Open basket"),
    "products": _TEXT("Products that failed"),
}
