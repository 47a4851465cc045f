"""Start-up: `streamlit run app.py` until its first page has rendered, vs a hello-world app.

    python benchmarks/startup.py [--repeat 5]

Each round starts `streamlit run` (headless, a free loopback port) for the dashboard and for a
one-line app (`st.write("hello")`), interleaved, and times from the process start until
/_stcore/health answers and until headless Chromium (Playwright, /usr/bin/chromium) shows the
first page with its script finished: for the dashboard, the basket page with the demo scenario
table. The browser is started once, before the rounds. Target: the dashboard at most 1.5x.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, child_env, median, python

TARGET = 1.5
DEADLINE_SECONDS = 120.0
DONE = "[data-testid=stApp][data-test-script-state=notRunning]"
# What each app's first page shows once rendered.
READY = {
    "dashboard": "h1:has-text('Basket lookup') >> visible=true",
    "hello": "[data-testid=stMarkdownContainer]:has-text('hello') >> visible=true",
}
# Its last element: the demo scenario table.
DASHBOARD_EXTRA = "[data-testid=stDataFrame], [data-testid=stMarkdownContainer] table"


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


def start_once(browser: object, script: Path, name: str, root: Path) -> tuple[float, float]:
    """Seconds from `streamlit run` to a healthy server, and to the rendered first page."""
    port = free_port()
    command = [
        python(), "-m", "streamlit", "run", str(script),
        "--server.headless=true", f"--server.port={port}", "--server.address=127.0.0.1",
        "--browser.gatherUsageStats=false", "--server.fileWatcherType=none",
    ]  # fmt: skip
    env = {k: v for k, v in child_env().items() if not k.startswith("STREAMLIT_")}
    env["PYTHONPATH"] = str(root)
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        base = f"http://127.0.0.1:{port}"
        while not healthy(base + "/_stcore/health"):
            if process.poll() is not None or time.perf_counter() - started > DEADLINE_SECONDS:
                raise RuntimeError(f"{name}: the server did not start")
            time.sleep(0.02)  # polling interval of the health check
        health = time.perf_counter() - started
        page = browser.new_page()  # type: ignore[attr-defined]
        try:
            page.goto(base + "/", timeout=DEADLINE_SECONDS * 1000)
            timeout = DEADLINE_SECONDS * 1000
            page.wait_for_selector(READY[name], timeout=timeout)
            if name == "dashboard":
                page.locator(DASHBOARD_EXTRA).first.wait_for(state="visible", timeout=timeout)
            page.wait_for_selector(DONE, timeout=timeout)
            rendered = time.perf_counter() - started
        finally:
            page.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
    return health, rendered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the checkout whose app.py to start (default: this)"
    )
    args = parser.parse_args()
    root = args.root.resolve()
    from playwright.sync_api import sync_playwright

    chromium = Path("/usr/bin/chromium")
    executable = str(chromium) if chromium.exists() else shutil.which("chromium")
    results: dict[str, list[tuple[float, float]]] = {"dashboard": [], "hello": []}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        hello = Path(tmp) / "hello.py"
        hello.write_text('import streamlit as st\n\nst.write("hello")\n', encoding="utf-8")
        scripts = {"dashboard": root / "app.py", "hello": hello}
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            for name, script in scripts.items():  # warm-up: file caches, compiled bytecode
                start_once(browser, script, name, root)
            for round_ in range(1, args.repeat + 1):
                for name, script in scripts.items():
                    health, rendered = start_once(browser, script, name, root)
                    results[name].append((health, rendered))
                    print(
                        f"  round {round_} {name:9s} healthy {health:5.2f} s, "
                        f"rendered {rendered:5.2f} s",
                        flush=True,
                    )
        finally:
            browser.close()

    medians = {
        name: (median([h for h, _ in runs]), median([r for _, r in runs]))
        for name, runs in results.items()
    }
    for name, (health, rendered) in medians.items():
        print(f"{name:9s} median: healthy {health:.2f} s, first page rendered {rendered:.2f} s")
    ratio = medians["dashboard"][1] / medians["hello"][1]
    health_ratio = medians["dashboard"][0] / medians["hello"][0]
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(
        f"ratios: dashboard/hello rendered={ratio:.2f} (<= {TARGET:g} {verdict}), "
        f"healthy={health_ratio:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
