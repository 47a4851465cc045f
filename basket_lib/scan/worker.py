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
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from basket_lib.api.errors import BasketError, ScanStateError
from basket_lib.scan import engine
from basket_lib.scan.report import ScanProgress, ScanReport
from basket_lib.settings import Settings
from basket_lib.store import scans
from basket_lib.store.database import Database

# One per local user: the temporary folder is shared, and another user's file (or a link planted
# there) must neither take this user's errors nor keep a worker from starting.
WORKER_LOG = Path(tempfile.gettempdir()) / f"basket-support-worker-{os.getuid()}.log"


@dataclass
class Run:
    report: ScanReport
    recorder: scans.Recorder
    status: scans.Status


def recorder_for(
    settings: Settings, db: Database, scan: scans.ScanInfo, owner: str
) -> scans.Recorder:
    """A worker's recorder of a claimed scan, over its report as stored so far: a worker's
    results go only to the database, so a database that fails stops the scan."""
    report = scans.load_report(db, scan.id, settings.redactor)
    return scans.Recorder(db, scan.id, owner, report, stop_on_failure=True)


def check_same_api(settings: Settings, scan: scans.ScanInfo) -> None:
    """A scan is continued only against the API it started on: one scan, one API's baskets."""
    if scan.api_host is not None and scan.api_host != settings.api_host:
        raise ScanStateError(
            f"Scan {scan.id} was started against {scan.api_host}; this configuration talks to "
            f"{settings.api_host}. Resume it where BASKET_API_URL points at {scan.api_host}."
        )


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
    db, owner = recorder.db, recorder.owner
    try:
        check_same_api(settings, scan)
        if pending is None:
            pending = scans.pending_user_ids(db, scan.id)
    except BasketError as exc:
        recorder.discard()
        scans.give_back(db, scan.id, owner, exc.message)
        raise
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
    except BasketError as exc:  # the recorder's own failure (the database, a lost scan)
        recorder.discard()
        scans.give_back(db, scan.id, owner, f"The scan stopped: {exc.message}")
        raise
    except Exception as exc:  # a defect: the scan is handed back, not left running
        recorder.discard()
        reason = settings.redactor.text(f"{type(exc).__name__}: {exc}")
        scans.give_back(db, scan.id, owner, f"The scan stopped on an unexpected error: {reason}")
        raise
    recorder.complete()
    return Run(report, recorder, scans.Status.COMPLETED)


def run_queued(settings: Settings, db: Database) -> int:
    """Run queued scans until none is left or the running limit is reached; how many ran. A scan
    that fails is handed back with the reason (and logged), and the next one runs."""
    owner = scans.new_owner()
    ran = 0
    while (scan := scans.claim_next(db, owner)) is not None:
        ran += 1
        try:
            run_claimed(settings, scan, recorder_for(settings, db, scan, owner))
        except BasketError as exc:
            print(f"scan {scan.id}: {exc.message}", file=sys.stderr, flush=True)
        except Exception as exc:  # a defect must not strand the rest of the queue
            reason = settings.redactor.text(f"{type(exc).__name__}: {exc}")
            print(f"scan {scan.id} failed: {reason}", file=sys.stderr, flush=True)
            scans.give_back(
                db, scan.id, owner, f"The scan stopped on an unexpected error: {reason}"
            )
    return ran


def launch_worker(*, standby: bool = False) -> subprocess.Popen[bytes]:
    """Start a worker process (basket_lib.scan.worker_process), detached from the caller's
    session: it outlives the page's script run, the browser tab and a restart of the page. Its
    errors go to WORKER_LOG; what it does is recorded in the database. `standby`: it gets ready
    and waits, claiming nothing, until Standby.start writes to its stdin (or its wait ends)."""
    env = dict(os.environ)
    # The same basket_lib as the caller's, installed or not, wherever the caller was started.
    here = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "basket_lib.scan.worker_process"]
    with _worker_log() as log:
        return subprocess.Popen(
            [*command, "--standby"] if standby else command,
            stdin=subprocess.PIPE if standby else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env,
            start_new_session=True,
        )


def _worker_log() -> IO[bytes]:
    """WORKER_LOG for appending, never through a link; os.devnull when it cannot be opened (its
    errors are lost, but the scan runs, and what it does is recorded in the database)."""
    try:
        fd = os.open(WORKER_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError:
        return open(os.devnull, "ab")
    return os.fdopen(fd, "ab")


class Standby:
    """At most one worker process kept ready for the next scan (one per page server).

    `prepare` starts one in standby when none waits (while someone fills in a new scan); `start`
    hands the queue to it, or starts a worker the usual way when none is ready. A released
    standby claims the queued scans like any worker, so a scan is never run twice; one never
    released runs what is queued and exits (BASKET_WORKER_STANDBY_SECONDS), or exits when this
    process ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: subprocess.Popen[bytes] | None = None

    def prepare(self, settings: Settings) -> None:
        """Start a worker in standby unless one waits (or BASKET_WORKER_STANDBY_SECONDS is 0)."""
        if settings.worker_standby_seconds <= 0:
            return
        with self._lock:
            if self._waiting is None or self._waiting.poll() is not None:
                self._waiting = launch_worker(standby=True)

    def start(self) -> None:
        """Run the queue now: in the waiting worker, else in a new one (raises OSError)."""
        with self._lock:
            waiting, self._waiting = self._waiting, None
        if waiting is None or waiting.poll() is not None or not release(waiting):
            launch_worker()


def release(standby: subprocess.Popen[bytes]) -> bool:
    """Tell a worker launched in standby to run the queue; False if it has ended its wait."""
    if standby.stdin is None:
        return False
    try:
        with standby.stdin:
            standby.stdin.write(b"\n")
            standby.stdin.flush()
    except OSError:  # a broken pipe: it has just exited
        return False
    return True
