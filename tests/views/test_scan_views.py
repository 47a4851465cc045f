"""Stored scans as the failures page shows them: identity, history, trend, changes, comparison."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pandas as pd

from basket_lib.scan.report import FailureRecord
from basket_lib.store.scans import ScanInfo, Status
from basket_lib.views import scans as views
from basket_lib.views.tables import failures_frame, product_table

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _info(scan_id: str, **changes: object) -> ScanInfo:
    base = ScanInfo(
        id=scan_id, label="weekly", started_by="ann@example.com", source="page",
        stored_status="completed", api_host="api.example", provider_id=None, concurrency=8,
        input_size=500, duplicates=0, created_at=T0, started_at=T0, finished_at=T0,
        heartbeat_at=None, owner=None, done=500, scanned=490, errors=10,
        baskets_with_checkout=200, checkout_items=400, failed_reservations=20,
        users_with_failure=15, elapsed_seconds=3.0, cancel_requested=False, error=None,
        alive=False,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_scan_says_which_it_is_and_when_its_results_are_partial() -> None:
    info = _info("a1")
    assert views.scan_identity(info, "Europe/Berlin") == (
        "weekly · started by ann@example.com · 2026-11-01 10:00 CET · 500 users · completed"
    )
    assert views.partial_note(info) is None
    stopped = _info("a2", stored_status="cancelled", done=120, label=None, started_by=None,
                    source="cli")  # fmt: skip
    assert views.scan_identity(stopped, "UTC").startswith("unlabelled scan · started by the")
    assert "cancelled (partial)" in views.scan_identity(stopped, "UTC")
    note = views.partial_note(stopped)
    assert note is not None and "after 120 of 500 users" in note


def test_scans_of_different_users_are_compared_with_a_warning() -> None:
    now, before = _info("n1"), _info("b1")
    assert views.coverage_note(now, before, shared=500) is None
    note = views.coverage_note(now, replace(before, input_size=5_000), shared=400)
    assert note is not None
    assert note.startswith("The two scans did not read the same users: 500 users in this one, ")
    assert "5,000 in scan b1, 400 in both" in note
    assert views.coverage_note(now, before, shared=499) is not None  # same size, other users


def test_a_stopped_scan_never_reads_as_if_every_user_was_fetched() -> None:
    assert views.no_unread_note(_info("d1")) == "None: every user was fetched."
    stopped = _info("d2", stored_status="cancelled", done=44, input_size=300)
    assert views.no_unread_note(stopped) == "None among the 44 users done so far."
    assert "None yet" in views.no_unread_note(replace(stopped, done=0))
    assert views.not_scanned_summary(stopped, 256).startswith(
        "256 of 300 users were not scanned: the scan was cancelled before it reached them."
    )
    assert views.not_scanned_summary(stopped, 1).startswith("1 of 300 users was not scanned")
    interrupted = _info("d3", stored_status="interrupted")
    assert views.not_scanned_summary(interrupted, 0) == (
        "Every user was reached before the scan was interrupted."
    )


def test_a_running_scan_whose_run_is_gone_reads_interrupted() -> None:
    info = _info("a3", stored_status="running", alive=False)
    assert info.status is Status.INTERRUPTED and info.partial
    assert _info("a4", stored_status="running", alive=True).status is Status.RUNNING


def test_history_links_each_scan_and_the_trend_keeps_completed_ones_of_a_label() -> None:
    infos = [
        _info("c3", created_at=T0 + timedelta(days=14), failed_reservations=10),
        _info("c2", created_at=T0 + timedelta(days=7), stored_status="cancelled"),
        _info("c1", created_at=T0, label="other"),
        _info("c0", created_at=T0 - timedelta(days=7)),
    ]
    history = views.history_frame(infos, "UTC")
    assert list(history["scan"]) == [f"/failures?scan={i.id}" for i in infos]
    assert list(history["status"])[1] == "cancelled (partial)"
    trend = views.trend_frame(infos, "weekly")
    assert list(trend["scan"]) == ["c0", "c3"]  # oldest first, the partial one left out
    assert list(trend["failure_rate"]) == [20 / 400, 10 / 400]
    assert list(views.trend_frame(infos)["scan"]) == ["c0", "c1", "c3"]


def test_change_is_against_the_previous_completed_scan_of_the_same_label() -> None:
    now = _info("n", created_at=T0 + timedelta(days=7))
    history = [now, _info("p", created_at=T0), _info("o", created_at=T0, label="other")]
    assert views.previous_of(now, history) == history[1]
    assert views.previous_of(_info("x", label=None), history) is None
    assert views.rate_change(0.06, 0.05) == views.Change("+1.0 pts vs previous", True)
    assert views.rate_change(0.05, None).text is None
    assert views.count_change(18, 20) == views.Change("-2 vs previous", False)


def _products(records: list[FailureRecord], checkouts: dict[str, int]) -> pd.DataFrame:
    return product_table(failures_frame(records), checkouts)


def test_comparison_names_new_resolved_and_persisting_products() -> None:
    before = [
        FailureRecord("u1", "p-old", None, None, 1, -1),
        FailureRecord("u2", "p-both", None, None, 1, -1),
    ]
    now = [
        FailureRecord("u2", "p-both", None, None, 1, -1),
        FailureRecord("u3", "p-both", None, None, 2, -2),
        FailureRecord("u4", "p-new", None, None, 1, -1),
    ]
    compared = views.compare_products(
        _products(now, {"p-both": 4, "p-new": 2}), _products(before, {"p-old": 1, "p-both": 2})
    )
    rows = {row["product_id"]: row for row in compared.to_dict("records")}
    assert list(compared["product_id"]) == ["p-both", "p-new", "p-old"]  # resolved last
    assert rows["p-both"]["change"] == views.BOTH
    assert (rows["p-both"]["failed_before"], rows["p-both"]["failed_now"]) == (1, 2)
    assert rows["p-both"]["difference"] == 1
    assert (rows["p-both"]["rate_before"], rows["p-both"]["rate_now"]) == (0.5, 0.5)
    assert rows["p-new"]["change"] == views.NEW and math.isnan(rows["p-new"]["rate_before"])
    assert rows["p-old"]["change"] == views.RESOLVED and rows["p-old"]["failed_now"] == 0

    fresh = views.newly_affected(failures_frame(now), failures_frame(before))
    assert fresh.to_dict("records") == [
        {"user_id": "u3", "basket": "/?user=u3", "products": "p-both"},
        {"user_id": "u4", "basket": "/?user=u4", "products": "p-new"},
    ]


def test_the_input_and_the_unread_users_are_counted_as_the_results_count_them() -> None:
    assert views.input_summary(11, 0) == "11 distinct user ids to scan"
    assert views.input_summary(11, 1) == (
        "12 distinct user ids: 11 to scan, 1 invalid (listed with the reason in the results)"
    )
    assert views.unread_summary(6, 1) == (
        "7 users could not be read (1 invalid id, 6 the API could not answer); they are listed "
        "below with the reason."
    )
    assert views.unread_summary(0, 1).startswith("1 user could not be read (1 invalid id); it is")


def test_the_checkout_failure_rate_of_a_scan() -> None:
    assert _info("r").user_failure_rate == 15 / 200
    assert _info("r", baskets_with_checkout=0).user_failure_rate is None
    assert _info("r", checkout_items=0).reservation_failure_rate is None
