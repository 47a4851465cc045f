"""Peak memory of the scan: the CLI's peak RSS for 10,000 vs 100,000 users.

    python benchmarks/memory.py [--small 10000] [--large 100000]

Starts the demo API without latency as its own process and runs
`python -m basket_lib scan USERS --concurrency 64` for both sizes, each as a whole process whose
peak RSS comes from wait4. Two user lists: seeded users (about one in ten has a failed
reservation, which the report keeps one by one) and ids without a basket (nothing is kept, so
any growth is the engine's own). Target: the large scan's peak under 1.5x the small one's.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import API_KEY, child_env, demo_server, python, run_child, users_file

SUMMARY = re.compile(r"users=(\d+) scanned=(\d+) .*failed_reservations=(\d+) errors=(\d+)")
TARGET = 1.5


def empty_users_file(directory: Path, count: int) -> Path:
    """Valid ids the demo API knows no basket for (an empty basket each)."""
    path = directory / f"empty-{count}.txt"
    path.write_text("".join(f"nobody-{n:06d}\n" for n in range(1, count + 1)), encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()

    results: dict[tuple[str, int], tuple[float, int, float]] = {}
    with tempfile.TemporaryDirectory() as tmp, demo_server(args.latency_ms) as server:
        directory = Path(tmp)
        env = child_env(BASKET_API_URL=server.base_url, BASKET_API_KEY=API_KEY)
        print(f"server {server.base_url}, latency {args.latency_ms:g} ms", flush=True)
        for kind in ("seeded", "empty"):
            for count in (args.small, args.large):
                if kind == "seeded":
                    users = users_file(directory, count)
                else:
                    users = empty_users_file(directory, count)
                command = [python(), "-m", "basket_lib", "scan", str(users)]
                run = run_child([*command, "--concurrency", str(args.concurrency)], env)
                match = SUMMARY.search(run.stdout)
                if not match or match[1] != match[2] or match[4] != "0":
                    raise RuntimeError(f"the scan did not read every basket: {run.stdout!r}")
                results[kind, count] = (run.max_rss_mib, int(match[3]), run.wall)
                print(
                    f"  {kind:6s} {count:7,d} users: peak RSS {run.max_rss_mib:6.1f} MiB, "
                    f"{int(match[3]):6,d} failed reservations kept, {run.wall:5.1f} s",
                    flush=True,
                )

    parts = []
    for kind in ("seeded", "empty"):
        ratio = results[kind, args.large][0] / results[kind, args.small][0]
        verdict = "met" if ratio < TARGET else "MISSED"
        parts.append(f"{kind} {args.large:,}/{args.small:,}={ratio:.2f} (< {TARGET:g} {verdict})")
    print("ratios: peak RSS " + ", ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
