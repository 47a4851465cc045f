"""Reservation failures in a real browser: one scan with a failing user, against the demo API."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from e2e_support import (
    Capture,
    RunningApp,
    app_environment,
    dataframe_with,
    expect,
    expect_cell,
    heading,
    metric,
    open_app,
    paste_and_scan,
    run_streamlit,
    screenshot,
    script_runs,
)

from basket_lib.simulator import demo_user_ids

if TYPE_CHECKING:
    import pytest
    from playwright.sync_api import Page


def test_scan_reports_kpis_and_lists_the_user_that_failed(page: Page, demo_app: RunningApp) -> None:
    open_app(page, demo_app.url("/failures"), heading(page, "Reservation failures"))
    # A duplicate is counted once; the fault user must end up in the errors table.
    paste_and_scan(page, [*demo_user_ids(50), "demo-fault-500", "user-00001"])

    expect(metric(page, "Users read")).to_contain_text("50")
    expect(metric(page, "Users read")).to_contain_text("of 51")
    expect(metric(page, "Baskets with a checkout")).to_be_visible()
    expect(metric(page, "Failed reservations")).to_contain_text(re.compile(r"[1-9]"))
    expect(metric(page, "Failure rate")).to_contain_text("%")
    expect(page.get_by_text(re.compile(r"(?<![0-9])1 users? could not be read"))).to_be_visible()

    errors = dataframe_with(page, "demo-fault-500")
    expect(errors).to_be_visible()
    expect_cell(errors, "500")
    expect_cell(errors, re.compile("Internal server error"))
    expect(page.get_by_role("button", name="Download failures (CSV)")).to_be_visible()

    screenshot(page, "failures-scan")


def test_a_first_visit_on_a_fresh_server_runs_the_page_once(
    page: Page, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Until st.navigation is first called a fresh server runs pages/failures.py on its own; the
    page hands over to app.py within that same run instead of a second one."""
    folder = tmp_path_factory.mktemp("fresh-failures")
    capture = Capture()
    capture.attach(page)
    env = app_environment(BASKET_AUDIT_LOG=str(folder / "audit.jsonl"))
    with run_streamlit(env, folder / "streamlit.log") as fresh:
        open_app(page, fresh.url("/failures"), heading(page, "Reservation failures"))
        assert script_runs(capture.received_frames) == ["FINISHED_SUCCESSFULLY"]
        # The whole app, through app.py: its sidebar and navigation.
        expect(page.locator("[data-testid=stSidebarNav]")).to_contain_text("Basket lookup")
        expect(page).to_have_url(fresh.url("/failures"))


def _upload(page: Page, name: str, data: bytes) -> None:
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": data}]
    )


def test_a_second_upload_is_read_with_the_header_box_as_drawn(
    page: Page, demo_app: RunningApp
) -> None:
    open_app(page, demo_app.url("/failures"), heading(page, "Reservation failures"))
    page.get_by_text("Upload CSV").click()
    header = page.get_by_role("checkbox", name="The first row is a header")
    _upload(page, "ids.csv", b"user-00030\nuser-00031\ndemo-hostile\n")
    expect(header).not_to_be_checked()
    expect(page.get_by_text("3 distinct user ids to scan")).to_be_visible()

    # The browser draws the new file's default (ticked); the page must read the file so too.
    _upload(page, "people.csv", b"email,customer\nx@y,user-00050\na@b,user-00051\n")
    expect(page.get_by_text("2 distinct user ids to scan")).to_be_visible()
    expect(header).to_be_checked()
    expect(page.get_by_role("combobox", name="Column with the user ids")).to_have_value("email")
