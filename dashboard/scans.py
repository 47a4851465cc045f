"""The failures page's stored scans: the database, starting a scan as a job, its live progress,
Stop and Resume. The scan itself runs in a worker process (basket_lib.scan.worker)."""

from __future__ import annotations

import logging
import time

import streamlit as st

from basket_lib.api.errors import BasketError
from basket_lib.api.redaction import Redactor
from basket_lib.scan import worker
from basket_lib.scan.inputs import ParsedIds
from basket_lib.scan.report import ScanReport
from basket_lib.settings import Settings
from basket_lib.store import scans
from basket_lib.store.database import Database, open_database
from basket_lib.views import scans as scan_views
from basket_lib.views.text import md_escape
from dashboard import data
from dashboard.gate import viewer

_log = logging.getLogger(__name__)
_LAST_WORKER_CHECK = "_scan_worker_checked_at"

PROGRESS_SECONDS = 1.0
STOPPED_POLL_SECONDS = 3.0
# How often a page watching a queued scan checks that a worker will take it.
WORKER_CHECK_SECONDS = 10.0


def database(settings: Settings) -> Database | None:
    """The scan database, migrated; None (with the reason shown) when it cannot be opened."""
    try:
        db = open_database(settings.database_url)
        db.migrate()
    except BasketError as exc:
        data.show_error(exc)
        return None
    return db


def start(
    settings: Settings, db: Database, parsed: ParsedIds, *, label: str, concurrency: int
) -> str | None:
    """Audit the scan, store it queued, start a worker: the new scan's id, or None (the reason
    shown). A scan that cannot be audited is not stored (fail closed with sign-in on). A worker
    that cannot be started is reported on the next run: the caller reruns to show the scan."""
    scan_id = scans.new_scan_id()
    audited = data.audit(
        settings,
        "scan",
        user_ids=[*parsed.ids, *(user for user, _ in parsed.invalid)],
        outcome=f"started scan {scan_id}",
        scan_id=scan_id,
    )
    if not audited:
        return None
    try:
        info = scans.create_scan(
            db,
            user_ids=parsed.ids,
            invalid=parsed.invalid,
            duplicates=parsed.duplicates,
            label=label,
            started_by=viewer(),
            source="page",
            api_host=settings.api_host,
            concurrency=concurrency,
            scan_id=scan_id,
            extras=parsed.extras,
        )
    except BasketError as exc:
        data.show_error(exc)
        return None
    if (problem := _launch()) is not None:
        data.show_error_after_rerun(problem)
    return info.id


@st.cache_resource(show_spinner=False)
def _standby() -> worker.Standby:
    # One per server process: the worker kept ready for whichever session starts a scan next.
    return worker.Standby()


def prepare_worker(settings: Settings) -> None:
    """Get a worker process ready while a new scan is being filled in, so that Start costs no
    interpreter start-up (BASKET_WORKER_STANDBY_SECONDS; a failure is left to the click)."""
    try:
        _standby().prepare(settings)
    except OSError as exc:
        _log.warning("could not start a standby scan worker: %s", exc)


def _launch() -> str | None:
    """Start a worker for the queue: None, or (as markdown) why none could be started."""
    # A watching page's check (ensure_worker) counts from here: the worker just started needs a
    # moment to claim its scan, and a second one would only cost a Python start-up.
    st.session_state[_LAST_WORKER_CHECK] = time.monotonic()
    try:
        _standby().start()
    except OSError as exc:
        _log.error("could not start a scan worker: %s", exc)
        return (
            "The scan is stored, but no worker process could be started to run it "
            f"({md_escape(exc.strerror or type(exc).__name__)}). It waits in the queue; ask the "
            "dashboard's operator to check the server."
        )
    return None


def stop(db: Database, scan_id: str) -> None:
    """Ask the scan to stop; a failure is shown on the next run (the caller reruns)."""
    try:
        scans.request_cancel(db, scan_id)
    except BasketError as exc:
        data.show_error_after_rerun(exc)


def resume(db: Database, scan_id: str) -> None:
    """Queue the stopped scan again and start a worker; a failure is shown on the next run (the
    caller reruns)."""
    try:
        scans.requeue(db, scan_id)
    except BasketError as exc:
        data.show_error_after_rerun(exc)
        return
    if (problem := _launch()) is not None:
        data.show_error_after_rerun(problem)


def ensure_worker(db: Database, info: scans.ScanInfo) -> None:
    """A queued scan with a free slot and no worker to take it (the one started for it found
    every slot taken and exited, or died) gets one; checked at most every WORKER_CHECK_SECONDS
    per session."""
    if info.status is not scans.Status.QUEUED:
        return
    now = time.monotonic()
    if now - st.session_state.get(_LAST_WORKER_CHECK, -WORKER_CHECK_SECONDS) < WORKER_CHECK_SECONDS:
        return
    st.session_state[_LAST_WORKER_CHECK] = now
    try:
        free = scans.running_count(db) < scans.MAX_RUNNING_SCANS
    except BasketError as exc:
        data.show_error(exc)
        return
    if free and (problem := _launch()) is not None:
        st.error(problem, icon=":material/error:")


@st.fragment(run_every=PROGRESS_SECONDS)
def live_progress(db: Database, scan_id: str, tz_name: str) -> None:
    """Which scan it is and its progress, while queued or running, read from the database every
    second, in any session; the whole page reruns once the scan has ended, to show its results."""
    try:
        info = scans.require_scan(db, scan_id)
    except BasketError as exc:
        data.show_error(exc)
        return
    if info.status not in (scans.Status.QUEUED, scans.Status.RUNNING):
        st.rerun()
    # Here, not with the page: only this part reruns, and a queued scan starts meanwhile.
    st.caption(md_escape(scan_views.scan_identity(info, tz_name)))
    ensure_worker(db, info)
    st.progress(scan_views.progress_fraction(info), text=scan_views.progress_text(info))
    if info.cancel_requested:
        st.caption("Stopping… the scan keeps what it fetched so far.")
    elif st.button("Stop scan", key="stop_scan", icon=":material/stop:"):
        stop(db, scan_id)
        st.rerun()


@st.fragment(run_every=STOPPED_POLL_SECONDS)
def follow_stopped(db: Database, scan_id: str, shown: scans.Status) -> None:
    """While a stopped scan's partial results are on screen, notice when someone (in another
    session or browser) resumes it, and show its progress instead."""
    try:
        info = scans.require_scan(db, scan_id)
    except BasketError:
        return  # the page already shows this scan; the next run will say what is wrong
    if info.status is not shown:
        st.rerun()


@st.cache_data(max_entries=64, ttl=3600, show_spinner=False)
def _shared_users(_db: Database, database: str, scan_id: str, other_id: str) -> int:
    # A scan's input users never change once it is stored: one count per pair, not per rerun
    # (about 0.1 s for two scans of 100,000 users).
    return scans.shared_user_count(_db, scan_id, other_id)


def coverage_note(db: Database, info: scans.ScanInfo, other: scans.ScanInfo) -> str | None:
    """The warning that two scans compared did not read the same users (raises StorageError)."""
    return scan_views.coverage_note(info, other, _shared_users(db, db.label, info.id, other.id))


@st.cache_resource(max_entries=8, ttl=3600, show_spinner=False)
def _finished_report(
    _db: Database, database: str, scan_id: str, finished_at: str, _redactor: Redactor
) -> tuple[ScanReport, dict[str, dict[str, str]]]:
    # A finished scan never changes: every rerun (a row picked, a comparison chosen) and every
    # session showing it shares one read of its rows.
    return scans.load_report(_db, scan_id, _redactor), scans.load_extras(_db, scan_id)


def report_of(
    db: Database, info: scans.ScanInfo, settings: Settings
) -> tuple[ScanReport, dict[str, dict[str, str]]]:
    """The scan's report and its users' other input columns (raises StorageError)."""
    if info.finished_at is not None and info.status is not scans.Status.RUNNING:
        return _finished_report(
            db, db.label, info.id, info.finished_at.isoformat(), settings.redactor
        )
    return scans.load_report(db, info.id, settings.redactor), scans.load_extras(db, info.id)
