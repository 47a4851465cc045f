"""The API key and bearer token never reach the browser, the logs or the exports (issue 4, §4).

The dashboard talks to a loopback demo server that requires a distinctive random key. The browser
goes through every page (a basket with its raw response, API errors, a rejected id, a scan and its
CSV download, the tracking decoder) while everything it receives is recorded: page HTML,
websocket frames, HTTP bodies, the download. Then neither secret, nor a recognisable piece of
one, may appear there, in Streamlit's log or in the audit log. A marker that is meant to be on the
page (a user id) is found by the same check, so the recording itself is proven to work.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from e2e_support import (
    ERROR,
    Capture,
    RunningApp,
    app_environment,
    expect,
    go_to_page,
    heading,
    open_app,
    paste_and_scan,
    run_streamlit,
    set_sidebar_user,
    sources_containing,
    wait_for_app,
)

from basket_lib.simulator import DemoApi, DemoServer, demo_user_ids

if TYPE_CHECKING:
    from playwright.sync_api import Page

KEY = "sk-live-" + secrets.token_hex(16)
TOKEN = "tok-" + secrets.token_hex(20)
WRONG_KEY = "sk-wrong-" + secrets.token_hex(16)
MARKER_USER = "user-00001"


def fragments(secret: str) -> list[str]:
    # The whole secret and both ends of it: a truncated quote ("sk-live-12ab…") is a leak too.
    return [secret, secret[:16], secret[-12:]]


@pytest.fixture(scope="module")
def api_server() -> Iterator[DemoServer]:
    with DemoServer(api=DemoApi(api_key=KEY)) as server:
        yield server


def _start(server: DemoServer, folder: Path, key: str) -> Iterator[tuple[RunningApp, Path]]:
    audit = folder / "audit.jsonl"
    env = app_environment(
        BASKET_API_URL=server.base_url,
        BASKET_API_KEY=key,
        BASKET_API_TOKEN=TOKEN,
        BASKET_AUDIT_LOG=str(audit),
        # Fault users answer at once instead of after backoff sleeps.
        BASKET_API_MAX_RETRIES="0",
    )
    with run_streamlit(env, folder / "streamlit.log") as app:
        yield app, audit


@pytest.fixture(scope="module")
def keyed_app(
    api_server: DemoServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningApp, Path]]:
    yield from _start(api_server, tmp_path_factory.mktemp("keyed-app"), KEY)


@pytest.fixture(scope="module")
def wrong_key_app(
    api_server: DemoServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningApp, Path]]:
    yield from _start(api_server, tmp_path_factory.mktemp("wrong-key-app"), WRONG_KEY)


def _read(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""


def _error(page: Page, text: str) -> None:
    wait_for_app(page, page.locator(ERROR).filter(has_text=text))


def test_key_and_token_never_leave_the_server(
    page: Page, keyed_app: tuple[RunningApp, Path], api_server: DemoServer
) -> None:
    app, audit = keyed_app
    capture = Capture()
    capture.attach(page)

    # A basket, with the raw API response opened.
    open_app(page, app.url(f"/?user={MARKER_USER}"), heading(page, MARKER_USER))
    page.get_by_text("Raw API response").click()
    expect(page.locator("[data-testid=stExpander] [data-testid=stCode]").first).to_contain_text(
        '"cart"'
    )
    capture.snapshot(page)

    # API errors: a server error, the API's own 401, and an id the API rejects.
    for user, shown in (
        ("demo-fault-500", "HTTP 500"),
        ("demo-fault-401", "HTTP 401"),
        ("not a valid id!", "HTTP 422"),
    ):
        set_sidebar_user(page, user)
        _error(page, shown)
        capture.snapshot(page)

    # A scan with failing users and its CSV export.
    go_to_page(page, "Reservation failures")
    paste_and_scan(page, [*demo_user_ids(50), "demo-fault-500", "demo-fault-401"])
    with page.expect_download() as download:
        page.get_by_role("button", name="Download failures (CSV)").click()
    capture.downloads.append(Path(download.value.path()).read_bytes())
    capture.snapshot(page)

    # The tracking decoder, with a good value and a malformed one.
    go_to_page(page, "Tracking decoder")
    session = {"session_id": "e2e-session-1", "start_time": "2025-01-01T12:00:00.000000"}
    area = page.get_by_label("Header or cookie value")
    area.fill(base64.b64encode(json.dumps(session).encode()).decode())
    area.press("Control+Enter")
    wait_for_app(page, page.get_by_text("e2e-session-1").first)
    capture.snapshot(page)
    area.fill("not base64 at all %%%")
    area.press("Control+Enter")
    wait_for_app(page, page.locator(ERROR))
    capture.snapshot(page)

    # The dashboard really used the key: the server requires it and served these users.
    assert api_server.requests_by_user[MARKER_USER] >= 1
    sources = capture.sources()
    sources["Streamlit log"] = [_read(app.log_path)]
    sources["audit log"] = [_read(audit)]

    for secret in (KEY, TOKEN):
        for fragment in fragments(secret):
            assert sources_containing(fragment, sources) == [], "a secret reached the viewer"
    # The control: the same search finds what is meant to be there.
    found = sources_containing(MARKER_USER, sources)
    assert {"page HTML", "websocket frames received", "audit log"} <= set(found)
    assert "URL: http://127.0.0.1" in app.log_text()
    # The export lists only the users with a failed reservation, all of them seeded user-000NN.
    assert capture.downloads[0].startswith(b"\xef\xbb\xbfuser_id,")
    assert "downloads" in sources_containing("user-000", sources)


def test_wrong_key_shows_401_and_is_never_echoed(
    page: Page, wrong_key_app: tuple[RunningApp, Path]
) -> None:
    app, audit = wrong_key_app
    capture = Capture()
    capture.attach(page)

    page.goto(app.url(f"/?user={MARKER_USER}"))
    error = page.locator(ERROR).filter(has_text="HTTP 401")
    wait_for_app(page, error)
    expect(error).to_contain_text("BASKET_API_KEY")
    expect(error).to_contain_text("Invalid API key")
    capture.snapshot(page)

    sources = capture.sources()
    sources["Streamlit log"] = [_read(app.log_path)]
    sources["audit log"] = [_read(audit)]
    for fragment in fragments(WRONG_KEY) + fragments(TOKEN):
        assert sources_containing(fragment, sources) == [], "the key reached the viewer"
    found = sources_containing(MARKER_USER, sources)
    assert {"page HTML", "websocket frames received", "audit log"} <= set(found)
    assert "URL: http://127.0.0.1" in app.log_text()
