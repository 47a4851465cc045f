"""``python -m basket_lib.scan.worker_process [--standby]``: the worker process the page starts.

It runs ``python -m basket_lib worker`` (the queue, then exit), with two differences that serve
the page's other sessions and the page's own start-up time:

- it lowers its own CPU priority first when configured to (``BASKET_WORKER_NICE``, a nice
  increment; 0 by default): on a server that runs nothing else, an agent's lookup is then served
  before the batch, which takes longer by what the lookups use;
- with ``--standby`` it is started before its scan (``worker.Standby``): it imports and opens what
  a run needs, then waits until the page writes to its stdin (once the scan is stored) before it
  claims anything; it exits without claiming if its stdin ends first (the page's server has
  gone). Nobody released it within ``BASKET_WORKER_STANDBY_SECONDS``: it closes its stdin, so
  that a release from then on fails and the page starts another worker, and runs what is queued
  before it exits (a release that came just before the close reached no one, but its scan was
  stored first). The click on Start then costs no interpreter start-up and no imports (about
  1 s of CPU on the machines this was measured on).
"""

from __future__ import annotations

import argparse
import enum
import os
import select
import sys
from collections.abc import Sequence
from typing import IO

from basket_lib.api.errors import BasketError, ConfigurationError
from basket_lib.settings import Settings


def lower_priority(increment: int) -> int:
    """Add `increment` to this process's nice value (0: unchanged); the value now in force.
    Called before any thread starts: threads inherit it."""
    return os.nice(increment)


def prepare(settings: Settings) -> None:
    """Import and open what a run needs, so that a released standby starts fetching at once."""
    from basket_lib.api import aiohttp_sender  # noqa: F401  (the scan's sender: aiohttp)
    from basket_lib.connect import build_async_client  # noqa: F401
    from basket_lib.scan import cli, worker  # noqa: F401
    from basket_lib.store import scans
    from basket_lib.store.database import open_database

    try:
        # Connects, checks the schema's version and compiles the queue's query once.
        scans.running_count(open_database(settings.database_url))
    except BasketError:
        return  # the worker command reports it, once released


class Wait(enum.Enum):
    RELEASED = "released"  # the page wrote to stdin (worker.Standby.start)
    GONE = "gone"  # stdin ended without a word: the page's server has gone
    TIMED_OUT = "timed out"


def wait_released(stdin: IO[bytes], seconds: float) -> Wait:
    """How the standby's wait on `stdin` ended, within `seconds`."""
    ready, _, _ = select.select([stdin], [], [], seconds)
    if not ready:
        return Wait.TIMED_OUT
    return Wait.RELEASED if os.read(stdin.fileno(), 1) else Wait.GONE


def main(argv: Sequence[str] | None = None, stdin: IO[bytes] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m basket_lib.scan.worker_process")
    parser.add_argument("--standby", action="store_true", help="wait for stdin to close first")
    args = parser.parse_args(argv)
    try:
        settings: Settings | None = Settings.from_env()
    except ConfigurationError:
        settings = None  # the worker command reports it
    if settings is not None:
        lower_priority(settings.worker_nice)
        if args.standby:
            prepare(settings)
            source = stdin or sys.stdin.buffer
            waited = wait_released(source, settings.worker_standby_seconds)
            if waited is Wait.GONE:
                return 0
            if waited is Wait.TIMED_OUT:
                # A pipe cannot say whether a byte written now would be read: closed first, a
                # late release fails (worker.release) and the page starts another worker.
                source.close()
    from basket_lib.scan import cli

    return cli.main(["worker"])


if __name__ == "__main__":
    sys.exit(main())
