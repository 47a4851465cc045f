"""Turning pasted text or an uploaded file into the user ids of a bulk scan.

Nothing is dropped silently: duplicates, ids beyond the cap and empty cells are counted in
``messages``, and ids that fail validation are listed with the reason so that they can be reported
as outcomes next to the users that were scanned.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from basket_lib.api import errors
from basket_lib.views.text import plural

MAX_SCAN_USERS = 100_000
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# The text box holds as much as the largest upload (its max_chars): a browser cuts a longer
# paste there, so the server never receives more.
MAX_PASTE_CHARS = MAX_UPLOAD_BYTES
# Invalid ids are shown as given, but a pasted novel should not fill the table.
MAX_SHOWN_ID_CHARS = 80

HEADER = "user_id"
EXPECTED_FORMAT = f"a CSV with a column named {HEADER}, saved as UTF-8"
_DELIMITERS = (",", ";", "\t")
CSV_SUFFIXES = (".csv", ".tsv")
# What separates pasted ids: any whitespace, commas, semicolons.
_SEPARATORS = r"\s,;"
# Read lazily, one id at a time (see _collect).
_PASTE_TOKEN = re.compile(f"[^{_SEPARATORS}]+")
# Searched backwards from the end in blocks: a loop over the characters in Python took 4 s for a
# 20 MiB paste of one long token.
_SEPARATOR = re.compile(f"[{_SEPARATORS}]")
_TAIL_BLOCK = 4096
# Straight and typographic quotes, as pasted from spreadsheets, mails and documents.
_QUOTES = "\"'`“”‘’"


# Other columns of an input row carried through to the exports (a ticket number), at most this many,
# each cut to this length.
MAX_EXTRA_COLUMNS = 10
MAX_EXTRA_CHARS = 200


@dataclass
class ParsedIds:
    ids: list[str] = field(default_factory=list)  # valid, distinct, first-seen order
    # A valid id's other columns in its first row, by column name (CSV input only).
    extras: dict[str, dict[str, str]] = field(default_factory=dict)
    duplicates: int = 0
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (id as given, reason)
    truncated: int = 0  # distinct valid ids beyond the cap, not in ``ids``
    # True when reading stopped early: there were more entries, so ``truncated`` is a lower bound.
    unread: bool = False
    messages: list[str] = field(default_factory=list)


Token = tuple[str, int | None] | tuple[str, int | None, dict[str, str]]


def _collect(tokens: Iterable[Token], cap: int) -> ParsedIds:
    """Distinct valid ids from (id, line number or None[, other columns]) tuples, the rest
    accounted for."""
    from basket_lib.api.validation import shown_user_id, validate_user_id

    parsed = ParsedIds()
    seen: set[str] = set()
    # Past the cap, reading goes on only as far again: enough to say how much was left out
    # without letting a pasted list of millions cost the shared server its time and memory.
    beyond = 0
    for entry in tokens:
        token, line = entry[0], entry[1]
        if len(parsed.ids) >= cap:
            if beyond >= cap:
                parsed.unread = True
                break
            beyond += 1
        if token in seen:
            parsed.duplicates += 1
            continue
        seen.add(token)
        try:
            user_id = validate_user_id(token)
        except errors.InvalidUserIdError as exc:
            where = f" (line {line})" if line is not None else ""
            parsed.invalid.append((shown_user_id(token, MAX_SHOWN_ID_CHARS), exc.message + where))
            continue
        if len(parsed.ids) < cap:
            parsed.ids.append(user_id)
            if len(entry) == 3 and entry[2]:
                parsed.extras[user_id] = entry[2]
        else:
            parsed.truncated += 1
    if parsed.duplicates:
        parsed.messages.append(
            f"{plural(parsed.duplicates, 'duplicate id')} ignored (each user is scanned once)."
        )
    if parsed.invalid:
        verb = "is" if len(parsed.invalid) == 1 else "are"
        parsed.messages.append(
            f"{plural(len(parsed.invalid), 'invalid id')} {verb} listed with the reason "
            "and not scanned."
        )
    if parsed.unread:
        parsed.messages.append(
            f"Only the first {cap:,} ids are scanned: at least {parsed.truncated:,} more were "
            "left out, and the rest of the input was not read."
        )
    elif parsed.truncated:
        parsed.messages.append(
            f"Only the first {cap:,} ids are scanned: {parsed.truncated:,} more were left out."
        )
    return parsed


def _unquote(token: str) -> str:
    return token.strip().strip(_QUOTES).strip()


def _pasted_tokens(text: str) -> Iterator[tuple[str, None]]:
    """The pasted ids, unquoted, one at a time (a 20 MiB paste holds about two million)."""
    for match in _PASTE_TOKEN.finditer(text):
        token = match.group()
        # A token holds no separator, so only quotes at its ends need stripping: checking for
        # them first takes a third off reading a paste of two million ids (3.1 to 2.1 s).
        if token[0] in _QUOTES or token[-1] in _QUOTES:
            token = _unquote(token)
            if not token:
                continue
        yield token, None


def parse_pasted_ids(text: str, *, cap: int = MAX_SCAN_USERS) -> ParsedIds:
    """Ids separated by newlines, commas, semicolons, tabs or spaces; quotes around an id and a
    first line naming the column (``user_id``, ``User ID``, as copied from a spreadsheet column)
    are ignored. A table copied with its header (``User ID<tab>Ticket``) is read as an upload
    is: the ids of the user id column, the other columns carried along.

    Text as long as MAX_PASTE_CHARS was cut there by the browser: its last id may be cut short,
    so it is left out (never scanned as some other user) and the note says so."""
    cut = len(text) >= MAX_PASTE_CHARS
    cut_short = ""
    if cut:
        end = _last_separator(text)
        if end < len(text):
            cut_short = f", and its last id ({_unquote(text[end:])[:40]!r}…) is left out"
        text = text[:end]
    header_line = _first_line(text)
    found = _find_user_id_column(header_line)
    if found is not None and len(_split_header(header_line, found[0])) > 1:
        parsed = _parse_csv_text(text, cap, "", source="The pasted table")
    else:
        if found is not None:  # the column's name alone on the first line
            text = text[text.index(header_line) + len(header_line) :]
        tokens = _pasted_tokens(text)
        first = next(tokens, None)
        if first is None:
            parsed = _collect((), cap)
        elif first[0].casefold() == HEADER:
            parsed = _collect(tokens, cap)
        else:
            parsed = _collect(itertools.chain([first], tokens), cap)
    if cut:
        parsed.messages.insert(
            0,
            f"The box holds at most {MAX_PASTE_CHARS:,} characters, as much as the largest "
            f"upload: the paste was cut there{cut_short}. Split the list and scan the rest "
            "separately.",
        )
    return parsed


def _last_separator(text: str) -> int:
    """Where the text's last token starts (the end, when the text ends in a separator): that
    token may be cut short."""
    end = len(text)
    while end:
        start = max(0, end - _TAIL_BLOCK)
        separator = _SEPARATOR.search(text[start:end][::-1])
        if separator is not None:
            return end - separator.start()
        end = start
    return 0


# --- files ------------------------------------------------------------------------------------


def _named(filename: str) -> str:
    return f"The file {filename!r}" if filename else "The file"


def _check_size(size: int, filename: str) -> None:
    if size > MAX_UPLOAD_BYTES:
        raise errors.InvalidInputError(
            f"{_named(filename)} is {size / 1024 / 1024:.1f} MiB; the limit is "
            f"{MAX_UPLOAD_BYTES // 1024 // 1024} MiB. Split it into smaller files."
        )


def _decode(data: bytes, filename: str) -> str:
    """Check size and encoding; every rejection says what is wrong and what is expected."""
    name = _named(filename)
    if not data.strip():
        raise errors.InvalidInputError(f"{name} is empty: expected {EXPECTED_FORMAT}.")
    _check_size(len(data), filename)
    if data.startswith(b"PK\x03\x04"):
        raise errors.InvalidInputError(
            f"{name} is a ZIP archive (an Excel workbook?), not text: expected {EXPECTED_FORMAT}."
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise errors.InvalidInputError(
            f"{name} is UTF-16 text: expected {EXPECTED_FORMAT} ('CSV UTF-8')."
        )
    if b"\x00" in data:
        raise errors.InvalidInputError(
            f"{name} looks binary (it contains NUL bytes): expected {EXPECTED_FORMAT}."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise errors.InvalidInputError(
            f"{name} is not UTF-8 text (byte 0x{data[exc.start]:02X} on line {line}; "
            "probably Latin-1 or Windows-1252): save it as 'CSV UTF-8'."
        ) from None


def _split_header(line: str, delimiter: str) -> list[str]:
    try:
        cells = next(csv.reader([line], delimiter=delimiter))
    except (csv.Error, StopIteration):
        cells = line.split(delimiter)
    return [cell.strip().lstrip("\ufeff").strip() for cell in cells]


def is_user_id_header(cell: str) -> bool:
    """user_id, User ID, USER-ID, userId: a header naming the user id column."""
    return re.sub(r"[\s_\-]+", "", cell.casefold()) == "userid"


def _find_user_id_column(header_line: str) -> tuple[str, int] | None:
    for delimiter in _DELIMITERS:
        cells = _split_header(header_line, delimiter)
        for index, cell in enumerate(cells):
            if is_user_id_header(cell):
                return delimiter, index
    return None


def _likely_delimiter(line: str) -> str:
    # A single column has none of them: any delimiter reads it as one cell.
    return max(_DELIMITERS, key=line.count)


@dataclass(frozen=True)
class CsvLayout:
    """What an uploaded file looks like, for the page's column picker."""

    delimiter: str
    first_row: list[str]
    id_column: int | None  # the column whose header names the user id, if one does
    preview: list[list[str]]  # the first rows as read, header included

    @property
    def columns(self) -> int:
        return max((len(row) for row in self.preview), default=1)

    def column_names(self, header: bool) -> list[str]:
        """A name per column: the header's (when the first row is one), else "column N"."""
        names = [f"column {i + 1}" for i in range(self.columns)]
        if header:
            for i, cell in enumerate(self.first_row[: len(names)]):
                names[i] = cell or names[i]
        return names


def csv_layout(data: bytes, *, filename: str = "", rows: int = 5) -> CsvLayout:
    """The delimiter, first row and user id column of an upload (its encoding checked first)."""
    text = _decode(data, filename)
    line = _first_line(text)
    found = _find_user_id_column(line)
    delimiter = found[0] if found else _likely_delimiter(line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    preview: list[list[str]] = []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                preview.append([cell.strip() for cell in row])
            if len(preview) > rows:
                break
    except csv.Error as exc:
        raise errors.InvalidInputError(
            f"{_named(filename)} is not a readable CSV (line {reader.line_num}: {exc})."
        ) from None
    first = preview[0] if preview else []
    return CsvLayout(delimiter, first, found[1] if found else None, preview)


def _no_column_message(header_line: str, filename: str) -> str:
    delimiter = _likely_delimiter(header_line)
    cells = _split_header(header_line, delimiter)
    name = _named(filename)
    if len(cells) == 1:
        return (
            f"{name} has no {HEADER} header: its first line is {cells[0][:MAX_SHOWN_ID_CHARS]!r}. "
            f"Expected {EXPECTED_FORMAT}; add a first line reading {HEADER}."
        )
    found = ", ".join(repr(c[:MAX_SHOWN_ID_CHARS]) for c in cells[:20])
    more = f" and {len(cells) - 20} more" if len(cells) > 20 else ""
    return (
        f"{name} has no {HEADER} column (found columns: {found}{more}). Expected {EXPECTED_FORMAT}."
    )


def _first_line(text: str) -> str:
    return next((line for line in io.StringIO(text, newline="") if line.strip()), "").rstrip("\r\n")


def _parse_csv_text(
    text: str,
    cap: int,
    filename: str,
    *,
    column: int | None = None,
    header: bool = True,
    source: str | None = None,
) -> ParsedIds:
    """The ids of one column: the one headed user_id, or `column` (0-based) when given, with
    (`header`) or without a header row. The other columns ride along as ``extras``. `source`
    names the text in messages (else the file)."""
    named_source = source or _named(filename)
    header_line = _first_line(text)
    found = _find_user_id_column(header_line)
    if column is None:
        if found is None:
            raise errors.InvalidInputError(_no_column_message(header_line, filename))
        delimiter, column = found
    else:
        delimiter = found[0] if found else _likely_delimiter(header_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    empty_cells = 0
    found_ids = 0
    id_column = column

    def cells() -> Iterator[Token]:
        nonlocal empty_cells, found_ids
        names: list[str] = []
        header_seen = not header
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # a blank line (or ",,") is layout, not a row with a missing id
            if not header_seen:
                header_seen = True
                names = [cell.strip().lstrip("\ufeff").strip() for cell in row]
                continue
            cell = row[id_column].strip() if id_column < len(row) else ""
            if cell:
                found_ids += 1
                yield cell, reader.line_num, _extras(row, id_column, names)
            else:
                empty_cells += 1

    try:
        parsed = _collect(cells(), cap)
    except csv.Error as exc:
        raise errors.InvalidInputError(
            f"{named_source} is not a readable CSV (line {reader.line_num}: {exc})."
        ) from None
    named = found is not None and found[1] == id_column
    what = f"a {HEADER} column" if named else f"column {id_column + 1}"
    name = HEADER if named else "id"
    if not found_ids:
        detail = f" ({plural(empty_cells, 'row')} with an empty {name})" if empty_cells else ""
        raise errors.InvalidInputError(f"{named_source} has {what} but no ids{detail}.")
    if empty_cells:
        parsed.messages.insert(
            0, f"{plural(empty_cells, 'row')} had an empty {name} (skipped, nothing to scan)."
        )
    return parsed


def _extras(row: list[str], id_column: int, names: list[str]) -> dict[str, str]:
    extra: dict[str, str] = {}
    for index, cell in enumerate(row):
        if index == id_column or not cell.strip():
            continue
        if len(extra) >= MAX_EXTRA_COLUMNS:
            break
        name = names[index] if index < len(names) and names[index] else f"column {index + 1}"
        extra[errors.displayable(name[:MAX_EXTRA_CHARS])] = errors.displayable(
            cell.strip()[:MAX_EXTRA_CHARS]
        )
    return extra


def parse_uploaded_csv(
    data: bytes,
    *,
    cap: int = MAX_SCAN_USERS,
    filename: str = "",
    column: int | None = None,
    header: bool = True,
) -> ParsedIds:
    """A CSV with a ``user_id`` column (any case, "User ID" too; comma, semicolon or tab
    separated; with or without a BOM), or the ids of `column` (0-based; see csv_layout), with or
    without a `header` row: a headerless file of one id per line is column 0 without one.
    Raises InvalidInputError with a specific message when the file is unusable."""
    return _parse_csv_text(_decode(data, filename), cap, filename, column=column, header=header)


def read_ids_file(path: str | Path, *, cap: int = MAX_SCAN_USERS) -> ParsedIds:
    """Ids for the command line: a CSV with a ``user_id`` column, or plain text with one id per
    line. A file is a CSV when its first line has a ``user_id`` column or its name ends in .csv
    or .tsv (then, as for an upload, a missing ``user_id`` column is an error, not ids)."""
    path = Path(path)
    try:
        _check_size(path.stat().st_size, path.name)  # before reading it into memory
        data = path.read_bytes()
    except FileNotFoundError:
        raise errors.InvalidInputError(f"No such file: {str(path)!r}.") from None
    except IsADirectoryError:
        raise errors.InvalidInputError(f"{str(path)!r} is a directory, not a file.") from None
    except OSError as exc:
        raise errors.InvalidInputError(f"Cannot read {str(path)!r}: {exc.strerror}.") from None
    text = _decode(data, path.name)
    if path.suffix.lower() in CSV_SUFFIXES or _find_user_id_column(_first_line(text)):
        return _parse_csv_text(text, cap, path.name)
    # One id per line: a line is an id as given (only surrounding quotes and blanks removed), so
    # a line holding two ids is reported as invalid rather than guessed at.
    lines = ((_unquote(line), number) for number, line in enumerate(text.splitlines(), start=1))
    return _collect(((token, number) for token, number in lines if token), cap)
