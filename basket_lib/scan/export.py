"""The one CSV format of a scan's results, for the page's downloads and the command line alike.

RFC 4180: UTF-8 with a byte order mark (without it Excel reads the file in the machine's legacy
code page and garbles every non-ASCII name), a header row, CRLF line ends. Every text cell is
quoted, so a lone CR, a comma or a semicolon (the list separator of European spreadsheets) never
splits a row or a cell. Text that a
spreadsheet would run as a formula gets a leading quote, at the start of the cell and after each
`;` or tab inside it (OWASP's CSV injection advice); numbers (a stocked of -2, an id "-42") are
left as they are.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import IO

from basket_lib.api.errors import displayable
from basket_lib.api.models import ProductDetails, details_for
from basket_lib.scan.report import ErrorRecord, FailureRecord

FAILURE_COLUMNS: tuple[str, ...] = (
    "user_id", "product_id", "name", "variant", "main_product", "count", "stocked",
)  # fmt: skip
ERROR_COLUMNS: tuple[str, ...] = ("user_id", "kind", "http_status", "api_code", "message")
PENDING_COLUMNS: tuple[str, ...] = ("user_id",)

BOM = "\ufeff"
# Characters that make spreadsheet software evaluate a cell as a formula.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


_SEPARATED = re.compile(r"([;\t])")


def _safe_part(text: str) -> str:
    if text.startswith(_FORMULA_PREFIXES) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_safe(value: object) -> object:
    """A cell a spreadsheet will show as text, even one that splits it at `;` or tab."""
    if not isinstance(value, str):
        return value
    parts = _SEPARATED.split(displayable(value))  # a NUL cuts a cell short in many readers
    # Even indexes are the text between separators, odd ones the separators themselves.
    safe = "".join(_safe_part(part) if i % 2 == 0 else part for i, part in enumerate(parts))
    # A cell that starts with a tab (or CR) is a formula prefix of its own.
    return "'" + safe if safe.startswith(("\t", "\r")) else safe


def write_csv(stream: IO[str], columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Every export goes through here; None is written as an empty cell."""
    stream.write(BOM)
    # Headers can come from an uploaded file's columns: neutralised like any text.
    csv.writer(stream, lineterminator="\r\n").writerow([csv_safe(name) for name in columns])
    # QUOTE_NONNUMERIC quotes text and leaves int cells bare, so numbers stay numbers.
    writer = csv.writer(stream, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC)
    for row in rows:
        writer.writerow(["" if cell is None else csv_safe(cell) for cell in row])


Extras = Mapping[str, Mapping[str, str]]


def extra_columns(extras: Extras | None) -> list[str]:
    """The input's other columns (inputs.ParsedIds.extras) in first-seen order."""
    names: dict[str, None] = {}
    for columns in (extras or {}).values():
        names.update(dict.fromkeys(columns))
    return list(names)


def _extra_header(names: Sequence[str], taken: Sequence[str]) -> list[str]:
    # An input column named like one of ours (say "name") is told apart, not overwritten.
    return [f"input {name}" if name in taken else name for name in names]


def _with_extras(
    columns: Sequence[str], rows: Iterable[Sequence[object]], extras: Extras | None
) -> tuple[list[str], Iterable[Sequence[object]]]:
    """`columns` and `rows` (whose first cell is the user id) with the input's other columns
    appended; unchanged without any."""
    names = extra_columns(extras)
    if not names or extras is None:
        return list(columns), rows
    empty: Mapping[str, str] = {}
    return [*columns, *_extra_header(names, columns)], (
        (*row, *(extras.get(str(row[0]), empty).get(name) for name in names)) for row in rows
    )


def failure_rows(
    failures: Iterable[FailureRecord], details: Mapping[str, ProductDetails] | None = None
) -> Iterable[tuple[object, ...]]:
    """FAILURE_COLUMNS of each failed reservation, named from the product details when known."""
    for f in failures:
        info = details_for(f.product_id, f.main_product_identifier, details)
        yield (
            f.user_id,
            f.product_id,
            info.name if info is not None else None,
            f.variant or None,
            f.main_product_identifier or None,
            f.count,
            f.stocked,
        )


def error_rows(errors: Iterable[ErrorRecord]) -> Iterable[tuple[object, ...]]:
    for e in errors:
        yield (e.user_id, e.kind, e.status, e.api_code, e.message)


def write_failures_csv(
    stream: IO[str],
    failures: Iterable[FailureRecord],
    details: Mapping[str, ProductDetails] | None = None,
    extras: Extras | None = None,
) -> None:
    write_csv(stream, *_with_extras(FAILURE_COLUMNS, failure_rows(failures, details), extras))


def write_errors_csv(
    stream: IO[str], errors: Iterable[ErrorRecord], extras: Extras | None = None
) -> None:
    write_csv(stream, *_with_extras(ERROR_COLUMNS, error_rows(errors), extras))


def failures_csv(
    failures: Iterable[FailureRecord],
    details: Mapping[str, ProductDetails] | None = None,
    extras: Extras | None = None,
) -> bytes:
    """The failures CSV as a download's bytes."""
    return table_csv(*_with_extras(FAILURE_COLUMNS, failure_rows(failures, details), extras))


def table_csv(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """Any table of a scan (per product, a comparison) as a download's bytes."""
    buffer = io.StringIO()
    write_csv(buffer, columns, rows)
    return buffer.getvalue().encode("utf-8")


def errors_csv(errors: Iterable[ErrorRecord], extras: Extras | None = None) -> bytes:
    return table_csv(*_with_extras(ERROR_COLUMNS, error_rows(errors), extras))


def pending_csv(user_ids: Iterable[str], extras: Extras | None = None) -> bytes:
    """The users a stopped scan has not reached yet, with their other input columns: a file that
    uploads again as a scan of its own."""
    return table_csv(*_with_extras(PENDING_COLUMNS, ((user,) for user in user_ids), extras))
