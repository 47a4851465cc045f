"""Running the dashboard for real: `streamlit run app.py` in a subprocess, headless Chromium.

Every wait is either an HTTP poll bounded by a deadline or one of Playwright's auto-waiting
`expect(...)` assertions; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # conftest skips (or, under CI, fails) every browser test with the reason
    PlaywrightError = expect = sync_playwright = None  # type: ignore[assignment,misc]

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page, Response, WebSocket

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT_SECONDS = 60.0
# Generous: a cold first page load imports pandas/altair in the server on a busy 2-core machine.
UI_TIMEOUT_MS = 45_000

APP = "[data-testid=stApp]"
CELL = "[data-testid^=glide-cell-]"
DATAFRAME = "[data-testid=stDataFrame]"
ERROR = "[data-testid=stAlertContentError]"
IDS_AREA = "User ids, separated by new lines, commas or spaces"  # the failures page's text area


def chromium_path() -> str | None:
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def browser_problem() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if sync_playwright is None:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    if chromium_path() is None:
        return "Chromium is not installed (Debian: apt-get install -y chromium)"
    return None


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1"}


# --- the Streamlit server -----------------------------------------------------------------------


@dataclass(frozen=True)
class RunningApp:
    base_url: str
    log_path: Path

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def app_environment(**settings: str) -> dict[str, str]:
    """This process's environment without any BASKET_*/STREAMLIT_* setting, plus `settings`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("BASKET_", "STREAMLIT_"))
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _healthy(url: str) -> bool:
    # No proxy: the server is on loopback and an environment proxy must not intercept it.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def get_without_cookies(url: str) -> tuple[int, bytes]:
    """Status and body of a plain GET that carries no cookie, no session and no proxy."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=30) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


@contextmanager
def run_streamlit(
    env: Mapping[str, str],
    log_path: Path,
    *,
    port: int | None = None,
    secrets_file: Path | None = None,
) -> Iterator[RunningApp]:
    """`streamlit run app.py` from the repository root on a loopback port until exit.

    `port` is for a test whose secrets must name it (sign-in's redirect_uri); `secrets_file` is
    read instead of none at all.
    """
    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        # Others edit pages/ while tests run: a file watcher would rerun scripts mid-test.
        "--server.fileWatcherType",
        "none",
        # A developer's own secrets.toml (sign-in, a real API) must not reach the tests.
        "--secrets.files",
        str(secrets_file or log_path.with_name("no-secrets.toml")),
    ]
    # Scans go to a database of this app's own, never basket-support.db in the tree.
    env = {"BASKET_DATABASE_URL": f"sqlite:///{log_path.with_name('scans.db')}", **env}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not _healthy(f"{base_url}/_stcore/health"):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"streamlit did not answer on {base_url} within "
                    f"{STARTUP_TIMEOUT_SECONDS:g} s; log tail:\n{_log_tail(log_path)}"
                )
            try:
                # Waiting on the process is the pause between polls and notices an early exit.
                code = process.wait(timeout=0.25)
            except subprocess.TimeoutExpired:
                continue
            raise RuntimeError(
                f"streamlit exited with code {code} before answering; log tail:\n"
                f"{_log_tail(log_path)}"
            )
        yield RunningApp(base_url, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# --- the page -----------------------------------------------------------------------------------


def wait_for_app(page: Page, ready: Locator | str) -> None:
    """Until `ready` is visible and the script run that drew it has finished."""
    locator = page.get_by_text(ready) if isinstance(ready, str) else ready
    # Content first: before the first run starts the app already reports "notRunning".
    expect(locator.first).to_be_visible()
    expect(page.locator(APP)).to_have_attribute("data-test-script-state", "notRunning")
    expect(locator.first).to_be_visible()


def open_app(page: Page, url: str, ready: Locator | str) -> None:
    page.goto(url)
    wait_for_app(page, ready)


def heading(page: Page, text: str) -> Locator:
    return page.get_by_role("heading", name=text, exact=True)


def cells(scope: Page | Locator, text: str | re.Pattern[str]) -> Locator:
    """Data-grid cells whose whole text is `text` (st.dataframe draws on a canvas; the cells
    exist in the DOM for accessibility, attached but not visible)."""
    pattern = text if isinstance(text, re.Pattern) else re.compile(f"^{re.escape(text)}$")
    return scope.locator(CELL).filter(has_text=pattern)


def expect_cell(scope: Page | Locator, text: str | re.Pattern[str]) -> None:
    expect(cells(scope, text).first).to_be_attached()


def dataframe_with(page: Page, text: str) -> Locator:
    """The st.dataframe that has a cell reading exactly `text`."""
    return page.locator(DATAFRAME).filter(has=cells(page, text))


def set_sidebar_user(page: Page, user_id: str) -> None:
    box = page.locator("[data-testid=stSidebar] [data-testid=stTextInput] input")
    box.fill(user_id)
    box.press("Enter")


def go_to_page(page: Page, title: str) -> None:
    page.locator("[data-testid=stSidebarNav] a", has_text=title).click()
    wait_for_app(page, heading(page, title))


def paste_ids(page: Page, user_ids: list[str]) -> None:
    """Puts the ids, one a line, into the failures page's text area as a user pastes them:
    through the clipboard, select all and Control+V, one input event whatever their number.
    (fill() is quadratic in the text on a Streamlit text area: 5,000 lines took 65 s.)"""
    text = "\n".join(user_ids)
    address = urlsplit(page.url)
    page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=f"{address.scheme}://{address.netloc}"
    )
    page.evaluate("text => navigator.clipboard.writeText(text)", text)
    area = page.get_by_label(IDS_AREA)
    area.focus()
    area.press("Control+A")
    area.press("Control+V")
    page.wait_for_function(
        "([area, length]) => area.value.length === length",
        arg=[area.element_handle(), len(text)],
    )


def paste_and_scan(page: Page, user_ids: list[str]) -> None:
    """On /failures: paste the ids, wait until the app has read them, run the scan to the end."""
    page.get_by_text("Paste ids", exact=True).click()
    paste_ids(page, user_ids)
    # Ctrl+Enter commits a text area: the app reads the ids and says how many it found.
    page.get_by_label(IDS_AREA).press("Control+Enter")
    distinct = len(dict.fromkeys(user_ids))
    wait_for_app(
        page, page.get_by_text(re.compile(rf"(?<![0-9]){distinct:,} distinct user ids? to scan"))
    )
    page.get_by_role("button", name="Start scan").click()
    wait_for_app(page, heading(page, "Results"))


def metric(page: Page, label: str) -> Locator:
    return page.locator("[data-testid=stMetric]").filter(
        has=page.locator("[data-testid=stMetricLabel]", has_text=label)
    )


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --- what reaches the browser -------------------------------------------------------------------


@dataclass
class Capture:
    """Every websocket frame and (non-static) HTTP response body the page receives, plus HTML
    snapshots and downloads taken along the way."""

    received_frames: list[bytes] = field(default_factory=list)
    sent_frames: list[bytes] = field(default_factory=list)
    http_bodies: dict[str, bytes] = field(default_factory=dict)
    html: list[str] = field(default_factory=list)
    downloads: list[bytes] = field(default_factory=list)
    _responses: list[Response] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("websocket", self._on_websocket)
        page.on("response", lambda response: self._responses.append(response))

    def _on_websocket(self, socket_: WebSocket) -> None:
        socket_.on("framereceived", lambda payload: self.received_frames.append(_raw(payload)))
        socket_.on("framesent", lambda payload: self.sent_frames.append(_raw(payload)))

    def snapshot(self, page: Page) -> None:
        """Keep the current HTML and the bodies of the responses received so far."""
        self.html.append(page.content())
        pending, self._responses = self._responses, []
        for response in pending:
            url = response.url
            if "/static/" in url:  # the app's prebuilt JS/CSS/fonts: the same for everyone
                continue
            try:
                self.http_bodies[url] = response.body()
            except PlaywrightError:
                # Redirects and downloads have no body to read.
                continue

    def sources(self) -> dict[str, list[bytes]]:
        return {
            "page HTML": [text.encode() for text in self.html],
            "websocket frames received": self.received_frames,
            "websocket frames sent": self.sent_frames,
            "HTTP response bodies": list(self.http_bodies.values()),
            "downloads": self.downloads,
        }


def script_runs(frames: list[bytes]) -> list[str]:
    """How each script run reported in `frames` (received websocket frames) ended, in order:
    Streamlit starts every run with a new_session message and ends it with script_finished
    (FINISHED_SUCCESSFULLY, FINISHED_EARLY_FOR_RERUN, ...); a run still going reads "running"."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    runs: list[str] = []
    for frame in frames:
        message = ForwardMsg.FromString(frame)
        kind = message.WhichOneof("type")
        if kind == "new_session":
            runs.append("running")
        elif kind == "script_finished" and runs and runs[-1] == "running":
            runs[-1] = ForwardMsg.ScriptFinishedStatus.Name(message.script_finished)
    return runs


def _raw(payload: str | bytes) -> bytes:
    return payload.encode("utf-8") if isinstance(payload, str) else payload


def contains(blob: bytes, needle: str) -> bool:
    """`needle` in `blob` as raw UTF-8 bytes, or in its UTF-8/Latin-1 text case-insensitively."""
    if needle.encode() in blob:
        return True
    lowered = needle.lower()
    return any(lowered in blob.decode(codec, "replace").lower() for codec in ("utf-8", "latin-1"))


def sources_containing(needle: str, sources: Mapping[str, list[bytes]]) -> list[str]:
    return [name for name, blobs in sources.items() if any(contains(b, needle) for b in blobs)]
