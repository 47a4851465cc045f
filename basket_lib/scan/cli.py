"""Command line: the reservation-failure scan of the dashboard, for nightly jobs.

    python -m basket_lib scan USERS_FILE [--concurrency N] [--failures-csv PATH]
                              [--errors-csv PATH] [--provider-id P]

Configured like the app (BASKET_API_* variables; the demo API without BASKET_API_URL). Progress
goes to stderr, a one-line summary to stdout. Exit status: 0 when the scan completed (users that
could not be read are outcomes, listed in the errors CSV), 2 on a usage or configuration error
(an API key refused for every user included), 130 when interrupted, 143 when terminated.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import stat
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import IO, NoReturn, TypeVar

from basket_lib.api import errors
from basket_lib.api.errors import BasketError, kind_of
from basket_lib.audit import DEFAULT_AUDIT_LOG, AuditError, AuditLog
from basket_lib.scan import engine, export, inputs
from basket_lib.scan.report import ErrorRecord, FailureRecord, ScanProgress

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports it
MAX_CONCURRENCY = 256
MAX_INVALID_SHOWN = 10
_AUTH_KIND = kind_of(errors.AuthenticationError)
R = TypeVar("R", FailureRecord, ErrorRecord)


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
        help="a CSV with a user_id column, or a text file with one user id per line "
        "(a .csv or .tsv file must have the user_id column)",
    )
    scan.add_argument(
        "--concurrency",
        type=_concurrency,
        default=engine.DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"requests in flight at once (default {engine.DEFAULT_CONCURRENCY})",
    )
    scan.add_argument("--failures-csv", type=Path, metavar="PATH", help="write failures here")
    scan.add_argument(
        "--errors-csv",
        type=Path,
        metavar="PATH",
        help="write users that could not be read (invalid ids included) here",
    )
    scan.add_argument("--provider-id", type=_provider_id, metavar="P", help="provider_id to send")
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
    written = target if special else target.with_name(target.name + ".partial")
    try:
        # Appending to a device or FIFO writes the same; it never truncates what /dev/fd/N names.
        stream = written.open("a" if special else "w", encoding="utf-8", newline="")
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


def _run_scan(args: argparse.Namespace) -> int:
    from basket_lib.connect import build_async_client
    from basket_lib.settings import Settings

    try:
        parsed = inputs.read_ids_file(args.users_file, cap=inputs.MAX_SCAN_USERS)
        settings = Settings.from_env()
    except BasketError as exc:
        return _error(str(exc))
    if parsed.truncated:
        # A nightly job must not silently scan part of its list.
        return _error(
            f"{args.users_file} has {'more than ' if parsed.unread else ''}"
            f"{len(parsed.ids) + parsed.truncated:,} distinct valid ids; "
            f"the limit is {inputs.MAX_SCAN_USERS:,} per scan. Split the file."
        )
    _report_input(parsed, args.errors_csv)
    # Handlers can only be set from the main thread (not when main() is called from another).
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main else None
    try:
        with ExitStack() as stack:
            failures_out = stack.enter_context(_output(args.failures_csv))
            errors_out = stack.enter_context(_output(args.errors_csv))
            report = engine.scan_users_sync(
                # httpx's pool would otherwise cap the requests in flight at its default of 100.
                lambda: build_async_client(settings, max_connections=args.concurrency),
                parsed.ids,
                concurrency=args.concurrency,
                provider_id=args.provider_id,
                on_progress=ProgressPrinter(sys.stderr),
            )
            report.add_invalid_ids(parsed.invalid)
            report.check_complete()
            if report.scanned == 0 and report.errors_by_kind().get(_AUTH_KIND):
                # Not a per-user outcome: the key itself is refused.
                raise errors.ConfigurationError(
                    "The API refused the key for every user (HTTP 401): check BASKET_API_KEY "
                    "and BASKET_API_TOKEN; no output files written."
                )
            # Before any output: a scan that cannot be audited leaves no results behind.
            AuditLog(settings.audit_log or DEFAULT_AUDIT_LOG, redactor=settings.redactor).record(
                "scan",
                viewer=None,
                user_ids=[*parsed.ids, *(user for user, _ in parsed.invalid)],
                outcome=report.summary_line(),
                source="cli",
            )
            if failures_out is not None:
                _write(args.failures_csv, failures_out, export.write_failures_csv, report.failures)
            if errors_out is not None:
                _write(args.errors_csv, errors_out, export.write_errors_csv, report.errors)
    except AuditError as exc:
        return _error(f"{exc.message} ({exc.path}); no output files written")
    except BasketError as exc:  # building the client: a configuration error
        return _error(str(exc))
    except _OutputError as exc:
        return _error(str(exc))
    except _Terminated:
        print("\nterminated: no output files written", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("\ninterrupted: no output files written", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)

    kinds = report.errors_by_kind()
    if kinds:
        breakdown = ", ".join(f"{kind}={count}" for kind, count in kinds.most_common())
        print(f"errors by kind: {breakdown}", file=sys.stderr)
    print(report.summary_line())
    return EXIT_OK


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def _by_user(record: FailureRecord | ErrorRecord) -> str:
    return record.user_id


def _write(
    path: Path,
    stream: IO[str],
    write: Callable[[IO[str], Iterable[R]], None],
    records: Iterable[R],
) -> None:
    # Sorted, so that nightly files compare line by line.
    try:
        write(stream, sorted(records, key=_by_user))
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
    return _run_scan(args)
