"""A page scan is a stored job, in real browsers: it survives a reload, a second browser opens it
by its link and watches it, Stop keeps the partial result, Resume finishes it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
from e2e_support import (
    UI_TIMEOUT_MS,
    RunningApp,
    app_environment,
    expect,
    heading,
    metric,
    open_app,
    paste_ids,
    run_streamlit,
    wait_for_app,
)

from basket_lib.scan import worker
from basket_lib.simulator import DemoApi, DemoServer, Faults, demo_user_ids
from basket_lib.store import scans
from basket_lib.store.database import open_database

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

KEY = "sk-scan-jobs-0123456789"
USERS = demo_user_ids(150)
MAIN = "[data-testid=stMain]"


@pytest.fixture(scope="module")
def slow_api() -> Iterator[DemoServer]:
    # 100 ms an answer, one request at a time: the scan takes 15 s, long enough to watch it.
    with DemoServer(api=DemoApi(api_key=KEY), faults=Faults(latency_ms=100)) as server:
        yield server


@pytest.fixture(scope="module")
def slow_app(
    slow_api: DemoServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningApp]:
    folder: Path = tmp_path_factory.mktemp("scan-jobs")
    env = app_environment(
        BASKET_API_URL=slow_api.base_url,
        BASKET_API_KEY=KEY,
        BASKET_AUDIT_LOG=str(folder / "audit.jsonl"),
        BASKET_API_MAX_RETRIES="0",
        NO_PROXY="127.0.0.1",
    )
    with run_streamlit(env, folder / "streamlit.log") as app:
        yield app


def _progress(page: Page) -> None:
    expect(page.get_by_text(re.compile(r"\d+ / 150 users"))).to_be_visible()
    expect(page.get_by_role("button", name="Stop scan")).to_be_visible()


def _state(page: Page, app: RunningApp, scan_id: str) -> str:
    """What the page shows, the stored scan and the workers' log: why a step did not come."""
    info = scans.get_scan(open_database(f"sqlite:///{app.log_path.with_name('scans.db')}"), scan_id)
    try:
        log = worker.WORKER_LOG.read_text(errors="replace").splitlines()[-6:]
    except OSError as exc:
        log = [f"(no worker log: {exc})"]
    return "\n".join(
        [
            f"the page shows: {page.locator(MAIN).inner_text()[:700]!r}",
            f"the stored scan: {info!r}",
            "the workers' log ends:",
            *log,
            "the server's log ends:",
            *app.log_path.read_text(errors="replace").splitlines()[-8:],
        ]
    )


def test_a_page_scan_survives_reload_is_shared_by_link_stopped_and_resumed(
    page: Page, browser: Browser, slow_app: RunningApp, slow_api: DemoServer
) -> None:
    open_app(page, slow_app.url("/failures"), heading(page, "Reservation failures"))
    paste_ids(page, USERS)
    page.get_by_label("Label", exact=True).fill("watched scan")
    slider = page.get_by_role("slider", name="Concurrent requests")
    slider.focus()
    slider.press("Home")  # 1 request at a time
    # One click, straight after pasting: it commits the text and starts the scan.
    page.get_by_role("button", name="Start scan").click()
    expect(page).to_have_url(re.compile(r"/failures\?.*scan=[0-9a-f]{12}"))
    scan_id = parse_qs(urlsplit(page.url).query)["scan"][0]
    _progress(page)

    page.reload()
    _progress(page)  # the scan runs outside the page's script: a reload does not stop it

    other = browser.new_context(viewport={"width": 1400, "height": 1000})
    other.set_default_timeout(UI_TIMEOUT_MS)
    try:
        watcher = other.new_page()
        open_app(
            watcher, slow_app.url(f"/failures?scan={scan_id}"), heading(watcher, "watched scan")
        )
        _progress(watcher)

        assert slow_api.wait_for_requests(10, timeout=60)
        watcher.get_by_role("button", name="Stop scan").click()
        for viewer in (watcher, page):
            expect(
                viewer.get_by_text(re.compile(r"Partial results: the scan was cancelled"))
            ).to_be_visible()
            wait_for_app(viewer, heading(viewer, "Results"))
        stopped_at = int(
            metric(page, "Users read").locator("[data-testid=stMetricValue]").inner_text()
        )
        assert 10 <= stopped_at < len(USERS)
        expect(page.get_by_text("cancelled (partial)").first).to_be_visible()

        watcher.get_by_role("button", name="Resume scan").click()
        try:
            _progress(watcher)
            # Finished, both sessions show the whole result without being reloaded.
            for viewer in (watcher, page):
                value = metric(viewer, "Users read").locator("[data-testid=stMetricValue]")
                expect(value).to_have_text("150", timeout=60_000)
                expect(viewer.get_by_text("Partial results")).to_have_count(0)
        except AssertionError as exc:
            # The state first: Playwright's message can run to pages of the page's tree.
            state = _state(watcher, slow_app, scan_id)
            raise AssertionError(f"{state}\n{str(exc)[:600]}") from None
    finally:
        other.close()
    # Every user was fetched once, the stop and the resume included.
    fetched = slow_api.requests_by_user
    assert sorted(fetched) == sorted(USERS) and set(fetched.values()) == {1}
