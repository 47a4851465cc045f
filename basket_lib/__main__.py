"""``python -m basket_lib scan USERS_FILE``: see basket_lib.scan.cli."""

import gc
import sys

from basket_lib.scan.cli import main

if __name__ == "__main__":
    status = main()
    database = sys.modules.get("basket_lib.store.database")
    if database is not None:
        # Closed here, not by the collector: a clean exit leaves the SQLite file checkpointed.
        database.close_all()
    # Everything the command wrote is closed by now. The interpreter's exit would still walk
    # every object SQLAlchemy, pydantic and aiohttp made in its collections, the largest part of a
    # short run's exit (measured: benchmarks/README.md, Scan throughput); frozen objects are not
    # walked, and none of them has a finalizer left to run.
    gc.freeze()
    sys.exit(status)
