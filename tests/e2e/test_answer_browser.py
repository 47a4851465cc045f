"""The basket page's answer in a real browser (issue 12): the failed items named in words on a
wide and a phone-sized screen, the ticket block's copy button, the tab title, and Back."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from e2e_support import (
    DATAFRAME,
    ERROR,
    RunningApp,
    app_environment,
    cells,
    expect,
    heading,
    open_app,
    run_streamlit,
    set_sidebar_user,
    wait_for_app,
)

from basket_lib.demo.catalogue import CATALOGUE
from basket_lib.simulator import DemoApi, DemoServer

if TYPE_CHECKING:
    from playwright.sync_api import FloatRect, Locator, Page, ViewportSize

USER = "demo-checkout-failed"
OTHER_USER = "user-00001"
FAILED = [f"{CATALOGUE[product].name} ({product})" for product in ("prod-1017", "prod-1018")]
KEY = "sk-live-" + secrets.token_hex(16)
WIDE: ViewportSize = {"width": 1440, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
SIDEBAR = "[data-testid=stSidebar]"


def box(locator: Locator) -> FloatRect:
    rect = locator.bounding_box()
    assert rect is not None, f"{locator} has no box"
    return rect


def overlap(a: FloatRect, b: FloatRect) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def explained_failures(page: Page) -> Locator:
    """The checkout explained line by line: the items of the list that say a reservation
    failed."""
    return page.locator("[data-testid=stMarkdownContainer] li").filter(
        has_text="reservation failed"
    )


def shows_customer(page: Page, user: str) -> None:
    """The basket of `user` is drawn, the address is its ticket link and the sidebar names it."""
    wait_for_app(page, heading(page, user))
    expect(page).to_have_url(re.compile(rf"/\?user={re.escape(user)}$"))
    expect(page.locator(f"{SIDEBAR} [data-testid=stTextInput] input")).to_have_value(user)


def history_length(page: Page) -> int:
    return int(page.evaluate("history.length"))


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["1440px", "390px"])
def test_failed_items_are_named_in_words(
    page: Page, demo_app: RunningApp, viewport: ViewportSize
) -> None:
    page.set_viewport_size(viewport)
    open_app(page, demo_app.url(f"/?user={USER}"), heading(page, USER))

    alert = page.locator(ERROR).filter(has_text="failed in this checkout")
    lines = explained_failures(page)
    expect(lines).to_have_count(2)
    for item in FAILED:
        expect(alert).to_contain_text(item)
        expect(lines.filter(has_text=item)).to_have_count(1)
    tables = page.locator(DATAFRAME)
    expect(tables).to_have_count(3)  # checkout, cart, saved for later

    if viewport == PHONE:
        # On a phone the words come before any table: the agent reads what failed first.
        first_table_top = min(box(table)["y"] for table in tables.all())
        for text in [alert, *lines.all()]:
            rect = box(text)
            assert rect["y"] + rect["height"] <= first_table_top, f"{text} is below a table"
    else:
        # On a wide screen the words stand beside the checkout table, at its height.
        checkout = box(tables.first)
        for line in lines.all():
            rect = box(line)
            assert rect["x"] + rect["width"] <= checkout["x"]
            assert rect["y"] < checkout["y"] + checkout["height"]


def test_phone_controls_do_not_overlap(page: Page, demo_app: RunningApp) -> None:
    page.set_viewport_size(PHONE)
    open_app(page, demo_app.url(f"/?user={USER}"), heading(page, USER))

    # Streamlit collapses the sidebar on a phone and shows the button that opens it.
    expect(page.locator(SIDEBAR)).to_have_attribute("data-collapsed", "true")
    main = page.locator("[data-testid=stMain]")
    controls = {
        "open sidebar": page.get_by_test_id("stExpandSidebarButton"),
        "main menu": page.get_by_test_id("stMainMenu"),
        "request options": main.get_by_test_id("stExpander")
        .filter(has_text="Request options")
        .locator("summary"),
        "Refresh": main.get_by_test_id("stButton").filter(has_text="Refresh"),
        "Auto-refresh": main.get_by_test_id("stCheckbox").filter(has_text="Auto-refresh"),
        "Times in UTC": main.get_by_test_id("stCheckbox").filter(has_text="Times in UTC"),
    }
    rects = {}
    for name, control in controls.items():
        expect(control).to_be_visible()
        rect = rects[name] = box(control)
        assert rect["x"] >= 0 and rect["x"] + rect["width"] <= PHONE["width"], f"{name} is cut off"
    names = list(rects)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            assert not overlap(rects[first], rects[second]), f"{first} overlaps {second}"


@pytest.fixture(scope="module")
def keyed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningApp, DemoServer]]:
    """The dashboard on a loopback demo API that requires a random key."""
    folder = tmp_path_factory.mktemp("keyed-answer-app")
    with DemoServer(api=DemoApi(api_key=KEY)) as server:
        env = app_environment(
            BASKET_API_URL=server.base_url,
            BASKET_API_KEY=KEY,
            BASKET_AUDIT_LOG=str(folder / "audit.jsonl"),
        )
        with run_streamlit(env, folder / "streamlit.log") as app:
            yield app, server


def test_copy_button_copies_the_ticket_summary(
    page: Page, keyed_app: tuple[RunningApp, DemoServer]
) -> None:
    app, server = keyed_app
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.base_url)
    open_app(page, app.url(f"/?user={USER}"), heading(page, USER))
    assert server.requests_by_user[USER] >= 1  # the keyed API served this basket

    ticket = page.locator("h4", has_text="For the ticket").locator(
        "xpath=following::*[@data-testid='stCode'][1]"
    )
    expect(ticket).to_contain_text(f"User: {USER}")
    # Something else on the clipboard first: what is read afterwards was put there by the click.
    page.evaluate("navigator.clipboard.writeText('not copied yet')")
    ticket.hover()
    ticket.locator("xpath=..").get_by_role("button", name="Copy to clipboard").click()
    page.wait_for_function(
        "async () => (await navigator.clipboard.readText()) !== 'not copied yet'"
    )
    copied = str(page.evaluate("navigator.clipboard.readText()"))

    assert copied.startswith(f"User: {USER}\n")
    for item in FAILED:
        assert item in copied
    assert "reservation failed" in copied
    assert "Suggested reply:" in copied
    for secret in (KEY, KEY[:16], KEY[-12:], server.base_url, app.base_url, "127.0.0.1"):
        assert secret not in copied


def test_tab_title_names_the_customer(page: Page, demo_app: RunningApp) -> None:
    open_app(page, demo_app.url(f"/?user={USER}"), heading(page, USER))
    expect(page).to_have_title(f"{USER} · Basket lookup")

    set_sidebar_user(page, OTHER_USER)
    wait_for_app(page, heading(page, OTHER_USER))
    expect(page).to_have_title(f"{OTHER_USER} · Basket lookup")


def test_back_after_typing_an_id_returns_to_the_previous_customer(
    page: Page, demo_app: RunningApp
) -> None:
    open_app(page, demo_app.url(f"/?user={USER}"), heading(page, USER))
    entries = history_length(page)

    set_sidebar_user(page, OTHER_USER)
    shows_customer(page, OTHER_USER)
    assert history_length(page) == entries + 1, "the typed lookup replaced the history entry"

    page.go_back()
    shows_customer(page, USER)
    page.go_forward()
    shows_customer(page, OTHER_USER)


def test_back_after_a_recent_lookups_link_returns_to_the_previous_customer(
    page: Page, demo_app: RunningApp
) -> None:
    open_app(page, demo_app.url(f"/?user={USER}"), heading(page, USER))
    set_sidebar_user(page, OTHER_USER)
    shows_customer(page, OTHER_USER)
    entries = history_length(page)

    recent = page.locator(f"{SIDEBAR} [data-testid=stPageLink-NavLink]").filter(has_text=USER)
    recent.click()
    shows_customer(page, USER)
    assert history_length(page) == entries + 1, "the link's lookup replaced the history entry"

    page.go_back()
    shows_customer(page, OTHER_USER)
    page.go_back()
    shows_customer(page, USER)


def test_a_full_cart_is_readable_without_scrolling_inside_the_table(
    page: Page, demo_app: RunningApp
) -> None:
    page.set_viewport_size(WIDE)
    open_app(page, demo_app.url("/?user=demo-full-cart"), heading(page, "demo-full-cart"))

    cart = page.locator(DATAFRAME)
    expect(cart).to_have_count(1)  # the cart alone: no checkout, nothing saved
    # All 20 rows (the API's maximum) fit the table's own height: the grid puts in the page only
    # the cells of the rows it shows, so the first and the last product are there only when
    # nothing has to be scrolled inside the table.
    for product in ("prod-1009", "prod-1028"):
        expect(cells(cart, product)).to_have_count(1)
    assert box(cart)["height"] >= 21 * 35  # a header and 20 rows of Streamlit's 35 px
