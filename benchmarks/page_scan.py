"""Page scan: the failures page under `streamlit run`, in Chromium, against the command line.

    python benchmarks/page_scan.py [--users 10000] [--memory-users 100000] [--repeat 3]

Starts the demo API with 20 ms latency (`python -m basket_lib.simulator`) and one
`streamlit run app.py` pointed at it, each as its own process, and drives headless Chromium
(Playwright, /usr/bin/chromium): one browser context for the scans, three for support agents.

1. Page scan vs CLI: N users (`--users`) pasted on /failures (the ids set as the text area's
   value, which is what a paste does, and Ctrl+Enter; Playwright's fill() is quadratic on a big
   text area), 64 concurrent requests set with the keyboard, "Start scan" clicked; timed from the
   click until the scan's `finished_at` in the database (the worker process the page started has
   stored the last outcome). Against `python -m basket_lib scan USERS --concurrency 64` with the
   same environment, timed as a whole process. Interleaved, `--repeat` rounds after a warm-up,
   medians. Target: page <= 1.1 x CLI. For reference, without a target: the same page scan with
   its tab left (about:blank) as soon as the scan has its id, so that no browser tab shows its
   progress while it runs.
2. The same page scan while three agents look up baskets: three other browser contexts each open
   /?user=user-NNNNN (a different user every time) one after the other from the click until the
   scan has ended;
   a lookup is timed from goto until the user's heading is visible and the script run has
   finished. The same lookups with no scan running are timed in the same round, before and after.
   Targets: the page scan <= 1.1 x the CLI alone; the lookups' median during the scan <= 1.2 x
   their median without one. For reference, without a target: the CLI's scan while the same
   agents look up baskets (what their browsers leave of the 2 cores to any scan), and the
   lookups during it; the page scan with agents and the CLI with agents take turns going first.
3. Server memory: the Streamlit server's RSS (VmRSS, sampled every 50 ms, and its VmHWM after a
   reset through /proc/PID/clear_refs) before a page scan of `--memory-users` users (ids pasted)
   and its peak until the results have been shown, in the scanning tab and in a second tab opened
   by the scan's link. Target: growth < 150 MiB.

Every figure is a median of interleaved rounds taken in the same run (2 cores shared with other
work, the browser included); next to each time is the CPU each kind of process used meanwhile
(sampled from /proc), and the pages' errors are listed. The final `ratios:` line says met or
MISSED for each target. `--users 300 --memory-users 1000 --repeat 1` is a quick check;
`--memory-users 0` leaves part 3 out; `--worker-nice N` sets the page's workers'
BASKET_WORKER_NICE (the dashboard's default otherwise).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _browser import (
    UI_TIMEOUT_MS,
    Problems,
    StreamlitServer,
    heading,
    launch_chromium,
    new_context,
    showing,
    streamlit_env,
    streamlit_server,
    wait_ready,
)
from _common import (
    API_KEY,
    ROOT,
    cpu_seconds,
    demo_server,
    median,
    proc_stat,
    python,
    run_child,
    users_file,
)

sys.path.insert(0, str(ROOT))

from basket_lib.store import scans
from basket_lib.store.database import Database

PAGE_TARGET = 1.1
LOOKUP_TARGET = 1.2
MEMORY_TARGET_MIB = 150.0
CONCURRENCY = 64
# Polling intervals: the database's scan status, the server's RSS.
DB_POLL_SECONDS = 0.05
RSS_POLL_SECONDS = 0.05
CPU_POLL_SECONDS = 0.2
IDS_LABEL = "User ids, separated by new lines, commas or spaces"
# Where a page's text is drawn: markdown (alerts included) and captions.
TEXT = "[data-testid=stMarkdownContainer], [data-testid=stCaptionContainer]"
# What a paste does to the text area: its value set through the native setter (so React sees a
# change) and one input event.
SET_VALUE = """(area, value) => {
    const setter = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set;
    setter.call(area, value);
    area.dispatchEvent(new Event("input", { bubbles: true }));
}"""
# The agents' users: seeded, never among the first scanned ones twice in a row, each used once.
AGENT_FIRST_USER = 20_001


# --- memory --------------------------------------------------------------------------------------


def _status_kib(pid: int, field_name: str) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(rf"^{field_name}:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) if found else None


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (the page's scan workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int(proc_stat(int(entry.name))[1])
        except OSError:
            continue
        if parent == pid:
            found.append(int(entry.name))
    return found


class RssSampler:
    """VmRSS of one process every RSS_POLL_SECONDS in a thread, and its VmHWM once reset; the
    peak VmHWM of its children (the workers) along the way."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[int] = []
        self.worker_peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.hwm_reset = False

    def start(self) -> None:
        try:  # "5" resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0)
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
            self.hwm_reset = True
        except OSError:
            self.hwm_reset = False
        self._thread.start()

    def _run(self) -> None:
        for tick in itertools.count():
            rss = _status_kib(self.pid, "VmRSS")
            if rss is not None:
                self.samples.append(rss)
            if tick % 10 == 0:
                for child in _children(self.pid):
                    hwm = _status_kib(child, "VmHWM") or 0
                    self.worker_peak_kib = max(self.worker_peak_kib, hwm)
            if self._stop.wait(RSS_POLL_SECONDS):
                return

    def stop(self) -> int:
        """The peak RSS in KiB: the highest sample, or VmHWM when it was reset."""
        self._stop.set()
        self._thread.join()
        peak = max(self.samples, default=0)
        if self.hwm_reset:
            peak = max(peak, _status_kib(self.pid, "VmHWM") or 0)
        return peak


def rss_kib(pid: int) -> int:
    value = _status_kib(pid, "VmRSS")
    if value is None:
        raise RuntimeError(f"no VmRSS for process {pid}")
    return value


class CpuWatch:
    """CPU seconds (user + system) by kind of process, from /proc every CPU_POLL_SECONDS: the
    Streamlit server, the scan workers it starts, the CLI, the demo API, the browser (Chromium and
    Playwright's driver) and this script. A process that exits counts with its last sample; the
    snapshot's "workers" is how many worker processes have been seen so far."""

    KINDS = ("server", "worker", "cli", "api", "browser", "bench")

    def __init__(self, server_pid: int, api_pid: int) -> None:
        self.server_pid, self.api_pid = server_pid, api_pid
        self._kinds: dict[int, str | None] = {}
        self._last: dict[int, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CpuWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(CPU_POLL_SECONDS):
            self._sample()

    def _kind(self, pid: int, parents: dict[int, int]) -> str | None:
        if pid in (self.server_pid, self.api_pid):
            return "server" if pid == self.server_pid else "api"
        if pid == os.getpid():
            return "bench"
        parent = parents.get(pid)
        if parent == self.server_pid:
            return "worker"
        ancestor = parent
        while ancestor is not None and ancestor > 1:
            if ancestor == os.getpid():
                break
            ancestor = parents.get(ancestor)
        else:
            return None  # not this run's
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        return "cli" if b"basket_lib" in command and b"scan" in command else "browser"

    def _sample(self) -> None:
        parents: dict[int, int] = {}
        cpu: dict[int, float] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            try:
                parents[pid] = int(proc_stat(pid)[1])
                cpu[pid] = cpu_seconds(pid)
            except OSError:
                continue
        with self._lock:
            for pid, seconds in cpu.items():
                if pid not in self._kinds:
                    self._kinds[pid] = self._kind(pid, parents)
                if self._kinds[pid] is not None:
                    self._last[pid] = seconds

    def snapshot(self) -> dict[str, float]:
        """CPU seconds so far by kind (a fresh sample)."""
        self._sample()
        totals = dict.fromkeys(self.KINDS, 0.0)
        with self._lock:
            totals["workers"] = sum(1 for kind in self._kinds.values() if kind == "worker")
            for pid, seconds in self._last.items():
                kind = self._kinds.get(pid)
                if kind is not None:
                    totals[kind] += seconds
        return totals


_WATCH: list[CpuWatch] = []  # this run's, once started


def cpu_now() -> dict[str, float]:
    return _WATCH[0].snapshot() if _WATCH else dict.fromkeys([*CpuWatch.KINDS, "workers"], 0.0)


def cpu_since(before: dict[str, float]) -> dict[str, float]:
    after = cpu_now()
    return {kind: after[kind] - before[kind] for kind in after}


# --- the browser ---------------------------------------------------------------------------------


PROBLEMS = Problems()


# --- 1. the page scan ----------------------------------------------------------------------------


@dataclass
class Phase:
    """Set by a page scan when Start has been clicked and when the database says it ended."""

    clicked: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class PageScan:
    scan_id: str
    parsed: float  # Ctrl+Enter until the page says how many ids it will scan
    to_worker: float  # click until the worker's started_at
    to_finished: float  # click until finished_at: the figure compared with the CLI
    engine: float  # the scan's own elapsed_seconds
    to_results: float  # click until the results are on the page
    cpu: dict[str, float]  # CPU seconds by kind of process, click until finished
    workers: int  # worker processes started meanwhile


def _timestamp(moment: Any) -> float:
    if moment is None:
        raise RuntimeError("the scan has no timestamp")
    return float(moment.timestamp())


async def page_scan(
    context: Any,
    app: StreamlitServer,
    db: Database,
    user_ids: list[str],
    label: str,
    phase: Phase | None = None,
    close_tab: bool = False,
) -> PageScan:
    """Paste, 64 at a time, Start; until the scan has ended in the database and its results are
    on the page. `close_tab`: leave the page once the scan has its id (nobody watches it)."""
    from playwright.async_api import expect

    page = await PROBLEMS.new_page(context)
    try:
        await page.goto(app.url("/failures"))
        await wait_ready(page, heading("Reservation failures"))
        label_box = page.get_by_label("Label", exact=True)
        await label_box.fill(label)
        await label_box.press("Enter")
        slider = page.get_by_role("slider", name="Concurrent requests")
        await slider.focus()
        await slider.press("End")
        await expect(slider).to_have_value(str(CONCURRENCY))
        area = page.get_by_label(IDS_LABEL)
        await area.evaluate(SET_VALUE, "\n".join(user_ids))
        started = time.perf_counter()
        await area.press("Control+Enter")  # commits the text area, as its help line says
        count = re.compile(rf"(?<![0-9]){len(user_ids):,} distinct user ids? to scan")
        await wait_ready(page, showing(TEXT, count))
        parsed = time.perf_counter() - started

        clicked, clicked_perf, cpu_at_click = time.time(), time.perf_counter(), cpu_now()
        await page.get_by_role("button", name="Start scan").click()
        if phase is not None:
            phase.clicked.set()
        await expect(page).to_have_url(re.compile(r"scan=[0-9a-f]{12}"), timeout=UI_TIMEOUT_MS)
        scan_id = parse_qs(urlsplit(page.url).query)["scan"][0]
        if close_tab:
            await page.goto("about:blank")
        while True:  # the database is the truth: poll it at a short interval
            info = await asyncio.to_thread(scans.require_scan, db, scan_id)
            if info.status not in (scans.Status.QUEUED, scans.Status.RUNNING):
                break
            await asyncio.sleep(DB_POLL_SECONDS)
        cpu = cpu_since(cpu_at_click)
        if phase is not None:
            phase.finished.set()
        if info.status is not scans.Status.COMPLETED or info.done != len(user_ids):
            raise RuntimeError(f"scan {scan_id} ended {info.status} with {info.done} outcomes")
        if info.concurrency != CONCURRENCY:
            raise RuntimeError(f"scan {scan_id} ran {info.concurrency} requests at once")
        to_results = float("nan")
        if not close_tab:
            users_read = page.locator("[data-testid=stMetric]").filter(
                has=page.locator("[data-testid=stMetricLabel]", has_text="Users read")
            )
            await wait_ready(page, heading("Results"))
            await expect(users_read.locator("[data-testid=stMetricValue]")).to_have_text(
                f"{info.scanned:,}", timeout=UI_TIMEOUT_MS
            )
            to_results = time.perf_counter() - clicked_perf
            await PROBLEMS.note_exceptions(page, f"scan {scan_id}")
        return PageScan(
            scan_id=scan_id,
            parsed=parsed,
            to_worker=_timestamp(info.started_at) - clicked,
            to_finished=_timestamp(info.finished_at) - clicked,
            engine=info.elapsed_seconds,
            to_results=to_results,
            cpu=cpu,
            workers=int(cpu["workers"]),
        )
    finally:
        await page.close()


def cli_scan(users: Path, env: dict[str, str], label: str) -> tuple[float, float, dict[str, float]]:
    """Whole-process seconds of the CLI's scan, its own request time (seconds=), the CPU."""
    command = [
        python(), "-m", "basket_lib", "scan", str(users),
        "--concurrency", str(CONCURRENCY), "--label", label,
    ]  # fmt: skip
    cpu_before = cpu_now()
    run = run_child(command, env=env)
    cpu = cpu_since(cpu_before)
    found = re.findall(r"seconds=([\d.]+)", run.stdout)
    if not found:
        raise RuntimeError(f"no summary line from the CLI:\n{run.stdout}")
    return run.wall, float(found[-1]), cpu


# --- 2. the agents -------------------------------------------------------------------------------


class Agents:
    """Support agents, one browser page each, looking up a different user every time."""

    def __init__(self, pages: list[Any], app: StreamlitServer) -> None:
        self.pages = pages
        self.app = app
        self._users = itertools.count(AGENT_FIRST_USER)

    def _next_user(self) -> str:
        number = next(self._users)
        if number > 99_999:  # stay within user-0XXXX: wrap around
            self._users = itertools.count(AGENT_FIRST_USER + 1)
            number = AGENT_FIRST_USER
        return f"user-{number:05d}"

    async def _lookup(self, page: Any) -> float:
        user = self._next_user()
        started = time.perf_counter()
        await page.goto(self.app.url(f"/?user={user}"))
        await wait_ready(page, heading(user))
        elapsed = time.perf_counter() - started
        await PROBLEMS.note_exceptions(page, f"lookup {user}", errors_too=False)
        return elapsed

    async def _idle(self) -> None:
        # No session left open between phases (an open basket page is an idle session).
        await asyncio.gather(*(page.goto("about:blank") for page in self.pages))

    async def each(self, lookups: int) -> list[float]:
        """`lookups` lookups per agent, the agents at the same time."""

        async def one(page: Any) -> list[float]:
            return [await self._lookup(page) for _ in range(lookups)]

        try:
            results = await asyncio.gather(*(one(page) for page in self.pages))
        finally:
            await self._idle()
        return [latency for agent in results for latency in agent]

    async def between(self, start: asyncio.Event, done: asyncio.Event) -> list[float]:
        """Lookups one after the other per agent from `start` until `done`: those started
        before it."""

        async def one(page: Any) -> list[float]:
            latencies = []
            await start.wait()
            while not done.is_set():
                latencies.append(await self._lookup(page))
            return latencies

        try:
            results = await asyncio.gather(*(one(page) for page in self.pages))
        finally:
            await self._idle()
        return [latency for agent in results for latency in agent]


async def page_scan_with_agents(
    scanner: Any,
    agents: Agents,
    app: StreamlitServer,
    db: Database,
    user_ids: list[str],
    label: str,
) -> tuple[PageScan, list[float]]:
    phase = Phase()

    async def scan() -> PageScan:
        try:
            return await page_scan(scanner, app, db, user_ids, label, phase)
        finally:  # the agents stop at once if the scan failed
            phase.clicked.set()
            phase.finished.set()

    # The agents look up from the click until the scan has ended: the timed part of the scan.
    result, latencies = await asyncio.gather(scan(), agents.between(phase.clicked, phase.finished))
    return result, latencies


async def cli_scan_with_agents(
    agents: Agents, users: Path, env: dict[str, str]
) -> tuple[float, dict[str, float], list[float]]:
    """The CLI's scan while the agents look up baskets, from its start until it has exited: the
    same-run reference for what the agents' browsers leave of the 2 cores to any scan."""
    start, done = asyncio.Event(), asyncio.Event()

    async def scan() -> tuple[float, float, dict[str, float]]:
        start.set()
        try:
            return await asyncio.to_thread(cli_scan, users, env, "cli with agents")
        finally:
            done.set()

    (seconds, _, cpu), latencies = await asyncio.gather(scan(), agents.between(start, done))
    return seconds, cpu, latencies


# --- the run -------------------------------------------------------------------------------------


@dataclass
class Figures:
    cli: list[float] = field(default_factory=list)
    cli_requests: list[float] = field(default_factory=list)
    page: list[PageScan] = field(default_factory=list)
    page_agents: list[PageScan] = field(default_factory=list)
    page_closed: list[PageScan] = field(default_factory=list)
    lookups_alone: list[float] = field(default_factory=list)
    lookups_during: list[float] = field(default_factory=list)
    cli_agents: list[float] = field(default_factory=list)
    cli_agents_cpu: list[dict[str, float]] = field(default_factory=list)
    lookups_during_cli: list[float] = field(default_factory=list)
    cli_cpu: list[dict[str, float]] = field(default_factory=list)
    lookups_cpu: list[dict[str, float]] = field(default_factory=list)  # per round, n lookups
    memory: dict[str, float] = field(default_factory=dict)


def ms(values: list[float]) -> str:
    return f"{median(values) * 1000:,.0f} ms" if values else "-"


async def drive(
    args: argparse.Namespace, app: StreamlitServer, env: dict[str, str], folder: Path
) -> Figures:
    from playwright.async_api import async_playwright

    db = Database(env["BASKET_DATABASE_URL"])
    user_ids = [f"user-{n:05d}" for n in range(1, args.users + 1)]
    users = users_file(folder, args.users)
    figures = Figures()
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            contexts = [await new_context(browser) for _ in range(1 + args.agents)]
            scanner = contexts[0]
            agents = Agents([await PROBLEMS.new_page(c) for c in contexts[1:]], app)

            # Warm-up: the server's first imports (pandas, altair), the file caches.
            await agents.each(1)
            await page_scan(scanner, app, db, user_ids, "page warm-up")
            await asyncio.to_thread(cli_scan, users, env, "cli warm-up")
            print("warm-up done", flush=True)

            for round_ in range(1, args.repeat + 1):
                cpu_before = cpu_now()
                before = await agents.each(args.lookups)
                lookups_cpu = cpu_since(cpu_before)
                # The three contenders alone take turns at going first.
                order = ["page", "cli", "closed"]
                order = order[(round_ - 1) % 3 :] + order[: (round_ - 1) % 3]
                for contender in order:
                    if contender == "page":
                        alone = await page_scan(scanner, app, db, user_ids, "page")
                    elif contender == "closed":
                        closed = await page_scan(
                            scanner, app, db, user_ids, "page, tab closed", close_tab=True
                        )
                    else:
                        cli, cli_requests, cli_cpu = await asyncio.to_thread(
                            cli_scan, users, env, "cli"
                        )
                # The page scan with agents, and the CLI with agents (reference), take turns.
                for contender in ["page", "cli"] if round_ % 2 else ["cli", "page"]:
                    if contender == "page":
                        busy, during = await page_scan_with_agents(
                            scanner, agents, app, db, user_ids, "page with agents"
                        )
                    else:
                        cli_busy, cli_busy_cpu, during_cli = await cli_scan_with_agents(
                            agents, users, env
                        )
                cpu_before = cpu_now()
                after = await agents.each(args.lookups)
                lookups_cpu = {k: v + lookups_cpu[k] for k, v in cpu_since(cpu_before).items()}
                figures.cli.append(cli)
                figures.cli_requests.append(cli_requests)
                figures.cli_cpu.append(cli_cpu)
                figures.lookups_cpu.append(lookups_cpu)
                figures.page.append(alone)
                figures.page_closed.append(closed)
                figures.page_agents.append(busy)
                figures.lookups_alone += before + after
                figures.lookups_during += during
                figures.cli_agents.append(cli_busy)
                figures.cli_agents_cpu.append(cli_busy_cpu)
                figures.lookups_during_cli += during_cli
                print(
                    f"  round {round_}: CLI {cli:6.2f} s (requests {cli_requests:.2f} s); "
                    f"page {alone.to_finished:6.2f} s (worker up {alone.to_worker:.2f} s, "
                    f"results shown {alone.to_results:.2f} s); "
                    f"tab closed {closed.to_finished:6.2f} s; "
                    f"page + agents {busy.to_finished:6.2f} s; CLI + agents {cli_busy:6.2f} s; "
                    f"lookups {ms(before + after)} alone (n={len(before + after)}), "
                    f"{ms(during)} during the page scan (n={len(during)}), "
                    f"{ms(during_cli)} during the CLI (n={len(during_cli)})",
                    flush=True,
                )

            if args.memory_users:
                figures.memory = await memory(scanner, app, db, args.memory_users)
        finally:
            await browser.close()
    return figures


async def memory(scanner: Any, app: StreamlitServer, db: Database, count: int) -> dict[str, float]:
    from playwright.async_api import expect

    user_ids = [f"user-{n:05d}" for n in range(1, count + 1)]
    before = rss_kib(app.process.pid)
    sampler = RssSampler(app.process.pid)
    sampler.start()
    try:
        scan = await page_scan(scanner, app, db, user_ids, "page memory")
        # A second tab by the scan's link: the stored results read and drawn once more.
        page = await PROBLEMS.new_page(scanner)
        try:
            started = time.perf_counter()
            await page.goto(app.url(f"/failures?scan={scan.scan_id}"))
            await wait_ready(page, heading("Results"))
            await expect(page.get_by_text("Users read", exact=True)).to_be_visible(
                timeout=UI_TIMEOUT_MS
            )
            reopened = time.perf_counter() - started
            await PROBLEMS.note_exceptions(page, f"reopened scan {scan.scan_id}")
        finally:
            await page.close()
    finally:
        peak = sampler.stop()
    after = rss_kib(app.process.pid)
    return {
        "users": count,
        "before": before / 1024,
        "peak": peak / 1024,
        "after": after / 1024,
        "worker_peak": sampler.worker_peak_kib / 1024,
        "scan": scan.to_finished,
        "parsed": scan.parsed,
        "results": scan.to_results,
        "reopened": reopened,
        "hwm": 1.0 if sampler.hwm_reset else 0.0,
    }


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _cpu_columns(samples: list[dict[str, float]]) -> str:
    return "".join(
        f" {median([sample[kind] for sample in samples]):7.1f}" for kind in CpuWatch.KINDS
    )


def _range_ms(values: list[float]) -> str:
    if not values:
        return "n=0"
    return f"n={len(values)}, {min(values) * 1000:,.0f}-{max(values) * 1000:,.0f} ms"


def report(args: argparse.Namespace, figures: Figures, app: StreamlitServer) -> None:
    cli = median(figures.cli)
    page = median([s.to_finished for s in figures.page])
    busy = median([s.to_finished for s in figures.page_agents])
    closed = median([s.to_finished for s in figures.page_closed])
    cli_busy = median(figures.cli_agents)
    print()
    print(
        f"{args.users:,} users, {args.latency_ms:g} ms latency, {CONCURRENCY} at a time, "
        f"{args.repeat} rounds, medians; CPU seconds by process during the timed part:"
    )
    kinds = "".join(f" {kind:>7s}" for kind in CpuWatch.KINDS)
    print(f"{'contender':34s} {'seconds':>8s} {'users/s':>8s} |{kinds}")
    rows = [
        ("CLI scan, whole process", cli, figures.cli_cpu),
        ("page scan, click -> finished_at", page, [s.cpu for s in figures.page]),
        ("page scan, tab closed after click", closed, [s.cpu for s in figures.page_closed]),
        (f"page scan + {args.agents} agents", busy, [s.cpu for s in figures.page_agents]),
        (f"CLI scan + {args.agents} agents (ref.)", cli_busy, figures.cli_agents_cpu),
    ]
    for name, seconds, cpu in rows:
        print(f"{name:34s} {seconds:8.2f} {args.users / seconds:8,.0f} |{_cpu_columns(cpu)}")
    for name, runs in (
        ("page scan", figures.page),
        ("tab closed", figures.page_closed),
        ("page scan + agents", figures.page_agents),
    ):
        shown = (
            ""
            if name == "tab closed"
            else (f", click -> results shown {median([s.to_results for s in runs]):.2f} s")
        )
        print(
            f"  {name}: click -> worker started {median([s.to_worker for s in runs]):.2f} s, "
            f"engine {median([s.engine for s in runs]):.2f} s{shown}; worker processes started "
            f"{'/'.join(str(s.workers) for s in runs)}; before the click, Ctrl+Enter -> ids "
            f"parsed {median([s.parsed for s in runs]):.2f} s"
        )
    print(f"  CLI: its own request time (seconds=) {median(figures.cli_requests):.2f} s")
    alone, during = figures.lookups_alone, figures.lookups_during
    server_alone = sum(c["server"] for c in figures.lookups_cpu) / max(len(alone), 1)
    print(
        f"agents' lookups, goto -> ready: no scan {ms(alone)} ({_range_ms(alone)}; server CPU "
        f"{server_alone * 1000:.0f} ms a lookup), during the page scan {ms(during)} "
        f"({_range_ms(during)}), during the CLI scan {ms(figures.lookups_during_cli)} "
        f"({_range_ms(figures.lookups_during_cli)})"
    )
    memory_part = ""
    if figures.memory:
        m = figures.memory
        growth = m["peak"] - m["before"]
        print(
            f"server RSS, page scan of {m['users']:,.0f} users: before {m['before']:.0f} MiB, "
            f"peak {m['peak']:.0f} MiB ({'VmHWM reset + ' if m['hwm'] else ''}samples), "
            f"after {m['after']:.0f} MiB; growth {growth:.0f} MiB"
        )
        print(
            f"  that scan: Ctrl+Enter -> ids parsed {m['parsed']:.2f} s, click -> finished_at "
            f"{m['scan']:.2f} s, click -> results shown {m['results']:.2f} s, reopened by its "
            f"link {m['reopened']:.2f} s; the worker's peak RSS {m['worker_peak']:.0f} MiB"
        )
        memory_part = (
            f", server RSS growth {m['users']:,.0f} users={growth:.0f} MiB "
            f"(< {MEMORY_TARGET_MIB:g} {verdict(growth < MEMORY_TARGET_MIB)})"
        )
    PROBLEMS.report(app.tracebacks())

    page_ratio, busy_ratio = page / cli, busy / cli
    lookup_ratio = median(during) / median(alone) if during else float("nan")
    during_cli = figures.lookups_during_cli
    cli_lookup_ratio = median(during_cli) / median(alone) if during_cli else float("nan")
    print(
        f"ratios: page/CLI={page_ratio:.2f} (<= {PAGE_TARGET:g} "
        f"{verdict(page_ratio <= PAGE_TARGET)}), "
        f"page with agents/CLI={busy_ratio:.2f} (<= {PAGE_TARGET:g} "
        f"{verdict(busy_ratio <= PAGE_TARGET)}), "
        f"lookup during/without scan={lookup_ratio:.2f} (<= {LOOKUP_TARGET:g} "
        f"{verdict(lookup_ratio <= LOOKUP_TARGET)})" + memory_part + f"; reference: page with "
        f"its tab closed after the click/CLI={closed / cli:.2f}, page with agents/CLI with "
        f"agents={busy / cli_busy:.2f}, lookup during/without CLI scan={cli_lookup_ratio:.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--memory-users", type=int, default=100_000, help="0: skip part 3")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--agents", type=int, default=3)
    parser.add_argument(
        "--lookups", type=int, default=5, help="lookups per agent before and after, per round"
    )
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument(
        "--worker-nice",
        type=int,
        help="BASKET_WORKER_NICE for the page's workers (default: the dashboard's default)",
    )
    args = parser.parse_args()
    if not 1 <= args.users <= 99_999 or not 0 <= args.memory_users <= 100_000:
        parser.error("--users: 1-99,999 (user-0XXXX); --memory-users: 0-100,000 (the page's cap)")

    with (
        tempfile.TemporaryDirectory(prefix="page-scan-") as tmp,
        demo_server(args.latency_ms) as server,
    ):
        folder = Path(tmp)
        # The page and the CLI share one environment: the same API, database and audit log.
        env = streamlit_env(
            BASKET_API_URL=server.base_url,
            BASKET_API_KEY=API_KEY,
            BASKET_DATABASE_URL=f"sqlite:///{folder / 'scans.db'}",
            BASKET_AUDIT_LOG=str(folder / "audit.jsonl"),
            PYTHONUNBUFFERED="1",
        )
        if args.worker_nice is not None:
            env["BASKET_WORKER_NICE"] = str(args.worker_nice)
        with streamlit_server(ROOT / "app.py", env, ROOT, folder) as app:
            print(f"demo API {server.base_url} ({args.latency_ms:g} ms), dashboard {app.base_url}")
            with CpuWatch(app.process.pid, server.process.pid) as watch:
                _WATCH.append(watch)
                figures = asyncio.run(drive(args, app, env, folder))
            report(args, figures, app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
