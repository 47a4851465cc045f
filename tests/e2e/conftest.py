"""Real-browser tests: the dashboard under `streamlit run`, driven by headless Chromium.

Every test here is marked `e2e` (deselect with `-m "not e2e"`) and runs after the rest of the
suite, so the shared browser and server are only alive at the end. Without Chromium or Playwright
they are skipped with the reason, except under CI (CI=true or CI=1), which installs Chromium and
where a missing browser is an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from e2e_support import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    UI_TIMEOUT_MS,
    RunningApp,
    app_environment,
    browser_problem,
    chromium_path,
    expect,
    run_streamlit,
    running_in_ci,
    sync_playwright,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

HERE = Path(__file__).resolve().parent
# Whether a test's own steps failed: its page is then saved to test-artifacts/ for CI.
_CALL_FAILED = pytest.StashKey[bool]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    e2e, others = [], []
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.e2e)
            e2e.append(item)
        else:
            others.append(item)
    items[:] = others + e2e


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report: pytest.TestReport = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


@pytest.fixture(scope="session", autouse=True)
def _browser_available() -> None:
    problem = browser_problem()
    if problem is None:
        return
    if running_in_ci():
        pytest.fail(f"{problem}: CI must run the real-browser tests.", pytrace=False)
    pytest.skip(f"real-browser test skipped: {problem}")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    # launch() gives every run a fresh temporary profile (user-data dir).
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        expect.set_options(timeout=UI_TIMEOUT_MS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        failure_shot = ARTIFACTS / f"failed-{request.node.name}.png"
        if request.node.stash.get(_CALL_FAILED, False):
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(failure_shot), full_page=True)
        else:
            failure_shot.unlink(missing_ok=True)  # from an earlier run
        context.close()


@pytest.fixture(scope="session")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The dashboard on the built-in demo API (no BASKET_API_URL); audit log in a temp dir."""
    folder = tmp_path_factory.mktemp("demo-app")
    env = app_environment(BASKET_AUDIT_LOG=str(folder / "audit.jsonl"))
    with run_streamlit(env, folder / "streamlit.log") as app:
        yield app
