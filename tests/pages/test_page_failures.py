"""AppTest of the reservation-failures page: a scan where every input user is accounted for."""

from __future__ import annotations

import csv
import errno
import io
import json
from pathlib import Path
from typing import Any

import pytest
from apptest_support import (
    ChangedDetailsApi,
    RecordingApi,
    assert_no_live_markup,
    audit_lines,
    download_data,
    frame_with,
    keep_media_managers,
    markdown_texts,
    new_app,
    no_exception,
    plain_texts,
    use_navigation,
)
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from basket_lib.api.errors import ScanStateError, StorageError
from basket_lib.demo import transport as demo_transport
from basket_lib.demo.catalogue import CATALOGUE
from basket_lib.demo.transport import DemoTransport
from basket_lib.scan import inputs, worker
from basket_lib.scan.report import INVALID_USER_ID_KIND
from basket_lib.settings import Settings
from basket_lib.store.database import open_database

FAILURES = "pages/failures.py"
SEEDED = [f"user-{number:05d}" for number in range(1, 201)]
FAULTY = ["demo-fault-500", "demo-fault-401", "demo-fault-timeout", "demo-fault-malformed"]
INVALID = ["..", "bell\x07", "x" * 300]
# The invalid ids as the page lists and exports them: invisible characters written out, cut at 80.
INVALID_SHOWN = ["..", "bell<U+0007>", "x" * 80 + "…"]


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch, app_environment: None) -> None:
    use_navigation(monkeypatch)
    # The page starts a worker process for its scan (tested in tests/store/test_queue.py and in
    # the browser); here the worker runs the queue in this process, where the API is recorded.
    monkeypatch.setattr(worker, "launch_worker", _run_queue_here)


def _run_queue_here() -> None:
    settings = Settings.from_env()
    worker.run_queued(settings, open_database(settings.database_url))


@pytest.fixture
def media_files(monkeypatch: pytest.MonkeyPatch) -> list[MediaFileManager]:
    return keep_media_managers(monkeypatch)


def failures_page() -> AppTest:
    at = new_app(page=FAILURES)
    at.run()
    no_exception(at)
    assert [title.value for title in at.title] == ["Reservation failures"]
    return at


def paste(at: AppTest, text: str) -> AppTest:
    at.text_area(key="scan_text").set_value(text).run()
    no_exception(at)
    return at


def start_scan(at: AppTest) -> AppTest:
    at.button(key="start_scan").click().run()
    no_exception(at)
    return at


def metric(at: AppTest, label: str) -> tuple[str, str]:
    (found,) = [(m.value, m.delta or "") for m in at.metric if m.label == label]
    return found


def mixed_input() -> tuple[str, list[str]]:
    """Pasted text with duplicates, invalid ids and fault users; and its distinct ids."""
    ids = [*SEEDED[:100], *FAULTY, "demo-checkout-failed", *INVALID, *SEEDED[100:]]
    text = "\n".join([*ids[:50], *ids[:20]]) + "\n" + ", ".join(ids[50:]) + ",user-00001"
    return text, ids


def test_scan_accounts_for_every_distinct_user(
    api: RecordingApi, media_files: list[MediaFileManager]
) -> None:
    text, distinct = mixed_input()
    at = paste(failures_page(), text)
    valid = len(distinct) - len(INVALID)
    # Counted as the results count them: the invalid ids are outcomes too.
    assert (
        f"{len(distinct)} distinct user ids: {valid} to scan, {len(INVALID)} invalid (listed with "
        "the reason in the results)" in plain_texts(at, "caption")
    )
    (notice,) = plain_texts(at, "info")
    assert "21 duplicate ids ignored (each user is scanned once)." in notice
    assert f"{len(INVALID)} invalid ids are listed with the reason and not scanned." in notice
    start_scan(at)

    scanned, total = metric(at, "Users read")
    assert total == f"of {len(distinct)} in the input"
    errors = frame_with(at, "kind")
    # Every distinct input ends in exactly one outcome: a basket or a listed error.
    assert int(scanned) + len(errors) == len(distinct)
    assert sorted(errors["user_id"]) == sorted([*FAULTY, *INVALID_SHOWN])
    assert errors["message"].str.len().min() > 0
    reasons = dict(zip(errors["user_id"], errors["message"], strict=True))
    assert "HTTP 500" in reasons["demo-fault-500"]
    assert "HTTP 401" in reasons["demo-fault-401"]
    assert "timed out" in reasons["demo-fault-timeout"]
    assert set(errors.loc[errors["user_id"].isin(INVALID_SHOWN[:2]), "kind"]) == {
        INVALID_USER_ID_KIND
    }
    # Invalid ids were never sent; every other user exactly once (no retries configured).
    sent = [request.target.rsplit("/", 1)[-1] for request in api.baskets()]
    assert len(sent) == len(set(sent)) == len(distinct) - len(INVALID)

    failures = frame_with(at, "stocked")
    assert metric(at, "Failed reservations")[0] == str(len(failures))
    assert len(failures) > 0
    assert "demo-checkout-failed" in set(failures["user_id"])
    assert set(failures["user_id"]) <= set(distinct) - set(FAULTY)
    assert (failures["stocked"] < 0).all()
    assert set(failures["basket"]) == {f"/?user={user}" for user in failures["user_id"]}
    assert len(at.get("vega_lite_chart")) == 2  # failures by product, time to expiry
    assert (
        "7 users could not be read (3 invalid ids, 4 the API could not answer); they are listed "
        "below with the reason."
    ) in (plain_texts(at, "warning"))

    failures_button, products_button, errors_button = at.get("download_button")
    assert products_button.proto.label == "Download products (CSV)"
    data = download_data(media_files, failures_button.proto).decode("utf-8-sig")
    assert data.startswith("user_id,")
    rows = list(csv.DictReader(io.StringIO(data)))
    assert len(rows) == len(failures)
    assert {row["user_id"] for row in rows} == set(failures["user_id"])
    # The products download is headed as the page labels its columns, its figures rounded.
    products = list(csv.DictReader(io.StringIO(download_data(media_files, products_button.proto)
                                               .decode("utf-8-sig"))))  # fmt: skip
    assert list(products[0])[4:6] == ["affected_users", "checkouts_holding_it"]
    for row in products:
        assert len(row["failure_rate"].partition(".")[2]) <= 4
        assert all(len(row[name].partition(".")[2]) <= 2 for name in ("price", "value_at_risk"))
    # Every user not fetched is in the errors download too, with its reason.
    data = download_data(media_files, errors_button.proto).decode("utf-8-sig")
    error_rows = list(csv.DictReader(io.StringIO(data)))
    assert sorted(row["user_id"] for row in error_rows) == sorted(errors["user_id"])
    assert all(row["kind"] and row["message"] for row in error_rows)


def test_a_scan_is_audited_with_every_input_user(tmp_path: Path) -> None:
    text, distinct = mixed_input()
    at = start_scan(paste(failures_page(), text))
    at.run()  # showing the results again is not a new scan

    started, shown = audit_lines(tmp_path / "audit.jsonl")
    scan_id = at.query_params["scan"]
    assert started["action"] == "scan" and started["scan_id"] == scan_id
    assert started["outcome"] == f"started scan {scan_id}"
    assert sorted(started["user_ids"]) == sorted(
        [user for user in distinct if user not in INVALID] + INVALID_SHOWN
    )
    # Looking at the results is a look at customer data of its own, recorded once per session.
    assert shown["action"] == "scan results" and shown["scan_id"] == scan_id
    scanned = metric(at, "Users read")[0]
    assert scanned in shown["outcome"]


def test_the_paste_box_holds_no_more_than_the_largest_upload() -> None:
    # The browser cuts a longer paste, so the server never holds one (issue 10, item 10).
    at = failures_page()
    assert at.text_area(key="scan_text").max_chars == inputs.MAX_PASTE_CHARS
    cut = "user-00001\nuser-00002\nuser-" + "9" * (inputs.MAX_PASTE_CHARS - 27)
    paste(at, cut)
    assert any("The box holds at most" in text for text in markdown_texts(at))


def test_start_without_ids_says_why() -> None:
    at = failures_page()
    assert not at.metric
    for text in ("", " \n ,, "):
        paste(at, text)
        start_scan(at)
        (error,) = plain_texts(at, "error")
        assert "There is nothing to scan yet: paste user ids" in error
        assert "scan" not in at.query_params


def test_only_invalid_ids_still_list_each_one() -> None:
    at = start_scan(paste(failures_page(), "..\n.\n.."))

    assert metric(at, "Users read") == ("0", "of 2 in the input")
    assert sorted(frame_with(at, "kind")["user_id"]) == [".", ".."]
    assert "No failed reservations among the scanned baskets." in plain_texts(at, "info")
    # Only the download of the users not fetched: there are no failures to export.
    (button,) = at.get("download_button")
    assert "not fetched" in button.proto.label


def test_counts_read_as_english() -> None:
    at = paste(failures_page(), "demo-fault-500")
    assert "1 distinct user id to scan" in plain_texts(at, "caption")
    start_scan(at)

    assert "1 user could not be read (1 the API could not answer); it is listed below" in " ".join(
        plain_texts(at, "warning")
    )


def test_cap_is_announced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inputs, "MAX_SCAN_USERS", 5)
    at = paste(failures_page(), "\n".join(SEEDED[:8]))

    assert "Scan up to 5 user ids;" in " ".join(plain_texts(at, "caption"))
    assert "Only the first 5 ids are scanned: 3 more were left out." in plain_texts(at, "warning")
    start_scan(at)
    assert metric(at, "Users read") == ("5", "of 5 in the input")


def _count_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Counts the calls of basket_lib.scan.inputs.`name` from now on."""
    calls: list[int] = []
    real = getattr(inputs, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(inputs, name, counted)
    return calls


def _change_other_widgets(at: AppTest) -> None:
    at.slider(key="concurrency").set_value(8).run()
    at.text_input(key="scan_label").set_value("weekly").run()
    no_exception(at)


def test_pasted_ids_are_parsed_once_per_distinct_text(monkeypatch: pytest.MonkeyPatch) -> None:
    parses = _count_calls(monkeypatch, "parse_pasted_ids")
    text, distinct = mixed_input()
    at = paste(failures_page(), text)
    assert len(parses) == 1

    # A slider step and a label edit rerun the page with the same text: it is not read again,
    # and what it said is still shown.
    _change_other_widgets(at)
    assert len(parses) == 1
    assert f"{len(distinct)} distinct user ids" in " ".join(plain_texts(at, "caption"))
    (notice,) = plain_texts(at, "info")
    assert "21 duplicate ids ignored" in notice and "3 invalid ids are listed" in notice

    paste(at, "user-00001\nuser-00002")  # a changed text is read again
    assert len(parses) == 2
    assert "2 distinct user ids to scan" in plain_texts(at, "caption")
    assert not at.info
    start_scan(at)
    assert len(parses) == 2  # the click's run too
    assert metric(at, "Users read") == ("2", "of 2 in the input")


def test_an_upload_is_read_once_per_file_and_column(
    upload_page: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    layouts = _count_calls(monkeypatch, "csv_layout")
    parses = _count_calls(monkeypatch, "parse_uploaded_csv")
    at = upload(upload_page, "tickets.csv", b"ticket;customer\nT-1;user-00001\nT-2;user-00002\n")
    assert (len(layouts), len(parses)) == (1, 1)
    _change_other_widgets(at)
    assert (len(layouts), len(parses)) == (1, 1)

    at.selectbox(key="scan_column").set_value(1).run()  # another column: read again
    assert (len(layouts), len(parses)) == (1, 2)
    assert "2 distinct user ids to scan" in plain_texts(at, "caption")
    _change_other_widgets(at)
    assert (len(layouts), len(parses)) == (1, 2)
    assert "Carried through to the exports: ticket (1 other column)." in plain_texts(at, "caption")

    # An unusable file's reason stays on the page without the file being read again.
    upload(at, "latin1.csv", "user_id\nJosé\n".encode("latin-1"))
    assert (len(layouts), len(parses)) == (2, 2)
    _change_other_widgets(at)
    assert (len(layouts), len(parses)) == (2, 2)
    (error,) = plain_texts(at, "error")
    assert "latin1.csv" in error and "not UTF-8" in error


def test_sample_demo_users() -> None:
    at = failures_page()
    at.radio(key="scan_source").set_value("Sample demo users").run()
    at.number_input[0].set_value(40).run()
    assert "40 distinct user ids to scan" in plain_texts(at, "caption")
    start_scan(at)

    assert metric(at, "Users read") == ("40", "of 40 in the input")
    assert not frame_with(at, "user_id").empty
    assert "None: every user was fetched." in plain_texts(at, "caption")


def test_sample_users_are_offered_in_demo_mode_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASKET_API_URL", "http://127.0.0.1:9/v2")
    monkeypatch.setenv("BASKET_API_KEY", "k-123456")
    at = failures_page()

    assert at.radio(key="scan_source").options == ["Paste ids", "Upload CSV"]


# --- uploads ------------------------------------------------------------------------------------

BAD_UPLOADS = [
    ("empty.csv", b"", "is empty"),
    ("binary.csv", bytes(range(256)) * 4, "looks binary"),
    ("excel.csv", b"PK\x03\x04rest-of-a-zip", "ZIP archive"),
    ("latin1.csv", "user_id\nJosé\n".encode("latin-1"), "not UTF-8"),
    ("utf16.csv", "user_id\nu1\n".encode("utf-16"), "UTF-16"),
    ("no-ids.csv", b"user_id\n\n,\n", "no ids"),
]


@pytest.fixture
def upload_page() -> AppTest:
    at = failures_page()
    at.radio(key="scan_source").set_value("Upload CSV").run()
    return at


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="scan_file").set_value((name, data, "text/csv")).run()
    no_exception(at)
    return at


@pytest.mark.parametrize(("name", "data", "message"), BAD_UPLOADS, ids=[n for n, *_ in BAD_UPLOADS])
def test_bad_upload_gets_a_clear_message(
    upload_page: AppTest, name: str, data: bytes, message: str
) -> None:
    at = upload(upload_page, name, data)

    (error,) = plain_texts(at, "error")
    assert name in error and message in error
    start_scan(at)
    assert "There is nothing to scan yet" in plain_texts(at, "error")[-1]


def test_huge_upload_is_refused(upload_page: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inputs, "MAX_UPLOAD_BYTES", 1024 * 1024)
    at = upload(upload_page, "huge.csv", b"user_id\n" + b"user-00001\n" * 200_000)

    (error,) = plain_texts(at, "error")
    assert "huge.csv" in error and "limit is 1 MiB" in error


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("bom.csv", "\ufeffuser_id\nuser-00001\nuser-00002\nuser-00001\n".encode()),
        ("semicolons.csv", b"name;user_id\nx;user-00001\ny;user-00002\n"),
    ],
)
def test_good_upload_is_scanned(upload_page: AppTest, name: str, data: bytes) -> None:
    at = upload(upload_page, name, data)

    assert not at.error
    assert "2 distinct user ids to scan" in plain_texts(at, "caption")
    start_scan(at)
    assert metric(at, "Users read") == ("2", "of 2 in the input")


def test_a_file_without_user_id_header_gets_a_column_picker_and_keeps_its_other_columns(
    upload_page: AppTest, media_files: list[MediaFileManager]
) -> None:
    data = b"ticket;customer\nT-1;demo-checkout-failed\nT-2;user-00001\n"
    at = upload(upload_page, "tickets.csv", data)
    assert "No column is headed user_id" in plain_texts(at, "info")[0]
    assert at.checkbox(key="scan_header").value  # two columns: the first row reads as a header
    picker = at.selectbox(key="scan_column")
    assert picker.options == ["ticket", "customer"]
    picker.set_value(1).run()
    assert "2 distinct user ids to scan" in plain_texts(at, "caption")
    assert "Carried through to the exports: ticket (1 other column)." in plain_texts(at, "caption")
    start_scan(at)
    assert metric(at, "Users read") == ("2", "of 2 in the input")
    failures_button = at.get("download_button")[0]
    rows = list(csv.DictReader(io.StringIO(
        download_data(media_files, failures_button.proto).decode("utf-8-sig")
    )))  # fmt: skip
    assert rows and {row["ticket"] for row in rows if row["user_id"] == "demo-checkout-failed"} == {
        "T-1"
    }


def test_a_headerless_file_of_one_id_per_line_is_scanned(upload_page: AppTest) -> None:
    at = upload(upload_page, "ids.txt", b"user-00001\nuser-00002\nuser-00003\n")
    assert not at.checkbox(key="scan_header").value  # one column: every line is an id
    assert "3 distinct user ids to scan" in plain_texts(at, "caption")
    start_scan(at)
    assert metric(at, "Users read") == ("3", "of 3 in the input")


def test_a_second_file_gets_its_own_header_default(upload_page: AppTest) -> None:
    # The first file's unticked header box must not be applied to the next one while the box is
    # drawn ticked for it (issue: the header read as data, its ids one too many).
    at = upload(upload_page, "ids.csv", b"user-00030\nuser-00031\ndemo-hostile\n")
    assert not at.checkbox(key="scan_header").value
    at = upload(at, "people.csv", b"email,customer\nx@y,user-00050\na@b,user-00051\n")
    assert at.checkbox(key="scan_header").value
    assert at.selectbox(key="scan_column").options == ["email", "customer"]
    at.selectbox(key="scan_column").set_value(1).run()
    assert "2 distinct user ids to scan" in plain_texts(at, "caption")
    (preview,) = [frame.value for frame in at.dataframe]
    assert preview.values.tolist() == [["x@y", "user-00050"], ["a@b", "user-00051"]]


def test_hostile_ids_are_shown_as_data() -> None:
    hostile = ["<script>alert(1)</script>", "[x](javascript:alert(1))", "**bold**"]
    at = start_scan(paste(failures_page(), "\n".join(hostile)))

    assert metric(at, "Users read")[0] == str(3 - len(frame_with(at, "kind")))
    assert_no_live_markup(at, hostile)
    assert set(hostile) <= set(frame_with(at, "kind")["user_id"])


# --- stored scans: identity, change, comparison, history ------------------------------------


def _scan_of(users: list[str], label: str) -> str:
    at = paste(failures_page(), "\n".join(users))
    at.text_input(key="scan_label").set_value(label).run()
    start_scan(at)
    scan_id = at.query_params["scan"]
    assert isinstance(scan_id, str) and len(scan_id) == 12
    return scan_id


def _open(scan_id: str, compare: str | None = None) -> AppTest:
    at = new_app(page=FAILURES)
    at.query_params["scan"] = scan_id
    if compare is not None:
        at.query_params["compare"] = compare
    at.run()
    no_exception(at)
    return at


def test_a_scan_opened_by_its_link_says_which_it_is_and_compares_with_the_previous() -> None:
    first = _scan_of(["demo-checkout-failed", "user-00003"], "weekly")
    second = _scan_of(["user-00003", "user-00050"], "weekly")
    at = _open(second)  # a fresh session: the link alone
    (identity,) = [c for c in plain_texts(at, "caption") if "started by" in c]
    assert identity.startswith("weekly · started by a viewer ·") and "2 users" in identity
    assert identity.endswith("completed")
    # The previous scan of the same label is compared by default, and the KPIs say the change.
    assert "vs previous" in metric(at, "Failure rate")[1]
    compared = frame_with(at, "change")
    changes = dict(zip(compared["product_id"], compared["change"], strict=True))
    assert changes == {
        "prod-1002-l": "failing in both",
        "prod-1020": "new",
        "prod-1017": "resolved",
        "prod-1018": "resolved",
    }
    fresh = frame_with(at, "products")
    assert list(fresh["user_id"]) == ["user-00050"]
    assert list(fresh["basket"]) == ["/?user=user-00050"]
    assert at.selectbox(key=f"compare_with_{second}").value == first
    # The history lists both, newest first, each with its link.
    history = frame_with(at, "by")
    assert list(history["scan"])[:2] == [f"/failures?scan={second}", f"/failures?scan={first}"]
    # They did not read the same users: the page says so next to the changes and the comparison.
    (warning,) = [w for w in plain_texts(at, "warning") if "did not read the same users" in w]
    assert f"2 users in this one, 2 in scan {first}, 1 in both" in warning
    assert any("Changes are against the previous scan" in c for c in plain_texts(at, "caption"))


def test_two_scans_of_the_same_users_are_compared_without_a_coverage_warning() -> None:
    users = ["demo-checkout-failed", "user-00003"]
    _scan_of(users, "weekly")
    at = _open(_scan_of(list(reversed(users)), "weekly"))
    assert "vs previous" in metric(at, "Failure rate")[1]
    assert not [w for w in plain_texts(at, "warning") if "did not read the same users" in w]
    assert not [c for c in plain_texts(at, "caption") if "Changes are against" in c]


class _NoVariantDetails(ChangedDetailsApi):
    """The demo API without details of its own for any variant, as the real API often is."""

    def products(self, products: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [p for p in products if not p["mainProductIdentifier"]]


def test_a_variant_without_details_is_named_and_priced_from_its_main_product(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(demo_transport, "DemoTransport", lambda: DemoTransport(_NoVariantDetails()))
    hoodie = CATALOGUE["prod-1002"]
    first = _scan_of(["demo-variants"], "weekly")  # its checkout's prod-1002-l failed
    products = frame_with(_open(first), "value_at_risk")
    (row,) = products[products["product_id"] == "prod-1002-l"].to_dict("records")
    assert row["name"] == hoodie.name
    assert row["price"] == pytest.approx(float(hoodie.price))
    assert row["value_at_risk"] == pytest.approx(float(hoodie.price))
    # The comparison names the earlier scan's products the same way.
    second = _scan_of(["demo-normal"], "weekly")
    compared = frame_with(_open(second), "change")
    assert compared.set_index("product_id").loc["prod-1002-l", "name"] == hoodie.name


def test_failed_reservations_show_a_missing_variant_as_a_blank_cell() -> None:
    at = start_scan(paste(failures_page(), "demo-checkout-failed\ndemo-variants"))
    failures = frame_with(at, "stocked")
    # As in the basket tables: blank, never a grey "None".
    assert set(failures["variant"]) == {"", "L"}
    assert set(failures["main_product"]) == {"", "prod-1002"}
    assert "None" not in failures.astype(str).to_numpy().ravel().tolist()


@pytest.mark.parametrize("asked", ["itself", "bogus"])
def test_a_comparison_link_that_cannot_be_followed_says_so_and_compares_nothing(
    asked: str,
) -> None:
    _scan_of(["demo-checkout-failed", "user-00003"], "weekly")
    second = _scan_of(["user-00003", "user-00050"], "weekly")
    at = _open(second, compare=second if asked == "itself" else asked)
    (warning,) = [w for w in plain_texts(at, "warning") if "No comparison is shown" in w]
    if asked == "itself":
        assert f"compares scan {second} with itself" in warning
    else:
        assert "compares with scan bogus, which is not stored" in warning
    # Not the previous scan in its place, as if it were the one asked for.
    assert at.selectbox(key=f"compare_with_{second}").value == ""
    assert not [frame for frame in at.dataframe if "change" in frame.value.columns]
    assert "compare" not in at.query_params


def test_a_comparison_link_to_a_scan_older_than_those_offered_is_followed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dashboard import comparison

    first = _scan_of(["demo-checkout-failed", "user-00003"], "weekly")
    second = _scan_of(["user-00003", "user-00050"], "weekly")
    monkeypatch.setattr(comparison, "CHOICES_LIMIT", 1)  # only the newest scan is listed
    at = _open(second, compare=first)
    assert not [w for w in plain_texts(at, "warning") if "No comparison is shown" in w]
    assert at.selectbox(key=f"compare_with_{second}").value == first
    assert "resolved" in set(frame_with(at, "change")["change"])


def test_a_comparison_link_to_a_running_scan_says_it_is_not_finished() -> None:
    from basket_lib.store import scans

    scan_id = _scan_of(["user-00003"], "weekly")
    db = open_database(Settings.from_env().database_url)
    running = scans.create_scan(db, user_ids=SEEDED[:3], concurrency=1, owner=scans.new_owner())
    at = _open(scan_id, compare=running.id)
    assert any(
        f"compares with scan {running.id}, which is running: only a stopped or finished" in w
        for w in plain_texts(at, "warning")
    )
    assert at.selectbox(key=f"compare_with_{scan_id}").value == ""


def test_the_history_counts_outcomes_under_another_name_than_users_read() -> None:
    at = start_scan(paste(failures_page(), "user-00001\ndemo-fault-500"))
    assert metric(at, "Users read") == ("1", "of 2 in the input")  # baskets read
    (table,) = [frame for frame in at.dataframe if "by" in frame.value.columns]
    assert list(table.value["done"]) == ["2 / 2"]  # outcomes, the error included
    labels = {name: config.get("label") for name, config in json.loads(table.proto.columns).items()}
    assert labels["done"] == "Users done / input"
    assert "Users read" not in labels.values()


def test_an_unknown_scan_link_says_so() -> None:
    at = _open("0123456789ab")
    assert "There is no stored scan 0123456789ab" in plain_texts(at, "error")[0]


def test_a_stopped_scan_is_labelled_partial_and_offers_resume(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker, "launch_worker", lambda: None)  # stays queued until stopped
    at = paste(failures_page(), "\n".join(SEEDED[:20]))
    start_scan(at)
    scan_id = at.query_params["scan"]
    assert isinstance(scan_id, str)
    assert any("Waiting for a free slot" in p.text for p in at.get("progress"))
    at.button(key="stop_scan").click().run()
    no_exception(at)
    (note,) = plain_texts(at, "warning")
    assert "Partial results: the scan was cancelled after 0 of 20 users" in note
    monkeypatch.setattr(worker, "launch_worker", _run_queue_here)
    at.button(key="resume_scan").click().run()
    no_exception(at)
    assert metric(at, "Users read") == ("20", "of 20 in the input")
    assert not [w for w in plain_texts(at, "warning") if "Partial results" in w]


def _stopped_scan(monkeypatch: pytest.MonkeyPatch, users: list[str]) -> AppTest:
    monkeypatch.setattr(worker, "launch_worker", lambda: None)  # stays queued until stopped
    at = start_scan(paste(failures_page(), "\n".join(users)))
    at.button(key="stop_scan").click().run()
    no_exception(at)
    assert at.button(key="resume_scan")
    return at


def test_a_resume_that_fails_says_why_after_the_rerun(monkeypatch: pytest.MonkeyPatch) -> None:
    from basket_lib.store import scans

    at = _stopped_scan(monkeypatch, SEEDED[:5])

    def taken(db: object, scan_id: str) -> None:
        raise ScanStateError(f"Scan {scan_id} was just resumed by another run.")

    monkeypatch.setattr(scans, "requeue", taken)
    at.button(key="resume_scan").click().run()
    no_exception(at)
    assert any("was just resumed by another run" in error for error in plain_texts(at, "error"))
    at.run()  # shown once, not on every later run
    assert not any("resumed by another run" in error for error in plain_texts(at, "error"))


def test_a_worker_that_cannot_start_is_reported_after_start_and_resume(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(**options: object) -> None:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(worker, "launch_worker", refuse)
    at = start_scan(paste(failures_page(), "\n".join(SEEDED[:5])))
    assert isinstance(at.query_params["scan"], str)  # stored all the same, and shown queued
    (error,) = [e for e in plain_texts(at, "error") if "no worker process could be started" in e]
    assert "Resource temporarily unavailable" in error

    at.button(key="stop_scan").click().run()
    no_exception(at)
    at.button(key="resume_scan").click().run()
    no_exception(at)
    assert any("no worker process could be started" in e for e in plain_texts(at, "error"))


def test_a_stop_that_fails_says_why_after_the_rerun(monkeypatch: pytest.MonkeyPatch) -> None:
    from basket_lib.store import scans

    monkeypatch.setattr(worker, "launch_worker", lambda: None)
    at = start_scan(paste(failures_page(), "\n".join(SEEDED[:5])))

    def broken(db: object, scan_id: str) -> None:
        raise StorageError("The scan database could not be written (stopping the scan).")

    monkeypatch.setattr(scans, "request_cancel", broken)
    at.button(key="stop_scan").click().run()
    no_exception(at)
    assert any("could not be written (stopping the scan)" in e for e in plain_texts(at, "error"))


def test_a_stopped_scan_counts_and_exports_the_users_it_did_not_reach(
    media_files: list[MediaFileManager],
) -> None:
    from basket_lib import connect
    from basket_lib.scan import engine
    from basket_lib.store import scans

    db = open_database(Settings.from_env().database_url)
    users = SEEDED[:10]
    owner = scans.new_owner()
    info = scans.create_scan(
        db, user_ids=users, concurrency=1, owner=owner, extras={users[7]: {"ticket": "T-7"}}
    )
    recorder = scans.Recorder(db, info.id, owner, scans.load_report(db, info.id))
    engine.scan_users_sync(
        lambda: connect.build_async_client(Settings(max_retries=0)),
        users[:4],
        concurrency=1,
        report=recorder.report,
        on_outcome=recorder,
    )
    recorder.cancel()  # Stop, after 4 of the 10

    at = _open(info.id)
    assert "the scan was cancelled after 4 of 10 users" in plain_texts(at, "warning")[0]
    captions = plain_texts(at, "caption")
    assert not [c for c in captions if "every user was fetched" in c]
    assert "None among the 4 users done so far." in captions
    assert any(
        c.startswith("6 of 10 users were not scanned: the scan was cancelled") for c in captions
    )
    (button,) = [b for b in at.get("download_button") if "not scanned" in b.proto.label]
    data = download_data(media_files, button.proto).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(data)))
    assert [row["user_id"] for row in rows] == users[4:]
    assert [row["ticket"] for row in rows] == ["", "", "", "T-7", "", ""]
    assert at.button(key="resume_scan")  # resuming stays the way to fetch them


def test_a_database_that_cannot_be_opened_is_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BASKET_DATABASE_URL", f"sqlite:///{tmp_path}/missing/scans.db")
    at = new_app(page=FAILURES)
    at.run()
    no_exception(at)
    (error,) = plain_texts(at, "error")
    assert "scans.db could not be opened" in error and "missing does not exist" in error
    assert "BASKET_DATABASE_URL" in error  # what the operator should check
    assert not at.button  # nothing to start a scan into


def test_an_unusable_database_url_is_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASKET_DATABASE_URL", "sqlite:///:memory:")
    at = new_app(page=FAILURES)
    at.run()
    no_exception(at)
    (error,) = plain_texts(at, "error")
    assert "BASKET_DATABASE_URL names an in-memory SQLite database" in error
    assert not at.button


def test_a_queued_scan_watched_from_another_session_gets_a_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    launched: list[int] = []
    monkeypatch.setattr(worker, "launch_worker", lambda: launched.append(1))
    at = start_scan(paste(failures_page(), "\n".join(SEEDED[:5])))
    scan_id = at.query_params["scan"]
    assert isinstance(scan_id, str) and len(launched) >= 1
    before = len(launched)
    # Its worker found no free slot and exited: a page watching it starts another.
    watcher = _open(scan_id)
    assert len(launched) == before + 1
    assert any("Waiting for a free slot" in p.text for p in watcher.get("progress"))
    watcher.run()  # within the check interval: no second process
    assert len(launched) == before + 1


def _progress_of(scan_id: str) -> None:
    # An AppTest script: the progress fragment alone, which is all that reruns while a scan is
    # watched.
    from basket_lib.settings import Settings
    from basket_lib.store.database import open_database
    from dashboard import scans as dashboard_scans

    db = open_database(Settings.from_env().database_url)
    dashboard_scans.live_progress(db, scan_id, "UTC")


def test_the_progress_poll_says_when_a_queued_scan_starts_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from basket_lib.store import scans

    monkeypatch.setattr(worker, "launch_worker", lambda: None)
    db = open_database(Settings.from_env().database_url)
    info = scans.create_scan(db, user_ids=SEEDED[:5], concurrency=1)
    poll = AppTest.from_function(_progress_of, args=(info.id,), default_timeout=30)
    poll.run()
    no_exception(poll)
    (identity,) = plain_texts(poll, "caption")
    assert identity.endswith(" · queued")

    scans.claim(db, info.id, scans.new_owner())  # a worker took it
    poll.run()
    no_exception(poll)
    (identity,) = plain_texts(poll, "caption")
    assert identity.endswith(" · running")
    assert any(p.text.startswith("0 / 5 users") for p in poll.get("progress"))


def test_a_scan_stopped_by_a_failure_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    from basket_lib.store import scans

    settings = Settings.from_env()
    db = open_database(settings.database_url)
    info = scans.create_scan(
        db, user_ids=SEEDED[:3], concurrency=1, owner="w:1:x", api_host="api.other"
    )
    scans.give_back(db, info.id, "w:1:x", "The scan stopped: Scan x was started against api.other")
    at = _open(info.id)
    assert "Partial results: the scan was interrupted" in plain_texts(at, "warning")[0]
    assert "started against api.other" in plain_texts(at, "error")[0]
    assert at.button(key="resume_scan")


def test_a_started_scan_clears_the_pasted_ids_and_starts_one_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    launched: list[int] = []
    monkeypatch.setattr(worker, "launch_worker", lambda: launched.append(1))
    at = start_scan(paste(failures_page(), "\n".join(SEEDED[:50])))
    # Stored with the scan; left in the text area they would go to the server on every poll.
    assert at.text_area(key="scan_text").value == ""
    assert any("Waiting for a free slot" in p.text for p in at.get("progress"))
    assert len(launched) == 1  # the rerun that shows the progress does not start a second one


class _StandbyInput:
    written = b""

    def write(self, data: bytes) -> int:
        self.written += data
        return len(data)

    def flush(self) -> None:
        pass

    def __enter__(self) -> _StandbyInput:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class _Process:
    def __init__(self, standby: bool) -> None:
        self.standby = standby
        self.stdin = _StandbyInput() if standby else None

    def poll(self) -> int | None:
        return None  # alive: a standby waits until released


def test_a_worker_gets_ready_while_a_scan_is_filled_in_and_start_releases_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BASKET_WORKER_STANDBY_SECONDS", "600")
    launched: list[_Process] = []

    def launch(*, standby: bool = False) -> _Process:
        launched.append(_Process(standby))
        return launched[-1]

    monkeypatch.setattr(worker, "launch_worker", launch)
    at = failures_page()  # a new scan's form: its worker starts now, not on the click
    assert [p.standby for p in launched] == [True]
    paste(at, "\n".join(SEEDED[:5]))
    start_scan(at)
    assert isinstance(at.query_params["scan"], str)
    # The click released the waiting worker; none started cold, and none is made ready while the
    # scan runs (the rerun showing its progress).
    assert [p.standby for p in launched] == [True]
    assert launched[0].stdin is not None and launched[0].stdin.written == b"\n"  # go
    assert any("Waiting for a free slot" in p.text for p in at.get("progress"))
