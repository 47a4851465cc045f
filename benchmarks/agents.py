"""Agents: support agents' basket lookups in Chromium, the dashboard against a bare Streamlit app.

    python benchmarks/agents.py [--repeat 3] [--lookups 3] [--agents 1,5,20] [--latency-ms 20]
                                [--root DIR]

Starts the demo API with 20 ms latency (`python -m basket_lib.simulator`) and two `streamlit run`
servers pointed at it, each as its own process with the same flags and working directory (so the
same .streamlit/config.toml): the dashboard (app.py) and a bare baseline app written to a
temporary folder, which reads ?user= and a sidebar "User id" box, fetches the basket and its
product details with the project's own sync client (one per server, in st.cache_resource) and
shows the user id as a subheading above three bare st.dataframe tables (cart, saved, checkout).
Headless Chromium (Playwright, /usr/bin/chromium) drives both, interleaved: every figure is taken
for one server and then for the other, the first taking turns from round to round. Each lookup is
of a seeded user (user-NNNNN) the server has not shown before, so no cache hides the fetch; both
servers get the same users in the same order.

Each agent is one browser context with one tab, which loads a ticket's link (a new document and
a new Streamlit session, as a click on the link in a helpdesk does) and goes back to about:blank
once the basket is shown. A tab is kept rather than opened per lookup: a new tab costs Chromium a
new renderer process (here about 1 s and 0.5-2 CPU-s more per lookup, the same for both apps),
which on 2 cores would bury the servers' difference under the browser's own work.

After a warm-up (one lookup per server, then one in each agent's tab: its HTTP cache and
renderer), `--repeat` rounds of:

1. ticket link -> rendered: the first agent's blank tab goes to /?user=USER; timed from goto
   until the user's heading is visible and the script run has finished. `--lookups` one after
   the other.
2. type + Enter -> rendered: in that tab, showing a basket, a new id is typed into the sidebar's
   "User id" box and Enter pressed; timed until the new user's heading is visible and the run
   has finished. `--lookups` one after the other.
3. server CPU per lookup: the Streamlit server process's user + system CPU (/proc/PID/stat)
   during the lookups of 1., divided by their number.
4. p50 / p95 with N agents at once, for each N of `--agents`: N agents each doing `--lookups`
   ticket-link lookups (as in 1.) one after the other, all agents at the same time.

1. and 2. are medians of every round's lookups, 3. the median of the rounds' figures, and the
percentiles of 4. are taken over every lookup of every round (nearest rank). Targets,
dashboard/bare: server CPU per lookup <= 1.3x, ticket link <= 1.3x, p95 at 20 agents <= 1.3x. The
pages' errors and the servers' tracebacks are listed; the final `ratios:` line says met or MISSED
for each target. `--repeat 1 --lookups 1 --agents 1,2` is a quick check.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _browser import (
    BARE_APP,
    Problems,
    StreamlitServer,
    heading,
    launch_chromium,
    launch_streamlit,
    new_context,
    streamlit_env,
    wait_ready,
)
from _common import API_KEY, ROOT, demo_server, median

CPU_TARGET = 1.3
TICKET_TARGET = 1.3
P95_TARGET = 1.3
P95_TARGET_AGENTS = 20
SIDEBAR = "[data-testid=stSidebar]"
USER_BOX_LABEL = "User id"
NAMES = ("dashboard", "bare")
PROBLEMS = Problems()


WARM_UP_SCENARIOS = ("demo-checkout-failed", "demo-full-cart")


class Users:
    """Seeded demo users, each handed out once: user-00001, user-00002, ..."""

    def __init__(self) -> None:
        self._numbers = itertools.count(1)

    def take(self, count: int) -> list[str]:
        taken = [f"user-{next(self._numbers):05d}" for _ in range(count)]
        if taken and int(taken[-1][5:]) > 99_999:
            raise RuntimeError("more lookups than seeded users user-00001 ... user-99999")
        return taken


@dataclass
class Figures:
    """One server's measurements, every round's."""

    ticket: list[float] = field(default_factory=list)
    typed: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # per round, CPU seconds a lookup of 1.
    at_once: dict[int, list[float]] = field(default_factory=dict)
    at_once_cpu: dict[int, list[float]] = field(default_factory=dict)  # per round, a lookup


@dataclass
class Contender:
    name: str
    server: StreamlitServer
    tabs: list[Any]  # one browser tab per agent, each in its own context; the first for 1. and 2.
    figures: Figures = field(default_factory=Figures)


# --- the lookups ---------------------------------------------------------------------------------


async def ticket_link(tab: Any, app: Contender, user: str) -> float:
    """The agent's blank tab loads the user's link, until the basket is drawn and the run is
    over; then the tab is blank again (its Streamlit session ended)."""
    try:
        started = time.perf_counter()
        await tab.goto(app.server.url(f"/?user={user}"))
        await wait_ready(tab, heading(user))
        elapsed = time.perf_counter() - started
        # A basket's failed reservations are shown in an error box: only exceptions count.
        await PROBLEMS.note_exceptions(tab, f"{app.name} {user}", errors_too=False)
    finally:
        await tab.goto("about:blank")
    return elapsed


async def ticket_links(app: Contender, users: list[str]) -> tuple[list[float], float]:
    """1. and 3.: the lookups one after the other, and the server's CPU seconds per lookup."""
    cpu_before = app.server.cpu_seconds()
    latencies = [await ticket_link(app.tabs[0], app, user) for user in users]
    return latencies, (app.server.cpu_seconds() - cpu_before) / len(users)


async def type_and_enter(app: Contender, shown: str, users: list[str]) -> list[float]:
    """2.: on a page showing `shown`, each of `users` typed into the sidebar's box + Enter."""
    page = app.tabs[0]
    try:
        await page.goto(app.server.url(f"/?user={shown}"))
        await wait_ready(page, heading(shown))
        box = page.locator(SIDEBAR).get_by_label(USER_BOX_LABEL, exact=True)
        latencies = []
        for user in users:
            started = time.perf_counter()
            await box.fill(user)
            await box.press("Enter")
            await wait_ready(page, heading(user))
            latencies.append(time.perf_counter() - started)
            await PROBLEMS.note_exceptions(page, f"{app.name} typed {user}", errors_too=False)
    finally:
        await page.goto("about:blank")
    return latencies


async def agents_at_once(app: Contender, users: list[list[str]]) -> tuple[list[float], float]:
    """4.: agent i looks up users[i] one after the other, all agents at the same time; every
    lookup's latency and the server's CPU seconds per lookup."""

    async def agent(tab: Any, mine: list[str]) -> list[float]:
        return [await ticket_link(tab, app, user) for user in mine]

    cpu_before = app.server.cpu_seconds()
    results = await asyncio.gather(
        *(agent(tab, mine) for tab, mine in zip(app.tabs, users, strict=False))
    )
    cpu = app.server.cpu_seconds() - cpu_before
    latencies = [latency for agent_latencies in results for latency in agent_latencies]
    return latencies, cpu / len(latencies)


# --- the run -------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


async def drive(args: argparse.Namespace, apps: list[Contender]) -> None:
    from playwright.async_api import async_playwright

    users = Users()
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            began = time.perf_counter()
            for app in apps:
                contexts = [await new_context(browser) for _ in range(max(args.agents))]
                app.tabs = [await PROBLEMS.new_page(context) for context in contexts]
            # Warm-up: the servers' first imports (pandas, altair) in the first agent's tab,
            # then every other agent's tab once, so that each has the app's scripts in its HTTP
            # cache and its renderer started, as an agent's browser would.
            # The demo scenarios first: a failed checkout and a full cart take every path of the
            # dashboard's page (its first Styler imports pandas' styling, for one).
            warm_up = [*WARM_UP_SCENARIOS, *users.take(1)]
            for app in apps:
                await ticket_links(app, warm_up)
            others = [[], *(users.take(1) for _ in range(max(args.agents) - 1))]
            for app in apps:
                if len(others) > 1:
                    await agents_at_once(app, others)
            print(f"warm-up done ({time.perf_counter() - began:.0f} s)", flush=True)

            for round_ in range(1, args.repeat + 1):
                order = apps if round_ % 2 else apps[::-1]
                said: dict[str, list[str]] = {app.name: [] for app in apps}
                batch = users.take(args.lookups)
                for app in order:
                    latencies, cpu = await ticket_links(app, batch)
                    app.figures.ticket += latencies
                    app.figures.cpu.append(cpu)
                    said[app.name] += [f"ticket link {ms(median(latencies))}", f"CPU {ms(cpu)}"]
                shown, batch = users.take(1)[0], users.take(args.lookups)
                for app in order:
                    latencies = await type_and_enter(app, shown, batch)
                    app.figures.typed += latencies
                    said[app.name].append(f"type+Enter {ms(median(latencies))}")
                for count in args.agents:
                    per_agent = [users.take(args.lookups) for _ in range(count)]
                    for app in order:
                        latencies, cpu = await agents_at_once(app, per_agent)
                        app.figures.at_once.setdefault(count, []).extend(latencies)
                        app.figures.at_once_cpu.setdefault(count, []).append(cpu)
                        said[app.name].append(
                            f"{count} at once p50 {ms(percentile(latencies, 0.5))} "
                            f"p95 {ms(percentile(latencies, 0.95))}"
                        )
                lines = "; ".join(f"{name}: {', '.join(parts)}" for name, parts in said.items())
                took = time.perf_counter() - began
                print(f"  round {round_} (at {took:.0f} s): {lines}", flush=True)
        finally:
            await browser.close()


def _verdict(ratio: float, target: float) -> str:
    return f" (<= {target:g} {'met' if ratio <= target else 'MISSED'})"


def report(args: argparse.Namespace, apps: list[Contender]) -> None:
    dashboard, bare = (next(a.figures for a in apps if a.name == name) for name in NAMES)
    # (figure, dashboard, bare, target, its name in the ratios line)
    rows: list[tuple[str, float, float, float | None, str | None]] = [
        ("ticket link -> rendered", median(dashboard.ticket), median(bare.ticket),
         TICKET_TARGET, "ticket link"),
        ("type + Enter -> rendered", median(dashboard.typed), median(bare.typed),
         None, "type+enter"),
        ("server CPU per lookup", median(dashboard.cpu), median(bare.cpu),
         CPU_TARGET, "cpu per lookup"),
    ]  # fmt: skip
    for count in args.agents:
        d, b = dashboard.at_once[count], bare.at_once[count]
        p95_target = P95_TARGET if count == P95_TARGET_AGENTS else None
        rows += [
            (f"p50, {count} at once (n={len(d)})", percentile(d, 0.5), percentile(b, 0.5),
             None, f"p50@{count}"),
            (f"p95, {count} at once", percentile(d, 0.95), percentile(b, 0.95),
             p95_target, f"p95@{count}"),
            (f"  server CPU per lookup, {count} at once", median(dashboard.at_once_cpu[count]),
             median(bare.at_once_cpu[count]), None, None),
        ]  # fmt: skip
    print()
    print(
        f"{args.repeat} rounds, {args.lookups} lookups per agent, {args.latency_ms:g} ms API "
        "latency; medians (p50/p95: over every lookup of every round):"
    )
    print(f"{'figure':40s} {'dashboard':>10s} {'bare':>10s} {'ratio':>6s}  target")
    ratios: dict[str, str] = {}
    for figure, ours, baseline, target, name in rows:
        if ours > 0 and baseline > 0:
            ratio = f"{ours / baseline:.2f}"
            verdict = _verdict(ours / baseline, target) if target is not None else ""
        else:
            # CPU from /proc is counted in clock ticks (10 ms): a short run of either app can see
            # none, and a ratio to or of nothing would read as a verdict.
            ratio = "n/a"
            verdict = f" (<= {target:g} not measured)" if target is not None else ""
        print(
            f"{figure:40s} {ms(ours):>10s} {ms(baseline):>10s} {ratio:>6s}  {verdict.strip(' ()')}"
        )
        if name is not None:
            ratios[name] = f"{name}={ratio}{verdict}"
    tracebacks = [f"{app.name} log: {line}" for app in apps for line in app.server.tracebacks()]
    PROBLEMS.report(tracebacks)
    parts = [ratios[name] for name in ("cpu per lookup", "ticket link", "type+enter")]
    # The percentiles of one agent count side by side: "p50@5=... p95@5=...".
    parts += [f"{ratios[f'p50@{count}']} {ratios[f'p95@{count}']}" for count in args.agents]
    print("ratios: " + ", ".join(parts))


def agent_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not counts or min(counts) < 1 or len(set(counts)) != len(counts):
        raise argparse.ArgumentTypeError("distinct agent counts of at least 1, e.g. 1,5,20")
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    parser.add_argument(
        "--lookups", type=int, default=3, help="lookups per agent and figure, per round"
    )
    parser.add_argument(
        "--agents", type=agent_counts, default=[1, 5, 20], help="agents at once (default 1,5,20)"
    )
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        help="the checkout whose app.py is the dashboard (default: this one); a copy with one "
        "feature taken out measures what that feature costs",
    )
    args = parser.parse_args()
    root = args.root.resolve()
    if args.repeat < 1 or args.lookups < 1:
        parser.error("--repeat and --lookups: at least 1")

    with (
        tempfile.TemporaryDirectory(prefix="agents-") as tmp,
        demo_server(args.latency_ms) as api,
        ExitStack() as servers,
    ):
        folder = Path(tmp)
        bare = folder / "bare_app.py"
        bare.write_text(BARE_APP, encoding="utf-8")
        # One environment for both: the same API, and the dashboard's database and audit log
        # in this run's folder.
        env = streamlit_env(
            BASKET_API_URL=api.base_url,
            BASKET_API_KEY=API_KEY,
            BASKET_DATABASE_URL=f"sqlite:///{folder / 'scans.db'}",
            BASKET_AUDIT_LOG=str(folder / "audit.jsonl"),
            PYTHONUNBUFFERED="1",
            PYTHONPATH=str(root),
        )
        scripts = dict(zip(NAMES, (root / "app.py", bare), strict=True))
        # Both started at once, each stopped on the way out.
        launched = {}
        for name, script in scripts.items():
            launched[name] = launch_streamlit(script, env, root, folder, name)
            servers.callback(launched[name].stop)
        apps = []
        for name, server in launched.items():
            server.wait_healthy()
            apps.append(Contender(name, server, []))
        print(
            f"demo API {api.base_url} ({args.latency_ms:g} ms), "
            + ", ".join(f"{app.name} {app.server.base_url}" for app in apps),
            flush=True,
        )
        asyncio.run(drive(args, apps))
        report(args, apps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
