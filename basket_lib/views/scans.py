"""Stored scans as the failures page shows them: which scan a result is, the history table, the
trend across scans and the change against the previous scan of the same label."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from basket_lib.store.scans import ScanInfo, Status
from basket_lib.views.tables import deep_link
from basket_lib.views.text import plural
from basket_lib.views.times import format_time

STATUS_LABELS = {
    Status.QUEUED: "queued",
    Status.RUNNING: "running",
    Status.COMPLETED: "completed",
    Status.CANCELLED: "cancelled (partial)",
    Status.INTERRUPTED: "interrupted (partial)",
}


def scan_link(scan_id: str) -> str:
    return f"/failures?scan={scan_id}"


def scan_identity(info: ScanInfo, tz_name: str | None) -> str:
    """One line saying which scan this is: label, who, when, how many users, its status."""
    who = info.started_by or ("the command line" if info.source == "cli" else "a viewer")
    parts = [
        info.label or "unlabelled scan",
        f"started by {who}",
        format_time(info.started_at or info.created_at, tz_name),
        plural(info.input_size, "user"),
        STATUS_LABELS[info.status],
    ]
    return " · ".join(parts)


def partial_note(info: ScanInfo) -> str | None:
    if not info.partial:
        return None
    return (
        f"Partial results: the scan was {info.status} after {info.done:,} of "
        f"{info.input_size:,} users. The figures below cover those {info.done:,} only."
    )


def progress_text(info: ScanInfo) -> str:
    if info.status is Status.QUEUED:
        return f"Waiting for a free slot ({plural(info.input_size, 'user')})…"
    return (
        f"{info.done:,} / {plural(info.input_size, 'user')} · {plural(info.errors, 'error')} · "
        f"{plural(info.failed_reservations, 'failed reservation')}"
    )


def progress_fraction(info: ScanInfo) -> float:
    return min(info.done / info.input_size, 1.0) if info.input_size else 1.0


HISTORY_COLUMNS = (
    "scan", "label", "status", "started", "done", "failed_reservations", "failure_rate", "by",
)  # fmt: skip


def history_frame(infos: Sequence[ScanInfo], tz_name: str | None) -> pd.DataFrame:
    """The recent scans, newest first, each with a link to open it."""
    rows = [
        {
            "scan": scan_link(info.id),
            "label": info.label or "",
            "status": STATUS_LABELS[info.status],
            "started": format_time(info.started_at or info.created_at, tz_name),
            # Outcomes (errors included), not the baskets read that a scan's results count.
            "done": f"{info.done:,} / {info.input_size:,}",
            "failed_reservations": info.failed_reservations,
            "failure_rate": info.reservation_failure_rate,
            "by": info.started_by or info.source,
        }
        for info in infos
    ]
    return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))


def trend_frame(infos: Sequence[ScanInfo], label: str | None = None) -> pd.DataFrame:
    """Completed scans (of `label`, if given) oldest first: when, failure rate, failures."""
    chosen = [
        info
        for info in infos
        if info.status is Status.COMPLETED
        and info.reservation_failure_rate is not None
        and (label is None or info.label == label)
    ]
    chosen.sort(key=lambda info: info.created_at)
    return pd.DataFrame(
        {
            "started": [info.created_at for info in chosen],
            "label": [info.label or "unlabelled" for info in chosen],
            "failure_rate": [info.reservation_failure_rate for info in chosen],
            "failed_reservations": [info.failed_reservations for info in chosen],
            "scan": [info.id for info in chosen],
        }
    )


def previous_of(info: ScanInfo, history: Sequence[ScanInfo]) -> ScanInfo | None:
    """The last completed scan with the same label before `info` (None for unlabelled scans)."""
    if info.label is None:
        return None
    earlier = [
        other
        for other in history
        if other.label == info.label
        and other.id != info.id
        and other.status is Status.COMPLETED
        and other.created_at < info.created_at
    ]
    return max(earlier, key=lambda other: other.created_at, default=None)


def coverage_note(now: ScanInfo, before: ScanInfo, shared: int) -> str | None:
    """None when two scans read the same users; else a warning that their difference also
    reflects who was scanned (`shared`: the input users the two have in common)."""
    if now.input_size == before.input_size == shared:
        return None
    return (
        f"The two scans did not read the same users: {plural(now.input_size, 'user')} in this "
        f"one, {before.input_size:,} in scan {before.id}, {shared:,} in both. A product new or "
        "resolved here, and the change in the figures, may come from who was scanned rather "
        "than from the stock."
    )


def comparison_refusal(scan_id: str, wanted: str, found: ScanInfo | None) -> str:
    """Why the link's compare=`wanted` shows no comparison on scan `scan_id`'s page; `found`:
    the stored scan `wanted` names, if any."""
    if wanted == scan_id:
        reason = f"The link compares scan {wanted} with itself"
    elif found is None:
        reason = f"The link compares with scan {wanted}, which is not stored"
    else:
        reason = (
            f"The link compares with scan {wanted}, which is {STATUS_LABELS[found.status]}: only "
            "a stopped or finished scan is compared"
        )
    return f"{reason}. No comparison is shown; pick a scan to compare with below."


@dataclass(frozen=True)
class Change:
    """A KPI's change against the previous scan of the same label, worded for st.metric."""

    text: str | None
    worse: bool  # for the colour: a higher failure rate is worse


def rate_change(current: float | None, previous: float | None) -> Change:
    if current is None or previous is None:
        return Change(None, False)
    points = (current - previous) * 100
    return Change(f"{points:+.1f} pts vs previous", points > 0)


def count_change(current: int, previous: int | None) -> Change:
    if previous is None:
        return Change(None, False)
    return Change(f"{current - previous:+,} vs previous", current > previous)


COMPARISON_COLUMNS = (
    "product_id", "name", "change", "failed_before", "failed_now", "difference",
    "rate_before", "rate_now",
)  # fmt: skip
NEW, RESOLVED, BOTH = "new", "resolved", "failing in both"


def compare_products(now: pd.DataFrame, before: pd.DataFrame) -> pd.DataFrame:
    """Two scans' product tables (views.tables.product_table) side by side: each product failing
    in either, whether it is new, resolved or failing in both, with its failed reservations and
    failure rate in each. Most failures now first, then the resolved ones."""
    now_by = _by_product(now)
    before_by = _by_product(before)
    rows = []
    for product_id in dict.fromkeys([*now_by, *before_by]):
        current, earlier = now_by.get(product_id), before_by.get(product_id)
        failed_now = int(current["failed_reservations"]) if current else 0
        failed_before = int(earlier["failed_reservations"]) if earlier else 0
        name = (current or earlier or {}).get("name")
        rows.append(
            {
                "product_id": product_id,
                "name": name if isinstance(name, str) else None,
                "change": BOTH if current and earlier else NEW if current else RESOLVED,
                "failed_before": failed_before,
                "failed_now": failed_now,
                "difference": failed_now - failed_before,
                "rate_before": _rate(earlier),
                "rate_now": _rate(current),
            }
        )
    frame = pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))
    frame["resolved"] = frame["change"] == RESOLVED
    frame = frame.sort_values(
        ["resolved", "failed_now", "difference", "product_id"],
        ascending=[True, False, False, True],
        kind="stable",
    )
    return frame.drop(columns="resolved").reset_index(drop=True)


def _by_product(products: pd.DataFrame) -> dict[str, dict[Any, Any]]:
    return {str(row["product_id"]): row for row in products.to_dict("records")}


def _rate(row: dict[Any, Any] | None) -> float | None:
    value = None if row is None else row.get("failure_rate")
    return None if value is None or pd.isna(value) else float(value)


def newly_affected(now: pd.DataFrame, before: pd.DataFrame) -> pd.DataFrame:
    """Users with a failed reservation now who had none in the earlier scan (failures_frame
    rows), with the products that failed for them and a link to each basket."""
    earlier = set(before["user_id"])
    fresh = now[~now["user_id"].isin(earlier)]
    grouped = fresh.groupby("user_id", sort=True)["product_id"]
    frame = grouped.agg(lambda ids: ", ".join(dict.fromkeys(ids))).reset_index()
    frame.columns = pd.Index(["user_id", "products"])
    frame.insert(1, "basket", [deep_link("", user) for user in frame["user_id"]])
    return frame


def input_summary(valid: int, invalid: int) -> str:
    """What a scan's input holds, counted as the results will count it (invalid ids included)."""
    if not invalid:
        return f"{plural(valid, 'distinct user id')} to scan"
    return (
        f"{plural(valid + invalid, 'distinct user id')}: {valid:,} to scan, {invalid:,} invalid "
        "(listed with the reason in the results)"
    )


def unread_summary(api_errors: int, invalid: int) -> str:
    """Why users have no basket in the results, in the same counts as the errors table."""
    total = api_errors + invalid
    parts = []
    if invalid:
        parts.append(plural(invalid, "invalid id"))
    if api_errors:
        parts.append(f"{api_errors:,} the API could not answer")
    pronoun = "it is" if total == 1 else "they are"
    return (
        f"{plural(total, 'user')} could not be read ({', '.join(parts)}); "
        f"{pronoun} listed below with the reason."
    )


def no_unread_note(info: ScanInfo) -> str:
    """What an empty errors table means: a stopped scan has not fetched every user yet."""
    if info.partial and not info.done:
        return "None yet: the scan stopped before it fetched any user."
    if info.partial:
        return f"None among the {plural(info.done, 'user')} done so far."
    return "None: every user was fetched."


def not_scanned_summary(info: ScanInfo, pending: int) -> str:
    """How many users a stopped scan has not reached (pending_user_ids), and what to do."""
    if not pending:
        return f"Every user was reached before the scan was {info.status}."
    verb = "was" if pending == 1 else "were"
    return (
        f"{pending:,} of {plural(info.input_size, 'user')} {verb} not scanned: the scan was "
        f"{info.status} before it reached them. Resume the scan to fetch them, or download them "
        "to scan them later."
    )
