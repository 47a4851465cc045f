"""Bulk-scan throughput: our CLI against three baselines, same loopback server, same run.

    python benchmarks/scan_throughput.py [--users 10000] [--repeat 3]

Starts the demo API (`python -m basket_lib.simulator`, aiohttp.web) with 20 ms latency as its own
process, then runs, each as a whole process and interleaved round by round:

- ours:       python -m basket_lib scan USERS --concurrency 64 (BASKET_API_URL/KEY set), the
              scan stored in a fresh SQLite database as by default
- ours-no-store: the same with --no-store (what storing costs; no target)
- aiohttp:    raw aiohttp GET + json.loads, 64 at a time           (baseline a)
- httpx:      plain httpx.AsyncClient, pool of 64 like aiohttp's, 64 at a time (baseline b)
- httpx-default: the same with httpx's default pool limits (for reference, no target)
- sequential: one httpx.Client request after the other, fewer users (baseline c)

Throughput is users / wall time of the whole process (interpreter start, imports and input file
included; each CLI's basket_lib is byte-compiled first, as an installed package is), and also
users / the process's own timing of its requests ("in-process"). A second server without
latency shows the ceiling of this machine and the server's CPU per request, so that the server is
seen not to be what limits the scan.
"""

from __future__ import annotations

import argparse
import compileall
import re
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    API_KEY,
    ROOT,
    Run,
    Server,
    child_env,
    demo_server,
    median,
    python,
    run_child,
    users_file,
)

SECONDS = re.compile(r"seconds=([\d.]+)")
SUMMARY = re.compile(r"users=(\d+) scanned=(\d+) .* errors=(\d+)")
TARGETS = {"aiohttp": 0.90, "httpx": 8.0, "sequential": 30.0}
REFERENCES = ("httpx-default", "ours-no-store")


def ours(
    server: Server,
    users: Path,
    concurrency: int,
    checkout: Path | None = None,
    *extra: str,
) -> Run:
    """The CLI of this checkout, or of another one (`--also`), as a whole process."""
    env = child_env(BASKET_API_URL=server.base_url, BASKET_API_KEY=API_KEY)
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout)
    command = [python(), "-m", "basket_lib", "scan", str(users), "--concurrency", str(concurrency)]
    command += extra
    run = run_child(command, env, cwd=checkout)
    match = SUMMARY.search(run.stdout)
    if not match or match[1] != match[2] or match[3] != "0":
        raise RuntimeError(f"the scan did not read every basket: {run.stdout!r}")
    return run


def compile_checkout(checkout: Path) -> None:
    """Byte-compile a CLI's basket_lib once before the rounds, as installing it does. Where
    PYTHONDONTWRITEBYTECODE is set (this sandbox sets it) an uncompiled checkout would otherwise
    compile its modules from source in every run (about 0.1 s of CPU), which the baselines'
    installed libraries never do."""
    compileall.compile_dir(checkout / "basket_lib", quiet=1)


def baseline(kind: str, server: Server, users: Path, concurrency: int) -> Run:
    script = str(Path(__file__).resolve().parent / "baselines.py")
    run = run_child(
        [python(), script, kind, server.base_url, API_KEY, str(users), str(concurrency)]
    )
    users_, ok = map(int, re.findall(r"(?:users|ok)=(\d+)", run.stdout))
    if users_ != ok:
        raise RuntimeError(f"{kind}: only {ok} of {users_} requests succeeded")
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--httpx-users", type=int, default=10_000)
    parser.add_argument("--sequential-users", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="also run the CLI of another checkout (e.g. an older commit, for before/after)",
    )
    args = parser.parse_args()
    others = {
        label: Path(path).resolve() for label, _, path in (a.partition("=") for a in args.also)
    }
    names = ["ours", "ours-no-store", *others, "aiohttp", "httpx", "httpx-default", "sequential"]

    for checkout in (ROOT, *others.values()):
        compile_checkout(checkout)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        users = users_file(directory, args.users)
        files = {name: users for name in ("ours", "ours-no-store", *others, "aiohttp")}
        files["httpx"] = files["httpx-default"] = users_file(
            directory, args.httpx_users, "httpx-users.txt"
        )
        files["sequential"] = users_file(directory, args.sequential_users, "sequential-users.txt")
        counts = {
            **dict.fromkeys(others, args.users),
            "ours": args.users,
            "ours-no-store": args.users,
            "aiohttp": args.users,
            "httpx": args.httpx_users,
            "httpx-default": args.httpx_users,
            "sequential": args.sequential_users,
        }
        runs: dict[str, list[Run]] = defaultdict(list)
        server_cpu: dict[str, list[float]] = defaultdict(list)
        with demo_server(args.latency_ms) as server:
            print(
                f"server {server.base_url}, latency {args.latency_ms:g} ms, "
                f"concurrency {args.concurrency}, {args.repeat} rounds",
                flush=True,
            )
            baseline("aiohttp", server, files["aiohttp"], args.concurrency)  # warm-up, not counted
            for round_ in range(1, args.repeat + 1):
                for name in names:
                    before = server.cpu_seconds()
                    if name == "ours" or name in others:
                        run = ours(server, files[name], args.concurrency, others.get(name))
                    elif name == "ours-no-store":
                        run = ours(server, files[name], args.concurrency, None, "--no-store")
                    else:
                        concurrency = 1 if name == "sequential" else args.concurrency
                        run = baseline(name, server, files[name], concurrency)
                    server_cpu[name].append((server.cpu_seconds() - before) / counts[name])
                    runs[name].append(run)
                    print(
                        f"  round {round_} {name:14s} {counts[name] / run.wall:7.0f}/s "
                        f"(wall {run.wall:.2f} s)",
                        flush=True,
                    )

        with demo_server(0) as server:
            ceiling: list[Run] = []
            ceiling_cpu: list[float] = []
            for _ in range(args.repeat):
                before = server.cpu_seconds()
                ceiling.append(baseline("aiohttp", server, files["aiohttp"], args.concurrency))
                ceiling_cpu.append((server.cpu_seconds() - before) / args.users)

    def in_process(run: Run) -> float:
        return float(SECONDS.findall(run.stdout)[-1])

    rate: dict[str, float] = {}
    rate_in: dict[str, float] = {}
    print()
    print(
        f"{'contender':14s} {'users':>6s} {'whole/s':>8s} {'in-proc/s':>9s} "
        f"{'cpu us/req':>10s} {'server us/req':>13s} {'peak MiB':>8s}"
    )
    for name in names:
        n = counts[name]
        rate[name] = median([n / r.wall for r in runs[name]])
        rate_in[name] = median([n / in_process(r) for r in runs[name]])
        cpu = median([r.cpu / n * 1e6 for r in runs[name]])
        print(
            f"{name:14s} {n:6d} {rate[name]:8.0f} {rate_in[name]:9.0f} {cpu:10.0f} "
            f"{median(server_cpu[name]) * 1e6:13.0f} "
            f"{median([r.max_rss_mib for r in runs[name]]):8.0f}"
        )
    limit = args.concurrency / (args.latency_ms / 1000) if args.latency_ms else float("inf")
    ceiling_rate = median([args.users / in_process(r) for r in ceiling])
    server_us = median(ceiling_cpu) * 1e6
    print(f"\nphysical limit {args.concurrency} / {args.latency_ms:g} ms = {limit:,.0f}/s")
    # /proc counts CPU in clock ticks (10 ms): a small run can use less than one.
    server_cpu_text = (
        f"{server_us:.0f} us/request = {1e6 / server_us:,.0f} requests/s on one core"
        if server_us > 0
        else f"under one clock tick for {args.users:,} requests (too few to measure)"
    )
    print(
        f"zero-latency ceiling (aiohttp, in-process): {ceiling_rate:,.0f}/s; "
        f"server CPU {server_cpu_text}"
    )

    parts = []
    for name in (*TARGETS, *REFERENCES):
        ratio = rate["ours"] / rate[name]
        ratio_in = rate_in["ours"] / rate_in[name]
        target = TARGETS.get(name)
        if target is None:
            verdict = "reference"
        else:
            verdict = f">= {target:g} {'met' if ratio >= target else 'MISSED'}"
        parts.append(f"ours/{name}={ratio:.2f} (in-process {ratio_in:.2f}; {verdict})")
    print("ratios: " + ", ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
