"""The page's worker process: started ahead of its scan (standby) and released by the page, at a
lower CPU priority than the dashboard; and the page server's one standby worker (worker.Standby)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

import pytest

from basket_lib import simulator
from basket_lib.scan import cli, worker, worker_process
from basket_lib.settings import Settings
from basket_lib.store import scans
from basket_lib.store.database import open_database
from basket_lib.store.scans import Status

ROOT = Path(__file__).resolve().parents[2]
USERS = simulator.demo_user_ids(40)


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> scans.ScanInfo:
    monkeypatch.setenv("BASKET_API_MAX_RETRIES", "0")
    db = open_database(Settings.from_env().database_url)
    return scans.create_scan(db, user_ids=USERS, concurrency=8, source="page")


def _status(scan_id: str) -> Status:
    return scans.require_scan(open_database(Settings.from_env().database_url), scan_id).status


@pytest.fixture
def nice_increments(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    # In process the priority is recorded, not lowered: the test run keeps its own.
    increments: list[int] = []
    monkeypatch.setattr(worker_process, "lower_priority", increments.append)
    return increments


def test_a_standby_worker_claims_nothing_until_released(
    queued: scans.ScanInfo, monkeypatch: pytest.MonkeyPatch, nice_increments: list[int]
) -> None:
    monkeypatch.setenv("BASKET_WORKER_STANDBY_SECONDS", "600")
    monkeypatch.setenv("BASKET_WORKER_NICE", "7")
    waiting = threading.Event()
    wait = worker_process.wait_released

    def noted_wait(stdin: IO[bytes], seconds: float) -> worker_process.Wait:
        assert seconds == 600
        waiting.set()
        return wait(stdin, seconds)

    monkeypatch.setattr(worker_process, "wait_released", noted_wait)
    read_end, write_end = os.pipe()
    codes: list[int] = []
    with os.fdopen(read_end, "rb", buffering=0) as stdin:
        run = threading.Thread(
            target=lambda: codes.append(worker_process.main(["--standby"], stdin))
        )
        run.start()
        try:
            assert waiting.wait(timeout=120)
            # Ready (imports done, database opened) and waiting: the scan is still queued.
            assert "basket_lib.scan.cli" in sys.modules and "aiohttp" in sys.modules
            assert _status(queued.id) is Status.QUEUED
        finally:
            os.write(write_end, b"\n")  # what the page's Standby.start does
            os.close(write_end)
            run.join(timeout=120)
    assert codes == [0]
    assert _status(queued.id) is Status.COMPLETED
    assert nice_increments == [7]  # BASKET_WORKER_NICE, before the wait


def test_a_standby_nobody_releases_closes_its_input_then_runs_what_is_queued(
    queued: scans.ScanInfo, monkeypatch: pytest.MonkeyPatch, nice_increments: list[int]
) -> None:
    # The page may release it just as its wait ends: a byte in the pipe reaches no one, and the
    # page, seeing the write succeed, starts no other worker. So a late release must fail (the
    # pipe is closed first), and a scan stored before the close must still run.
    monkeypatch.setenv("BASKET_WORKER_STANDBY_SECONDS", "0.01")
    monkeypatch.setenv("BASKET_WORKER_NICE", "4")
    read_end, write_end = os.pipe()
    runs: list[str] = []

    def noted_queue(argv: list[str]) -> int:
        with pytest.raises(BrokenPipeError):
            os.write(write_end, b"\n")  # a release now fails: the page starts another worker
        runs.append(" ".join(argv))
        return cli_main(argv)

    cli_main = cli.main
    monkeypatch.setattr(cli, "main", noted_queue)
    try:
        with os.fdopen(read_end, "rb", buffering=0) as stdin:
            assert worker_process.main(["--standby"], stdin) == 0
    finally:
        os.close(write_end)
    assert runs == ["worker"]
    assert _status(queued.id) is Status.COMPLETED
    assert nice_increments == [4]


def test_a_worker_without_standby_runs_the_queue_at_once(
    queued: scans.ScanInfo, monkeypatch: pytest.MonkeyPatch, nice_increments: list[int]
) -> None:
    assert worker_process.main([]) == 0
    assert _status(queued.id) is Status.COMPLETED
    assert nice_increments == [0]  # BASKET_WORKER_NICE's default: the dashboard's priority


def test_a_configuration_error_is_reported_by_the_worker_command(
    monkeypatch: pytest.MonkeyPatch,
    nice_increments: list[int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BASKET_WORKER_NICE", "-5")  # only root may raise a priority
    assert worker_process.main(["--standby"]) != 0  # no wait for a release that cannot help
    assert "BASKET_WORKER_NICE must be a whole number from 0" in capsys.readouterr().err
    assert nice_increments == []


def test_a_standby_whose_page_server_has_gone_exits_without_claiming(
    queued: scans.ScanInfo, monkeypatch: pytest.MonkeyPatch, nice_increments: list[int]
) -> None:
    monkeypatch.setenv("BASKET_WORKER_STANDBY_SECONDS", "600")
    read_end, write_end = os.pipe()
    os.close(write_end)  # its stdin ends without a word: the server that started it has exited
    with os.fdopen(read_end, "rb", buffering=0) as stdin:
        assert worker_process.main(["--standby"], stdin) == 0
    assert _status(queued.id) is Status.QUEUED


def test_preparing_with_a_database_that_cannot_be_opened_leaves_the_error_to_the_run(
    tmp_path: Path,
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'missing' / 'scans.db'}")
    worker_process.prepare(settings)  # nothing raised: the worker command will say why


def test_lower_priority_raises_the_nice_value_of_the_process() -> None:
    code = (
        "import os; from basket_lib.scan.worker_process import lower_priority; "
        "before = os.nice(0); print(before, lower_priority(3), os.nice(0))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    before, returned, after = map(int, run.stdout.split())
    assert returned == after == min(before + 3, 19)


def test_a_launched_standby_runs_the_queue_once_its_input_ends(
    queued: scans.ScanInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BASKET_WORKER_STANDBY_SECONDS", "600")
    monkeypatch.chdir(ROOT)
    process = worker.launch_worker(standby=True)
    assert os.getsid(process.pid) == process.pid != os.getsid(0)  # detached, like any worker
    assert worker.release(process)
    assert process.wait(timeout=120) == 0
    assert _status(queued.id) is Status.COMPLETED


def test_a_link_planted_at_the_worker_log_is_not_followed_and_the_worker_still_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The temporary folder is shared by every local user: the log is this user's own.
    assert worker.WORKER_LOG.name == f"basket-support-worker-{os.getuid()}.log"
    target = tmp_path / "someone-elses-file"
    target.write_text("theirs\n")
    log = tmp_path / "worker.log"
    log.symlink_to(target)
    monkeypatch.setattr(worker, "WORKER_LOG", log)
    monkeypatch.chdir(ROOT)
    process = worker.launch_worker()  # nothing queued: it runs the empty queue and exits
    assert process.wait(timeout=120) == 0
    assert target.read_text() == "theirs\n"


# --- worker.Standby, over a recorded launch_worker -----------------------------------------------


class FakeInput:
    def __init__(self, fails: bool = False) -> None:
        self.written = b""
        self.closed = False
        self.fails = fails

    def write(self, data: bytes) -> int:
        if self.fails:  # its reader has exited
            raise BrokenPipeError(32, "Broken pipe")
        self.written += data
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> FakeInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FakeProcess:
    def __init__(self, standby: bool) -> None:
        self.standby = standby
        self.stdin: FakeInput | None = FakeInput() if standby else None
        self.exit_code: int | None = None

    def poll(self) -> int | None:
        return self.exit_code


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> list[FakeProcess]:
    processes: list[FakeProcess] = []

    def launch(*, standby: bool = False) -> Any:
        processes.append(FakeProcess(standby))
        return processes[-1]

    monkeypatch.setattr(worker, "launch_worker", launch)
    return processes


ON = Settings(worker_standby_seconds=600)


def test_one_worker_waits_and_the_start_releases_it(launched: list[FakeProcess]) -> None:
    standby = worker.Standby()
    standby.prepare(ON)
    standby.prepare(ON)  # one waits already
    assert [p.standby for p in launched] == [True]
    standby.start()
    assert launched[0].stdin is not None
    assert launched[0].stdin.written == b"\n" and launched[0].stdin.closed  # go
    assert len(launched) == 1  # no other process for this scan
    standby.prepare(ON)  # the next scan's
    assert [p.standby for p in launched] == [True, True]


def test_without_a_waiting_worker_the_start_launches_one(launched: list[FakeProcess]) -> None:
    standby = worker.Standby()
    standby.start()
    assert [p.standby for p in launched] == [False]


def test_a_standby_that_has_exited_is_replaced(launched: list[FakeProcess]) -> None:
    standby = worker.Standby()
    standby.prepare(ON)
    launched[0].exit_code = 0  # its wait ended
    standby.prepare(ON)
    assert [p.standby for p in launched] == [True, True]
    launched[1].exit_code = 0
    standby.start()
    assert [p.standby for p in launched] == [True, True, False]


def test_a_standby_that_cannot_be_released_is_replaced(launched: list[FakeProcess]) -> None:
    standby = worker.Standby()
    standby.prepare(ON)
    launched[0].stdin = FakeInput(fails=True)
    standby.start()
    assert [p.standby for p in launched] == [True, False]


def test_no_standby_when_its_wait_is_configured_to_zero(launched: list[FakeProcess]) -> None:
    standby = worker.Standby()
    standby.prepare(Settings(worker_standby_seconds=0))
    assert launched == []
    standby.start()
    assert [p.standby for p in launched] == [False]


def test_a_process_without_a_pipe_to_it_cannot_be_released() -> None:
    assert worker.release(FakeProcess(standby=False)) is False  # type: ignore[arg-type]


def test_lower_priority_by_nothing_reports_the_nice_value_in_force() -> None:
    assert worker_process.lower_priority(0) == os.nice(0)
