"""Start-up: `streamlit run app.py` until its first page has rendered, vs a hello-world app.

    python benchmarks/startup.py [--repeat 5]

Each round starts `streamlit run` (headless, a free loopback port) three times, interleaved: the
dashboard opened at `/` (the landing page, with the demo scenario table), the dashboard opened at
a ticket's link `/?user=demo-checkout-failed` (the first basket: its heading drawn), and a
one-line app (`st.write("hello")`). Each is timed from the process start until /_stcore/health
answers and until headless Chromium (Playwright, /usr/bin/chromium) shows the page with its
script finished. The browser is started once, before the rounds. Targets: the landing page and
the first basket each at most 1.5x hello-world. A reference, without a target: the bare basket app
of agents.py (the same basket and product details in three st.dataframe tables) opened at the
same ticket link, i.e. what any Streamlit page showing that basket costs a fresh server.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _browser import (
    BARE_APP,
    UI_TIMEOUT_MS,
    Problems,
    heading,
    launch_chromium,
    launch_streamlit,
    showing,
    streamlit_env,
    wait_ready,
)
from _common import ROOT, median

TARGET = 1.5
FIRST_BASKET_USER = "demo-checkout-failed"
# What each contender opens first, and what its page shows once rendered.
TICKET_LINK = f"/?user={FIRST_BASKET_USER}"
PATHS = {"dashboard": "/", "first basket": TICKET_LINK, "bare basket": TICKET_LINK, "hello": "/"}
LANDING = (
    showing("h1", "Basket lookup"),
    # The landing page's last element: the demo scenario table.
    showing("[data-testid=stDataFrame], [data-testid=stMarkdownContainer] table", "demo-"),
)
HELLO = showing("[data-testid=stMarkdownContainer]", "hello")
PROBLEMS = Problems()
TRACEBACKS: list[str] = []  # from every server's log


async def rendered(page: Any, name: str) -> None:
    """Until the first page of `name` is drawn and its script run has finished."""
    if name == "dashboard":
        await wait_ready(page, *LANDING)
    elif name in ("first basket", "bare basket"):
        await wait_ready(page, heading(FIRST_BASKET_USER))
    else:
        await wait_ready(page, HELLO)


async def start_once(
    browser: Any, script: Path, name: str, root: Path, folder: Path
) -> tuple[float, float]:
    """Seconds from `streamlit run` to a healthy server, and to the rendered first page."""
    server = launch_streamlit(script, streamlit_env(PYTHONPATH=str(root)), root, folder)
    try:
        health = server.wait_healthy()
        page = await PROBLEMS.new_page(browser)
        try:
            await page.goto(server.url(PATHS[name]), timeout=UI_TIMEOUT_MS)
            await rendered(page, name)
            shown = time.perf_counter() - server.started
            await PROBLEMS.note_exceptions(page, name, errors_too=False)
        finally:
            await page.close()
    finally:
        server.stop()
        TRACEBACKS.extend(server.tracebacks())
    return health, shown


async def measure(args: argparse.Namespace, root: Path) -> dict[str, list[tuple[float, float]]]:
    from playwright.async_api import async_playwright

    results: dict[str, list[tuple[float, float]]] = {name: [] for name in PATHS}
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        folder = Path(tmp)
        hello = folder / "hello.py"
        hello.write_text('import streamlit as st\n\nst.write("hello")\n', encoding="utf-8")
        bare = folder / "bare_app.py"
        bare.write_text(BARE_APP, encoding="utf-8")
        scripts = {
            "dashboard": root / "app.py",
            "first basket": root / "app.py",
            "bare basket": bare,
            "hello": hello,
        }
        async with async_playwright() as playwright:
            browser = await launch_chromium(playwright)
            try:
                for name, script in scripts.items():  # warm-up: file caches, compiled bytecode
                    await start_once(browser, script, name, root, folder)
                for round_ in range(1, args.repeat + 1):
                    for name, script in scripts.items():
                        health, shown = await start_once(browser, script, name, root, folder)
                        results[name].append((health, shown))
                        print(
                            f"  round {round_} {name:12s} healthy {health:5.2f} s, "
                            f"rendered {shown:5.2f} s",
                            flush=True,
                        )
            finally:
                await browser.close()
    return results


def verdict(ratio: float) -> str:
    return f"<= {TARGET:g} {'met' if ratio <= TARGET else 'MISSED'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the checkout whose app.py to start (default: this)"
    )
    args = parser.parse_args()
    results = asyncio.run(measure(args, args.root.resolve()))

    medians = {
        name: (median([h for h, _ in runs]), median([r for _, r in runs]))
        for name, runs in results.items()
    }
    for name, (health, shown) in medians.items():
        print(f"{name:12s} median: healthy {health:.2f} s, first page rendered {shown:.2f} s")
    PROBLEMS.report(TRACEBACKS)
    hello_health, hello_shown = medians["hello"]
    first, bare = medians["first basket"][1], medians["bare basket"][1]
    landing = medians["dashboard"][1] / hello_shown
    basket = first / hello_shown
    health_ratio = medians["dashboard"][0] / hello_health
    print(
        f"ratios: dashboard/hello rendered={landing:.2f} ({verdict(landing)}), "
        f"first basket/hello={basket:.2f} ({verdict(basket)}), healthy={health_ratio:.2f}; "
        f"reference: bare basket/hello={bare / hello_shown:.2f}, "
        f"first basket/bare basket={first / bare:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
