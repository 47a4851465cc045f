"""The failures page's stored scans: the database, starting a scan as a job, its live progress,
Stop and Resume. The scan itself runs in a worker process (basket_lib.scan.worker)."""

from __future__ import annotations

import streamlit as st

from basket_lib.api.errors import BasketError
from basket_lib.scan import worker
from basket_lib.scan.inputs import ParsedIds
from basket_lib.settings import Settings
from basket_lib.store import scans
from basket_lib.store.database import Database, open_database
from basket_lib.views import scans as scan_views
from dashboard import data
from dashboard.gate import viewer

PROGRESS_SECONDS = 1.0
STOPPED_POLL_SECONDS = 3.0


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
    shown). A scan that cannot be audited is not stored (fail closed with sign-in on)."""
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
    worker.launch_worker()
    return info.id


def stop(db: Database, scan_id: str) -> None:
    try:
        scans.request_cancel(db, scan_id)
    except BasketError as exc:
        data.show_error(exc)


def resume(db: Database, scan_id: str) -> None:
    try:
        scans.requeue(db, scan_id)
    except BasketError as exc:
        data.show_error(exc)
        return
    worker.launch_worker()


def ensure_worker(db: Database, info: scans.ScanInfo) -> None:
    """A queued scan with a free slot and no worker to take it (the one started for it exited
    early, or its machine went away) gets one."""
    if info.status is scans.Status.QUEUED and scans.running_count(db) < scans.MAX_RUNNING_SCANS:
        worker.launch_worker()


@st.fragment(run_every=PROGRESS_SECONDS)
def live_progress(db: Database, scan_id: str) -> None:
    """Progress of a queued or running scan, read from the database every second, in any
    session; the whole page reruns once the scan has ended, to show its results."""
    try:
        info = scans.require_scan(db, scan_id)
    except BasketError as exc:
        data.show_error(exc)
        return
    if info.status not in (scans.Status.QUEUED, scans.Status.RUNNING):
        st.rerun()
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
