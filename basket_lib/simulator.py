"""The demo Jay Basket API: the real API's HTTP contract with deterministic, realistic data.

Two ways to use it:

- in-process, as an httpx transport (the app's default when no API is configured)::

      httpx.Client(base_url=DEMO_BASE_URL, transport=DemoTransport())

- as a loopback HTTP server, optionally with injected faults::

      with DemoServer(api=DemoApi(api_key="k"), faults=Faults(error_rate=0.1)) as server:
          httpx.get(f"{server.base_url}/baskets/users/demo-normal", headers={"X-API-Key": "k"})

  or from a shell: ``python -m basket_lib.simulator --port 8765 --latency-ms 50``.

Users: the named scenarios in ``SCENARIOS`` (including ``demo-fault-*`` users that always fail in
one way), seeded users ``user-00001`` ... (any ``user-`` + up to six digits), and every other
valid id, which gets an empty basket as on the real API.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable

from basket_lib.demo.api import (
    DEFAULT_API_VERSION,
    DEMO_API_KEY,
    DEMO_BASE_URL,
    SCENARIOS,
    DemoApi,
    DemoResponse,
    user_id_problem,
)
from basket_lib.demo.baskets import DEFAULT_DEMO_USERS, demo_user_ids
from basket_lib.demo.catalogue import CATALOGUE
from basket_lib.demo.server import DemoServer, Faults, check_duration, check_rate
from basket_lib.demo.transport import DemoTransport

__all__ = [
    "CATALOGUE",
    "DEFAULT_API_VERSION",
    "DEFAULT_DEMO_USERS",
    "DEMO_API_KEY",
    "DEMO_BASE_URL",
    "SCENARIOS",
    "DemoApi",
    "DemoResponse",
    "DemoServer",
    "DemoTransport",
    "Faults",
    "demo_user_ids",
    "main",
    "user_id_problem",
]


def _checked(check: Callable[[float], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        try:
            return check(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _parser() -> argparse.ArgumentParser:
    rate, duration = _checked(check_rate), _checked(check_duration)
    parser = argparse.ArgumentParser(
        prog="python -m basket_lib.simulator",
        description="Serve the demo Jay Basket API over HTTP until SIGINT or SIGTERM.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    parser.add_argument("--api-key", help="require this X-API-Key (default: no key required)")
    parser.add_argument("--latency-ms", type=duration, default=0.0, help="added to each answer")
    parser.add_argument("--jitter-ms", type=duration, default=0.0, help="latency varies by ±this")
    parser.add_argument("--error-rate", type=rate, default=0.0, help="share of 503 answers")
    parser.add_argument("--rate-limit-rate", type=rate, default=0.0, help="share of 429 answers")
    parser.add_argument("--retry-after", type=duration, default=1.0, help="Retry-After of a 429")
    parser.add_argument("--stall-rate", type=rate, default=0.0, help="share never answered")
    parser.add_argument(
        "--stall-seconds", type=duration, default=30.0, help="how long a stall lasts"
    )
    parser.add_argument(
        "--malformed-rate", type=rate, default=0.0, help="share of truncated JSON / HTML 502"
    )
    parser.add_argument("--drop-rate", type=rate, default=0.0, help="share closed unanswered")
    parser.add_argument("--seed", type=int, default=7, help="seed of baskets and faults")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"argument --port: must be between 0 and 65535, got {args.port}")
    faults = Faults(
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        error_rate=args.error_rate,
        rate_limit_rate=args.rate_limit_rate,
        retry_after=args.retry_after,
        stall_rate=args.stall_rate,
        malformed_rate=args.malformed_rate,
        drop_rate=args.drop_rate,
        seed=args.seed,
    )
    api = DemoApi(api_key=args.api_key, seed=args.seed, stall_seconds=args.stall_seconds)
    try:
        server = DemoServer(api=api, faults=faults, host=args.host, port=args.port).start()
    except OSError as exc:
        print(f"Cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        print(server.base_url, flush=True)
        stop.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
