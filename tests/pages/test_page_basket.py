"""AppTest of the basket lookup page: deep links, every demo scenario, every fault, hostile data."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from apptest_support import (
    DEMO_BADGE,
    RecordingApi,
    all_texts,
    assert_no_live_markup,
    audit_lines,
    frame_with,
    look_up,
    new_app,
    no_exception,
    plain,
    plain_texts,
    section_notes,
    set_user,
    texts,
    use_navigation,
)
from streamlit.testing.v1 import AppTest

from basket_lib.api.errors import APITimeoutError, BasketError
from basket_lib.api.validation import validate_user_id
from basket_lib.demo.catalogue import IMG, MD_LINK, SCRIPT
from basket_lib.demo.server import DemoServer
from basket_lib.simulator import SCENARIOS
from basket_lib.tracking import decode_tracking
from basket_lib.views.palette import FAILURE_COLOUR
from basket_lib.views.tables import FAILED_ROW_CSS
from basket_lib.views.text import md_escape
from dashboard import data as data_module

SEED_TRACKING = (
    "eyJzZXNzaW9uX2lkIjoiZXhhbXBsZS1zZXNzaW9uLWlkLTEyMzQiLCJzdGFydF90aW1lIjoiMjAyNS0wMS0wMVQxMjow"
    "MDowMC4wMDAwMDAiLCJzb3VyY2UiOiJqYXkuYXBpLnBsYXlvdXQuZXhhbXBsZSJ9"
)


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch, app_environment: None) -> None:
    use_navigation(monkeypatch)


@pytest.fixture
def audit_log(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


@pytest.fixture(scope="module")
def shared() -> AppTest:
    """One app for the tests that only look users up: an agent's session, ticket after ticket."""
    return new_app()


def show(at: AppTest, user: str) -> AppTest:
    if "user" not in at.session_state:  # the shared app's first lookup
        at.query_params["user"] = user
        at.run()
        no_exception(at)
        return at
    return set_user(at, user)


def styled_rows(at: AppTest, column: str) -> set[int]:
    """Rows of the table with `column` that carry the failed-row tint."""
    for element in at.dataframe:
        if column in element.value.columns:
            styles = element.proto.arrow_data.styler.styles
            assert not styles or FAILED_ROW_CSS in styles
            return {int(row) for row in re.findall(r"_row(\d+)_col", styles)}
    raise AssertionError(f"no table with {column!r}")


def metric(at: AppTest, label: str) -> tuple[str, str]:
    found = [(m.value, m.delta or "") for m in at.metric if m.label == label]
    assert len(found) == 1, f"metric {label!r}: {found}"
    return found[0]


def basket_caption(at: AppTest) -> str:
    return next(text for text in plain_texts(at, "caption") if text.startswith("Last changed"))


# --- the deep link of a failed checkout ---------------------------------------------------------


def test_deep_link_shows_the_failed_checkout(api: RecordingApi) -> None:
    at = look_up("demo-checkout-failed")

    assert at.session_state["user"] == "demo-checkout-failed"
    assert texts(at, "subheader") == ["demo\\-checkout\\-failed"]
    caption = basket_caption(at)
    assert re.search(r" · Expires \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in 5 days", caption), caption
    assert "API version 2025-09-15" in caption
    assert DEMO_BADGE in texts(at, "markdown")

    assert len(at.metric) >= 3
    assert metric(at, "Cart") == ("5 products", "9 units")
    assert metric(at, "Saved") == ("1 product", "")
    assert metric(at, "Checkout") == ("5 products", "9 units")
    assert metric(at, "Failed reservations") == ("2", "3 units")
    # The alert names the failed items and what they are worth.
    assert plain_texts(at, "error") == [
        "2 stock reservations failed in this checkout: Salt & Ember Signed Cookbook (prod-1017) "
        "and Crown of Ash Dragon Figure (Limited Edition) (prod-1018). Value at risk: €228.80."
    ]

    # Checkout, cart and saved: three tables.
    assert len(at.dataframe) == 3
    checkout = frame_with(at, "status")
    assert list(checkout["product_id"]) == [
        "prod-1017",
        "prod-1018",
        "prod-1001-m",
        "prod-1009",
        "prod-1013",
    ]
    assert list(checkout["status"]) == [
        "failed (-2)",
        "failed (-1)",
        "reserved 1",
        "reserved 2",
        "unlimited",
    ]
    # Shown in words and by the tint of the failed rows; the flag itself is not sent.
    assert "failed" not in checkout.columns
    assert styled_rows(at, "status") == {0, 1}
    # Names and prices come from the product details endpoint; prices carry their currency.
    assert (checkout["name"] != "").all()
    assert list(checkout["price"][:2]) == ["€39.90", "€149.00"]
    assert list(checkout["line_total"][:2]) == ["€79.80", "€149.00"]
    assert [sent.method for sent in api.sent] == ["GET", "POST"]


def test_raw_response_and_deep_link_blocks() -> None:
    at = look_up("demo-checkout-failed")

    _ticket, link, raw = texts(at, "code")
    assert json.loads(raw)["data"]["checkout"][0] == {
        "productId": "prod-1017",
        "count": 2,
        "stocked": -2,
    }
    assert [e.label for e in at.expander][-1] == "Raw API response"
    assert link == "/?user=demo-checkout-failed"


def test_deep_link_is_absolute_and_percent_encoded() -> None:
    at = look_up("a+b@c:d", url="http://localhost:8501/?user=a%2Bb%40c%3Ad")

    assert texts(at, "code")[1] == "http://localhost:8501/?user=a%2Bb%40c%3Ad"


def test_no_user_shows_how_to_start() -> None:
    at = new_app()
    at.run()

    no_exception(at)
    assert "/?user=USER_ID" in texts(at, "info")[0]
    (table,) = [text for text in texts(at, "markdown") if "| user id | shows |" in text]
    for user in SCENARIOS:
        assert f"| {md_escape(user)} |" in table


def test_sidebar_scenario_picker_looks_the_user_up() -> None:
    at = new_app()
    at.run()
    at.sidebar.selectbox(key="_scenario").set_value("demo-expired").run()

    no_exception(at)
    assert at.session_state["user"] == "demo-expired"
    assert plain_texts(at, "subheader") == ["demo-expired"]


# --- every data scenario ------------------------------------------------------------------------


def test_normal_basket_has_no_checkout(shared: AppTest) -> None:
    at = show(shared, "demo-normal")

    assert not at.error and not at.warning
    assert metric(at, "Cart") == ("3 products", "4 units")
    assert "No active checkout." in section_notes(at)
    assert [len(frame.value) for frame in at.dataframe] == [3, 1]


def test_each_section_heading_carries_its_total_or_says_empty(shared: AppTest) -> None:
    # One element per heading and its note: "#### Cart" and, small and grey beneath it, the total.
    at = show(shared, "demo-full-cart")

    sections = [text for text in texts(at, "markdown") if text.startswith("#### ")]
    assert [text.split("\n")[0] for text in sections][:3] == [
        "#### Checkout",
        "#### Cart",
        "#### Saved for later",
    ]
    assert section_notes(at)[:3] == ["No active checkout.", "Total: €1,296.40", "Empty."]
    assert not [text for text in texts(at, "caption") if "Total" in text]


def test_variants_name_their_main_product(shared: AppTest) -> None:
    at = show(shared, "demo-variants")

    checkout = frame_with(at, "status")
    assert list(checkout["variant"]) == ["L", "S"]
    assert list(checkout["main_product"]) == ["prod-1002", "prod-1005"]
    assert list(checkout["status"]) == ["failed (-1)", "reserved 2"]
    assert styled_rows(at, "status") == {0}
    assert metric(at, "Failed reservations") == ("1", "1 unit")
    assert plain_texts(at, "error") == [
        "1 stock reservation failed in this checkout: Night Harbor Lighthouse Hoodie, variant L "
        "(prod-1002-l). Value at risk: €59.99."
    ]


def test_empty_basket_is_a_state_not_an_error(shared: AppTest) -> None:
    at = show(shared, "demo-empty")

    assert not at.error
    assert "Empty basket" in texts(at, "info")[0]
    assert not at.dataframe
    assert metric(at, "Cart") == ("0 products", "0 units")


def test_expiring_basket_warns(shared: AppTest) -> None:
    at = show(shared, "demo-expiring")

    (warning,) = plain_texts(at, "warning")
    assert re.fullmatch(r"This basket expires in 3\d min\.", warning)


def test_expired_basket_warns(shared: AppTest) -> None:
    at = show(shared, "demo-expired")

    (warning,) = plain_texts(at, "warning")
    assert warning == "This basket has expired (expired 2 days ago)."
    assert re.search(r" · Expired \d{4}-\d\d-\d\d \d\d:\d\d UTC \(2 days ago\)", basket_caption(at))


def _html(node: Any) -> list[str]:
    """The bodies of the st.html elements drawn under `node`, in page order."""
    found = []
    for child in getattr(node, "children", {}).values():
        if child.type == "html":
            found.append(child.proto.body)
        found.extend(_html(child))
    return found


def test_expired_basket_draws_its_timeline_in_text_and_colour(shared: AppTest) -> None:
    at = show(shared, "demo-expired")

    (body,) = [html for html in _html(at.main) if 'data-testid="expiry-timeline"' in html]
    events = re.findall(r'data-event="([^"]+)"', body)
    assert events == ["last changed", "expired", "now"]
    assert f"background:{FAILURE_COLOUR}" in body  # red from the expiry to now
    assert "Time to expiry" in [h.value.strip("# ") for h in at.markdown]
    # The browser draws it as HTML: no chart library to load for a basket.
    assert not at.get("vega_lite_chart")


def test_full_cart_shows_all_twenty_rows(shared: AppTest) -> None:
    at = show(shared, "demo-full-cart")

    assert metric(at, "Cart")[0] == "20 products"
    (cart,) = [frame.value for frame in at.dataframe]
    assert len(cart) == 20


def test_the_checkout_shows_each_lines_reservation_next_to_its_product_id(
    shared: AppTest,
) -> None:
    # Beside the answer in words the table has a third of a narrow window: a long name must not
    # push the reservation out of view.
    at = show(shared, "demo-checkout-failed")
    checkout = next(frame.value for frame in at.dataframe if "status" in frame.value.columns)
    assert list(checkout.columns[:3]) == ["product_id", "status", "name"]


def test_next_token_is_shown(shared: AppTest) -> None:
    at = show(shared, "demo-next-token")

    (info,) = plain_texts(at, "info")
    assert "eyJwYWdlIjoyLCJ1c2VyIjoiZGVtby1uZXh0LXRva2VuIn0" in info
    assert "first page only" in info
    # Not in a code span, where md_escape's backslashes would show.
    assert "`" not in info


def test_hostile_values_are_shown_as_data(shared: AppTest) -> None:
    at = show(shared, "demo-hostile")

    raw = json.loads(texts(at, "code")[2])
    cart = next(frame.value for frame in at.dataframe if "status" not in frame.value.columns)
    assert list(cart["product_id"]) == [item["productId"] for item in raw["data"]["cart"]]
    assert any("<script" in product for product in cart["product_id"])
    # Markdown never carries unescaped markup: HTML and links stay characters.
    assert_no_live_markup(at, [SCRIPT, IMG, MD_LINK, "**bold**", "_em_", "$x$", "<b>XL</b>"])
    assert any("<img src=x onerror" in text for text in plain_texts(at, "info"))


# --- every fault: a specific error, then the next lookup works ----------------------------------

FAULTS = {
    "demo-fault-401": ["HTTP 401", "2002", "AUTHORIZATION_HEADER_INVALID", "BASKET_API_KEY"],
    "demo-fault-403": ["HTTP 403", "Permission denied", "may not read"],
    "demo-fault-404": ["HTTP 404", "2005", "BASKET_NOT_FOUND"],
    "demo-fault-422": ["HTTP 422", "3002", "REQUEST_VALIDATION_ERROR"],
    "demo-fault-429": ["HTTP 429", "Rate limited", "try again in a minute"],
    "demo-fault-500": ["HTTP 500", "3001", "INTERNAL_SERVER_ERROR"],
    "demo-fault-502-html": ["HTTP 502", "text/html", "Bad Gateway"],
    "demo-fault-503": ["HTTP 503", "temporarily unavailable", "try again in a minute"],
    "demo-fault-timeout": ["Timeout", "timed out", "BASKET_API_TIMEOUT"],
    "demo-fault-drop": ["Connection error", "closed the connection"],
    "demo-fault-malformed": ["HTTP 200", "not valid JSON", "cut off"],
    "demo-fault-schema": ["schema", "data.cart.0.productId", "data.checkout.0.stocked"],
    "demo-fault-undocumented": ["HTTP 400", "2017", "not documented", "locked"],
    "demo-fault-huge": ["too large", "limit"],
}


def test_every_fault_user_is_covered() -> None:
    assert {user for user in SCENARIOS if user.startswith("demo-fault-")} == set(FAULTS)


@pytest.mark.parametrize("user", list(FAULTS))
def test_fault_shows_a_specific_error_and_the_page_stays_usable(user: str, shared: AppTest) -> None:
    at = show(shared, user)

    (error,) = plain_texts(at, "error")
    for fragment in FAULTS[user]:
        assert fragment in error, (fragment, error)
    assert "Traceback" not in error
    assert not at.dataframe and not at.metric

    set_user(at, "demo-normal")
    assert not at.error
    assert plain_texts(at, "subheader") == ["demo-normal"]
    assert metric(at, "Cart") == ("3 products", "4 units")


# --- input checks before any request ------------------------------------------------------------


@pytest.mark.parametrize(
    "user", ["bell\x07", "x" * 300, "..", "a\x00b"], ids=["control", "300-chars", "dot-dot", "nul"]
)
def test_invalid_user_id_is_refused_without_a_request(
    user: str, api: RecordingApi, shared: AppTest
) -> None:
    at = show(shared, "demo-normal")
    before = len(api.baskets())
    set_user(at, user)

    with pytest.raises(BasketError) as expected:
        validate_user_id(user)
    (error,) = plain_texts(at, "error")
    assert " ".join(expected.value.message.split()) in error
    assert len(api.baskets()) == before
    assert not at.dataframe


def test_provider_id_and_tracking_are_sent(api: RecordingApi) -> None:
    at = look_up("demo-checkout-failed")
    at.text_input(key="provider_id").set_value("netflix")
    at.text_area(key="tracking_header").set_value(f"__Secure-jay_tracking={SEED_TRACKING}")
    at.run()

    no_exception(at)
    sent = api.baskets()[-1]
    assert sent.target.endswith("/baskets/users/demo-checkout-failed?provider_id=netflix")
    assert sent.headers["x-jay-tracking"] == decode_tracking(SEED_TRACKING).header_value
    # The decoded session is shown above the basket, which keeps the page's whole width.
    (sent_session,) = [e for e in at.expander if e.label.startswith("Tracking session sent")]
    assert sent_session.label == "Tracking session sent: example\\-session\\-id\\-1234"
    fields = dict(frame_with(sent_session, "field").itertuples(index=False))
    assert fields["session_id"] == "example-session-id-1234"
    assert fields["source"] == "jay.api.playout.example"
    assert frame_with(at, "status") is not None


def test_a_tracking_session_starting_in_the_future_is_not_given_an_age(api: RecordingApi) -> None:
    at = look_up("demo-normal")
    future = {"session_id": "s", "start_time": "2999-01-01T00:00:00Z", "user_id": "demo-normal"}
    value = base64.b64encode(json.dumps(future).encode()).decode()
    at.text_area(key="tracking_header").set_value(value).run()

    no_exception(at)
    (started,) = [text for text in plain_texts(at, "caption") if text.startswith("Session ")]
    assert started.startswith("Session starts in ")
    assert started.endswith("its start time is in the future (clock skew or a bad value).")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("tracking_header", "not base64 at all!", "not base64"),
        ("tracking_header", "W10=", "not to a JSON object"),
        ("provider_id", "net\x00flix", "control character"),
    ],
)
def test_malformed_request_option_is_not_sent_and_the_basket_still_loads(
    key: str, value: str, message: str, api: RecordingApi
) -> None:
    at = look_up("demo-normal")
    widget = at.text_area(key=key) if key == "tracking_header" else at.text_input(key=key)
    widget.set_value(value)
    at.button(key="refresh").click().run()

    no_exception(at)
    # The error sits next to its field, inside the request options.
    (error,) = plain_texts(at, "error")
    assert error.startswith("Not sent: ") and message in error
    (options,) = [e for e in at.expander if e.label.startswith("Request options")]
    assert [plain(e.value) for e in options.error] == [error]
    # The page says what was not sent, and the basket is shown, fetched without it.
    (warning,) = plain_texts(at, "warning")
    field = "tracking header" if key == "tracking_header" else "provider id"
    assert warning.startswith(f"Looked up without the {field} (")
    assert metric(at, "Cart") == ("3 products", "4 units")
    last = api.baskets()[-1]
    assert "x-jay-tracking" not in last.headers and "provider_id" not in last.target


# --- cache, refresh, time zones -----------------------------------------------------------------


def test_the_cached_client_is_rebuilt_when_its_timeout_or_retries_change() -> None:
    from dataclasses import replace

    from basket_lib.settings import Settings

    base = Settings(api_url="https://api.example/v2", api_key="k-123456789")
    prints = {
        data_module.fingerprint(base),
        data_module.fingerprint(replace(base, timeout=3.0)),
        data_module.fingerprint(replace(base, max_retries=0)),
    }
    assert len(prints) == 3
    assert "k-123456789" not in "".join(prints)


def test_refresh_bypasses_the_cache(api: RecordingApi) -> None:
    at = look_up("demo-normal")
    at.run()
    assert len(api.baskets()) == 1  # a rerun reads the cache

    at.button(key="refresh").click().run()
    no_exception(at)
    assert len(api.baskets()) == 2


def test_auto_refresh_says_when_it_last_checked(api: RecordingApi) -> None:
    at = look_up("user-00042")
    fetched = len(api.baskets())
    at.toggle(key="auto_refresh").set_value(True).run()

    no_exception(at)
    (check,) = [text for text in plain_texts(at, "caption") if text.startswith("Auto-refresh")]
    assert re.fullmatch(r"Auto-refresh on: checked \S+ \d\d:\d\d:\d\d \S+, no change\.", check)
    # The page and its check share one fetch.
    assert len(api.baskets()) == fetched + 1

    at.toggle(key="auto_refresh").set_value(False).run()
    assert not [text for text in plain_texts(at, "caption") if text.startswith("Auto-refresh")]


def test_auto_refresh_check_that_fails_keeps_the_basket_and_says_so(
    api: RecordingApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = look_up("user-00042")
    at.toggle(key="auto_refresh").set_value(True).run()
    calls = 0
    real = data_module.fetch_basket

    def fail_the_check(*args: Any, **kwargs: Any) -> Any:
        # The page's own fetch succeeds; the check after it fails.
        nonlocal calls
        calls += 1
        if calls > 1:
            raise APITimeoutError("The API did not answer in time.")
        return real(*args, **kwargs)

    monkeypatch.setattr(data_module, "fetch_basket", fail_the_check)
    at.run()

    no_exception(at)
    (check,) = [text for text in plain_texts(at, "caption") if text.startswith("Auto-refresh")]
    assert check.startswith("Auto-refresh: the check at ")
    assert "failed (" in check and "the basket shown is from" in check
    assert "API did not answer in time" in check
    assert not at.error  # the basket stays on the page


def test_times_follow_the_viewer_time_zone_and_the_utc_toggle() -> None:
    at = look_up("demo-normal", timezone="Europe/Berlin")
    local = basket_caption(at)
    assert re.search(r"\d{2}:\d{2} CES?T", local), local
    assert "UTC" not in local

    at.toggle(key="times_utc").set_value(True).run()
    utc = basket_caption(at)
    assert re.search(r"\d{2}:\d{2} UTC", utc) and "CET" not in utc


# --- audit and secrets --------------------------------------------------------------------------


def test_each_lookup_is_audited_once(audit_log: Path) -> None:
    at = look_up("demo-checkout-failed")
    at.toggle(key="times_utc").set_value(True).run()  # a rerun is not a new lookup
    at.button(key="refresh").click().run()  # nor is fetching the same customer again

    (line,) = audit_lines(audit_log)
    assert line["action"] == "lookup"
    assert line["user_ids"] == ["demo-checkout-failed"]
    assert line["outcome"] == "basket"
    assert line["viewer"] is None

    set_user(at, "demo-fault-500")
    last = audit_lines(audit_log)[-1]
    assert last["user_ids"] == ["demo-fault-500"]
    assert last["outcome"].startswith("error") and "500" in last["outcome"]
    assert len(audit_lines(audit_log)) == 2
    # Back to the first customer in the same session: already audited.
    set_user(at, "demo-checkout-failed")
    assert len(audit_lines(audit_log)) == 2


def test_real_api_over_loopback_never_shows_the_key(
    monkeypatch: pytest.MonkeyPatch, audit_log: Path
) -> None:
    key = "live-key-5f1e0c9a7b"
    api = RecordingApi(api_key=key)
    with DemoServer(api=api) as server:
        monkeypatch.setenv("BASKET_API_URL", server.base_url)
        monkeypatch.setenv("BASKET_API_KEY", key)
        at = look_up("demo-checkout-failed")
        assert "failed (-2)" in list(frame_with(at, "status")["status"])
        shown = [all_texts(at)]
        set_user(at, "demo-fault-401")
        shown.append(all_texts(at))

    assert api.baskets()[0].headers["x-api-key"] == key
    assert "HTTP 401" in plain(shown[1])
    assert "127.0.0.1" in plain(shown[0])  # the sidebar names the API in use
    assert DEMO_BADGE not in all_texts(at)
    for text in [*shown, audit_log.read_text(encoding="utf-8")]:
        assert key not in text
    assert [line["outcome"][:5] for line in audit_lines(audit_log)] == ["baske", "error"]
