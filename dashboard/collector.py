"""The Streamlit server's garbage collector, tuned for a long-running process.

With Python's defaults the collector cost a basket lookup about 5 ms of the server's 27-33 ms of
CPU (benchmarks/README.md, "Agents"): every few dozen lookups a full collection walked every
object pandas, pyarrow, pydantic and Streamlit had made at import (74-104 ms each), and the
youngest generation was collected every 700 allocations, about once per lookup.
"""

from __future__ import annotations

import gc
import sys
import threading

# Youngest generation: collected after this many more allocations than deallocations, not 700.
# Most of a script run's temporaries are freed by their reference counts long before that, so
# far fewer objects are ever walked; cycles among them still go after at most this many.
YOUNG_THRESHOLD = 10_000
_LOCK = threading.Lock()
_modules_frozen = -1  # how many modules were imported at the last freeze


def tune() -> None:
    """Once per process: the youngest generation's threshold (the older two keep theirs)."""
    young, middle, oldest = gc.get_threshold()
    if young != YOUNG_THRESHOLD:
        gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)


def freeze_after_imports() -> bool:
    """After a script run: if modules were imported since the last call, move every object the
    collector tracks to its permanent generation (gc.freeze), so that full collections no longer
    walk the libraries' objects. True when it froze.

    A handful of times per process (the first basket, the first scan page, ...), never per
    lookup: objects frozen are only ever freed by their reference counts, so the reference
    cycles among the objects of that moment's sessions are kept for good, which is bounded by
    how often a new module is imported.
    """
    global _modules_frozen
    with _LOCK:
        imported = len(sys.modules)
        if imported == _modules_frozen:
            return False
        gc.freeze()
        _modules_frozen = imported
        return True
