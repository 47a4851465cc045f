"""Command line: the reservation-failure scan of the dashboard, for nightly jobs.

    python -m basket_lib scan USERS_FILE [--label TEXT] [--concurrency N] [--failures-csv PATH]
                              [--errors-csv PATH] [--provider-id P] [--fail-above RATE]
                              [--no-store]
    python -m basket_lib scan --resume SCAN_ID [--concurrency N] [--failures-csv PATH] ...
    python -m basket_lib scans [--limit N] [--label TEXT]
    python -m basket_lib export SCAN_ID [--failures-csv PATH] [--errors-csv PATH]

Configured like the app (BASKET_API_* variables; the demo API without BASKET_API_URL; scans are
stored where BASKET_DATABASE_URL says). Progress goes to stderr, a one-line summary to stdout.
Exit status: 0 done (users that could not be read are outcomes, listed in the errors CSV), 2 on a
usage, configuration or database error (an API key refused for every user included), 3 when the
completed scan's reservation failure rate is above --fail-above, 130 when interrupted (Ctrl-C),
143 when terminated (SIGTERM); an interrupted scan is stored as such and can be resumed.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, NoReturn

from basket_lib.api import errors
from basket_lib.api.errors import BasketError, kind_of
from basket_lib.audit import DEFAULT_AUDIT_LOG, AuditError, AuditLog
from basket_lib.scan import engine, export, inputs
from basket_lib.scan.report import ErrorRecord, FailureRecord, ScanProgress, ScanReport

if TYPE_CHECKING:
    from basket_lib.settings import Settings
    from basket_lib.store.database import Database
    from basket_lib.store.scans import Recorder, ScanInfo

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_THRESHOLD = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports it
MAX_CONCURRENCY = 256
MAX_INVALID_SHOWN = 10
_AUTH_KIND = kind_of(errors.AuthenticationError)


class _UsageError(Exception):
    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.usage = parser.format_usage().rstrip()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # Raised instead of exiting, so main() returns its status to in-process callers.
        raise _UsageError(self, message)


def _concurrency(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 1 to {MAX_CONCURRENCY}, got {value!r}"
        )
    return number


def _provider_id(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return value


def _rate(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, got {value!r}")
    return number


def _limit(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 10_000:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 10000, got {value!r}")
    return int(value)


def _outputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--failures-csv", type=Path, metavar="PATH", help="write failures here")
    parser.add_argument(
        "--errors-csv",
        type=Path,
        metavar="PATH",
        help="write users that could not be read (invalid ids included) here",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m basket_lib", description="Jay Basket API tools.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    scan = commands.add_parser(
        "scan",
        help="scan many users' baskets for failed stock reservations",
        description="Read every user's basket and report checkout items whose stock "
        "reservation failed (stocked < 0).",
    )
    scan.add_argument(
        "users_file",
        metavar="USERS_FILE",
        nargs="?",
        help="a CSV with a user_id column, or a text file with one user id per line "
        "(a .csv or .tsv file must have the user_id column)",
    )
    scan.add_argument(
        "--resume",
        metavar="SCAN_ID",
        help="continue a stored scan that was interrupted or cancelled, instead of a new one",
    )
    scan.add_argument("--label", metavar="TEXT", help="a name for the scan, to compare runs by")
    scan.add_argument(
        "--concurrency",
        type=_concurrency,
        default=None,
        metavar="N",
        help=f"requests in flight at once (default {engine.DEFAULT_CONCURRENCY})",
    )
    _outputs(scan)
    scan.add_argument("--provider-id", type=_provider_id, metavar="P", help="provider_id to send")
    scan.add_argument(
        "--fail-above",
        type=_rate,
        metavar="RATE",
        help="exit 3 when the completed scan's reservation failure rate is above RATE (0-1)",
    )
    scan.add_argument(
        "--no-store", action="store_true", help="do not store the scan in the database"
    )
    listing = commands.add_parser("scans", help="list the stored scans, most recent first")
    listing.add_argument("--limit", type=_limit, default=20, metavar="N", help="at most N")
    listing.add_argument("--label", metavar="TEXT", help="only scans with this label")
    commands.add_parser(
        "worker",
        help="run the queued scans (the failures page starts this), then exit",
        description="Run the stored scans that wait in the queue, at most a few at once across "
        "every worker on the database; exits when none is left.",
    )
    exporting = commands.add_parser("export", help="write a stored scan's CSV files")
    exporting.add_argument("scan_id", metavar="SCAN_ID")
    _outputs(exporting)
    return parser


class ProgressPrinter:
    """One rewritten line on a terminal; a line per ~10 % in a log file."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._last_decile = -1

    def __call__(self, progress: ScanProgress) -> None:
        total = progress.total
        percent = progress.done * 100 // total if total else 100
        text = (
            f"progress {progress.done}/{total} ({percent}%) "
            f"failed_reservations={progress.failures} errors={progress.errors}"
        )
        if self.tty:
            end = "\n" if progress.done == total else ""
            self.stream.write(f"\r{text}{end}")
        else:
            decile = percent // 10
            if decile == self._last_decile:
                return
            self._last_decile = decile
            self.stream.write(text + "\n")
        self.stream.flush()


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


class _OutputError(Exception):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot write {path}: {reason}")
        self.path = path


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so the scan unwinds and its partial files go. A
    KeyboardInterrupt, because asyncio lets only those (and SystemExit) out of its callbacks."""


def _is_stdout(status: os.stat_result) -> bool:
    try:
        return os.path.samestat(status, os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, io.UnsupportedOperation):
        return False  # no real stdout (a test's capture, a closed descriptor)


def _is_device_path(path: Path) -> bool:
    return str(path.absolute()).startswith(("/dev/", "/proc/"))


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _partial_file(target: Path, mode: int | None) -> tuple[Path, IO[str]]:
    """A new file beside `target` to write into, then rename over it. Its name is random and it
    is created exclusively (mkstemp), so a link planted at a predictable name cannot redirect the
    write; it gets the permissions `target` has (a file kept private stays private), or a new
    file's under the umask."""
    descriptor, name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".partial"
    )
    try:
        os.fchmod(descriptor, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        return Path(name), open(descriptor, "w", encoding="utf-8", newline="")
    except BaseException:
        os.close(descriptor)
        os.unlink(name)
        raise


def _umask() -> int:
    """The process's umask, read without changing it (os.umask can only set it); 0o077, the
    safe side, where /proc does not say."""
    with suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o077


@contextmanager
def _output(path: Path | None) -> Iterator[IO[str] | None]:
    """Where a CSV goes. A regular file (or a link to one) is written next to its target and
    renamed over it only when the run succeeds: a failed night leaves the previous file intact,
    and a link keeps pointing where it did. Anything else (/dev/stdout, a FIFO, a device) is
    written to as it is, never replaced. Opened before the scan, so that an unwritable path costs
    no API calls; every failure names the path and leaves no partial file behind."""
    if path is None:
        yield None
        return
    try:
        status: os.stat_result | None = path.stat()  # through links
    except OSError:
        status = None
    if status is not None and _is_stdout(status):
        # Through sys.stdout itself: opening the path anew would truncate a file the shell
        # redirected stdout to, and write over the summary line.
        try:
            yield sys.stdout
            sys.stdout.flush()
        except OSError as exc:
            raise _OutputError(path, _reason(exc)) from None
        return
    mode = status.st_mode if status is not None else None
    if mode is not None and stat.S_ISDIR(mode):
        raise _OutputError(path, "it is a directory")
    # /dev/stdout and /dev/fd/N name whatever the descriptor is (a pipe, or the file a shell
    # redirects to): written through by their own name, never resolved and replaced.
    special = (mode is not None and not stat.S_ISREG(mode)) or _is_device_path(path)
    target = path if special else path.resolve()
    stream: IO[str]
    try:
        if special:
            # Appending to a device or FIFO writes the same; it never truncates what /dev/fd/N
            # names.
            written = target
            stream = written.open("a", encoding="utf-8", newline="")
        else:
            written, stream = _partial_file(target, mode)
    except OSError as exc:
        raise _OutputError(path, _reason(exc)) from None
    try:
        try:
            yield stream
        except OSError as exc:
            raise _OutputError(path, _reason(exc)) from None
        try:
            stream.close()  # a full disk shows here, when the buffer is flushed
            if not special:
                os.replace(written, target)
        except OSError as exc:
            raise _OutputError(path, _reason(exc)) from None
    except BaseException:
        with suppress(OSError):
            stream.close()
        if not special:
            written.unlink(missing_ok=True)
        raise


def _report_input(parsed: inputs.ParsedIds, errors_csv: Path | None) -> None:
    for message in parsed.messages:
        print(f"note: {message}", file=sys.stderr)
    for user_id, reason in parsed.invalid[:MAX_INVALID_SHOWN]:
        print(f"invalid user id {user_id!r}: {reason}", file=sys.stderr)
    hidden = len(parsed.invalid) - MAX_INVALID_SHOWN
    if hidden > 0:
        where = f"see {errors_csv}" if errors_csv else "use --errors-csv to list them all"
        print(f"... and {hidden:,} more invalid ids ({where})", file=sys.stderr)


@dataclass
class _Job:
    """What one scan run works on: the users still to fetch and the report they are added to."""

    user_ids: list[str]
    report: ScanReport
    all_user_ids: list[str]  # every input line's id, for the audit
    provider_id: str | None
    concurrency: int
    scan: ScanInfo | None = None
    recorder: Recorder | None = None
    # Each user's other input columns, carried through to the CSVs.
    extras: dict[str, dict[str, str]] = field(default_factory=dict)


def _new_job(args: argparse.Namespace, settings: Settings) -> _Job:
    if args.users_file is None:
        raise _ArgumentError("scan needs USERS_FILE, or --resume SCAN_ID")
    parsed = inputs.read_ids_file(args.users_file, cap=inputs.MAX_SCAN_USERS)
    if parsed.truncated:
        # A nightly job must not silently scan part of its list.
        raise _ArgumentError(
            f"{args.users_file} has {'more than ' if parsed.unread else ''}"
            f"{len(parsed.ids) + parsed.truncated:,} distinct valid ids; "
            f"the limit is {inputs.MAX_SCAN_USERS:,} per scan. Split the file."
        )
    _report_input(parsed, args.errors_csv)
    report = ScanReport(
        total=len(parsed.ids), duplicates=parsed.duplicates, redactor=settings.redactor
    )
    report.add_invalid_ids(parsed.invalid)
    return _Job(
        user_ids=parsed.ids,
        report=report,
        all_user_ids=[*parsed.ids, *(user for user, _ in parsed.invalid)],
        provider_id=args.provider_id,
        concurrency=args.concurrency or engine.DEFAULT_CONCURRENCY,
        extras=parsed.extras,
    )


def _stored_job(args: argparse.Namespace, settings: Settings, db: Database) -> _Job:
    """The job of a new stored scan, or of the resumed one: created or claimed, owned."""
    from basket_lib.store import scans

    owner = scans.new_owner()
    if args.resume is None:
        job = _new_job(args, settings)
        report = job.report
        # Audited before anything is stored: the run writes its results as it goes, and a scan
        # that cannot be audited must leave none behind.
        scan_id = scans.new_scan_id()
        _audit(settings, job.all_user_ids, f"started scan {scan_id}", scan_id)
        job.scan = scans.create_scan(
            db,
            scan_id=scan_id,
            user_ids=job.user_ids,
            invalid=[(e.user_id, e.message) for e in report.errors],
            duplicates=report.duplicates,
            label=args.label,
            source="cli",
            api_host=settings.api_host,
            provider_id=job.provider_id,
            concurrency=job.concurrency,
            owner=owner,
            extras=job.extras,
        )
        report.as_of = job.scan.created_at
    else:
        for option in ("users_file", "label", "provider_id"):
            if getattr(args, option) is not None:
                name = "USERS_FILE" if option == "users_file" else "--" + option.replace("_", "-")
                raise _ArgumentError(
                    f"{name} cannot be given with --resume: the scan keeps its own"
                )
        from basket_lib.scan.worker import check_same_api

        check_same_api(settings, scans.require_scan(db, args.resume))
        # Audited before the claim, with the users still to fetch then; read again once claimed,
        # as a run that has just died may have stored more of them meanwhile.
        _audit(
            settings, scans.pending_user_ids(db, args.resume), f"resumed scan {args.resume}",
            args.resume,
        )  # fmt: skip
        job_scan = scans.claim(db, args.resume, owner)
        report = scans.load_report(db, job_scan.id, settings.redactor)
        pending = scans.pending_user_ids(db, job_scan.id)
        print(
            f"resuming scan {job_scan.id}: {report.outcomes_total:,} of "
            f"{job_scan.input_size:,} users already have an outcome, {len(pending):,} to fetch",
            file=sys.stderr,
        )
        job = _Job(
            user_ids=pending,
            report=report,
            all_user_ids=pending,
            provider_id=job_scan.provider_id,
            concurrency=args.concurrency or job_scan.concurrency,
            scan=job_scan,
            extras=scans.load_extras(db, job_scan.id),
        )
    assert job.scan is not None
    job.recorder = scans.Recorder(db, job.scan.id, owner, job.report)
    return job


class _ArgumentError(Exception):
    pass


def _audit(
    settings: Settings,
    user_ids: Sequence[str],
    outcome: str,
    scan_id: str | None,
    action: str = "scan",
) -> None:
    """One record of what this command did with these users (raises AuditError)."""
    AuditLog(settings.audit_log or DEFAULT_AUDIT_LOG, redactor=settings.redactor).record(
        action,
        viewer=None,
        user_ids=user_ids,
        outcome=outcome,
        source="cli",
        **({"scan_id": scan_id} if scan_id else {}),
    )


def _run_scan(args: argparse.Namespace) -> int:
    from basket_lib.connect import build_async_client
    from basket_lib.settings import Settings

    if args.no_store and args.resume is not None:
        return _error("--no-store cannot be given with --resume")
    job: _Job | None = None
    # Handlers can only be set from the main thread (not when main() is called from another).
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main else None
    try:
        with ExitStack() as stack:
            # Opened before the scan exists: an unwritable path stores nothing and calls no API.
            failures_out = stack.enter_context(_output(args.failures_csv))
            errors_out = stack.enter_context(_output(args.errors_csv))
            settings = Settings.from_env()
            if args.no_store:
                job = _new_job(args, settings)
            else:
                job = _stored_job(args, settings, _database(settings))
            report, recorder = job.report, job.recorder
            progress = ProgressPrinter(sys.stderr)
            if recorder is None:
                engine.scan_users_sync(
                    # httpx's pool would otherwise cap the requests in flight at its default.
                    lambda: build_async_client(settings, max_connections=job.concurrency),
                    job.user_ids,
                    concurrency=job.concurrency,
                    provider_id=job.provider_id,
                    on_progress=progress,
                    report=report,
                )
            else:
                from basket_lib.scan import worker

                assert job.scan is not None
                run = worker.run_claimed(
                    settings,
                    job.scan,
                    recorder,
                    concurrency=job.concurrency,
                    on_progress=progress,
                    pending=job.user_ids,
                )
                if run.status != "completed":
                    print("\ncancelled from the page: no output files written", file=sys.stderr)
                    print(_stored_note(job, "cancelled"), file=sys.stderr)
                    return EXIT_INTERRUPTED
            report.check_complete()
            if report.scanned == 0 and report.errors_by_kind().get(_AUTH_KIND):
                # Not a per-user outcome: the key itself is refused.
                raise errors.ConfigurationError(
                    "The API refused the key for every user (HTTP 401): check BASKET_API_KEY "
                    "and BASKET_API_TOKEN; no output files written."
                )
            scan_id = job.scan.id if job.scan is not None else None
            # Before any output: a scan that cannot be audited leaves no results behind.
            _audit(settings, job.all_user_ids, report.summary_line(), scan_id)
            _write_outputs(args, failures_out, errors_out, report, job.extras)
    except _ArgumentError as exc:
        return _error(str(exc))
    except AuditError as exc:
        return _error(f"{exc.message} ({exc.path}); no output files written")
    except BasketError as exc:  # settings, the database, the client's configuration
        return _error(str(exc))
    except _OutputError as exc:
        return _error(str(exc))
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, _Terminated)
        word = "terminated" if terminated else "interrupted"
        print(f"\n{word}: no output files written", file=sys.stderr)
        if job is not None and job.scan is not None:
            print(_stored_note(job), file=sys.stderr)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)

    kinds = report.errors_by_kind()
    if kinds:
        breakdown = ", ".join(f"{kind}={count}" for kind, count in kinds.most_common())
        print(f"errors by kind: {breakdown}", file=sys.stderr)
    summary = report.summary_line()
    print(summary if job.scan is None else f"scan_id={job.scan.id} {summary}")
    if recorder is not None and recorder.failure is not None:
        written = "; its results are in the CSV files written" if args.failures_csv else ""
        return _error(f"the scan was not stored completely: {recorder.failure}{written}")
    rate = report.reservation_failure_rate
    if args.fail_above is not None and rate is not None and rate > args.fail_above:
        print(
            f"reservation failure rate {rate:.2%} is above --fail-above {args.fail_above:.2%}",
            file=sys.stderr,
        )
        return EXIT_THRESHOLD
    return EXIT_OK


def _stored_note(job: _Job, status: str = "interrupted") -> str:
    assert job.scan is not None and job.recorder is not None
    if job.recorder.failure is not None:
        return f"scan {job.scan.id} could not be stored: {job.recorder.failure}"
    return (
        f"scan {job.scan.id} stored as {status} with {job.recorder.stored:,} of "
        f"{job.report.total:,} outcomes; continue it with: "
        f"python -m basket_lib scan --resume {job.scan.id}"
    )


def _database(settings: Settings) -> Database:
    from basket_lib.store.database import open_database

    return open_database(settings.database_url)


def _run_worker() -> int:
    from basket_lib.scan import worker
    from basket_lib.settings import Settings

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main else None
    try:
        settings = Settings.from_env()
        ran = worker.run_queued(settings, _database(settings))
    except BasketError as exc:
        return _error(str(exc))
    except _Terminated:
        print("terminated: the running scan is stored as interrupted", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("interrupted: the running scan is stored as interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    print(f"ran {ran} queued scan{'s' if ran != 1 else ''}", file=sys.stderr)
    return EXIT_OK


def _list_scans(args: argparse.Namespace) -> int:
    from basket_lib.settings import Settings
    from basket_lib.store import scans

    try:
        found = scans.list_scans(_database(Settings.from_env()), limit=args.limit, label=args.label)
    except BasketError as exc:
        return _error(str(exc))
    # done: users with an outcome (errors included) / input, as the page's history says it.
    columns = ("scan_id", "status", "started", "done", "failure_rate", "label")
    print("\t".join(columns))
    for info in found:
        rate = info.reservation_failure_rate
        print(
            "\t".join(
                (
                    info.id,
                    f"{info.status}{' (partial)' if info.partial else ''}",
                    f"{info.created_at:%Y-%m-%d %H:%M:%S}Z",
                    f"{info.done}/{info.input_size}",
                    "-" if rate is None else f"{rate:.4f}",
                    info.label or "",
                )
            )
        )
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from basket_lib.settings import Settings
    from basket_lib.store import scans

    if args.failures_csv is None and args.errors_csv is None:
        return _error("export needs --failures-csv PATH, --errors-csv PATH or both")
    try:
        settings = Settings.from_env()
        db = _database(settings)
        info = scans.require_scan(db, args.scan_id)
        report = scans.load_report(db, info.id, settings.redactor)
        extras = scans.load_extras(db, info.id)
        with ExitStack() as stack:
            failures_out = stack.enter_context(_output(args.failures_csv))
            errors_out = stack.enter_context(_output(args.errors_csv))
            # The users' stored results leave the database here: audited before any is written.
            written = " and ".join(str(p) for p in (args.failures_csv, args.errors_csv) if p)
            _audit(
                settings,
                scans.scan_user_ids(db, info.id),
                f"exported scan {info.id} to {written}",
                info.id,
                action="export",
            )
            _write_outputs(args, failures_out, errors_out, report, extras)
    except AuditError as exc:
        return _error(f"{exc.message} ({exc.path}); no output files written")
    except BasketError as exc:
        return _error(str(exc))
    except _OutputError as exc:
        return _error(str(exc))
    done = info.status is scans.Status.COMPLETED
    partial = "" if done else f" (partial: the scan is {info.status})"
    print(f"scan_id={info.id} status={info.status} {report.summary_line()}{partial}")
    return EXIT_OK


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def _by_user(record: FailureRecord | ErrorRecord) -> str:
    return record.user_id


def _write_outputs(
    args: argparse.Namespace,
    failures_out: IO[str] | None,
    errors_out: IO[str] | None,
    report: ScanReport,
    extras: dict[str, dict[str, str]],
) -> None:
    # Sorted, so that nightly files compare line by line.
    if failures_out is not None:
        rows = sorted(report.failures, key=_by_user)
        _write(
            args.failures_csv, lambda: export.write_failures_csv(failures_out, rows, None, extras)
        )
    if errors_out is not None:
        errors_sorted = sorted(report.errors, key=_by_user)
        _write(args.errors_csv, lambda: export.write_errors_csv(errors_out, errors_sorted, extras))


def _write(path: Path, write: Callable[[], None]) -> None:
    try:
        write()
    except OSError as exc:
        raise _OutputError(path, _reason(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(exc.usage, file=sys.stderr)
        return _error(str(exc))
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    if args.command == "scans":
        return _list_scans(args)
    if args.command == "export":
        return _export(args)
    if args.command == "worker":
        return _run_worker()
    return _run_scan(args)
