"""Basket lookup in a real browser: a support agent's ticket link, against the demo API."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from e2e_support import (
    APP,
    DATAFRAME,
    ERROR,
    RunningApp,
    app_environment,
    cells,
    expect,
    expect_cell,
    go_to_page,
    heading,
    metric,
    open_app,
    run_streamlit,
    screenshot,
    wait_for_app,
)

from basket_lib.demo.catalogue import CATALOGUE

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

USER = "demo-checkout-failed"
FAILED_MESSAGE = re.compile(r"(?<![0-9])2 stock reservation(s|\(s\)) failed in this checkout")


def expect_no_csv_download(table: Locator) -> None:
    """The table's hover toolbar offers no "Download as CSV" (issue 10, item 4): it would write
    API text raw, formulas included; client.disableDataExport removes it."""
    table.hover()
    # The toolbar is drawn: its Search button shows, and would next to a download button.
    expect(table.get_by_role("button", name=re.compile(r"^Search"))).to_be_visible()
    expect(table.get_by_role("button", name=re.compile(r"^Download as CSV"))).to_have_count(0)


def test_ticket_link_shows_the_basket_and_its_failed_reservations(
    page: Page, demo_app: RunningApp
) -> None:
    open_app(page, demo_app.url(f"/?user={USER}"), heading(page, USER))

    expect(page.get_by_text("Demo data").first).to_be_visible()
    expect(metric(page, "Failed reservations")).to_contain_text("2")
    expect(page.locator(ERROR)).to_contain_text(FAILED_MESSAGE)
    # The checkout table comes first; colour is never the only signal, so the status text is
    # in the cells themselves.
    checkout = page.locator("[data-testid=stDataFrame]").first
    expect(checkout).to_be_visible()
    expect(cells(checkout, re.compile(r"^failed"))).to_have_count(2)
    expect_cell(checkout, "failed (-2)")
    expect_cell(checkout, "reserved 1")
    expect_cell(checkout, "unlimited")
    # Names come from the product-details endpoint, not just the ids.
    expect_cell(checkout, CATALOGUE["prod-1017"].name)
    expect_cell(checkout, "prod-1017")

    # Checkout, cart and saved for later.
    tables = page.locator(DATAFRAME)
    expect(tables).to_have_count(3)
    for table in tables.all():
        expect_no_csv_download(table)

    # The expiry timeline is drawn (HTML that st.html's sanitiser keeps): its labels say the
    # events in text, and each point has its tooltip.
    timeline = page.locator("[data-testid=expiry-timeline]")
    expect(timeline).to_have_count(1)
    expect(timeline.get_by_text("now", exact=True)).to_have_count(1)
    expect(timeline.get_by_text(re.compile("^expires "))).to_have_count(1)
    expires = timeline.locator("[data-event=expires]")
    expect(expires).to_have_attribute("title", re.compile("^expires: "))
    expect(page.locator("[data-testid=stVegaLiteChart]")).to_have_count(0)

    shot = screenshot(page, "basket-demo-checkout-failed")
    assert shot.stat().st_size > 10_000


def test_the_pages_request_nothing_from_another_host(page: Page, demo_app: RunningApp) -> None:
    # An agent's browser shows customer data: no font, icon or script from a third party, which
    # would learn who looked at what, and which a closed network would block.
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    open_app(page, demo_app.url(f"/?user={USER}"), heading(page, USER))
    for title in ("Reservation failures", "Tracking decoder", "Basket lookup"):
        go_to_page(page, title)

    origin = demo_app.url("/")
    elsewhere = [url for url in requested if not url.startswith((origin, "data:", "blob:"))]
    assert requested and not elsewhere


def test_user_id_survives_page_switches(page: Page, demo_app: RunningApp) -> None:
    open_app(page, demo_app.url(f"/?user={USER}"), heading(page, USER))
    # Switch once the page is fully drawn: streamlit 1.67 sometimes sends a page switch made while
    # the data grid is still loading without widget states, and ?user= is then dropped.
    expect_cell(page, "prod-1017")
    sidebar_user = page.locator("[data-testid=stSidebar] [data-testid=stTextInput] input")

    go_to_page(page, "Reservation failures")
    expect(page).to_have_url(re.compile(rf"/failures\?(.+&)?user={USER}(&|$)"))
    expect(sidebar_user).to_have_value(USER)

    go_to_page(page, "Basket lookup")
    expect(page).to_have_url(re.compile(rf"/\?(.+&)?user={USER}(&|$)"))
    expect(heading(page, USER)).to_be_visible()
    expect(page.locator(ERROR)).to_contain_text(FAILED_MESSAGE)


def test_first_request_to_a_subpage_gets_the_whole_app(
    page: Page, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A fresh server treats pages/ as a legacy multipage folder until st.navigation is first
    called; a bookmark to /failures must still get the sidebar, its navigation and ?user=."""
    folder = tmp_path_factory.mktemp("fresh-app")
    env = app_environment(BASKET_AUDIT_LOG=str(folder / "audit.jsonl"))
    with run_streamlit(env, folder / "streamlit.log") as fresh:
        open_app(page, fresh.url(f"/failures?user={USER}"), heading(page, "Reservation failures"))
        navigation = page.locator("[data-testid=stSidebarNav]")
        expect(navigation).to_contain_text("Basket lookup")
        expect(navigation).to_contain_text("Tracking decoder")
        sidebar_user = page.locator("[data-testid=stSidebar] [data-testid=stTextInput] input")
        expect(sidebar_user).to_have_value(USER)
        expect(page).to_have_url(re.compile(rf"/failures\?user={USER}$"))


class _Received:
    """Bytes the page has received over Streamlit's websocket so far."""

    def __init__(self, page: Page) -> None:
        self.total = 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._count))

    def _count(self, payload: str | bytes) -> None:
        self.total += len(payload)


def _checked(page: Page) -> Locator:
    return page.get_by_text(re.compile(r"^Auto-refresh on: checked .*, no change\.$"))


def _minute(caption: str) -> str:
    """ "12:04" of "Auto-refresh on: checked 2026-12-01 12:04:31 UTC, no change." """
    found = re.search(r"(\d\d:\d\d):\d\d", caption)
    assert found, caption
    return found.group(1)


def _turn_on_auto_refresh(page: Page, app: RunningApp, user: str) -> tuple[_Received, int]:
    """Opens the user's basket with auto-refresh on; returns the byte counter and what the
    lookup itself received."""
    received = _Received(page)
    open_app(page, app.url(f"/?user={user}"), heading(page, user))
    lookup = received.total
    page.get_by_test_id("stCheckbox").filter(has_text="Auto-refresh").click()
    wait_for_app(page, _checked(page))
    return received, lookup


def test_auto_refresh_of_an_unchanged_basket_does_not_resend_the_page(
    page: Page, demo_app: RunningApp
) -> None:
    # A seeded demo user: the demo API renders its basket once a minute, so two checks within
    # one minute find the same basket. A pair that straddles a minute may find it changed (and
    # redraw, rightly): the test waits for the next pair then.
    received, lookup = _turn_on_auto_refresh(page, demo_app, "user-00042")
    tables = page.locator(DATAFRAME).count()
    first = _checked(page).inner_text()
    for _ in range(3):
        before = received.total
        # The next check (every 10 s) shows a later time.
        expect(_checked(page)).not_to_have_text(first, timeout=30_000)
        expect(page.locator(APP)).to_have_attribute("data-test-script-state", "notRunning")
        tick = received.total - before
        second = _checked(page).inner_text()
        if _minute(first) == _minute(second):
            break
        first = second
    # The check sent its caption, not the basket again (the lookup sent about 20-30 KB).
    assert 0 < tick < lookup / 4, (tick, lookup, first, second)
    expect(page.locator(DATAFRAME)).to_have_count(tables)  # the basket is still on the page


def test_auto_refresh_redraws_a_basket_that_changed(page: Page, demo_app: RunningApp) -> None:
    # A demo scenario is rendered relative to the time of each request: every check finds its
    # expiry moved, i.e. a changed basket, and the page is drawn again.
    received, lookup = _turn_on_auto_refresh(page, demo_app, "demo-normal")
    before = received.total
    first = _checked(page).inner_text()
    expect(_checked(page)).not_to_have_text(first, timeout=30_000)
    expect(page.locator(APP)).to_have_attribute("data-test-script-state", "notRunning")
    assert received.total - before > lookup / 2
