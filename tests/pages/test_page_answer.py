"""AppTest of the agent's answer on the basket page (issue 12): lines in words, money, the ticket
block, request options that never trap the agent, errors for agents, freshness, navigation."""

from __future__ import annotations

import base64
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from apptest_support import (
    ChangedDetailsApi,
    RecordingApi,
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

from basket_lib.demo import transport as demo_transport
from basket_lib.demo.api import DemoResponse
from basket_lib.demo.catalogue import CATALOGUE
from basket_lib.demo.server import DemoServer
from basket_lib.demo.transport import DemoTransport

USER = "demo-checkout-failed"


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch, app_environment: None) -> None:
    use_navigation(monkeypatch)


def ticket(at: AppTest) -> str:
    (found,) = [text for text in texts(at, "code") if text.startswith("User: ")]
    return found


def explanations(at: AppTest) -> list[str]:
    (block,) = [t for t in plain_texts(at, "markdown") if "ordered, " in t and t.startswith("- ")]
    return block.splitlines()


def captions(at: AppTest) -> list[str]:
    return plain_texts(at, "caption")


# --- 1. every checkout line in words ------------------------------------------------------------


def test_every_checkout_line_is_explained_failed_first_and_marked_in_words() -> None:
    at = look_up(USER)

    cookbook, figure = CATALOGUE["prod-1017"], CATALOGUE["prod-1018"]
    assert explanations(at) == [
        f"- :red[:material/error:] **Failed:** {cookbook.name} (prod-1017): 2 ordered, reservation "
        "failed (stocked −2); current stock −2: no longer available",
        f"- :red[:material/error:] **Failed:** {figure.name} (prod-1018): 1 ordered, reservation "
        "failed (stocked −1); current stock 0, out of stock",
        "- :green[:material/check_circle:] **Reserved:** Night Harbor Logo T-Shirt, variant M "
        "(prod-1001-m): 1 ordered, 1 reserved in stock",
        "- :green[:material/check_circle:] **Reserved:** Night Harbor Enamel Mug (prod-1009): 2 "
        "ordered, 2 reserved in stock",
        "- :blue[:material/all_inclusive:] **Unlimited:** Paper Moons Poster (A2) (prod-1013): 3 "
        "ordered, no reservation needed (unlimited stock)",
    ]
    # The alert is the first thing after the basket's facts, before the metrics and tables.
    (alert,) = at.error
    assert plain(alert.value).startswith("2 stock reservations failed in this checkout: ")


class _DetailsDown(RecordingApi):
    """The demo API, its product details endpoint failing."""

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> DemoResponse:
        if "/products/details" in target:
            return DemoResponse(503, {"Content-Type": "text/plain"}, b"down")
        return super().handle(method, target, headers, body)


def test_without_product_details_every_line_is_still_explained(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(demo_transport, "DemoTransport", lambda: DemoTransport(_DetailsDown()))
    at = look_up(USER)

    lines = explanations(at)
    assert len(lines) == 5
    assert lines[0].endswith(
        "**Failed:** prod-1017: 2 ordered, reservation failed (stocked −2); current stock unknown "
        "(product details unavailable)"
    )
    (warning,) = plain_texts(at, "warning")
    assert warning.startswith("Product details are unavailable (HTTP 503")
    assert "explained from the basket alone" in warning
    assert "Product details were unavailable" in ticket(at)


# --- 2. money -----------------------------------------------------------------------------------


def _total(items: list[tuple[str, int]]) -> Decimal:
    return sum((Decimal(CATALOGUE[pid].price) * count for pid, count in items), Decimal(0))


def test_prices_line_totals_and_list_totals_with_their_currency() -> None:
    at = look_up(USER)

    checkout = frame_with(at, "status")
    assert list(checkout["price"]) == ["€39.90", "€149.00", "€29.99", "€14.99", "€12.99"]
    assert list(checkout["line_total"]) == ["€79.80", "€149.00", "€29.99", "€29.98", "€38.97"]
    checkout_items = [("prod-1017", 2), ("prod-1018", 1), ("prod-1001-m", 1), ("prod-1009", 2),
                      ("prod-1013", 3)]  # fmt: skip
    assert f"Total: €{_total(checkout_items):,.2f}" in section_notes(at)
    assert plain(at.error[0].value).endswith(f"Value at risk: €{_total(checkout_items[:2]):.2f}.")


def test_prices_follow_the_viewers_locale() -> None:
    at = look_up(USER, locale="de-DE")

    assert list(frame_with(at, "status")["price"])[:2] == ["39,90\xa0€", "149,00\xa0€"]


class _TwoCurrencies(ChangedDetailsApi):
    """The demo API, with prod-1009 priced in US dollars."""

    def products(self, products: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for product in products:
            if product["productId"] == "prod-1009":
                product["currency"] = "USD"
        return products


def test_mixed_currencies_are_never_summed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_transport, "DemoTransport", lambda: DemoTransport(_TwoCurrencies()))
    at = look_up(USER)

    euros = _total([("prod-1017", 2), ("prod-1018", 1), ("prod-1001-m", 1), ("prod-1013", 3)])
    assert f"Total: €{euros:,.2f} + ${_total([('prod-1009', 2)]):,.2f}" in section_notes(at)
    assert "$14.99" in list(frame_with(at, "status")["price"])


def test_missing_values_are_blank_cells_never_none() -> None:
    at = look_up("demo-variants")

    cart = next(frame.value for frame in at.dataframe if "status" not in frame.value.columns)
    assert "" in set(cart["variant"]) | set(cart["main_product"])
    for frame in at.dataframe:
        values = frame.value.astype(str).to_numpy().ravel().tolist()
        assert "None" not in values and "nan" not in values and "<NA>" not in values


# --- 3. the ticket block ------------------------------------------------------------------------


def test_ticket_block_summarises_the_basket_with_a_reply() -> None:
    at = look_up(USER, timezone="Europe/Berlin")

    text = ticket(at)
    lines = text.splitlines()
    assert lines[0] == f"User: {USER}"
    assert lines[1].startswith("Basket fetched: ") and "CET" in lines[1] and "UTC)" in lines[1]
    assert lines[2].startswith("Checkout: 5 items, 9 units, total €")
    assert sum(line.startswith("- ") for line in lines) == 5
    assert any(line.startswith("Failed reservations: 2 of 5; value at risk €") for line in lines)
    (expires,) = [line for line in lines if line.startswith("Expires: ")]
    assert "CET" in expires and "UTC" in expires and "expires in 5 days" in expires
    reply = lines[lines.index("Suggested reply:") + 1]
    assert reply.startswith("I'm sorry: Salt & Ember Signed Cookbook and Crown of Ash Dragon")


def test_an_expired_basket_claims_no_reservation_on_the_page_or_in_the_reply() -> None:
    at = look_up("demo-expired", timezone="UTC")

    assert explanations(at) == [
        "- :gray[:material/timer_off:] **Lapsed:** Crown of Ash Board Game (prod-1032): 1 ordered, "
        "1 had been reserved in stock; the reservation lapsed when the basket expired",
        "- :blue[:material/all_inclusive:] **Unlimited:** Crown of Ash Map of the Realm Poster "
        "(A1) (prod-1025): 1 ordered, no reservation needed (unlimited stock)",
    ]
    lines = ticket(at).splitlines()
    reply = lines[lines.index("Suggested reply:") + 1]
    assert reply == (
        "Your basket has expired, so nothing in your checkout is reserved for you any more: "
        "please add the items to your basket again and check out."
    )
    assert not [line for line in lines if line.endswith(" reserved in stock")]
    assert any(line.endswith("the reservation lapsed when the basket expired") for line in lines)


def test_ticket_block_in_utc_shows_each_time_once() -> None:
    at = look_up(USER, timezone="UTC")

    lines = ticket(at).splitlines()
    assert re.fullmatch(r"Basket fetched: \S+ \d\d:\d\d:\d\d UTC", lines[1]), lines[1]
    (expires,) = [line for line in lines if line.startswith("Expires: ")]
    assert re.fullmatch(r"Expires: \S+ \d\d:\d\d UTC, expires in 5 days.*", expires), expires


def test_ticket_block_holds_no_key_token_or_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key, token = "live-key-5f1e0c9a7b", "bearer-token-77aa31"
    api = RecordingApi(api_key=key)
    with DemoServer(api=api) as server:
        monkeypatch.setenv("BASKET_API_URL", server.base_url)
        monkeypatch.setenv("BASKET_API_KEY", key)
        monkeypatch.setenv("BASKET_API_TOKEN", token)
        at = look_up(USER, url="http://localhost:8501/?user=demo-checkout-failed")
        text = ticket(at)

    assert api.baskets()[0].headers["x-api-key"] == key
    assert text.startswith(f"User: {USER}")
    for secret in (key, token, server.base_url, "127.0.0.1", "localhost", "http"):
        assert secret not in text


# --- 4. request options -------------------------------------------------------------------------


def _tracking(**payload: str) -> str:
    return base64.b64encode(json.dumps(payload).encode()).decode()


def test_options_in_use_are_shown_outside_the_expander(api: RecordingApi) -> None:
    at = look_up(USER)
    at.text_input(key="provider_id").set_value("netflix")
    at.text_area(key="tracking_header").set_value(_tracking(session_id="s-77")).run()

    no_exception(at)
    assert "Request sent with provider id netflix and the tracking session s-77." in captions(at)
    sent = api.baskets()[-1]
    assert "provider_id=netflix" in sent.target and "x-jay-tracking" in sent.headers


def test_options_do_not_follow_the_agent_to_another_customer(api: RecordingApi) -> None:
    at = look_up(USER)
    at.text_input(key="provider_id").set_value("netflix").run()
    set_user(at, "demo-normal")

    assert at.text_input(key="provider_id").value == ""
    (info,) = [t for t in plain_texts(at, "info") if "were cleared" in t]
    assert info.startswith(f"The provider id and tracking header set for {USER} were cleared")
    assert "provider_id" not in api.baskets()[-1].target

    at.button(key="restore_options").click().run()
    no_exception(at)
    assert at.text_input(key="provider_id").value == "netflix"
    assert "provider_id=netflix" in api.baskets()[-1].target
    # Restored for this customer: the next run keeps them and says nothing more.
    at.run()
    assert not [t for t in plain_texts(at, "info") if "were cleared" in t]


def test_the_tracking_decoder_opens_the_decoded_users_basket_with_its_header(
    api: RecordingApi,
) -> None:
    value = _tracking(session_id="s-9", user_id="demo-variants", provider_name="netflix")
    at = new_app(page="pages/tracking.py")
    at.run()
    at.text_area(key="tracking_input").set_value(value).run()
    at.button(key="open_tracked_basket").click().run()

    no_exception(at)
    assert at.session_state["user"] == "demo-variants"
    assert texts(at, "subheader") == ["demo\\-variants"]
    sent = api.baskets()[-1]
    assert sent.headers["x-jay-tracking"] == value and "provider_id=netflix" in sent.target
    assert not [t for t in plain_texts(at, "info") if "were cleared" in t]


# --- 5. errors written for agents ---------------------------------------------------------------


def test_basket_not_found_is_explained_without_blaming_the_url() -> None:
    at = look_up("demo-fault-404")

    (error,) = plain_texts(at, "error")
    assert "The API has no basket for this user id" in error
    assert "BASKET_API_URL" not in error and "For an administrator" not in error
    assert "**Reference:** " in error and "user demo-fault-404 · HTTP 404 · API code 2005" in error


def test_a_schema_error_shows_the_response_it_refers_to() -> None:
    at = look_up("demo-fault-schema")

    (error,) = plain_texts(at, "error")
    assert "Escalate it with the reference and the response below" in error
    (expander,) = [e for e in at.expander if e.label == "The response this error refers to"]
    (code,) = [c.value for c in expander.code]
    assert json.loads(code)["data"]["checkout"][0]["stocked"] == "lots"


def test_an_undocumented_code_is_called_undocumented() -> None:
    at = look_up("demo-fault-undocumented")

    (error,) = plain_texts(at, "error")
    assert "API code 2017 (undocumented)" in error and "does not document" in error
    assert "rejected the request as malformed" not in error


# --- 6. freshness -------------------------------------------------------------------------------


def test_the_page_says_when_the_basket_was_fetched_and_refresh_shows_it_fetched_again(
    api: RecordingApi,
) -> None:
    at = look_up(USER)
    (fresh,) = [t for t in texts(at, "markdown") if "Fetched at" in t]
    assert fresh.startswith(":green-badge[") and "s ago" in fresh
    assert not at.toast

    before = len(api.baskets())
    at.button(key="refresh").click().run()
    assert len(api.baskets()) == before + 1
    (toast,) = at.toast
    assert toast.value.startswith("Fetched again at ")


# --- 7. navigation ------------------------------------------------------------------------------


def test_a_pasted_ticket_line_offers_the_id_in_it(api: RecordingApi) -> None:
    at = look_up("User ID: demo-normal, checkout failed")

    assert not api.baskets()  # the line itself is not looked up
    (info,) = plain_texts(at, "info")
    assert "Did you mean **demo-normal**?" in info
    at.button(key="use_suggestion").click().run()
    no_exception(at)
    assert at.session_state["user"] == "demo-normal"
    assert [sent.target.rsplit("/", 1)[-1] for sent in api.baskets()] == ["demo-normal"]


def test_a_pasted_line_can_still_be_looked_up_as_typed(api: RecordingApi) -> None:
    at = look_up("odd id 42")

    assert not api.baskets()
    at.button(key="use_as_typed").click().run()
    no_exception(at)
    assert [sent.target.rsplit("/", 1)[-1] for sent in api.baskets()] == ["odd%20id%2042"]
    assert not [t for t in plain_texts(at, "info") if "Did you mean" in t]


def test_recent_lookups_link_to_earlier_customers() -> None:
    at = look_up(USER)
    set_user(at, "demo-normal")
    set_user(at, "demo-variants")

    links = at.sidebar.get("page_link")
    labels = [plain(link.proto.label) for link in links]
    assert labels == ["demo-normal", USER]
    assert [link.proto.query_string for link in links] == [
        "user=demo-normal",
        f"user={USER}",
    ]


def _in_order(node: Any) -> list[Any]:
    """Every element below `node`, in the order the page draws them."""
    children = getattr(node, "children", None)
    if not children:
        return [node]
    return [found for key in sorted(children) for found in _in_order(children[key])]


def test_the_answer_comes_before_the_figures_and_every_table() -> None:
    at = look_up(USER)

    kinds = [(e.type, plain(str(getattr(e, "value", "")))) for e in _in_order(at.main)]
    first = {
        "alert": next(i for i, (t, v) in enumerate(kinds) if t == "error"),
        "words": next(i for i, (t, v) in enumerate(kinds) if t == "markdown" and "ordered, " in v),
        "metric": next(i for i, (t, _) in enumerate(kinds) if t == "metric"),
        "table": next(
            i for i, (t, _) in enumerate(kinds) if t in ("arrow_data_frame", "dataframe")
        ),
    }
    assert first["alert"] < first["words"] < first["table"] < first["metric"]


def test_the_tab_title_names_the_customer(monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit as st

    titles: list[str | None] = []
    real = st.set_page_config

    def recording(*args: Any, **kwargs: Any) -> None:
        titles.append(kwargs.get("page_title"))
        real(*args, **kwargs)

    monkeypatch.setattr(st, "set_page_config", recording)
    at = look_up(USER)
    set_user(at, "demo-normal")

    assert [t for t in titles if t != "Basket support"] == [
        f"{USER} · Basket lookup",
        "demo-normal · Basket lookup",
    ]
