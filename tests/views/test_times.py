"""Times as the basket page shows them: fetch freshness and times with seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from basket_lib.views import times

FETCHED = datetime(2026, 7, 1, 8, 51, 3, tzinfo=UTC)
TTL = timedelta(seconds=30)


@pytest.mark.parametrize(
    ("age", "text", "stale"),
    [
        (timedelta(seconds=0), "Fetched at 10:51:03 CEST (0 s ago)", False),
        (timedelta(seconds=12), "Fetched at 10:51:03 CEST (12 s ago)", False),
        (timedelta(seconds=30), "Fetched at 10:51:03 CEST (30 s ago)", False),
        (timedelta(seconds=31), "Fetched at 10:51:03 CEST (31 s ago)", True),
        (timedelta(minutes=3, seconds=5), "Fetched at 10:51:03 CEST (3 min ago)", True),
        # A clock a little behind the API's: never "in the future", never negative.
        (timedelta(seconds=-4), "Fetched at 10:51:03 CEST (0 s ago)", False),
    ],
)
def test_freshness_in_seconds_and_stale_after_the_cache_period(
    age: timedelta, text: str, stale: bool
) -> None:
    shown = times.freshness(FETCHED, FETCHED + age, "Europe/Berlin", stale_after=TTL)
    assert shown == times.Freshness(text=text, stale=stale)


def test_freshness_of_naive_times_and_an_unknown_zone() -> None:
    naive = FETCHED.replace(tzinfo=None)
    shown = times.freshness(naive, naive + timedelta(seconds=5), "Mars/Olympus", stale_after=TTL)
    assert shown.text == "Fetched at 08:51:03 UTC (5 s ago)"


def test_format_time_with_seconds() -> None:
    assert times.format_time(FETCHED, "Europe/Berlin", seconds=True) == "2026-07-01 10:51:03 CEST"
    assert times.format_time(FETCHED, "Europe/Berlin") == "2026-07-01 10:51 CEST"
    assert times.format_time(None, "UTC", seconds=True) == "unknown"


@pytest.mark.parametrize(
    ("tz_name", "text"),
    [
        ("Europe/Berlin", "2026-07-01 10:51:03 CEST (2026-07-01 08:51:03 UTC)"),
        ("UTC", "2026-07-01 08:51:03 UTC"),
        ("Mars/Olympus", "2026-07-01 08:51:03 UTC"),  # an unknown zone is shown as UTC
        (None, "2026-07-01 08:51:03 UTC"),
    ],
)
def test_a_time_with_utc_shows_utc_once_when_both_read_the_same(
    tz_name: str | None, text: str
) -> None:
    assert times.format_with_utc(FETCHED, tz_name, seconds=True) == text


@pytest.mark.parametrize(
    ("expires_in", "text"),
    [
        (timedelta(days=6, minutes=3), "Expires 2026-07-07 10:54 CEST (in 6 days)"),
        (timedelta(days=-2), "Expired 2026-06-29 10:51 CEST (2 days ago)"),
        (timedelta(0), "Expired 2026-07-01 10:51 CEST (under a minute ago)"),
    ],
)
def test_the_expiry_fact_is_labelled(expires_in: timedelta, text: str) -> None:
    assert times.expiry_fact(FETCHED + expires_in, FETCHED, "Europe/Berlin") == text
    assert times.expiry_fact(None, FETCHED, "UTC") == "No expiry date"


def test_a_start_in_the_future_is_not_an_age() -> None:
    assert times.start_text(timedelta(hours=3, minutes=12)) == "started 3 h 12 min ago"
    assert times.start_text(-timedelta(days=1125, hours=20, minutes=5)) == (
        "starts in 1,125 days 20 h: its start time is in the future (clock skew or a bad value)"
    )
