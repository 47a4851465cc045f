"""Pasted text and uploaded files → user ids, with every id accounted for."""

from __future__ import annotations

from pathlib import Path

import pytest

from basket_lib.api.errors import InvalidInputError
from basket_lib.scan import inputs
from basket_lib.scan.inputs import (
    MAX_UPLOAD_BYTES,
    parse_pasted_ids,
    parse_uploaded_csv,
    read_ids_file,
)

# --- pasted text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("u1\nu2\nu3", ["u1", "u2", "u3"]),
        ("u1\r\nu2\r\n", ["u1", "u2"]),
        ("u1,u2, u3", ["u1", "u2", "u3"]),
        ("u1;u2 ;u3", ["u1", "u2", "u3"]),
        ("u1\tu2\tu3", ["u1", "u2", "u3"]),
        ("u1 u2   u3", ["u1", "u2", "u3"]),
        ("u1,\n\n;;\t u2 ,,", ["u1", "u2"]),
        ("\"u1\", 'u2', “u3”", ["u1", "u2", "u3"]),
        ('""\n"u1"', ["u1"]),
        ("user_id\nu1\nu2", ["u1", "u2"]),
        ('"USER_ID"\nu1', ["u1"]),
        # The column's name as a spreadsheet spells it, alone on the first line, as uploads take it.
        ("User ID\nu1\nu2", ["u1", "u2"]),
        ("userId\r\nu1", ["u1"]),
        ("\n\n USER-ID \nu1 u2", ["u1", "u2"]),
        ("user_id u1 u2", ["u1", "u2"]),
        # Only a leading header is a header; later it is an id like any other.
        ("u1\nuser_id", ["u1", "user_id"]),
        ("", []),
        (" \n\t ", []),
    ],
)
def test_pasted_separators_quotes_and_header(text: str, expected: list[str]) -> None:
    parsed = parse_pasted_ids(text)
    assert parsed.ids == expected
    assert parsed.invalid == []
    assert parsed.duplicates == 0


def test_a_pasted_table_with_its_header_is_read_as_an_upload_with_its_other_columns() -> None:
    parsed = parse_pasted_ids("User ID\tTicket\nu1\tT-1\nu2\t\n\nu3\tT-3, urgent\n")
    assert parsed.ids == ["u1", "u2", "u3"]
    assert parsed.extras == {"u1": {"Ticket": "T-1"}, "u3": {"Ticket": "T-3, urgent"}}
    with pytest.raises(InvalidInputError, match="The pasted table has a user_id column but no ids"):
        parse_pasted_ids("User ID;Ticket\n;T-1\n")


def test_pasted_duplicates_are_counted_and_first_order_kept() -> None:
    parsed = parse_pasted_ids("b a b c a b")
    assert parsed.ids == ["b", "a", "c"]
    assert parsed.duplicates == 3
    assert any("3 duplicate ids" in m for m in parsed.messages)


@pytest.mark.parametrize(
    ("token", "reason_part", "shown_as"),
    [
        ("bad\x07id", "control character", "bad<U+0007>id"),
        ("x" * 300, "300 characters", "x" * inputs.MAX_SHOWN_ID_CHARS + "…"),
        ("..", "cannot be", ".."),
        # Shown as typed, a direction override would make it read "user-24000".
        ("user-\u202e00042", "U+202E", "user-<U+202E>00042"),
        ("a\u200bb", "U+200B", "a<U+200B>b"),
    ],
)
def test_pasted_invalid_ids_are_listed_with_the_reason(
    token: str, reason_part: str, shown_as: str
) -> None:
    parsed = parse_pasted_ids(f"u1\n{token}\nu2")
    assert parsed.ids == ["u1", "u2"]
    assert len(parsed.invalid) == 1
    shown, reason = parsed.invalid[0]
    assert shown == shown_as
    assert reason_part in reason
    assert any("1 invalid id is listed" in m for m in parsed.messages)


def test_invalid_id_repeated_is_listed_once() -> None:
    parsed = parse_pasted_ids("..\n..\nu1")
    assert parsed.invalid == [("..", parsed.invalid[0][1])]
    assert parsed.duplicates == 1


def test_cap_keeps_the_first_ids_and_counts_the_rest() -> None:
    parsed = parse_pasted_ids("u1 u2 u3 u2 u4 u5", cap=3)
    assert parsed.ids == ["u1", "u2", "u3"]
    assert parsed.truncated == 2
    assert parsed.duplicates == 1
    assert any("first 3 ids" in m and "2 more" in m for m in parsed.messages)


def test_every_token_is_accounted_for() -> None:
    tokens = [f"u{i % 70}" for i in range(100)] + ["..", "a\x01"]
    parsed = parse_pasted_ids("\n".join(tokens), cap=60)
    assert not parsed.unread
    assert len(parsed.ids) + parsed.truncated + parsed.duplicates + len(parsed.invalid) == 102


def test_reading_stops_past_twice_the_cap_and_says_so() -> None:
    # Millions of pasted ids must not all be parsed to say that only the first ones are scanned.
    parsed = parse_pasted_ids("\n".join(f"u{i}" for i in range(10_000)), cap=100)
    assert parsed.ids == [f"u{i}" for i in range(100)]
    assert parsed.unread and parsed.truncated == 100
    assert any("at least 100 more" in m and "not read" in m for m in parsed.messages)


def test_a_csv_upload_stops_reading_past_twice_the_cap() -> None:
    data = ("user_id\n" + "\n".join(f"u{i}" for i in range(5_000))).encode()
    parsed = parse_uploaded_csv(data, cap=10)
    assert len(parsed.ids) == 10 and parsed.unread and parsed.truncated == 10


def test_clean_input_has_no_messages_and_warnings_alias() -> None:
    parsed = parse_pasted_ids("u1 u2")
    assert parsed.messages == []


# --- uploaded CSV -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"user_id\nu1\nu2\n", ["u1", "u2"]),
        (b"\xef\xbb\xbfuser_id\r\nu1\r\nu2\r\n", ["u1", "u2"]),  # Excel's "CSV UTF-8"
        (b"name;user_id;country\nAnn;u1;DE\nBob;u2;FR\n", ["u1", "u2"]),
        (b"name\tuser_id\nAnn\tu1\nBob\tu2\n", ["u1", "u2"]),
        (b" User_ID ,name\nu1,Ann\nu2,Bob\n", ["u1", "u2"]),
        (b'"USER_ID","name"\n"u1","Ann, Jr."\n" u2 ","Bob"\n', ["u1", "u2"]),
        (b"\n\nuser_id\n\nu1\n,\n\nu2", ["u1", "u2"]),  # blank lines are layout
        (b"user_id\ru1\ru2\r", ["u1", "u2"]),  # old Mac line ends
        ("user_id\nü-1\n".encode(), ["ü-1"]),
    ],
)
def test_csv_layouts(data: bytes, expected: list[str]) -> None:
    parsed = parse_uploaded_csv(data)
    assert parsed.ids == expected
    assert parsed.messages == []


def test_csv_empty_cells_are_counted_in_a_message() -> None:
    data = b"user_id,name\nu1,Ann\n,Bob\n  ,Cid\nu2,Dan\n,Eve\n"
    parsed = parse_uploaded_csv(data)
    assert parsed.ids == ["u1", "u2"]
    assert "3 rows had an empty user_id" in parsed.messages[0]


def test_csv_short_row_counts_as_empty_cell() -> None:
    parsed = parse_uploaded_csv(b"name,user_id\nAnn,u1\nBob\n")
    assert parsed.ids == ["u1"]
    assert "1 row had an empty user_id" in parsed.messages[0]


def test_csv_duplicates_invalid_and_cap() -> None:
    parsed = parse_uploaded_csv(b"user_id\nu1\nu1\n..\nu2\nu3\n", cap=2)
    assert parsed.ids == ["u1", "u2"]
    assert parsed.duplicates == 1
    assert parsed.invalid[0][0] == ".."
    assert parsed.truncated == 1


@pytest.mark.parametrize(
    ("data", "message_parts"),
    [
        (b"", ["is empty", "a CSV with a column named user_id"]),
        (b"  \n\r\n", ["is empty"]),
        (b"user_id\n", ["user_id column but no ids"]),
        (b"user_id,name\n,Ann\n,Bob\n", ["no ids", "2 rows with an empty user_id"]),
        (b"id,name,email\n1,Ann,a@x\n", ["no user_id column", "'id', 'name', 'email'"]),
        (b"id;name\n1;Ann\n", ["found columns: 'id', 'name'"]),
        (
            b"user-00001\nuser-00002\n",
            ["no user_id header", "'user-00001'", "a CSV with a column named user_id"],
        ),
        (b"\x00\x01\x02binary\x00", ["binary", "NUL"]),
        (b"PK\x03\x04rest-of-a-zip", ["ZIP", "Excel"]),
        ("user_id\nu1\n".encode("utf-16"), ["UTF-16"]),
        ("user_id\ncafé-1\n".encode("latin-1"), ["not UTF-8", "0xE9", "line 2"]),
        (b'user_id\n"' + b"x" * 200_000 + b'"\n', ["not a readable CSV"]),
    ],
)
def test_csv_rejections_say_what_is_wrong(data: bytes, message_parts: list[str]) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_uploaded_csv(data, filename="ids.csv")
    message = str(caught.value)
    assert "'ids.csv'" in message
    for part in message_parts:
        assert part in message


def test_csv_over_the_size_limit_is_refused() -> None:
    data = b"user_id\n" + b"u\n" * (MAX_UPLOAD_BYTES // 2)
    with pytest.raises(InvalidInputError, match=r"MiB; the limit is 20 MiB"):
        parse_uploaded_csv(data)


def test_csv_with_many_columns_lists_some_of_them() -> None:
    header = ",".join(f"c{i}" for i in range(30))
    with pytest.raises(InvalidInputError, match="and 10 more"):
        parse_uploaded_csv(header.encode() + b"\n")


# --- files for the command line ---------------------------------------------------------------


def test_read_csv_file(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_bytes(b"name;User_Id\nAnn;u1\nBob;u2\n")
    assert read_ids_file(path).ids == ["u1", "u2"]


def test_read_text_file_one_id_per_line(tmp_path: Path) -> None:
    path = tmp_path / "ids.txt"
    path.write_text('u1\n\n"u2"\nu1\nsome id\n', encoding="utf-8")
    parsed = read_ids_file(path)
    # A line is one id as given: "some id" is not split into two ids.
    assert parsed.ids == ["u1", "u2", "some id"]
    assert parsed.duplicates == 1


def test_read_text_file_reports_invalid_lines(tmp_path: Path) -> None:
    path = tmp_path / "ids.txt"
    path.write_text("u1\n..\n", encoding="utf-8")
    parsed = read_ids_file(path)
    assert parsed.ids == ["u1"]
    assert [shown for shown, _ in parsed.invalid] == [".."]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.csv", "No such file"),
        (lambda p: p, "is a directory"),
    ],
)
def test_read_file_problems(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError, match=message):
        read_ids_file(make(tmp_path))


def test_read_file_over_the_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    with path.open("wb") as handle:
        handle.truncate(MAX_UPLOAD_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(InvalidInputError, match="limit is 20 MiB"):
        read_ids_file(path)


def test_read_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ids.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 10)
    with pytest.raises(InvalidInputError, match=r"'ids\.xlsx' is a ZIP archive"):
        read_ids_file(path)


def test_read_csv_named_file_without_the_column_is_refused(tmp_path: Path) -> None:
    # As for an upload: a .csv file without the column is a mistake, not a list of odd ids.
    path = tmp_path / "ids.CSV"
    path.write_text("id,name\n1,Ann\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"found columns: 'id', 'name'"):
        read_ids_file(path)
    path = tmp_path / "ids.tsv"
    path.write_text("user-00001\nuser-00002\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="no user_id header"):
        read_ids_file(path)


def test_read_text_file_whose_first_line_has_the_column_is_a_csv(tmp_path: Path) -> None:
    path = tmp_path / "export.txt"
    path.write_text("name\tuser_id\nAnn\tu1\n", encoding="utf-8")
    assert read_ids_file(path).ids == ["u1"]


# --- the page's column picker, and the columns carried through ----------------------------------


def test_an_excel_style_user_id_header_is_found_and_other_columns_ride_along() -> None:
    from basket_lib.scan.inputs import csv_layout

    data = b"User ID;Ticket;Note\nu1;T-1;rang twice\nu2;T-2;\nu1;T-3;again\n"
    layout = csv_layout(data, filename="tickets.csv")
    assert (layout.delimiter, layout.id_column) == (";", 0)
    assert layout.column_names(header=True) == ["User ID", "Ticket", "Note"]
    parsed = parse_uploaded_csv(data)
    assert parsed.ids == ["u1", "u2"] and parsed.duplicates == 1
    # The first row of a user is what its export rows carry.
    assert parsed.extras == {"u1": {"Ticket": "T-1", "Note": "rang twice"}, "u2": {"Ticket": "T-2"}}


def test_a_headerless_file_of_one_id_per_line_is_read_by_its_column() -> None:
    from basket_lib.scan.inputs import csv_layout

    data = b"u1\nu2\n\nu3\n"
    layout = csv_layout(data)
    assert layout.id_column is None and layout.columns == 1
    assert layout.column_names(header=False) == ["column 1"]
    with pytest.raises(InvalidInputError, match="has no user_id header"):
        parse_uploaded_csv(data)  # without a choice it is refused, as before
    parsed = parse_uploaded_csv(data, column=0, header=False)
    assert parsed.ids == ["u1", "u2", "u3"] and parsed.extras == {}


def test_a_picked_column_of_a_file_without_user_id_header() -> None:
    data = b"customer,ticket\nu1,T-1\n,T-2\nu2,T-3\n"
    parsed = parse_uploaded_csv(data, column=0, header=True)
    assert parsed.ids == ["u1", "u2"]
    assert parsed.extras["u2"] == {"ticket": "T-3"}
    assert "1 row had an empty id" in parsed.messages[0]
    headerless = parse_uploaded_csv(data, column=1, header=False)
    assert headerless.ids == ["ticket", "T-1", "T-2", "T-3"]
    assert headerless.extras["T-1"] == {"column 1": "u1"}


def test_extra_columns_are_bounded() -> None:
    from basket_lib.scan.inputs import MAX_EXTRA_CHARS, MAX_EXTRA_COLUMNS

    header = ",".join(["user_id", *(f"c{i}" for i in range(30))])
    row = ",".join(["u1", *("x" * 500 for _ in range(30))])
    parsed = parse_uploaded_csv(f"{header}\n{row}\n".encode())
    extra = parsed.extras["u1"]
    assert len(extra) == MAX_EXTRA_COLUMNS and all(
        len(v) == MAX_EXTRA_CHARS for v in extra.values()
    )


@pytest.mark.parametrize("tail", [0, 1, 4095, 4096, 4097, 9000])
@pytest.mark.parametrize("separator", ["\n", ",", ";", "\t", "\u00a0", "\u2003"])
def test_the_last_token_of_a_cut_paste_is_found_however_long(separator: str, tail: int) -> None:
    # Searched back from the end block by block: a token across the blocks' edges is found whole,
    # and so is the separator before it.
    head = f"user-00001{separator}user-00002{separator}"
    for before in ("", "x" * 5000):
        text = head + before + separator + "9" * tail
        assert inputs._last_separator(text) == len(text) - tail
    assert inputs._last_separator("9" * tail) == 0


def test_a_paste_cut_at_the_box_limit_leaves_out_its_last_id_and_says_so() -> None:
    # The browser cut the paste at max_chars, in the middle of an id.
    whole = "user-00001\nuser-00002\n"
    text = whole + "user-" + "9" * (inputs.MAX_PASTE_CHARS - len(whole) - 5)
    assert len(text) == inputs.MAX_PASTE_CHARS
    parsed = inputs.parse_pasted_ids(text)
    assert parsed.ids == ["user-00001", "user-00002"]  # not the cut-short "user-999…"
    assert "was cut there, and its last id ('user-9999" in parsed.messages[0]
    assert "…) is left out" in parsed.messages[0]
    # Cut right after a separator: every id is whole and kept.
    text = whole + "\n" * (inputs.MAX_PASTE_CHARS - len(whole))
    parsed = inputs.parse_pasted_ids(text)
    assert parsed.ids == ["user-00001", "user-00002"]
    assert "was cut there. Split the list" in parsed.messages[0]
    # Shorter than the box: nothing said about it.
    assert not any("box holds" in m for m in inputs.parse_pasted_ids(whole).messages)
