"""The command line's stored scans: `scan` stores, `scans` lists, `export` writes the same files,
`--resume` continues after SIGTERM or SIGKILL with exactly one outcome per user, `--fail-above`
alerts a cron job."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from basket_lib import simulator
from basket_lib.scan import cli
from basket_lib.store import scans
from basket_lib.store.database import Database
from basket_lib.store.schema import scan_outcomes

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-cli-store-key-0123456789"
SCAN_ID = re.compile(r"^scan_id=([0-9a-f]{12}) ", re.M)


@pytest.fixture(autouse=True)
def _audit_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit.jsonl"
    monkeypatch.setenv("BASKET_AUDIT_LOG", str(path))
    return path


def _users(tmp_path: Path, ids: list[str]) -> Path:
    path = tmp_path / "users.txt"
    path.write_text("\n".join(ids) + "\n", encoding="utf-8")
    return path


def _db() -> Database:
    return Database(os.environ["BASKET_DATABASE_URL"])


def _recorded(db: Database, scan_id: str) -> list[str]:
    with db.connect() as connection:
        return list(
            connection.execute(
                sa.select(scan_outcomes.c.user_id).where(scan_outcomes.c.scan_id == scan_id)
            ).scalars()
        )


def test_a_scan_is_stored_listed_and_exported_as_it_wrote_its_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], _audit_log: Path
) -> None:
    users = _users(tmp_path, [*simulator.demo_user_ids(80), "demo-fault-500", "bad id!"])
    failures, errors = tmp_path / "failures.csv", tmp_path / "errors.csv"
    code = cli.main(
        ["scan", str(users), "--label", "nightly", "--failures-csv", str(failures),
         "--errors-csv", str(errors)]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    match = SCAN_ID.search(out)
    assert match, out
    scan_id = match.group(1)
    assert scan_id in _audit_log.read_text(encoding="utf-8")

    assert cli.main(["scans", "--limit", "5"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split("\t") == [
        "scan_id", "status", "started", "done", "failure_rate", "label",
    ]  # fmt: skip
    row = listing[1].split("\t")
    assert row[0] == scan_id and row[1] == "completed" and row[3] == "82/82" and row[5] == "nightly"

    again_failures, again_errors = tmp_path / "again-f.csv", tmp_path / "again-e.csv"
    code = cli.main(
        ["export", scan_id, "--failures-csv", str(again_failures),
         "--errors-csv", str(again_errors)]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    # Sorted by user both times: the stored scan gives back the very same files.
    assert again_failures.read_bytes() == failures.read_bytes()
    assert again_errors.read_bytes() == errors.read_bytes()
    assert failures.read_bytes().startswith(b"\xef\xbb\xbfuser_id,")


def _audited(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_a_resume_and_an_export_are_audited_with_their_users_before_they_fetch_or_write(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    _audit_log: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = _db()
    queued = scans.create_scan(
        db, user_ids=["demo-normal", "demo-checkout-failed"], invalid=[("bad id!", "why")],
        concurrency=2,
    )  # fmt: skip
    assert cli.main(["scan", "--resume", queued.id]) == 0
    (resumed, ended) = _audited(_audit_log)
    assert resumed["outcome"] == f"resumed scan {queued.id}" and resumed["scan_id"] == queued.id
    assert resumed["user_ids"] == ["demo-normal", "demo-checkout-failed"]  # the ones fetched
    assert ended["scan_id"] == queued.id
    capsys.readouterr()

    failures = tmp_path / "failures.csv"
    assert cli.main(["export", queued.id, "--failures-csv", str(failures)]) == 0
    exported = _audited(_audit_log)[-1]
    assert exported["action"] == "export" and exported["source"] == "cli"
    assert exported["user_ids"] == ["demo-normal", "demo-checkout-failed", "bad id!"]
    assert exported["outcome"] == f"exported scan {queued.id} to {failures}"

    # An export that cannot be audited writes nothing.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    monkeypatch.setenv("BASKET_AUDIT_LOG", str(blocker / "audit.jsonl"))
    again = tmp_path / "again.csv"
    assert cli.main(["export", queued.id, "--failures-csv", str(again)]) == 2
    assert "audit log cannot be written" in capsys.readouterr().err
    assert not again.exists() and not list(tmp_path.glob("*.partial"))


def test_an_unwritable_csv_path_stores_no_scan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = str(_users(tmp_path, ["demo-checkout-failed"]))
    missing = tmp_path / "no-such-folder" / "failures.csv"
    assert cli.main(["scan", users, "--failures-csv", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
    assert scans.list_scans(_db()) == []


def test_export_and_resume_of_an_unknown_scan_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["export", "0123456789ab", "--errors-csv", os.devnull]) == 2
    assert "no stored scan '0123456789ab'" in capsys.readouterr().err
    assert cli.main(["scan", "--resume", "0123456789ab"]) == 2
    assert "no stored scan" in capsys.readouterr().err


def test_a_completed_scan_is_not_resumed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["scan", str(_users(tmp_path, ["demo-normal"]))]) == 0
    match = SCAN_ID.search(capsys.readouterr().out)
    assert match
    assert cli.main(["scan", "--resume", match.group(1)]) == 2
    assert "is completed: there is nothing to resume" in capsys.readouterr().err


def test_fail_above_exits_3_when_the_rate_is_higher(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = str(_users(tmp_path, ["demo-checkout-failed", "demo-normal"]))
    assert cli.main(["scan", users, "--fail-above", "0.1"]) == 3
    err = capsys.readouterr().err
    assert "is above --fail-above 10.00%" in err
    assert cli.main(["scan", users, "--fail-above", "1"]) == 0
    assert cli.main(["scan", users, "--fail-above", "1.5"]) == 2
    assert "must be a number from 0 to 1" in capsys.readouterr().err


def test_no_store_keeps_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["scan", str(_users(tmp_path, ["demo-normal"])), "--no-store"]) == 0
    assert not SCAN_ID.search(capsys.readouterr().out)
    assert scans.list_scans(_db()) == []


def test_a_database_that_cannot_be_opened_exits_2_before_any_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BASKET_DATABASE_URL", f"sqlite:///{tmp_path}/missing/scans.db")
    assert cli.main(["scan", str(_users(tmp_path, ["demo-normal"]))]) == 2
    err = capsys.readouterr().err
    assert "scans.db could not be opened" in err and "missing does not exist" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "command", [["scan", "USERS"], ["scans"], ["export", "abc", "--errors-csv", "e.csv"]]
)
def test_an_unusable_database_url_exits_2_with_what_is_wrong(
    command: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Settings leave the URL to the store, which checks it when the command opens it.
    monkeypatch.setenv("BASKET_DATABASE_URL", "mysql://user:hunter2@host/scans")
    users = str(_users(tmp_path, ["demo-normal"]))
    argv = [
        users if arg == "USERS" else str(tmp_path / arg) if arg.endswith(".csv") else arg
        for arg in command
    ]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "BASKET_DATABASE_URL names a mysql database" in err
    assert "hunter2" not in err and "Traceback" not in err


def _start(users: Path, server: simulator.DemoServer, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASKET_")}
    env |= {"BASKET_API_URL": server.base_url, "BASKET_API_KEY": SECRET, "NO_PROXY": "127.0.0.1"}
    env |= {"BASKET_AUDIT_LOG": os.devnull, "BASKET_API_MAX_RETRIES": "0"}
    env["BASKET_DATABASE_URL"] = os.environ["BASKET_DATABASE_URL"]
    return subprocess.Popen(
        [sys.executable, "-m", "basket_lib", "scan", *extra] + ([str(users)] if users.name else []),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _running_scan(db: Database) -> str:
    found = scans.list_scans(db, limit=1)
    assert found and found[0].stored_status == "running", found
    return found[0].id


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_scan_resumes_with_one_outcome_per_user_and_nothing_fetched_again(
    tmp_path: Path, how: signal.Signals
) -> None:
    ids = simulator.demo_user_ids(scans.FLUSH_OUTCOMES + 1000)
    users = _users(tmp_path, ids)
    db = _db()
    with simulator.DemoServer(api=simulator.DemoApi(api_key=SECRET)) as server:
        first = _start(users, server, "--concurrency", "16")
        # A batch is written while no request goes out, at the latest when it holds
        # FLUSH_OUTCOMES: once the server has seen this many, one batch is stored at least, and
        # more outcomes are in flight or unwritten.
        assert server.wait_for_requests(scans.FLUSH_OUTCOMES + 16, timeout=120)
        scan_id = _running_scan(db)
        first.send_signal(how)
        _, err = first.communicate(timeout=120)
        # What it sent just before it died may still be read by the server: counted first.
        assert server.wait_for_closed_connections(timeout=60)
        stored_first = set(_recorded(db, scan_id))
        before = server.requests_by_user
        info = scans.require_scan(db, scan_id)
        if how == signal.SIGKILL:
            assert first.returncode == -signal.SIGKILL
            # Its process is gone: recognised at once, no waiting for the heartbeat to go stale.
            assert info.stored_status == "running" and info.status == "interrupted"
        else:
            assert first.returncode == 143, err
            assert f"scan {scan_id} stored as interrupted" in err
            assert f"--resume {scan_id}" in err
            assert info.stored_status == "interrupted"
        assert 0 < len(stored_first) < len(ids)

        failures_csv = tmp_path / "failures.csv"
        second = _start(Path(""), server, "--resume", scan_id, "--failures-csv", str(failures_csv))
        out, err = second.communicate(timeout=300)
        assert second.returncode == 0, err
        assert f"scan_id={scan_id} users={len(ids)} scanned={len(ids)}" in out
        after = server.requests_by_user

    recorded = _recorded(db, scan_id)
    assert len(recorded) == len(set(recorded)) == len(ids)  # never recorded twice, none lost
    assert set(recorded) == set(ids)
    resumed_fetches = after - before
    # What the first run stored was not fetched again; the rest was fetched by the resume.
    assert not set(resumed_fetches) & stored_first
    assert set(resumed_fetches) == set(ids) - stored_first
    assert all(n == 1 for n in resumed_fetches.values()), {
        u: n for u, n in resumed_fetches.items() if n != 1
    }
    assert scans.require_scan(db, scan_id).status == "completed"
    with failures_csv.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == scans.require_scan(db, scan_id).failed_reservations > 0


def test_a_scan_that_is_still_running_is_never_run_twice(tmp_path: Path) -> None:
    users = _users(tmp_path, simulator.demo_user_ids(600))
    db = _db()
    with simulator.DemoServer(
        api=simulator.DemoApi(api_key=SECRET), faults=simulator.Faults(latency_ms=50)
    ) as server:
        first = _start(users, server, "--concurrency", "2")
        try:
            assert server.wait_for_requests(1, timeout=120)
            scan_id = _running_scan(db)
            second = _start(Path(""), server, "--resume", scan_id)
            _, err = second.communicate(timeout=120)
            assert second.returncode == 2
            assert f"Scan {scan_id} is still running" in err and "never run twice" in err
        finally:
            first.send_signal(signal.SIGTERM)
            first.communicate(timeout=120)


def test_extra_input_columns_are_carried_into_the_csvs_and_kept_for_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = tmp_path / "tickets.csv"
    users.write_text(
        "User ID;Ticket;name\ndemo-checkout-failed;T-1;Ann\ndemo-fault-500;T-2;Bob\n",
        encoding="utf-8",
    )
    failures, errors = tmp_path / "f.csv", tmp_path / "e.csv"
    argv = ["scan", str(users), "--failures-csv", str(failures), "--errors-csv", str(errors)]
    assert cli.main(argv) == 0
    match = SCAN_ID.search(capsys.readouterr().out)
    assert match
    with failures.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # The input's "name" is told apart from the product name column.
    assert {(r["user_id"], r["Ticket"], r["input name"]) for r in rows} == {
        ("demo-checkout-failed", "T-1", "Ann")
    }
    with errors.open(encoding="utf-8-sig", newline="") as handle:
        assert [(r["user_id"], r["Ticket"]) for r in csv.DictReader(handle)] == [
            ("demo-fault-500", "T-2")
        ]
    again = tmp_path / "again.csv"
    assert cli.main(["export", match.group(1), "--failures-csv", str(again)]) == 0
    assert again.read_bytes() == failures.read_bytes()


def test_a_scan_is_resumed_only_against_the_api_it_started_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _db()
    info = scans.create_scan(db, user_ids=["demo-normal"], concurrency=1, api_host="api.a:8443")
    assert cli.main(["scan", "--resume", info.id]) == 2
    err = capsys.readouterr().err
    assert "was started against api.a:8443; this configuration talks to demo" in err
    assert scans.require_scan(db, info.id).status == "queued"  # untouched


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["scan", "u.txt", "--fail-above", "lots"], "must be a number from 0 to 1"),
        (["scans", "--limit", "0"], "must be a whole number from 1 to 10000"),
        (["scan", "u.txt", "--resume", "0123456789ab"], "USERS_FILE cannot be given with --resume"),
        (["scan", "--resume", "0123456789ab", "--label", "x"], "--label cannot be given with"),
        (["scan", "--resume", "0123456789ab", "--no-store"], "--no-store cannot be given with"),
        (["export", "0123456789ab"], "export needs --failures-csv PATH, --errors-csv PATH"),
    ],
)
def test_store_usage_errors_exit_2(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _users(tmp_path, ["demo-normal"])
    if "u.txt" in argv:
        argv = [str(tmp_path / "users.txt") if a == "u.txt" else a for a in argv]
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_queued_scan_is_run_by_resume_and_by_the_worker_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = _db()
    first = scans.create_scan(db, user_ids=["demo-normal", "demo-checkout-failed"], concurrency=2,
                              api_host="demo")  # fmt: skip
    assert cli.main(["scan", "--resume", first.id]) == 0
    captured = capsys.readouterr()
    assert f"resuming scan {first.id}: 0 of 2 users already have an outcome, 2 to fetch" in (
        captured.err
    )
    assert f"scan_id={first.id} users=2 scanned=2" in captured.out
    second = scans.create_scan(db, user_ids=["demo-normal"], concurrency=1, api_host="demo")
    assert cli.main(["worker"]) == 0
    assert "ran 1 queued scan" in capsys.readouterr().err
    assert scans.require_scan(db, second.id).status == "completed"


def test_an_export_to_a_folder_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["scan", str(_users(tmp_path, ["demo-normal"]))]) == 0
    match = SCAN_ID.search(capsys.readouterr().out)
    assert match
    assert cli.main(["export", match.group(1), "--errors-csv", str(tmp_path)]) == 2
    assert f"cannot write {tmp_path}: it is a directory" in capsys.readouterr().err


def test_a_cli_scan_stopped_from_the_page_ends_cancelled_with_exit_130(tmp_path: Path) -> None:
    import threading

    users = _users(tmp_path, simulator.demo_user_ids(400))
    db = _db()
    codes: list[int] = []
    with simulator.DemoServer(
        api=simulator.DemoApi(api_key=SECRET), faults=simulator.Faults(latency_ms=50)
    ) as server:
        env = {"BASKET_API_URL": server.base_url, "BASKET_API_KEY": SECRET}
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            patch.setenv("NO_PROXY", "127.0.0.1")
            run = threading.Thread(
                target=lambda: codes.append(cli.main(["scan", str(users), "--concurrency", "2"]))
            )
            run.start()
            assert server.wait_for_requests(5, timeout=120)
            scan_id = _running_scan(db)
            scans.request_cancel(db, scan_id)  # the page's Stop
            run.join(timeout=120)
    assert codes == [130]
    info = scans.require_scan(db, scan_id)
    assert info.status == "cancelled" and info.partial and 0 < info.done < 400


def test_a_cli_scan_whose_database_fails_still_writes_its_csv_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from basket_lib.api.errors import StorageError

    def disk_full(*args: object, **kwargs: object) -> object:
        raise StorageError("The scan database x could not be written: database or disk is full")

    failures = tmp_path / "failures.csv"
    users = _users(tmp_path, ["demo-checkout-failed", *simulator.demo_user_ids(30)])
    original = scans.Recorder.flush

    # Creating the scan works; from the first batch on, every write fails.

    def failing_flush(self: scans.Recorder, **final: object) -> None:
        monkeypatch.setattr(scans, "_chunks", disk_full)
        original(self, **final)

    monkeypatch.setattr(scans.Recorder, "flush", failing_flush)
    assert cli.main(["scan", str(users), "--failures-csv", str(failures)]) == 2
    captured = capsys.readouterr()
    assert "the scan was not stored completely" in captured.err
    assert "database or disk is full" in captured.err and "CSV files written" in captured.err
    assert SCAN_ID.search(captured.out)  # the summary still has every result
    with failures.open(encoding="utf-8-sig", newline="") as handle:
        assert "demo-checkout-failed" in {row["user_id"] for row in csv.DictReader(handle)}
