"""Running stored scans: one claimed scan to its end, and the worker process the page starts.

The page never scans in its own process (two cores and the GIL are shared with every agent's
lookups): it stores the scan as queued and starts `python -m basket_lib worker`, which claims
queued scans one after the other, at most `scans.MAX_RUNNING_SCANS` at once across every worker
on the database, and exits when none is left. The command line runs its own scan through the
same `run_claimed`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from basket_lib.scan import engine
from basket_lib.scan.report import ScanProgress, ScanReport
from basket_lib.settings import Settings
from basket_lib.store import scans
from basket_lib.store.database import Database

WORKER_LOG = Path(tempfile.gettempdir()) / "basket-support-worker.log"


@dataclass
class Run:
    report: ScanReport
    recorder: scans.Recorder
    status: scans.Status


def recorder_for(
    settings: Settings, db: Database, scan: scans.ScanInfo, owner: str
) -> scans.Recorder:
    """The recorder of a claimed scan, over its report as stored so far."""
    return scans.Recorder(db, scan.id, owner, scans.load_report(db, scan.id, settings.redactor))


def run_claimed(
    settings: Settings,
    scan: scans.ScanInfo,
    recorder: scans.Recorder,
    *,
    concurrency: int | None = None,
    on_progress: Callable[[ScanProgress], Any] | None = None,
    pending: list[str] | None = None,
) -> Run:
    """Fetch what `scan` still lacks, recorded by `recorder` (of the run that claimed it), and
    end it: completed, or cancelled when asked to stop. Ctrl-C / SIGTERM end it interrupted and
    propagate. `pending`: the users still to fetch, when the caller knows them (a new scan)."""
    from basket_lib.connect import build_async_client

    report = recorder.report
    if pending is None:
        pending = scans.pending_user_ids(recorder.db, scan.id)
    workers = concurrency or scan.concurrency
    try:
        engine.scan_users_sync(
            # httpx's pool would otherwise cap the requests in flight at its default.
            lambda: build_async_client(settings, max_connections=workers),
            pending,
            concurrency=workers,
            provider_id=scan.provider_id,
            on_progress=on_progress,
            report=report,
            on_outcome=recorder,
        )
    except scans.ScanCancelled:
        recorder.cancel()
        return Run(report, recorder, scans.Status.CANCELLED)
    except KeyboardInterrupt:
        recorder.interrupt()
        raise
    recorder.complete()
    return Run(report, recorder, scans.Status.COMPLETED)


def run_queued(settings: Settings, db: Database) -> int:
    """Run queued scans until none is left or the running limit is reached; how many ran."""
    owner = scans.new_owner()
    ran = 0
    while (scan := scans.claim_next(db, owner)) is not None:
        run_claimed(settings, scan, recorder_for(settings, db, scan, owner))
        ran += 1
    return ran


def launch_worker() -> subprocess.Popen[bytes]:
    """Start a worker process, detached from the caller's session: it outlives the page's script
    run, the browser tab and a restart of the page. Its errors go to WORKER_LOG; what it does is
    recorded in the database."""
    env = dict(os.environ)
    # The same basket_lib as the caller's, installed or not, wherever the caller was started.
    here = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
    with WORKER_LOG.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "basket_lib", "worker"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env,
            start_new_session=True,
        )
