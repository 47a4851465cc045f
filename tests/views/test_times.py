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
