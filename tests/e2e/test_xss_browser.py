"""Nothing from the API or the user becomes live HTML: checked in a real browser (issue 4, §3).

The demo-hostile user's products carry `<script>`, `<img onerror>`, `javascript:` markdown links,
markdown emphasis and `$math$` in their ids, names and variants. Every test records dialogs and
calls of alert/confirm/prompt, then looks for any element such text could have created.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest
from e2e_support import (
    ERROR,
    RunningApp,
    expect,
    expect_cell,
    heading,
    open_app,
    paste_and_scan,
    screenshot,
    set_sidebar_user,
    wait_for_app,
)

from basket_lib.demo.baskets import HOSTILE_NEXT_TOKEN
from basket_lib.demo.catalogue import IMG, MD_LINK, SCRIPT

if TYPE_CHECKING:
    from playwright.sync_api import Dialog, Page

HOSTILE_USER = "demo-hostile"
# Record every call, then let the real function run so page.on("dialog") sees it too.
RECORD_DIALOGS = """
window.__xss = [];
for (const name of ["alert", "confirm", "prompt"]) {
  const original = window[name];
  window[name] = function (...args) {
    window.__xss.push(name + ": " + String(args[0]));
    return original.apply(this, args);
  };
}
"""
# Text of the elements markdown or HTML would make of the hostile strings.
MARKUP_TEXTS = ["bold", "em", "XL", "Evil", "Brand", "click", "injected", "x"]
FIND_INJECTED = """
(markupTexts) => {
  const found = [];
  for (const el of document.querySelectorAll("script")) {
    if (el.textContent.includes("alert")) found.push("script: " + el.outerHTML.slice(0, 120));
  }
  for (const el of document.querySelectorAll("img[src='x'], [onerror], [onload], [onclick]")) {
    found.push("handler: " + el.outerHTML.slice(0, 120));
  }
  for (const el of document.querySelectorAll("iframe[srcdoc], object, embed")) {
    found.push("embedded document: " + el.outerHTML.slice(0, 120));
  }
  for (const el of document.querySelectorAll("a[href], iframe[src]")) {
    const target = el.getAttribute("href") || el.getAttribute("src") || "";
    if (/^\\s*javascript:/i.test(target)) found.push("javascript url: " + el.outerHTML);
  }
  const markup = "[data-testid=stMarkdownContainer] :is(strong, em, b, i, a, code, td)";
  for (const el of document.querySelectorAll(markup)) {
    if (markupTexts.includes(el.textContent.trim())) found.push("markup: " + el.outerHTML);
  }
  for (const el of document.querySelectorAll(".katex, math")) {
    found.push("math: " + el.textContent);
  }
  for (const el of document.querySelectorAll("td, th")) {
    if (el.textContent.trim() === "injected") found.push("table cell: " + el.outerHTML);
  }
  return found;
}
"""


class Watch:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.dialogs: list[str] = []
        page.add_init_script(RECORD_DIALOGS)
        page.on("dialog", self._on_dialog)

    def _on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def assert_nothing_injected(self) -> None:
        assert self.page.evaluate(FIND_INJECTED, MARKUP_TEXTS) == []
        assert self.page.evaluate("window.__xss") == []
        assert self.dialogs == []


@pytest.fixture
def watch(page: Page) -> Iterator[Watch]:
    watch = Watch(page)
    yield watch
    # Also after the test's own steps: a handler could fire late (an image that fails to load).
    watch.assert_nothing_injected()


def test_the_watch_sees_a_live_injection(page: Page) -> None:
    # The control: the checks below find injected markup and a script that ran.
    watch = Watch(page)
    live = (
        '<div data-testid="stMarkdownContainer"><strong>bold</strong></div>'
        "<img src=x onerror=alert(1)>"
    )
    page.goto("data:text/html," + quote(live))
    page.wait_for_function("window.__xss.length > 0")
    assert page.evaluate("window.__xss") == ["alert: 1"]
    assert watch.dialogs == ["alert: 1"]
    found = page.evaluate(FIND_INJECTED, MARKUP_TEXTS)
    assert any(item.startswith("handler:") for item in found)
    assert any(item.startswith("markup:") for item in found)


def test_hostile_basket_is_shown_as_text(page: Page, demo_app: RunningApp, watch: Watch) -> None:
    open_app(page, demo_app.url(f"/?user={HOSTILE_USER}"), heading(page, HOSTILE_USER))

    # Each hostile string reaches the tables as the characters it is.
    for text in (SCRIPT, IMG, MD_LINK, "<b>XL</b>", "**bold**", "_em_", "$x$"):
        expect_cell(page, text)
    expect_cell(page, "_em_ Blu-ray </td></tr><tr><td>injected")
    expect_cell(page, "$x$ Poster {{7*7}} ${7*7}")

    page.get_by_text("Raw API response").click()
    raw = page.locator("[data-testid=stExpander] [data-testid=stCode]").filter(has_text=SCRIPT)
    expect(raw).to_be_visible()
    expect(raw).to_contain_text(IMG)
    expect(raw).to_contain_text(MD_LINK)

    screenshot(page, "hostile-basket")
    watch.assert_nothing_injected()


def test_hostile_next_token_is_shown_verbatim(
    page: Page, demo_app: RunningApp, watch: Watch
) -> None:
    open_app(page, demo_app.url(f"/?user={HOSTILE_USER}"), heading(page, HOSTILE_USER))

    notice = page.locator("[data-testid=stAlert]").filter(has_text="next-page token")
    expect(notice).to_be_visible()
    # The exact characters: no markup made of them and no escaping backslashes left over.
    expect(notice).to_contain_text(HOSTILE_NEXT_TOKEN)
    watch.assert_nothing_injected()


def test_hostile_user_id_typed_in_the_sidebar(
    page: Page, demo_app: RunningApp, watch: Watch
) -> None:
    open_app(page, demo_app.url("/?user=demo-normal"), heading(page, "demo-normal"))

    set_sidebar_user(page, IMG)
    # It has spaces, like a pasted ticket line: the page offers an id found in it, or the text
    # as typed.
    page.get_by_role("button", name="Look up as typed").click()
    error = page.locator(ERROR).filter(has_text="HTTP 422")
    wait_for_app(page, error)
    # The demo API names the characters it refuses; the page shows them as characters.
    expect(error).to_contain_text("'<'")
    expect(page.locator("[data-testid=stSidebar] [data-testid=stTextInput] input")).to_have_value(
        IMG
    )
    expect(page).to_have_url(re.compile(r"user=%3Cimg"))
    watch.assert_nothing_injected()


def test_hostile_products_in_a_scan_and_its_chart(
    page: Page, demo_app: RunningApp, watch: Watch
) -> None:
    open_app(page, demo_app.url("/failures"), heading(page, "Reservation failures"))
    paste_and_scan(page, [HOSTILE_USER])

    expect_cell(page, SCRIPT)
    expect_cell(page, f"{SCRIPT} Mug")
    # The bar's tooltip shows the product id and name as text.
    chart = page.locator("[data-testid=stVegaLiteChart]").first
    chart.locator("g.mark-rect path").first.hover()
    tooltip = page.locator("#vg-tooltip-element")
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text(SCRIPT)
    watch.assert_nothing_injected()
