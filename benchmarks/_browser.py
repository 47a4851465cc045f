"""What the browser benchmarks share: `streamlit run` on a free loopback port, headless Chromium
(Playwright's async API), waiting for a page to be drawn, and the pages' problems.

Every wait is an HTTP poll bounded by a deadline, a check in the page on every animation frame
(wait_ready) or one of Playwright's auto-waiting assertions.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _common import child_env, cpu_seconds, python

STARTUP_SECONDS = 120.0
UI_TIMEOUT_MS = 120_000
# The pause between two polls of a starting server's health URL: the resolution of startup.py.
HEALTH_POLL_SECONDS = 0.02
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}

# The bare baseline of agents.py and startup.py: what any Streamlit app showing a basket has to
# do, and nothing more.
BARE_APP = '''"""Bare baseline: ?user= or the sidebar's id, the basket and its product details,
a heading and three tables."""

import streamlit as st

from basket_lib.connect import build_client
from basket_lib.settings import Settings


@st.cache_resource
def client():
    return build_client(Settings.from_env())


user = st.sidebar.text_input("User id", value=st.query_params.get("user", "")).strip()
if user:
    basket = client().get_basket(user).basket
    product_ids = basket.product_ids()
    details = client().get_product_details(product_ids) if product_ids else {}
    st.subheader(user)
    for items in (basket.cart, basket.saved, basket.checkout):
        rows = []
        for item in items:
            found = details.get(item.product_id)
            rows.append({"name": found.name if found else None, **item.model_dump()})
        st.dataframe(rows)
'''


# --- the Streamlit server ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthy(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def streamlit_env(**extra: str) -> dict[str, str]:
    """A child's environment (see child_env) without the caller's STREAMLIT_* settings, which
    would override the command line's flags."""
    env = {k: v for k, v in child_env().items() if not k.startswith("STREAMLIT_")}
    env.update(extra)
    return env


@dataclass
class StreamlitServer:
    """One `streamlit run` process; `started` is when it was launched (time.perf_counter)."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    started: float

    def url(self, path: str) -> str:
        return self.base_url + path

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid)

    def wait_healthy(self, deadline_seconds: float = STARTUP_SECONDS) -> float:
        """Seconds from the launch until /_stcore/health answers."""
        deadline = self.started + deadline_seconds
        while not healthy(self.url("/_stcore/health")):
            if time.perf_counter() > deadline:
                raise RuntimeError(f"streamlit did not start:\n{tail(self.log_path)}")
            try:
                # Waiting on the process is the pause between polls and notices an early exit.
                code = self.process.wait(timeout=HEALTH_POLL_SECONDS)
            except subprocess.TimeoutExpired:
                continue
            raise RuntimeError(f"streamlit exited with {code}:\n{tail(self.log_path)}")
        return time.perf_counter() - self.started

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    def tracebacks(self) -> list[str]:
        """The last line of each traceback in the server's log: the exception."""
        log = self.log_path.read_text(encoding="utf-8", errors="replace")
        return re.findall(r"^Traceback.*?\n(\S[^\n]*)", log, re.MULTILINE | re.DOTALL)


def launch_streamlit(
    script: Path, env: dict[str, str], cwd: Path, folder: Path, name: str = "streamlit"
) -> StreamlitServer:
    """Start `streamlit run SCRIPT` as the browser tests do: headless, on a free loopback port,
    no file watcher, no usage statistics, and a secrets file that does not exist (settings come
    from `env` alone, never from a developer's secrets.toml). Its output goes to FOLDER/NAME.log."""
    port = free_port()
    log_path = folder / f"{name}.log"
    command = [
        python(), "-m", "streamlit", "run", str(script),
        "--server.port", str(port), "--server.headless", "true",
        "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--secrets.files", str(folder / "no-secrets.toml"),
    ]  # fmt: skip
    with log_path.open("wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    return StreamlitServer(process, f"http://127.0.0.1:{port}", log_path, started)


@contextmanager
def streamlit_server(
    script: Path, env: dict[str, str], cwd: Path, folder: Path, name: str = "streamlit"
) -> Iterator[StreamlitServer]:
    """A healthy `streamlit run SCRIPT` (see launch_streamlit), stopped on exit."""
    server = launch_streamlit(script, env, cwd, folder, name)
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()


def tail(path: Path, lines: int = 30) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


# --- the browser ---------------------------------------------------------------------------------


def chromium_executable() -> str | None:
    """Debian's Chromium (`playwright install` cannot download a browser here)."""
    chromium = Path("/usr/bin/chromium")
    return str(chromium) if chromium.exists() else shutil.which("chromium")


async def launch_chromium(playwright: Any) -> Any:
    return await playwright.chromium.launch(
        executable_path=chromium_executable(), headless=True, args=CHROMIUM_ARGS
    )


async def new_context(browser: Any) -> Any:
    context = await browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(UI_TIMEOUT_MS)
    return context


HEADING = "h1, h2, h3, h4, h5, h6"
# True once the app's script run has finished and, for each [css, pattern, exact], a visible
# element matching css has text equal to pattern (exact) or containing a match of the regex.
_DRAWN_JS = """(wanted) => {
    const app = document.querySelector("[data-testid=stApp]");
    if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
    return wanted.every(([css, pattern, exact]) => {
        const regex = exact ? null : new RegExp(pattern);
        return [...document.querySelectorAll(css)].some((element) => {
            if (element.getClientRects().length === 0) return false;
            if (getComputedStyle(element).visibility === 'hidden') return false;
            const text = element.textContent.trim();
            return exact ? text === pattern : regex.test(text);
        });
    });
}"""


def heading(text: str) -> tuple[str, str, bool]:
    """A heading (any level) whose text is exactly `text`."""
    return (HEADING, text, True)


def showing(css: str, pattern: str | re.Pattern[str]) -> tuple[str, str, bool]:
    """An element matching `css` whose text contains `pattern` (a regex, or a plain string)."""
    source = pattern.pattern if isinstance(pattern, re.Pattern) else re.escape(pattern)
    return (css, source, False)


async def wait_ready(
    page: Any, *wanted: tuple[str, str, bool], timeout: float = UI_TIMEOUT_MS
) -> None:
    """Until everything `wanted` is visible and the script run that drew it has finished.

    Checked in the page on every animation frame: Playwright's own assertions poll at 0, 20,
    70, 170 and 270 ms and then only every 500 ms, which would round a page drawn at 300 ms up
    to 770 ms and bury the difference between two apps. Content as well as the run state,
    since before its first run starts the app already reports "notRunning".
    """
    await page.wait_for_function(_DRAWN_JS, arg=list(wanted), polling="raf", timeout=timeout)


@dataclass
class Problems:
    """What went wrong in the pages while measuring (reported, never fatal on its own)."""

    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    http_errors: list[str] = field(default_factory=list)
    exceptions_shown: list[str] = field(default_factory=list)

    async def new_page(self, context: Any) -> Any:
        page = await context.new_page()
        self.watch(page)
        return page

    def watch(self, page: Any) -> None:
        page.on("pageerror", lambda error: self.page_errors.append(str(error)[:300]))
        page.on("console", self._console)
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            where = (message.location or {}).get("url", "")
            self.console_errors.append(f"console: {message.text[:300]} ({where})")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.http_errors.append(f"HTTP {response.status} {urlsplit(response.url).path}")

    async def note_exceptions(self, page: Any, where: str, errors_too: bool = True) -> None:
        """Exceptions the page shows, and its error boxes unless they are content (a basket's
        failed reservations are shown in one)."""
        selector = "[data-testid=stException]"
        if errors_too:
            selector += ", [data-testid=stAlertContentError]"
        shown = page.locator(selector)
        for text in await shown.all_inner_texts():
            self.exceptions_shown.append(f"{where}: {' '.join(text.split())[:300]}")

    def all(self) -> list[str]:
        return self.page_errors + self.console_errors + self.http_errors + self.exceptions_shown

    def report(self, tracebacks: list[str]) -> None:
        """One line of counts, then each distinct problem with how often it was seen."""
        print(
            f"pages: {len(self.page_errors)} page errors, {len(self.console_errors)} console "
            f"errors, {len(self.http_errors)} HTTP errors, {len(self.exceptions_shown)} "
            f"errors shown; streamlit log: {len(tracebacks)} tracebacks"
        )
        counted: dict[str, int] = {}
        for problem in self.all() + tracebacks:
            counted[problem] = counted.get(problem, 0) + 1
        for problem, times in counted.items():
            print(f"  {times} x {problem}")
