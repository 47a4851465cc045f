"""Support agents: one customer's basket (default page, deep link /?user=ID)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import streamlit as st

from basket_lib.api.errors import BasketError, TrackingDecodeError
from basket_lib.api.models import BasketResult, ProductDetails
from basket_lib.api.validation import validate_user_id
from basket_lib.demo.api import SCENARIOS
from basket_lib.tracking import TrackingSession, decode_tracking
from basket_lib.views.text import md_escape, plural
from dashboard import columns, data, gate

AUTO_REFRESH_SECONDS = 10

settings = gate.require_settings()
st.title("Basket lookup")

user_id = (st.session_state.get("user") or "").strip()
if not user_id:
    st.info("Enter a user id in the sidebar, or open a ticket link such as `/?user=USER_ID`.")
    if settings.demo:
        rows = "\n".join(
            f"| {md_escape(user)} | {md_escape(text)} |" for user, text in SCENARIOS.items()
        )
        header = "Demo scenario users (pick one in the sidebar):\n\n| user id | shows |\n|---|---|"
        st.markdown(f"{header}\n{rows}")
    st.stop()

# Imported only once there is a user to show: pandas and altair take about a second to import on
# a fresh server, and the landing page needs neither (see benchmarks/startup.py).
from basket_lib.views import charts, tables, times  # noqa: E402

try:
    validate_user_id(user_id)
except BasketError as exc:
    data.show_error(exc)
    st.stop()

with st.expander("Request options: provider id and tracking header"):
    provider_id = st.text_input(
        "provider_id",
        key="provider_id",
        placeholder="e.g. netflix",
        help="Provider attribution fallback when the tracking session carries none.",
    ).strip()
    tracking_value = st.text_area(
        "X-JAY-Tracking",
        key="tracking_header",
        height=80,
        help="The header value or the __Secure-jay_tracking cookie value, sent with the request.",
    )

session: TrackingSession | None = None
if tracking_value.strip():
    try:
        session = decode_tracking(tracking_value)
    except TrackingDecodeError as exc:
        data.show_error(exc)
        st.stop()

controls = st.columns([1, 1, 1, 3], vertical_alignment="center")
if controls[0].button(
    "Refresh", icon=":material/refresh:", help="Fetch again, bypassing the cache", key="refresh"
):
    st.session_state["_refresh"] = st.session_state.get("_refresh", 0) + 1
auto_refresh = controls[1].toggle(
    "Auto-refresh", key="auto_refresh", help=f"Fetch every {AUTO_REFRESH_SECONDS} s"
)
show_utc = controls[2].toggle("Times in UTC", key="times_utc")
tz_name = "UTC" if show_utc else (st.context.timezone or "UTC")


def _app_base_url() -> str:
    url = st.context.url
    if not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")


def _render_tracking(found: TrackingSession, now: datetime) -> None:
    st.markdown("**Tracking session sent**")
    st.dataframe(
        [{"field": name, "value": value} for name, value in found.fields()],
        hide_index=True,
    )
    age = found.age(now)
    if age is not None:
        st.caption(f"Session started {md_escape(times.humanize_delta(age))} ago.")


def _render_basket(result: BasketResult, details: dict[str, ProductDetails], now: datetime) -> None:
    basket = result.basket
    st.subheader(md_escape(result.user_id))
    facts = [
        f"Last changed {times.format_time(basket.last_changed, tz_name)}",
        f"{times.format_time(basket.expires, tz_name)} — {times.expiry_text(basket.expires, now)}"
        if basket.expires
        else "No expiry date",
        f"API version {result.api_version or 'not reported'}",
    ]
    st.caption(md_escape(" · ".join(facts)))
    if settings.demo:
        st.badge("Demo data", icon=":material/science:", color="orange")

    status = times.expiry_status(basket.expires, now)
    if status == times.ExpiryStatus.EXPIRED:
        st.warning(
            md_escape(f"This basket has expired ({times.expiry_text(basket.expires, now)}).")
        )
    elif status == times.ExpiryStatus.EXPIRING:
        st.warning(md_escape(f"This basket {times.expiry_text(basket.expires, now)}."))
    if result.next_token:
        # Escaped text, not a code span: backslash escapes do not work inside backticks.
        st.info(
            f"The API returned a next-page token ({md_escape(result.next_token)}). "
            "This page shows the first page only."
        )

    metrics = tables.basket_metrics(basket)
    cols = st.columns(4)
    cols[0].metric(
        "Cart",
        plural(metrics.cart_products, "product"),
        plural(metrics.cart_units, "unit"),
        delta_color="off",
        delta_arrow="off",
    )
    cols[1].metric("Saved", plural(metrics.saved_products, "product"))
    cols[2].metric(
        "Checkout",
        plural(metrics.checkout_products, "product"),
        plural(metrics.checkout_units, "unit"),
        delta_color="off",
        delta_arrow="off",
    )
    cols[3].metric(
        "Failed reservations",
        metrics.failed_reservations,
        plural(metrics.failed_units, "unit") if metrics.failed_reservations else None,
        delta_color="inverse",
        delta_arrow="off",
    )

    if basket.is_empty:
        st.info(
            "Empty basket: nothing in the cart, the saved list or a checkout. The API also "
            "answers with an empty basket for a user id it has never seen, so check the id."
        )
    else:
        st.markdown("#### Checkout")
        checkout = tables.checkout_frame(basket, details)
        if checkout.empty:
            st.caption("No active checkout.")
        else:
            if metrics.failed_reservations:
                failed = plural(metrics.failed_reservations, "stock reservation")
                st.error(
                    f"{failed} failed in this checkout.",
                    icon=":material/inventory:",
                )
            st.dataframe(
                checkout.style.apply(tables.highlight_failed, axis=1),
                column_config=columns.CHECKOUT_COLUMNS,
                hide_index=True,
                key="checkout_table",
            )
        for title, frame, key in (
            ("Cart", tables.cart_frame(basket, details), "cart_table"),
            ("Saved for later", tables.saved_frame(basket, details), "saved_table"),
        ):
            st.markdown(f"#### {title}")
            if frame.empty:
                st.caption(f"{title}: empty.")
            else:
                st.dataframe(frame, column_config=columns.PRODUCT_COLUMNS, hide_index=True, key=key)

    if basket.expires or basket.last_changed:
        st.markdown("#### Time to expiry")
        st.altair_chart(charts.expiry_timeline(basket.last_changed, now, basket.expires, tz_name))

    with st.expander("Raw API response"):
        st.code(tables.basket_summary_json(result), language="json")
    st.caption("Link to this basket (copy button on the right):")
    st.code(tables.deep_link(_app_base_url(), result.user_id), language=None)


@st.fragment(run_every=AUTO_REFRESH_SECONDS if auto_refresh else None)
def basket_view() -> None:
    # Auto-refresh ticks get their own cache key so they always fetch anew.
    tick = int(time.time() // AUTO_REFRESH_SECONDS) if auto_refresh else 0
    refresh = st.session_state.get("_refresh", 0)
    lookup = (user_id, refresh, tick, session.header_value if session else None, provider_id)
    try:
        with st.spinner("Fetching basket…"):
            result = data.fetch_basket(
                settings,
                user_id,
                tracking=session.header_value if session else None,
                provider_id=provider_id or None,
                refresh=refresh * 1_000_000 + tick,
            )
    except BasketError as exc:
        if st.session_state.get("_last_lookup") != lookup:
            outcome = f"error: {exc.summary()}"
            if data.audit(settings, "lookup", user_ids=[user_id], outcome=outcome):
                st.session_state["_last_lookup"] = lookup
        data.show_error(exc)
        return
    # Audited once per lookup; one that could not be audited is tried again and not shown.
    if st.session_state.get("_last_lookup") != lookup:
        if not data.audit(settings, "lookup", user_ids=[user_id], outcome="basket"):
            return
        st.session_state["_last_lookup"] = lookup

    details, details_error = data.fetch_details(settings, result.basket.product_ids())
    now = datetime.now(UTC)
    if session is not None:
        main, side = st.columns([3, 1])
        with side:
            _render_tracking(session, now)
        with main:
            _render_basket(result, details, now)
    else:
        _render_basket(result, details, now)
    if details_error is not None:
        st.caption(
            "Product names and prices are unavailable "
            f"({md_escape(details_error.summary())}); ids are shown instead."
        )
    if auto_refresh:
        st.caption(f"Auto-refresh on: fetched {times.format_time(result.fetched_at, tz_name)}.")


basket_view()
