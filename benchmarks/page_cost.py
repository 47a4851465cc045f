"""Page cost: AppTest run time of the dashboard's pages against bare baselines, same run.

    python benchmarks/page_cost.py [--repeat 9] [--scan-users 1000]

1. Basket page: the dashboard (app.py, demo API) on ?user=demo-full-cart, against a script that
   fetches the same basket with the same client and renders its cart, saved list and checkout
   with three bare st.dataframe calls. Median of fresh AppTest runs, caches cleared before each,
   both interleaved after a warm-up. Target: at most 2x.
2. Failures page: 1,000 users scanned at zero latency from the page (paste the ids, 64 concurrent
   requests, click Start scan; timed from the click until the worker process the page started
   has stored the last outcome and exited, then the results are rendered), against baseline (a)
   of scan_throughput.py (raw aiohttp, 64 at a time) reading the same users from the same
   loopback server. Target: at most 1.5x.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import API_KEY, ROOT, demo_server, median, python, run_child, users_file

sys.path.insert(0, str(ROOT))

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest, app_test

from basket_lib.scan import worker

APP = str(ROOT / "app.py")
TIMEOUT = 120
BASKET_TARGET = 2.0
SCAN_TARGET = 1.5

BASELINE_BASKET = """
import streamlit as st

from basket_lib.scan import worker
from basket_lib.connect import build_client
from basket_lib.settings import Settings

with build_client(Settings.from_env()) as client:
    basket = client.get_basket("demo-full-cart").basket
for items in (basket.cart, basket.saved, basket.checkout):
    st.dataframe([item.model_dump() for item in items])
"""


class _AfterFirstNavigation(PagesManager):
    """A running server's steady state: AppTest would otherwise run pages/*.py on their own
    (without app.py) from the second run of a multipage app on."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        PagesManager.uses_pages_directory = False


def timed(run: Callable[[], AppTest]) -> tuple[float, AppTest]:
    st.cache_data.clear()
    st.cache_resource.clear()
    started = time.perf_counter()
    at = run()
    elapsed = time.perf_counter() - started
    if at.exception:
        raise RuntimeError(f"the page raised: {[e.message for e in at.exception]}")
    return elapsed, at


def basket_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["user"] = "demo-full-cart"
    return at.run()


def basket_baseline() -> AppTest:
    return AppTest.from_string(BASELINE_BASKET, default_timeout=TIMEOUT).run()


def measure_basket_page(repeat: int) -> tuple[float, float]:
    for run in (basket_page, basket_baseline):  # warm-up: imports, first renders
        timed(run)
    ours: list[float] = []
    baseline: list[float] = []
    for _ in range(repeat):
        seconds, at = timed(basket_page)
        if not at.dataframe:
            raise RuntimeError("the basket page did not render the cart")
        ours.append(seconds)
        baseline.append(timed(basket_baseline)[0])
    return median(ours), median(baseline)


def scan_from_page(user_ids: list[str]) -> tuple[float, AppTest]:
    """Open the failures page, paste the ids, pick 64 requests at once; time the click's run."""
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.switch_page("pages/failures.py")
    # Every worker the page starts: the one made ready while the scan is filled in (released by
    # the click) or, without it, the one the click starts.
    launched: list[subprocess.Popen[bytes]] = []
    launch = worker.launch_worker

    def launch_and_keep(*, standby: bool = False) -> subprocess.Popen[bytes]:
        process = launch(standby=standby)
        launched.append(process)
        return process

    worker.launch_worker = launch_and_keep  # type: ignore[method-assign]
    try:
        at.run()
        at.text_area(key="scan_text").set_value("\n".join(user_ids)).run()
        at.slider(key="concurrency").set_value(64).run()
        button = at.button(key="start_scan")
        started = time.perf_counter()
        button.click().run()
        for process in launched:  # the page's scan runs in the worker it started
            process.wait(timeout=TIMEOUT)
        elapsed = time.perf_counter() - started
    finally:
        worker.launch_worker = launch  # type: ignore[method-assign]
    at.run()  # the results, as the page's next poll shows them
    if at.exception:
        raise RuntimeError(f"the page raised: {[e.message for e in at.exception]}")
    scanned = [m.value for m in at.metric if m.label == "Users read"]
    if scanned != [f"{len(user_ids):,}"]:
        raise RuntimeError(f"the page did not scan every user: {scanned}")
    return elapsed, at


def measure_failures_page(count: int, repeat: int) -> tuple[float, float, float]:
    user_ids = [f"user-{n:05d}" for n in range(1, count + 1)]
    script = str(Path(__file__).resolve().parent / "baselines.py")
    with tempfile.TemporaryDirectory() as tmp, demo_server(0) as server:
        users = users_file(Path(tmp), count)
        os.environ.update(
            BASKET_API_URL=server.base_url,
            BASKET_API_KEY=API_KEY,
            BASKET_AUDIT_LOG=str(Path(tmp) / "audit.jsonl"),
            BASKET_DATABASE_URL=f"sqlite:///{Path(tmp) / 'scans.db'}",
            NO_PROXY="127.0.0.1,localhost",
        )
        command = [python(), script, "aiohttp", server.base_url, API_KEY, str(users), "64"]
        scan_from_page(user_ids)  # warm-up
        run_child(command)
        ours: list[float] = []
        in_process: list[float] = []
        whole: list[float] = []
        for _ in range(repeat):
            ours.append(scan_from_page(user_ids)[0])
            run = run_child(command)
            in_process.append(float(re.findall(r"seconds=([\d.]+)", run.stdout)[-1]))
            whole.append(run.wall)
    return median(ours), median(in_process), median(whole)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--scan-users", type=int, default=1000)
    args = parser.parse_args()
    app_test.PagesManager = _AfterFirstNavigation  # type: ignore[misc]
    # Clearing caches outside `streamlit run` warns of the missing runtime each time.
    logging.disable(logging.WARNING)
    for name in [n for n in os.environ if n.startswith("BASKET_")]:
        del os.environ[name]

    ours, baseline = measure_basket_page(args.repeat)
    print(
        f"basket page (demo-full-cart): {ours * 1000:.0f} ms; "
        f"baseline (three st.dataframe): {baseline * 1000:.0f} ms",
        flush=True,
    )
    page, aiohttp_in, aiohttp_whole = measure_failures_page(args.scan_users, args.repeat)
    print(
        f"failures page, {args.scan_users:,} users at zero latency: {page * 1000:.0f} ms; "
        f"baseline (a) raw aiohttp: {aiohttp_in * 1000:.0f} ms in-process, "
        f"{aiohttp_whole * 1000:.0f} ms whole process",
        flush=True,
    )

    basket_ratio = ours / baseline
    scan_ratio = page / aiohttp_in
    print(
        f"ratios: basket page/baseline={basket_ratio:.2f} "
        f"(<= {BASKET_TARGET:g} {'met' if basket_ratio <= BASKET_TARGET else 'MISSED'}), "
        f"failures page/aiohttp={scan_ratio:.2f} "
        f"(<= {SCAN_TARGET:g} {'met' if scan_ratio <= SCAN_TARGET else 'MISSED'}; "
        f"against the whole aiohttp process {page / aiohttp_whole:.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
