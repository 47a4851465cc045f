"""The page's scans as jobs: queued, claimed by workers within the running limit, stopped with
their partial results kept, resumed from the queue; `python -m basket_lib worker` runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from basket_lib import simulator
from basket_lib.api.errors import ScanStateError, StorageError
from basket_lib.scan import worker
from basket_lib.settings import Settings
from basket_lib.store import scans
from basket_lib.store.database import Database
from basket_lib.store.scans import Status

ROOT = Path(__file__).resolve().parents[2]
USERS = simulator.demo_user_ids(200)


def _queued(db: Database, users: list[str] = USERS) -> scans.ScanInfo:
    return scans.create_scan(db, user_ids=users, concurrency=8, source="page")


def test_workers_take_queued_scans_oldest_first_within_the_limit(database_url: str) -> None:
    db = Database(database_url)
    first, second, third = (_queued(db) for _ in range(3))
    assert first.status is Status.QUEUED and first.owner is None and first.started_at is None
    taken = [scans.claim_next(db, f"w{i}:1:x", limit=2) for i in range(3)]
    assert [t.id if t else None for t in taken] == [first.id, second.id, None]
    assert scans.running_count(db) == 2
    assert taken[0] is not None and taken[0].status is Status.RUNNING and taken[0].started_at
    # One ends: its slot goes to the scan still waiting.
    recorder = scans.Recorder(db, first.id, "w0:1:x", scans.load_report(db, first.id))
    recorder.complete()
    after = scans.claim_next(db, "w3:1:x", limit=2)
    assert after is not None and after.id == third.id


def test_stop_cancels_a_queued_scan_at_once(database_url: str) -> None:
    db = Database(database_url)
    info = scans.request_cancel(db, _queued(db).id)
    assert info.status is Status.CANCELLED and info.finished_at and info.partial
    assert scans.claim_next(db, "w:1:x") is None


def test_stop_ends_a_running_scan_cancelled_with_what_it_fetched(database_url: str) -> None:
    db = Database(database_url)
    queued = _queued(db)
    owner = scans.new_owner()
    claimed = scans.claim_next(db, owner)
    assert claimed is not None
    recorder = worker.recorder_for(Settings(max_retries=0), db, claimed, owner)
    assert scans.request_cancel(db, queued.id).cancel_requested
    recorder.flush()  # the run's next batch (or heartbeat) sees the request
    assert recorder.cancelled
    run = worker.run_claimed(Settings(max_retries=0), claimed, recorder)
    assert run.status is Status.CANCELLED
    info = scans.require_scan(db, queued.id)
    assert info.status is Status.CANCELLED and info.partial and not info.cancel_requested
    assert 1 <= info.done < len(USERS)
    assert scans.load_report(db, queued.id).outcomes_total == info.done
    # Resumed from the queue, it ends with every user.
    assert scans.requeue(db, queued.id).status is Status.QUEUED
    assert worker.run_queued(Settings(max_retries=0), db) == 1
    done = scans.require_scan(db, queued.id)
    assert done.status is Status.COMPLETED and done.done == len(USERS)
    scans.load_report(db, queued.id).check_complete()


def test_only_a_stopped_scan_is_put_back_in_the_queue(database_url: str) -> None:
    db = Database(database_url)
    info = _queued(db)
    with pytest.raises(ScanStateError, match="is queued; only a stopped scan is resumed"):
        scans.requeue(db, info.id)
    worker.run_queued(Settings(max_retries=0), db)
    with pytest.raises(ScanStateError, match="is completed"):
        scans.requeue(db, info.id)


def test_an_interrupted_scan_of_a_dead_run_goes_back_in_the_queue(database_url: str) -> None:
    db = Database(database_url)
    info = scans.create_scan(db, user_ids=USERS, concurrency=4, owner="gone:1:x")
    with db.begin() as connection:
        connection.execute(
            sa.update(scans.scans).where(scans.scans.c.id == info.id).values(heartbeat_at=None)
        )
    assert scans.require_scan(db, info.id).status is Status.INTERRUPTED
    assert scans.requeue(db, info.id).status is Status.QUEUED


def test_the_worker_command_runs_the_queue_and_exits(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    db = Database(url)
    ids = [_queued(db, USERS[:30]).id, _queued(db, USERS[30:60]).id]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASKET_")}
    env |= {"BASKET_DATABASE_URL": url, "BASKET_API_MAX_RETRIES": "0"}
    proc = subprocess.run(
        [sys.executable, "-m", "basket_lib", "worker"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ran 2 queued scans" in proc.stderr
    for scan_id in ids:
        info = scans.require_scan(db, scan_id)
        assert info.status is Status.COMPLETED and info.done == 30


def test_launch_worker_starts_a_detached_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'launched.db'}"
    monkeypatch.setenv("BASKET_DATABASE_URL", url)
    monkeypatch.setenv("BASKET_API_MAX_RETRIES", "0")
    monkeypatch.chdir(ROOT)
    db = Database(url)
    info = _queued(db, USERS[:10])
    process = worker.launch_worker()
    # A session of its own (until waited for, even an exited child keeps its ids): the page's
    # server being stopped from its terminal does not stop the scan.
    assert os.getsid(process.pid) == process.pid != os.getsid(0)
    assert process.wait(timeout=120) == 0
    assert scans.require_scan(db, info.id).status is Status.COMPLETED


def test_a_stop_the_dead_run_never_saw_does_not_stop_its_resume(database_url: str) -> None:
    db = Database(database_url)
    info = scans.create_scan(db, user_ids=USERS[:20], concurrency=4, owner="gone:1:x")
    assert scans.request_cancel(db, info.id).cancel_requested  # Stop, then the run dies
    with db.begin() as connection:
        connection.execute(
            sa.update(scans.scans).where(scans.scans.c.id == info.id).values(heartbeat_at=None)
        )
    resumed = scans.claim(db, info.id, scans.new_owner())
    assert not resumed.cancel_requested
    run = worker.run_claimed(Settings(max_retries=0), resumed, worker.recorder_for(
        Settings(max_retries=0), db, resumed, resumed.owner or ""))  # fmt: skip
    assert run.status is Status.COMPLETED


def test_stop_after_the_end_changes_nothing(database_url: str) -> None:
    db = Database(database_url)
    info = _queued(db, USERS[:5])
    worker.run_queued(Settings(max_retries=0), db)
    after = scans.request_cancel(db, info.id)
    assert after.status is Status.COMPLETED and not after.cancel_requested


def test_expiry_is_binned_from_when_a_queued_scan_starts(database_url: str) -> None:
    db = Database(database_url)
    info = _queued(db, USERS[:5])
    with db.begin() as connection:  # it waited an hour in the queue
        connection.execute(
            sa.update(scans.scans)
            .where(scans.scans.c.id == info.id)
            .values(as_of=info.created_at - timedelta(hours=1))
        )
    claimed = scans.claim_next(db, "w:1:x")
    assert claimed is not None and claimed.started_at is not None
    assert scans.load_report(db, info.id).as_of == claimed.started_at


def test_a_worker_hands_back_a_scan_of_another_api_and_runs_the_next(database_url: str) -> None:
    db = Database(database_url)
    other = scans.create_scan(db, user_ids=USERS[:5], concurrency=2, api_host="api.other:8443")
    mine = _queued(db, USERS[:5])
    assert mine.api_host is None or mine.api_host == "demo"
    assert worker.run_queued(Settings(max_retries=0), db) == 2
    refused = scans.require_scan(db, other.id)
    assert refused.status is Status.INTERRUPTED and refused.done == 0
    assert refused.error is not None and "started against api.other:8443" in refused.error
    assert scans.require_scan(db, mine.id).status is Status.COMPLETED


def test_a_worker_whose_database_fails_stops_fetching(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(database_url)
    info = _queued(db, USERS)
    owner = scans.new_owner()
    claimed = scans.claim_next(db, owner)
    assert claimed is not None
    recorder = worker.recorder_for(Settings(max_retries=0), db, claimed, owner)
    monkeypatch.setattr(scans, "FLUSH_OUTCOMES", 10)
    broken = StorageError("The scan database x could not be written: disk I/O error")

    def fail(*args: object, **kwargs: object) -> None:
        raise broken

    monkeypatch.setattr(db, "begin", fail)
    with pytest.raises(StorageError):
        worker.run_claimed(Settings(max_retries=0), claimed, recorder)
    # It stopped at the first failed batch instead of fetching every user for nothing.
    assert recorder.report.outcomes_total < len(USERS)
    monkeypatch.undo()
    # Nothing was stored, and the run stopped beating: once its process exits the scan reads as
    # interrupted (it could not even say why: the database is what failed).
    assert not recorder._beat.is_alive()
    assert scans.require_scan(db, info.id).done == 0


def test_an_unexpected_error_hands_the_scan_back_and_the_queue_goes_on(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from basket_lib.scan import engine

    db = Database(database_url)
    broken, fine = _queued(db, USERS[:5]), _queued(db, USERS[5:10])
    real = engine.scan_users_sync
    calls: list[int] = []

    def first_one_breaks(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError(f"a defect near {Settings().redactor!r}")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "scan_users_sync", first_one_breaks)
    assert worker.run_queued(Settings(max_retries=0), db) == 2
    stopped = scans.require_scan(db, broken.id)
    assert stopped.status is Status.INTERRUPTED
    assert stopped.error is not None and "unexpected error: RuntimeError" in stopped.error
    assert scans.require_scan(db, fine.id).status is Status.COMPLETED
    assert f"scan {broken.id} failed: RuntimeError" in capsys.readouterr().err
