"""The one retry policy of both clients: what is retried, and how long to wait before it."""

from __future__ import annotations

import email.utils
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime

from basket_lib.api import errors
from basket_lib.api.defaults import BACKOFF_BASE, BACKOFF_FACTOR, BACKOFF_MAX, RETRY_STATUSES


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait according to a Retry-After header (delta-seconds or HTTP date).

    None when the header is absent or unreadable, so the caller falls back to its backoff.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
        return seconds if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_delay(retry_index: int, jitter: Callable[[], float]) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(max, base * factor**n))."""
    ceiling = min(BACKOFF_MAX, BACKOFF_BASE * BACKOFF_FACTOR ** min(retry_index, 32))
    return ceiling * min(1.0, max(0.0, jitter()))


def retry_delay(
    retry_index: int,
    retry_after: str | None,
    *,
    cap: float,
    jitter: Callable[[], float],
    now: datetime | None = None,
) -> float:
    asked = parse_retry_after(retry_after, now=now)
    if asked is not None:
        return min(asked, cap)
    return backoff_delay(retry_index, jitter)


def is_retryable(error: errors.APIError) -> bool:
    return isinstance(error, errors.APIConnectionError) or error.status in RETRY_STATUSES
