"""`python -m basket_lib scan`: against the in-process demo API, in-process and as a subprocess."""

from __future__ import annotations

import csv
import http.server
import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from basket_lib import connect, simulator
from basket_lib.scan import cli, engine, export, inputs
from basket_lib.scan.report import ScanProgress, ScanReport
from basket_lib.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SUMMARY = re.compile(
    r"(?:scan_id=[0-9a-f]{12} )?users=(\d+) scanned=(\d+) with_checkout=(\d+) "
    r"failed_reservations=(\d+) errors=(\d+) "
    r"seconds=\d+\.\d\d"
)
SECRET = "sk-cli-test-key-0123456789"


@pytest.fixture(autouse=True)
def _audit_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit.jsonl"
    monkeypatch.setenv("BASKET_AUDIT_LOG", str(path))
    return path


def _users_file(tmp_path: Path, lines: list[str], name: str = "users.txt") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _summary(stdout: str) -> dict[str, int]:
    match = SUMMARY.fullmatch(stdout.strip())
    assert match, stdout
    keys = ("users", "scanned", "with_checkout", "failed_reservations", "errors")
    return dict(zip(keys, map(int, match.groups()), strict=True))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _expected_failures(user_ids: list[str]) -> list[tuple[str, str, str]]:
    """The same users read one by one with the synchronous client: an independent count."""
    client = connect.build_client(Settings.from_env())
    expected = []
    for user_id in user_ids:
        for item in client.get_basket(user_id).basket.failed_reservations:
            expected.append((user_id, item.product_id, str(item.stocked)))
    client.close()
    return sorted(expected)


# --- a scan ---------------------------------------------------------------------------------


def test_scan_writes_summary_and_csvs_and_accounts_for_every_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo_ids = simulator.demo_user_ids(150)
    lines = ["name,user_id", *(f"n{i},{u}" for i, u in enumerate(demo_ids))]
    lines += ["dup,user-00001", "bad,..", "fault,demo-fault-404"]
    users = _users_file(tmp_path, lines)
    failures_csv, errors_csv = tmp_path / "failures.csv", tmp_path / "errors.csv"

    code = cli.main(
        [
            "scan",
            str(users),
            "--concurrency",
            "8",
            "--failures-csv",
            str(failures_csv),
            "--errors-csv",
            str(errors_csv),
        ]
    )

    out = capsys.readouterr()
    assert code == 0
    summary = _summary(out.out)
    # 150 demo users + an invalid id + a failing user; the duplicate is one user.
    assert summary["users"] == 152
    assert summary["scanned"] + summary["errors"] == summary["users"]
    assert summary["errors"] == 2
    assert "1 duplicate id ignored" in out.err
    assert "invalid user id '..'" in out.err

    failures = _rows(failures_csv)
    # The input's own "name" column rides along, told apart from the product's name.
    assert list(failures[0]) == [*export.FAILURE_COLUMNS, "input name"]
    names = {u: f"n{i}" for i, u in enumerate(demo_ids)}
    assert all(r["input name"] == names[r["user_id"]] for r in failures)
    assert len(failures) == summary["failed_reservations"] > 0
    assert sorted((r["user_id"], r["product_id"], r["stocked"]) for r in failures) == (
        _expected_failures(demo_ids)
    )
    assert [r["user_id"] for r in failures] == sorted(r["user_id"] for r in failures)

    errors = {r["user_id"]: r for r in _rows(errors_csv)}
    assert errors[".."]["kind"] == "invalid user id"
    assert errors["demo-fault-404"]["kind"] == "not found"
    assert errors["demo-fault-404"]["http_status"] == "404"
    assert errors["demo-fault-404"]["api_code"] == "2005"
    assert not list(tmp_path.glob("*.partial"))


def test_plain_text_file_and_provider_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: dict[str, Any] = {}
    real_scan, real_build = engine.scan_users_sync, connect.build_async_client

    def spy_scan(factory: Any, ids: list[str], **options: Any) -> ScanReport:
        calls.update(options, ids=ids)
        return real_scan(factory, ids, **options)

    def spy_build(settings: Any, **overrides: Any) -> Any:
        calls["overrides"] = overrides
        return real_build(settings, **overrides)

    monkeypatch.setattr(engine, "scan_users_sync", spy_scan)
    monkeypatch.setattr(connect, "build_async_client", spy_build)
    users = _users_file(tmp_path, ["user-00001", "", "user-00002"], name="users.txt")

    code = cli.main(["scan", str(users), "--provider-id", "netflix", "--concurrency", "3"])

    assert code == 0
    assert _summary(capsys.readouterr().out)["users"] == 2
    assert calls["ids"] == ["user-00001", "user-00002"]
    assert calls["provider_id"] == "netflix" and calls["concurrency"] == 3
    assert calls["overrides"] == {"max_connections": 3}


def test_progress_on_a_log_is_a_line_per_tenth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = _users_file(tmp_path, ["user_id", *simulator.demo_user_ids(400)])
    assert cli.main(["scan", str(users)]) == 0
    progress = [line for line in capsys.readouterr().err.splitlines() if "progress" in line]
    assert "\r" not in "".join(progress)
    assert 10 <= len(progress) <= 11
    assert progress[-1].startswith("progress 400/400 (100%)")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_rewrites_one_line() -> None:
    stream = _Terminal()
    printer = cli.ProgressPrinter(stream)
    for done in range(0, 101, 5):
        printer(ScanProgress(done, 100, 1, 2, 3))
    text = stream.getvalue()
    assert text.count("\r") == 21
    assert text.count("\n") == 1 and text.endswith("(100%) failed_reservations=2 errors=1\n")


def test_progress_for_an_empty_scan() -> None:
    stream = io.StringIO()
    cli.ProgressPrinter(stream)(ScanProgress(0, 0, 0, 0, 0))
    assert stream.getvalue() == "progress 0/0 (100%) failed_reservations=0 errors=0\n"


# --- usage and configuration errors ---------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "required: command"),
        (["scan"], "scan needs USERS_FILE, or --resume SCAN_ID"),
        (["scan", "{users}", "--concurrency", "0"], "from 1 to 256, got '0'"),
        (["scan", "{users}", "--concurrency", "many"], "got 'many'"),
        (["scan", "{users}", "--concurrency", "1000"], "got '1000'"),
        (["scan", "{users}", "--provider-id", " "], "must not be empty"),
        (["scan", "{users}", "--colour"], "unrecognized arguments: --colour"),
        (["scan", "{missing}"], "No such file"),
        (["scan", "{empty}"], "is empty"),
        (["scan", "{wrong}"], "no user_id column (found columns: 'id', 'name')"),
        (["scan", "{users}", "--failures-csv", "{nodir}/f.csv"], "cannot write"),
        (["scan", "{users}", "--errors-csv", "{tmp}"], "cannot write"),
    ],
)
def test_usage_errors_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    paths = {
        "users": _users_file(tmp_path, ["user_id", "user-00001"]),
        "missing": tmp_path / "missing.csv",
        "empty": _users_file(tmp_path, [], name="empty.csv"),
        "wrong": _users_file(tmp_path, ["id,name", "1,Ann"], name="wrong.csv"),
        "nodir": tmp_path / "no" / "such" / "dir",
        "tmp": tmp_path,
    }
    code = cli.main([arg.format(**paths) for arg in args])
    out = capsys.readouterr()
    assert code == 2
    assert out.out == ""
    assert message in out.err
    assert "Traceback" not in out.err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["scan", "--help"]) == 0
    assert "--failures-csv" in capsys.readouterr().out


def test_more_ids_than_the_cap_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inputs, "MAX_SCAN_USERS", 2)
    users = _users_file(tmp_path, ["user-00001", "user-00002", "user-00003"])
    assert cli.main(["scan", str(users)]) == 2
    assert "3 distinct valid ids; the limit is 2" in capsys.readouterr().err


@pytest.mark.parametrize(
    "env",
    [
        {"BASKET_API_KEY": SECRET},
        {"BASKET_API_URL": "ftp://api.example.com", "BASKET_API_KEY": SECRET},
        {
            "BASKET_API_URL": "https://api.example.com",
            "BASKET_API_KEY": SECRET,
            "BASKET_API_TIMEOUT": "x",
        },
    ],
)
def test_configuration_errors_exit_2_without_the_key(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    users = _users_file(tmp_path, ["user-00001"])
    assert cli.main(["scan", str(users)]) == 2
    out = capsys.readouterr()
    assert "BASKET_API_" in out.err and "Traceback" not in out.err
    assert SECRET not in out.err + out.out


def test_interrupted_scan_keeps_the_previous_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> ScanReport:
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "scan_users_sync", interrupted)
    failures_csv = tmp_path / "failures.csv"
    failures_csv.write_text("yesterday\n", encoding="utf-8")
    users = _users_file(tmp_path, ["user-00001"])

    assert cli.main(["scan", str(users), "--failures-csv", str(failures_csv)]) == 130
    assert failures_csv.read_text(encoding="utf-8") == "yesterday\n"
    assert not list(tmp_path.glob("*.partial"))
    assert "interrupted" in capsys.readouterr().err


def test_invisible_characters_make_an_invalid_id_named_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = ["user-00001", "user-0000\u200b2", "\ufeffuser-00003", "user-\u202e40000"]
    users = _users_file(tmp_path, lines)
    errors_csv = tmp_path / "errors.csv"
    assert cli.main(["scan", str(users), "--errors-csv", str(errors_csv)]) == 0

    err = capsys.readouterr().err
    assert "U+200B ZERO WIDTH SPACE" in err and "(line 2)" in err
    assert "U+FEFF" in err and "(line 3)" in err
    assert "U+202E" in err and "(line 4)" in err  # right-to-left override: reads as user-00004
    rows = _rows(errors_csv)
    assert sorted(row["kind"] for row in rows) == ["invalid user id"] * 3


# --- the audit log ----------------------------------------------------------------------------


def test_a_scan_is_audited_with_every_input_line(tmp_path: Path, _audit_log: Path) -> None:
    users = _users_file(tmp_path, ["user-00001", "..", "demo-fault-404", "user-00001"])
    assert cli.main(["scan", str(users)]) == 0

    # When it started (before anything was stored) and when it ended, with every input line.
    started, ended = [json.loads(text) for text in _audit_log.read_text("utf-8").splitlines()]
    for line in (started, ended):
        assert line["action"] == "scan" and line["source"] == "cli" and line["viewer"] is None
        assert sorted(line["user_ids"]) == ["..", "demo-fault-404", "user-00001"]
        assert line["scan_id"] == started["scan_id"]
    assert started["outcome"] == f"started scan {started['scan_id']}"
    assert ended["outcome"].startswith("users=3 scanned=1 ")


def test_a_scan_that_cannot_be_audited_writes_no_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    monkeypatch.setenv("BASKET_AUDIT_LOG", str(blocker / "audit.jsonl"))
    users = _users_file(tmp_path, ["user-00001"])
    failures_csv = tmp_path / "failures.csv"

    assert cli.main(["scan", str(users), "--failures-csv", str(failures_csv)]) == 2
    err = capsys.readouterr().err
    assert "audit log cannot be written" in err and str(blocker) in err
    assert not failures_csv.exists() and not list(tmp_path.glob("*.partial"))
    # Nor is anything stored: the scan is audited before it exists.
    from basket_lib.store import scans
    from basket_lib.store.database import Database

    assert scans.list_scans(Database(os.environ["BASKET_DATABASE_URL"])) == []


# --- as a subprocess --------------------------------------------------------------------------


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("BASKET_")}
    base["BASKET_AUDIT_LOG"] = os.devnull
    base["BASKET_DATABASE_URL"] = os.environ["BASKET_DATABASE_URL"]
    return subprocess.run(
        [sys.executable, "-m", "basket_lib", *args],
        cwd=ROOT,
        env=base | (env or {}),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_python_m_basket_lib_scan(tmp_path: Path) -> None:
    users = _users_file(tmp_path, ["user_id", *simulator.demo_user_ids(50), "demo-fault-500"])
    errors_csv = tmp_path / "errors.csv"
    proc = _run("scan", str(users), "--errors-csv", str(errors_csv))
    assert proc.returncode == 0, proc.stderr
    summary = _summary(proc.stdout)
    assert summary["users"] == 51 and summary["errors"] == 1
    assert [r["kind"] for r in _rows(errors_csv)] == ["server error"]


def test_python_m_basket_lib_usage_error(tmp_path: Path) -> None:
    proc = _run("scan", str(tmp_path / "missing.csv"), env={"BASKET_API_KEY": SECRET})
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr
    assert SECRET not in proc.stderr


# --- where the results go -----------------------------------------------------------------------


def test_a_link_to_a_regular_file_stays_a_link_and_its_target_is_replaced(tmp_path: Path) -> None:
    users = _users_file(tmp_path, ["demo-checkout-failed"])
    target = tmp_path / "kept" / "failures.csv"
    target.parent.mkdir()
    target.write_text("yesterday\n", encoding="utf-8")
    link = tmp_path / "failures.csv"
    link.symlink_to(target)

    assert cli.main(["scan", str(users), "--failures-csv", str(link)]) == 0
    assert link.is_symlink() and link.resolve() == target
    assert _rows(target)[0]["user_id"] == "demo-checkout-failed"
    assert not list(tmp_path.rglob("*.partial"))


def test_a_full_disk_names_the_path_and_leaves_nothing_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("this system has no /dev/full")
    users = _users_file(tmp_path, ["demo-checkout-failed"])
    link = tmp_path / "failures.csv"
    link.symlink_to("/dev/full")

    assert cli.main(["scan", str(users), "--failures-csv", str(link)]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {link}: No space left on device" in err
    assert link.is_symlink() and os.readlink(link) == "/dev/full"
    assert not list(tmp_path.rglob("*.partial"))


def test_a_fifo_is_written_through_not_replaced(tmp_path: Path) -> None:
    users = _users_file(tmp_path, ["demo-checkout-failed"])
    fifo = tmp_path / "failures.fifo"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text("utf-8")))
    reader.start()

    assert cli.main(["scan", str(users), "--failures-csv", str(fifo)]) == 0
    reader.join(timeout=30)
    assert fifo.is_fifo()
    assert (
        received
        and received[0].startswith("\ufeffuser_id,")
        and "demo-checkout-failed" in received[0]
    )


def test_failures_to_stdout(tmp_path: Path) -> None:
    users = _users_file(tmp_path, ["demo-checkout-failed"])
    proc = _run("scan", str(users), "--failures-csv", "/dev/stdout")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("\ufeffuser_id,") and any("demo-checkout-failed" in x for x in lines)
    assert SUMMARY.fullmatch(lines[-1])


def test_failures_to_stdout_redirected_to_a_file_keep_the_summary(tmp_path: Path) -> None:
    users = _users_file(tmp_path, ["demo-checkout-failed"])
    out = tmp_path / "out.txt"
    with out.open("w", encoding="utf-8") as handle:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "basket_lib",
                "scan",
                str(users),
                "--failures-csv",
                "/dev/stdout",
            ],
            cwd=ROOT,
            env={**os.environ, "BASKET_AUDIT_LOG": os.devnull},
            stdout=handle,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("\ufeffuser_id,") and SUMMARY.fullmatch(lines[-1])
    assert Path("/dev/stdout").is_symlink() or not Path("/dev/stdout").is_file()


def test_a_key_refused_for_every_user_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    users = _users_file(tmp_path, ["user-00001", "user-00002", "user-00003"])
    failures_csv = tmp_path / "failures.csv"
    with simulator.DemoServer(api=simulator.DemoApi(api_key="the-right-key-0815")) as server:
        monkeypatch.setenv("BASKET_API_URL", server.base_url)
        monkeypatch.setenv("BASKET_API_KEY", SECRET)
        code = cli.main(["scan", str(users), "--failures-csv", str(failures_csv)])
    out = capsys.readouterr()
    assert code == 2 and out.out == ""
    assert "refused the key for every user (HTTP 401)" in out.err and "BASKET_API_KEY" in out.err
    assert SECRET not in out.err
    assert not failures_csv.exists() and not list(tmp_path.glob("*.partial"))


def test_the_file_written_before_the_rename_cannot_be_redirected_and_keeps_the_targets_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = _users_file(tmp_path, simulator.demo_user_ids(5))
    failures_csv = tmp_path / "failures.csv"
    failures_csv.write_text("yesterday\n", encoding="utf-8")
    failures_csv.chmod(0o600)  # customer data kept private
    # A link planted where a predictable partial file would be written.
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched\n", encoding="utf-8")
    (tmp_path / "failures.csv.partial").symlink_to(victim)

    assert cli.main(["scan", str(users), "--failures-csv", str(failures_csv)]) == 0
    capsys.readouterr()
    assert victim.read_text(encoding="utf-8") == "untouched\n"
    assert failures_csv.read_text(encoding="utf-8").startswith("\ufeffuser_id,")
    assert stat.S_IMODE(failures_csv.stat().st_mode) == 0o600
    # A new file gets what the umask gives it, as any file the shell would create.
    fresh = tmp_path / "fresh.csv"
    assert cli.main(["scan", str(users), "--failures-csv", str(fresh)]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask


def test_sigterm_ends_with_143_a_message_and_no_partial_files(tmp_path: Path) -> None:
    users = _users_file(tmp_path, simulator.demo_user_ids(2_000))
    failures_csv = tmp_path / "failures.csv"
    failures_csv.write_text("yesterday\n", encoding="utf-8")
    with simulator.DemoServer(
        api=simulator.DemoApi(api_key=SECRET), faults=simulator.Faults(latency_ms=50)
    ) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BASKET_")}
        env |= {"BASKET_API_URL": server.base_url, "BASKET_API_KEY": SECRET}
        env |= {"BASKET_AUDIT_LOG": os.devnull, "NO_PROXY": "127.0.0.1"}
        env["BASKET_DATABASE_URL"] = os.environ["BASKET_DATABASE_URL"]
        command = [sys.executable, "-m", "basket_lib", "scan", str(users), "--concurrency", "1"]
        proc = subprocess.Popen(
            [*command, "--failures-csv", str(failures_csv)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # The handler is set and the partial file open before the first request arrives.
        assert server.wait_for_requests(1, timeout=120), proc.communicate()
        assert len(list(tmp_path.glob(".failures.csv.*.partial"))) == 1
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "terminated: no output files written" in err and "Traceback" not in err
    assert failures_csv.read_text(encoding="utf-8") == "yesterday\n"
    assert not list(tmp_path.glob("*.partial"))


def _scan_with_exit_probe(
    users: Path, report: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`python -m basket_lib scan USERS` as a process whose last exit handler runs `report` (a
    statement; gc and sys are imported): what the process holds when it ends."""
    probe = (
        "import atexit, gc, runpy, sys\n"
        f"atexit.register(lambda: {report})\n"
        f"sys.argv = ['basket_lib', 'scan', {str(users)!r}]\n"
        "runpy.run_module('basket_lib', run_name='__main__')\n"
    )
    return subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_scan_process_exits_without_walking_its_objects_and_leaves_its_database_whole(
    tmp_path: Path,
) -> None:
    # python -m basket_lib freezes the collector once the command is done (the interpreter's
    # exit would otherwise walk every object the libraries made), after closing the database
    # itself, so that the SQLite file is checkpointed as a clean exit leaves it.
    users = _users_file(tmp_path, simulator.demo_user_ids(20))
    db_file = tmp_path / "exit.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASKET_")}
    env |= {"BASKET_AUDIT_LOG": os.devnull, "BASKET_DATABASE_URL": f"sqlite:///{db_file}"}
    proc = _scan_with_exit_probe(
        users, "print('frozen:', gc.get_freeze_count() > 0, file=sys.stderr)", env
    )
    assert proc.returncode == 0, proc.stderr
    assert _summary(proc.stdout)["users"] == 20
    assert "frozen: True" in proc.stderr
    assert db_file.exists() and not Path(f"{db_file}-wal").exists()


def test_a_scan_never_imports_httpx(tmp_path: Path) -> None:
    # The scan sends through aiohttp; httpx and what it pulls in (httpcore, and trio or click
    # where installed) would only add to every scan's start-up.
    users = _users_file(tmp_path, simulator.demo_user_ids(20))
    with simulator.DemoServer(api=simulator.DemoApi(api_key=SECRET)) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BASKET_")}
        env |= {"BASKET_API_URL": server.base_url, "BASKET_API_KEY": SECRET}
        env |= {"BASKET_AUDIT_LOG": os.devnull, "NO_PROXY": "127.0.0.1"}
        env["BASKET_DATABASE_URL"] = os.environ["BASKET_DATABASE_URL"]
        loaded = "sorted(m for m in ('httpx', 'httpcore') if m in sys.modules)"
        proc = _scan_with_exit_probe(users, f"print('loaded:', {loaded}, file=sys.stderr)", env)
    assert proc.returncode == 0, proc.stderr
    assert _summary(proc.stdout)["users"] == 20
    assert "loaded: []" in proc.stderr


# Product ids a hostile or broken API could send: a lone CR with a formula behind it, and the
# formula prefixes, also hidden after the `;` and tab that European spreadsheets split cells at.
HOSTILE_IDS = [
    'ok\r=HYPERLINK("http://x","y")',
    "=1+1",
    "+1+1",
    "-1+cmd",
    "@SUM(1)",
    "a;=1+1",
    "x\t@SUM(1)",
    "\t=1",
]


class _HostileApi(http.server.BaseHTTPRequestHandler):
    """Every user's checkout holds every hostile id, each a failed reservation."""

    def do_GET(self) -> None:
        if "/baskets/users/" in self.path:
            checkout = [{"productId": pid, "count": 1, "stocked": -1} for pid in HOSTILE_IDS]
            status, body = 200, json.dumps({"data": {"checkout": checkout}}).encode()
        else:
            status, body = 404, b'{"error":{"code":2005,"message":"not found"}}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_hostile_product_ids_through_the_cli_stay_in_their_rows_and_never_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    users = _users_file(tmp_path, ["user-1", "user-2", "user-3"])
    failures_csv = tmp_path / "failures.csv"
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HostileApi) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            monkeypatch.setenv("BASKET_API_URL", f"http://127.0.0.1:{server.server_port}/v2")
            monkeypatch.setenv("BASKET_API_KEY", SECRET)
            code = cli.main(["scan", str(users), "--no-store", "--failures-csv", str(failures_csv)])
        finally:
            server.shutdown()
    capsys.readouterr()
    assert code == 0
    raw = failures_csv.read_bytes()
    # Rows end in CRLF only: a lone CR or LF is inside a quoted cell, never a row break.
    assert raw.count(b"\r\n") == 1 + 3 * len(HOSTILE_IDS)
    rows = _rows(failures_csv)
    assert len(rows) == 3 * len(HOSTILE_IDS)
    for row in rows:
        for cell in re.split(r"[;\t]", row["product_id"]):
            # No piece a spreadsheet would start as a formula.
            assert not cell.startswith(("=", "+", "-", "@", "\r")), row["product_id"]
    shown = sorted({row["product_id"] for row in rows})
    assert shown == sorted(export.csv_safe(pid) for pid in HOSTILE_IDS)
