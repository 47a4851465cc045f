"""Support agents: one customer's basket (default page, deep link /?user=ID)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import streamlit as st

from basket_lib.api.errors import BasketError
from basket_lib.api.models import Basket, BasketResult, ProductDetails
from basket_lib.api.validation import shown_user_id, suggest_user_id, validate_user_id
from basket_lib.demo.api import SCENARIOS
from basket_lib.lookup import read_request_options, same_basket
from basket_lib.tracking import TrackingSession
from basket_lib.views.text import md_escape, plural
from dashboard import columns, data, gate, lookups

if TYPE_CHECKING:
    import pyarrow as pa

AUTO_REFRESH_SECONDS = 10
# How often the "fetched … ago" line is redrawn (that line alone, not the page).
FRESHNESS_SECONDS = 5

settings = gate.require_settings()
st.title("Basket lookup")

user_id = (st.session_state.get("user") or "").strip()
if not user_id:
    lookups.recent_lookups_sidebar()
    st.info("Enter a user id in the sidebar, or open a ticket link such as `/?user=USER_ID`.")
    if settings.demo:
        rows = "\n".join(
            f"| {md_escape(user)} | {md_escape(text)} |" for user, text in SCENARIOS.items()
        )
        header = "Demo scenario users (pick one in the sidebar):\n\n| user id | shows |\n|---|---|"
        st.markdown(f"{header}\n{rows}")
    st.stop()

# The browser tab names the customer: agents keep several tickets open.
st.set_page_config(page_title=f"{shown_user_id(user_id, 60)} · Basket lookup")

# Imported only once there is a user to show: pandas takes about half a second to import on a fresh
# server, and the landing page does not need it (see benchmarks/startup.py).
from basket_lib.views import answer, money, tables, timeline, times  # noqa: E402

# A whole ticket line pasted as the id: the id found in it is offered, and the line can still be
# looked up as typed (the API documents no format for ids).
as_typed = st.session_state.get("_as_typed") == user_id
suggestion = (
    suggest_user_id(user_id) if not as_typed and any(ch.isspace() for ch in user_id) else None
)
try:
    validate_user_id(user_id)
except BasketError as exc:
    data.show_error(exc, user_id=user_id)
    if suggestion is None:
        st.stop()
if suggestion is not None:
    st.info(
        f"This looks like a line from a ticket rather than a user id. "
        f"Did you mean **{md_escape(suggestion)}**?",
        icon=":material/lightbulb:",
    )
    choice = st.columns([1, 1, 2])
    choice[0].button(
        f"Look up {md_escape(suggestion)}",
        key="use_suggestion",
        type="primary",
        on_click=lookups.switch_user,
        args=(suggestion,),
    )
    if choice[1].button("Look up as typed", key="use_as_typed"):
        st.session_state["_as_typed"] = user_id
        st.rerun()
    st.stop()

cleared = lookups.options_for(user_id)
if cleared is not None:
    st.info(
        f"The provider id and tracking header set for {md_escape(cleared.user_id)} were cleared: "
        "request options belong to one customer.",
        icon=":material/mop:",
    )
    st.button("Use them for this customer too", key="restore_options", on_click=cleared.restore)

with st.expander("Request options: provider id and tracking header"):
    provider_text = st.text_input(
        "provider_id",
        key=lookups.PROVIDER_KEY,
        placeholder="e.g. netflix",
        help="Provider attribution fallback when the tracking session carries none.",
    )
    provider_slot = st.empty()
    tracking_text = st.text_area(
        "X-JAY-Tracking",
        key=lookups.TRACKING_KEY,
        height=80,
        help="The header value or the __Secure-jay_tracking cookie value, sent with the request.",
    )
    options = read_request_options(provider_text, tracking_text)
    # Each error next to its own field.
    for error, slot in ((options.provider_error, provider_slot), (options.tracking_error, st)):
        if error is not None:
            slot.error(f"Not sent: {md_escape(error.message)}", icon=":material/error:")
session = options.session
provider_id = options.provider_id
# What the request is about: the customer and the options sent with it.
lookup = (user_id, options.tracking, provider_id)
# The last basket drawn, and the last auto-refresh check that found it unchanged, per lookup.
_SHOWN = "_shown_basket"
_CHECKED = "_checked_basket"

if options.not_sent():
    st.warning(
        f"Looked up without {md_escape(options.not_sent())}. Correct it under Request options "
        "to send it.",
        icon=":material/warning:",
    )
if options.sent():
    st.caption(f"Request sent with {md_escape(options.sent())}.")

# A row that wraps on a narrow window rather than cutting the labels short ("Re…").
controls = st.container(horizontal=True, vertical_alignment="center")
if controls.button(
    "Refresh", icon=":material/refresh:", help="Fetch again, bypassing the cache", key="refresh"
):
    st.session_state["_refresh"] = st.session_state.get("_refresh", 0) + 1
    st.session_state["_refreshed"] = True
# Drawn after the basket (below), in this slot: by then the page has recorded what it shows.
auto_refresh_slot = controls.container(width="content")
show_utc = controls.toggle("Times in UTC", key="times_utc")
tz_name = "UTC" if show_utc else (st.context.timezone or "UTC")
locale = money.viewer_locale(st.context.locale)


def _app_base_url() -> str:
    url = st.context.url
    if not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")


def _render_tracking(found: TrackingSession, now: datetime) -> None:
    st.dataframe(
        [{"field": name, "value": value} for name, value in found.fields()],
        hide_index=True,
    )
    age = found.age(now)
    if age is not None:
        st.caption(md_escape(f"Session {times.start_text(age)}."))


@st.fragment(run_every=FRESHNESS_SECONDS)
def _freshness(fetched_at: datetime) -> None:
    # An auto-refresh check that found the basket unchanged makes it as fresh as that check.
    checked = st.session_state.get(_CHECKED)
    if checked is not None and checked[0] == lookup and checked[1] > fetched_at:
        fetched_at = checked[1]
    shown = times.freshness(
        fetched_at,
        datetime.now(UTC),
        tz_name,
        stale_after=timedelta(seconds=data.BASKET_TTL_SECONDS),
    )
    if shown.stale:
        st.markdown(
            f":orange-badge[:material/schedule: {md_escape(shown.text)}: older than "
            f"{data.BASKET_TTL_SECONDS} s, press Refresh for the latest]"
        )
    else:
        st.markdown(f":green-badge[:material/schedule: {md_escape(shown.text)}]")


def _explanations(lines: list[answer.LineAnswer]) -> None:
    """The checkout in words: failed lines first, each marked in text, not by colour alone."""
    marks = {
        answer.LineKind.FAILED: ":red[:material/error:] **Failed:**",
        answer.LineKind.PARTLY_RESERVED: ":orange[:material/warning:] **Partly reserved:**",
        answer.LineKind.RESERVED: ":green[:material/check_circle:] **Reserved:**",
        answer.LineKind.LAPSED: ":gray[:material/timer_off:] **Lapsed:**",
        answer.LineKind.UNLIMITED: ":blue[:material/all_inclusive:] **Unlimited:**",
    }
    st.markdown("\n".join(f"- {marks[line.kind]} {md_escape(line.text)}" for line in lines))


def _section(title: str, note: str | None = None) -> None:
    """A section's heading with its one-line note (a total, "Empty.") beneath it, small and
    grey as a caption: one element, not two (each element is a message to the browser)."""
    st.markdown(f"#### {title}" + (f"\n\n:small[:gray[{note}]]" if note else ""))


def _list_table(title: str, table: pa.Table, key: str, total: str | None) -> None:
    if table.num_rows == 0:
        _section(title, "Empty.")
        return
    _section(title, f"Total: {md_escape(total)}" if total is not None else None)
    st.dataframe(
        table,
        column_config=columns.PRODUCT_COLUMNS,
        hide_index=True,
        key=key,
        height="content",
    )


def _metrics(basket: Basket) -> None:
    metrics = tables.basket_metrics(basket)
    # One row that wraps on a narrow window (no column blocks to send).
    row = st.container(horizontal=True)
    row.metric(
        "Cart",
        plural(metrics.cart_products, "product"),
        plural(metrics.cart_units, "unit"),
        delta_color="off",
        delta_arrow="off",
    )
    row.metric("Saved", plural(metrics.saved_products, "product"))
    row.metric(
        "Checkout",
        plural(metrics.checkout_products, "product"),
        plural(metrics.checkout_units, "unit"),
        delta_color="off",
        delta_arrow="off",
    )
    row.metric(
        "Failed reservations",
        metrics.failed_reservations,
        plural(metrics.failed_units, "unit") if metrics.failed_reservations else None,
        delta_color="inverse",
        delta_arrow="off",
    )


def _render_basket(
    result: BasketResult, details: dict[str, ProductDetails] | None, now: datetime
) -> None:
    basket = result.basket
    st.subheader(md_escape(result.user_id))
    facts = [
        f"Last changed {times.format_time(basket.last_changed, tz_name)}",
        times.expiry_fact(basket.expires, now, tz_name),
        f"API version {result.api_version or 'not reported'}",
    ]
    st.caption(md_escape(" · ".join(facts)))
    _freshness(result.fetched_at)
    if settings.demo:
        st.badge("Demo data", icon=":material/science:", color="orange")

    status = times.expiry_status(basket.expires, now)
    lines = answer.explain_checkout(
        basket.checkout, details, expired=status is times.ExpiryStatus.EXPIRED
    )
    alert = answer.failure_alert(lines)
    if alert is not None:
        # First on the page (and on a phone): which items failed, in words.
        risk = answer.value_at_risk(lines).text(locale)
        st.error(
            f"{md_escape(alert)} Value at risk: {md_escape(risk)}.", icon=":material/inventory:"
        )

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

    if basket.is_empty:
        _metrics(basket)
        st.info(
            "Empty basket: nothing in the cart, the saved list or a checkout. The API also "
            "answers with an empty basket for a user id it has never seen, so check the id."
        )
    else:
        if not lines:
            _metrics(basket)
            _section("Checkout", "No active checkout.")
        else:
            # The answer first: words beside the table on a wide screen, above it (and above
            # the figures) on a narrow one.
            total = answer.list_totals(basket.checkout, details).text(locale)
            _section("Checkout", f"Total: {md_escape(total)}")
            words, table = st.columns([2, 3])
            with words:
                _explanations(lines)
            with table:
                checkout = tables.checkout_table(basket, details, locale)
                st.dataframe(
                    tables.with_failed_rows_tinted(checkout, columns.CHECKOUT_ORDER),
                    column_config=columns.CHECKOUT_COLUMNS,
                    hide_index=True,
                    key="checkout_table",
                    height="content",
                )
            _metrics(basket)
        _list_table(
            "Cart",
            tables.cart_table(basket, details, locale),
            "cart_table",
            answer.list_totals(basket.cart, details).text(locale),
        )
        _list_table(
            "Saved for later", tables.saved_table(basket, details, locale), "saved_table", None
        )

    _section(
        "For the ticket",
        "Plain text to paste into the reply, and the link to this basket for a colleague (copy "
        "buttons on the right); adapt the reply.",
    )
    st.code(
        answer.ticket_summary(result, details, now=now, tz_name=tz_name, locale=locale),
        language=None,
        wrap_lines=True,
    )
    st.code(tables.deep_link(_app_base_url(), result.user_id), language=None)

    if basket.expires or basket.last_changed:
        st.markdown("#### Time to expiry")
        st.html(timeline.expiry_timeline(basket.last_changed, now, basket.expires, tz_name).html())

    with st.expander("Raw API response"):
        st.code(tables.basket_summary_json(result), language="json")


def _fetch() -> BasketResult:
    # Within one auto-refresh interval the page and its check share a cache entry: one fetch.
    tick = int(time.time() // AUTO_REFRESH_SECONDS) if st.session_state.get("auto_refresh") else 0
    refresh = st.session_state.get("_refresh", 0)
    return data.fetch_basket(
        settings,
        user_id,
        tracking=options.tracking,
        provider_id=provider_id,
        refresh=refresh * 1_000_000 + tick,
    )


def basket_view() -> None:
    # Audited once per customer, options and outcome in a session: a Refresh or an auto-refresh
    # check fetches again but is not a new look at the customer (2,880 records a shift, else).
    audited: set[tuple[object, ...]] = st.session_state.setdefault("_audited_lookups", set())
    try:
        with st.spinner("Fetching basket…"):
            result = _fetch()
    except BasketError as exc:
        outcome = f"error: {exc.summary()}"
        st.session_state.pop(_SHOWN, None)
        if (*lookup, outcome) not in audited:
            # Fail closed here too: an error can carry the customer's data (the response a
            # schema error refers to).
            if not data.audit(settings, "lookup", user_ids=[user_id], outcome=outcome):
                return
            audited.add((*lookup, outcome))
        data.show_error(exc, user_id=user_id)
        return
    # A lookup that could not be audited is tried again and not shown.
    if (*lookup, "basket") not in audited:
        if not data.audit(settings, "lookup", user_ids=[user_id], outcome="basket"):
            return
        audited.add((*lookup, "basket"))
    st.session_state[_SHOWN] = (lookup, result)
    lookups.remember(user_id)
    if st.session_state.pop("_refreshed", False):
        st.toast(
            f"Fetched again at {times.format_time(result.fetched_at, tz_name, seconds=True)}",
            icon=":material/refresh:",
        )

    found, details_error = data.fetch_details(settings, result.basket.product_ids())
    # None tells the wording rules that the details could not be fetched at all.
    details = None if details_error is not None else found
    now = datetime.now(UTC)
    if details_error is not None:
        st.warning(
            "Product details are unavailable "
            f"({md_escape(details_error.summary())}): names, prices and current stock are not "
            "shown, and each line is explained from the basket alone.",
            icon=":material/info:",
        )
    if session is not None:
        # Above the basket, not in a column beside it: that left both the session's values and
        # the checkout table too narrow to read.
        sent = md_escape(session.session_id) if session.session_id else "without a session id"
        with st.expander(f"Tracking session sent: {sent}"):
            _render_tracking(session, now)
    _render_basket(result, details, now)


@st.fragment(run_every=AUTO_REFRESH_SECONDS)
def _auto_refresh_check() -> None:
    """Every few seconds: fetch the basket again, and redraw the page only if it changed.

    An unchanged basket costs the fetch and this caption, not a resend of the whole page.
    """
    shown = st.session_state.get(_SHOWN)
    if shown is None or shown[0] != lookup:
        return  # nothing shown for this customer yet (an error): the page itself says why
    try:
        result = _fetch()
    except BasketError as exc:
        checked = times.format_time(datetime.now(UTC), tz_name, seconds=True)
        fetched = times.format_time(shown[1].fetched_at, tz_name, seconds=True)
        st.caption(
            f"Auto-refresh: the check at {checked} failed ({md_escape(exc.summary())}); "
            f"the basket shown is from {fetched}."
        )
        return
    if not same_basket(result, shown[1]):
        st.rerun(scope="app")
    st.session_state[_CHECKED] = (lookup, result.fetched_at)
    st.caption(
        f"Auto-refresh on: checked {times.format_time(result.fetched_at, tz_name, seconds=True)}, "
        "no change."
    )


@st.fragment
def _auto_refresh_control() -> None:
    # Toggling reruns this fragment only; switched off, the check is no longer drawn and
    # Streamlit stops its timer.
    if st.toggle(
        "Auto-refresh",
        key="auto_refresh",
        help=f"Check every {AUTO_REFRESH_SECONDS} s; the page is redrawn when the basket changed",
    ):
        _auto_refresh_check()


basket_view()
with auto_refresh_slot:
    _auto_refresh_control()
lookups.recent_lookups_sidebar()
