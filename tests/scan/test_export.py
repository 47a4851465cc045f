"""basket_lib.scan.export: the one CSV format of the page's downloads and the command line."""

from __future__ import annotations

import csv
import io

import pytest

from basket_lib.api.models import ProductDetails
from basket_lib.scan import export
from basket_lib.scan.report import ErrorRecord, FailureRecord

HEADER = b"\xef\xbb\xbfuser_id,product_id,name,variant,main_product,count,stocked\r\n"
DETAILS = {
    "p1": ProductDetails(product_id="p1", name="Shirt"),
    "p2": ProductDetails(product_id="p2", name="Mug"),
}
FAILURES = [
    FailureRecord("u1", "p1", "L", None, 2, -2),
    FailureRecord("u2", "p1-M", "M", "p1", 1, -1),
    FailureRecord("u3", "p2", None, None, 5, -5),
    FailureRecord("u4", "p3", "", None, 1, -1),
]


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=SUM(A1:A2)", "'=SUM(A1:A2)"),
        ("+49 30 1234", "'+49 30 1234"),
        ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=1", "'\t'=1"),
        ("\r=1", "'\r=1"),
        ("-", "'-"),
        ("-2", "-2"),
        ("+3.5", "+3.5"),
        ("-1e3", "-1e3"),
        ("user-1", "user-1"),
        ("a;=1+1", "a;'=1+1"),
        ("a\t@SUM(1)", "a\t'@SUM(1)"),
        ("=x;+y", "'=x;'+y"),
        ("a;-2;", "a;-2;"),
        ("a; b", "a; b"),
        ("a\x00b", "a\ufffdb"),  # many readers end the cell at a NUL
        ("\x00=1", "\ufffd=1"),
        (-2, -2),
        (None, None),
    ],
)
def test_csv_safe(value: object, expected: object) -> None:
    assert export.csv_safe(value) == expected


def test_failures_csv_has_the_header_and_a_row_per_failure_named_from_details() -> None:
    data = export.failures_csv(FAILURES, DETAILS)
    assert data.startswith(HEADER)
    assert _rows(data)[1:] == [
        ["u1", "p1", "Shirt", "L", "", "2", "-2"],
        ["u2", "p1-M", "Shirt", "M", "p1", "1", "-1"],  # a variant takes its main product's name
        ["u3", "p2", "Mug", "", "", "5", "-5"],
        ["u4", "p3", "", "", "", "1", "-1"],  # no details: no name, nothing invented
    ]


def test_failures_csv_of_nothing_is_just_the_header() -> None:
    assert export.failures_csv([]) == HEADER


def test_every_export_starts_with_a_byte_order_mark_for_excel() -> None:
    # Without it Excel decodes UTF-8 as the machine's legacy code page: "Café" reads "CafÃ©".
    for data in (export.failures_csv(FAILURES, DETAILS), export.errors_csv([])):
        assert data.startswith(b"\xef\xbb\xbfuser_id,")
    stream = io.StringIO(newline="")
    export.write_errors_csv(stream, [])
    assert stream.getvalue().startswith("\ufeffuser_id,")


def test_the_command_line_writer_and_the_download_give_the_same_bytes() -> None:
    stream = io.StringIO(newline="")
    export.write_failures_csv(stream, FAILURES, DETAILS)
    assert stream.getvalue().encode("utf-8") == export.failures_csv(FAILURES, DETAILS)


@pytest.mark.parametrize(
    "cell", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]
)
def test_failures_csv_neutralises_formulas_in_text(cell: str) -> None:
    details = {cell: ProductDetails(product_id=cell, name=cell)}
    row = _rows(export.failures_csv([FailureRecord(cell, cell, cell, cell, 1, -2)], details))[1]
    assert row[:5] == ["'" + cell] * 5


def test_a_lone_carriage_return_in_a_value_stays_inside_its_row() -> None:
    rows = _rows(export.failures_csv([FailureRecord("u1", "p\r=1+1", None, None, 1, -1)]))
    assert len(rows) == 2
    assert rows[1][1] == "p\r=1+1"


def test_failures_csv_keeps_negative_numbers_numeric() -> None:
    row = _rows(export.failures_csv([FailureRecord("u1", "p1", None, None, 3, -2)]))[1]
    assert row == ["u1", "p1", "", "", "", "3", "-2"]
    assert int(row[6]) == -2


def test_failures_csv_keeps_unicode_and_quotes_separators() -> None:
    name = 'Müller, "Größe" 🛒\nzweite Zeile'
    details = {"p1": ProductDetails(product_id="p1", name=name)}
    rows = _rows(export.failures_csv([FailureRecord("ユーザー", "p1", None, None, 1, -1)], details))
    assert rows[1][:3] == ["ユーザー", "p1", name]


def test_failures_csv_leaves_harmless_text_alone() -> None:
    details = {"p=1": ProductDetails(product_id="p=1", name="a+b")}
    rows = _rows(export.failures_csv([FailureRecord("user-1", "p=1", None, None, 1, -1)], details))
    assert rows[1][:3] == ["user-1", "p=1", "a+b"]


def test_errors_csv() -> None:
    data = export.errors_csv([ErrorRecord("u1", "not found", 404, 2005, "@boom")])
    assert _rows(data) == [
        list(export.ERROR_COLUMNS),
        ["u1", "not found", "404", "2005", "'@boom"],
    ]


def test_every_text_cell_is_quoted_and_numbers_are_not() -> None:
    data = export.failures_csv([FailureRecord("u;1", "p1", None, None, 3, -2)])
    assert data.splitlines()[1] == b'"u;1","p1","","","",3,-2'


def test_a_column_name_from_the_input_is_neutralised_in_the_header() -> None:
    extras = {"u1": {'=HYPERLINK("http://x")': "T-1", "name": "Ann"}}
    data = export.failures_csv(FAILURES[:1], DETAILS, extras).decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(data, newline="")))
    assert header[-2:] == ['\'=HYPERLINK("http://x")', "input name"]
    assert next(csv.reader(io.StringIO(data, newline="")))[:1] == ["user_id"]
