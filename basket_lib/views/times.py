"""Durations, expiry and time zones as the pages show them (pure; no pandas)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from basket_lib.views.text import plural

# --- durations and expiry ---------------------------------------------------------------------


def humanize_delta(delta: timedelta) -> str:
    """Compact length of a duration, sign ignored: "under a minute", "37 min", "3 h 12 min",
    "1 day", "2 days 4 h". Units below the largest two are truncated, never rounded up, so a
    basket is never shown as expiring later than it does."""
    seconds = int(abs(delta).total_seconds())
    if seconds < 60:
        return "under a minute"
    minutes, hours, days = seconds // 60 % 60, seconds // 3600 % 24, seconds // 86400
    if days:
        return f"{plural(days, 'day')} {hours} h" if hours else plural(days, "day")
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def _aware(ts: datetime) -> datetime:
    # The models normalise naive timestamps to UTC; callers passing naive values get the same rule.
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


class ExpiryStatus(StrEnum):
    EXPIRED = "expired"
    EXPIRING = "expiring"
    OK = "ok"
    UNKNOWN = "unknown"


def expiry_status(
    expires: datetime | None, now: datetime, *, soon: timedelta = timedelta(hours=1)
) -> ExpiryStatus:
    """A basket whose expiry is exactly now counts as expired; "expiring" means less than
    ``soon`` is left."""
    if expires is None:
        return ExpiryStatus.UNKNOWN
    remaining = _aware(expires) - _aware(now)
    if remaining <= timedelta(0):
        return ExpiryStatus.EXPIRED
    return ExpiryStatus.EXPIRING if remaining < soon else ExpiryStatus.OK


def expiry_fact(expires: datetime | None, now: datetime, tz_name: str | None) -> str:
    """The expiry labelled, for a line of facts: "Expires 2026-12-08 03:21 UTC (in 6 days)",
    "Expired 2026-11-29 03:21 UTC (2 days ago)", "No expiry date"."""
    if expires is None:
        return "No expiry date"
    when = format_time(expires, tz_name)
    remaining = _aware(expires) - _aware(now)
    if remaining > timedelta(0):
        return f"Expires {when} (in {humanize_delta(remaining)})"
    return f"Expired {when} ({humanize_delta(remaining)} ago)"


def start_text(age: timedelta) -> str:
    """ "started 3 h 12 min ago"; a start later than now is never shown as an age: "starts in
    2 days: its start time is in the future (clock skew or a bad value)"."""
    if age < timedelta(0):
        return (
            f"starts in {humanize_delta(age)}: its start time is in the future (clock skew or a "
            "bad value)"
        )
    return f"started {humanize_delta(age)} ago"


def expiry_text(expires: datetime | None, now: datetime) -> str:
    """ "expires in 3 h 12 min", "expired 2 days ago", "no expiry date"."""
    if expires is None:
        return "no expiry date"
    remaining = _aware(expires) - _aware(now)
    if remaining > timedelta(0):
        return f"expires in {humanize_delta(remaining)}"
    return f"expired {humanize_delta(remaining)} ago"


# --- time zones -------------------------------------------------------------------------------


def _zone(tz_name: str | None) -> ZoneInfo:
    if tz_name:
        try:
            return ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
            pass  # the browser reported something zoneinfo cannot resolve: fall back to UTC
    return ZoneInfo("UTC")


def to_local(ts: datetime | None, tz_name: str | None) -> datetime | None:
    """``ts`` in the named zone (e.g. the browser's ``st.context.timezone``); UTC when the name is
    missing or unknown. Naive timestamps are taken as UTC. Never raises for a bad zone name."""
    if ts is None:
        return None
    return _aware(ts).astimezone(_zone(tz_name))


def format_time(ts: datetime | None, tz_name: str | None, *, seconds: bool = False) -> str:
    """ "2025-06-29 10:12 CEST" (with `seconds`, "2025-06-29 10:12:07 CEST") in the named zone
    (UTC when unknown); "unknown" for None."""
    local = to_local(ts, tz_name)
    pattern = "%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z"
    return "unknown" if local is None else local.strftime(pattern)


def format_with_utc(ts: datetime | None, tz_name: str | None, *, seconds: bool = False) -> str:
    """ "2025-06-29 10:12 CEST (2025-06-29 08:12 UTC)": the time in the named zone, then in UTC;
    once when the two read the same (the zone is UTC or unknown)."""
    local = format_time(ts, tz_name, seconds=seconds)
    utc = format_time(ts, "UTC", seconds=seconds)
    return local if local == utc else f"{local} ({utc})"


# --- freshness --------------------------------------------------------------------------------


def age_text(delta: timedelta) -> str:
    """ "12 s" under a minute (freshness is read in seconds), otherwise humanize_delta."""
    seconds = int(abs(delta).total_seconds())
    return f"{seconds} s" if seconds < 60 else humanize_delta(delta)


@dataclass(frozen=True, slots=True)
class Freshness:
    text: str
    stale: bool


def freshness(
    fetched_at: datetime, now: datetime, tz_name: str | None, *, stale_after: timedelta
) -> Freshness:
    """ "Fetched at 10:51:03 CEST (12 s ago)"; stale once older than `stale_after` (the cache
    period: a newer answer may exist)."""
    fetched, current = _aware(fetched_at), _aware(now)
    local = to_local(fetched, tz_name)
    assert local is not None
    age = max(current - fetched, timedelta(0))
    return Freshness(
        text=f"Fetched at {local.strftime('%H:%M:%S %Z')} ({age_text(age)} ago)",
        stale=age > stale_after,
    )
