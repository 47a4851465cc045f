"""Command line: the reservation-failure scan of the dashboard, for nightly jobs.

    python -m basket_lib scan USERS_FILE [--concurrency N] [--failures-csv PATH]
                              [--errors-csv PATH] [--provider-id P]

Configured like the app (BASKET_API_* variables; the demo API without BASKET_API_URL). Progress
goes to stderr, a one-line summary to stdout. Exit status: 0 when the scan completed (users that
could not be read are outcomes, listed in the errors CSV), 2 on a usage or configuration error,
130 when interrupted.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, NoReturn

from basket_lib.api.errors import BasketError
from basket_lib.audit import DEFAULT_AUDIT_LOG, AuditError, AuditLog
from basket_lib.scan import engine, export, inputs
from basket_lib.scan.report import ErrorRecord, FailureRecord, ScanProgress

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
MAX_CONCURRENCY = 256
MAX_INVALID_SHOWN = 10


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


@contextmanager
def _output(path: Path | None) -> Iterator[IO[str] | None]:
    """A CSV written next to ``path`` and renamed over it only when the run succeeds: a failed
    night leaves the previous file intact. Opened before the scan so that an unwritable path
    costs no API calls."""
    if path is None:
        yield None
        return
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
    partial = path.with_name(path.name + ".partial")
    stream = partial.open("w", encoding="utf-8", newline="")
    try:
        yield stream
    except BaseException:
        stream.close()
        partial.unlink(missing_ok=True)
        raise
    stream.close()
    os.replace(partial, path)


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
            # Before any output: a scan that cannot be audited leaves no results behind.
            AuditLog(settings.audit_log or DEFAULT_AUDIT_LOG, redactor=settings.redactor).record(
                "scan",
                viewer=None,
                user_ids=[*parsed.ids, *(user for user, _ in parsed.invalid)],
                outcome=report.summary_line(),
                source="cli",
            )
            # Sorted, so that nightly files compare line by line.
            if failures_out is not None:
                export.write_failures_csv(failures_out, sorted(report.failures, key=_by_user))
            if errors_out is not None:
                export.write_errors_csv(errors_out, sorted(report.errors, key=_by_user))
    except AuditError as exc:
        return _error(f"{exc.message} ({exc.path}); no output files written")
    except BasketError as exc:  # building the client: a configuration error
        return _error(str(exc))
    except OSError as exc:
        return _error(f"cannot write {exc.filename}: {exc.strerror}")
    except KeyboardInterrupt:
        print("\ninterrupted: no output files written", file=sys.stderr)
        return EXIT_INTERRUPTED

    kinds = report.errors_by_kind()
    if kinds:
        breakdown = ", ".join(f"{kind}={count}" for kind, count in kinds.most_common())
        print(f"errors by kind: {breakdown}", file=sys.stderr)
    print(report.summary_line())
    return EXIT_OK


def _by_user(record: FailureRecord | ErrorRecord) -> str:
    return record.user_id


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
