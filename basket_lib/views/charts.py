"""Altair chart builders: pure functions from data to ``alt.Chart`` / ``alt.LayerChart``.

Design shared by every chart:

- Colours are mid-tones (around Tailwind 500) so they read on Streamlit's light and dark
  backgrounds; failures are always red, the rest neutral slate or blue.
- No titles (the page's headings say what a chart is); every mark carries a tooltip.
- Text from the API (product names, ids) is passed as data fields, which Vega renders as text,
  never as markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import altair as alt
import pandas as pd

from basket_lib.scan.report import EXPIRY_BIN_LABELS
from basket_lib.views.times import (
    ExpiryStatus,
    expiry_status,
    expiry_text,
    format_time,
    humanize_delta,
    to_local,
)

FAILURE_COLOUR = "#ef4444"
NEUTRAL_COLOUR = "#7f8ea3"
OK_COLOUR = "#3b82f6"
NOW_COLOUR = "#d97706"
SOON_COLOUR = "#f97316"

# Width follows the container, height is each chart's own. Streamlit's default ("fit") squeezes
# the axes and legend into the given height and would shrink the plots to slivers.
_AUTOSIZE = alt.AutoSizeParams(type="fit-x", contains="padding")

# The builders name their result's type: to mypy, altair's mark_*, encode and resolve_* return
# Any (the use_signature decorator that copies their signatures drops Self).

# --- expiry timeline --------------------------------------------------------------------------

SINCE_CHANGE, TIME_LEFT, SINCE_EXPIRY = "since last change", "time left", "since expiry"
TIME_LEFT_SOON = "time left (under 1 h)"
_SEGMENTS = (SINCE_CHANGE, TIME_LEFT, TIME_LEFT_SOON, SINCE_EXPIRY)
_SEGMENT_COLOURS = (NEUTRAL_COLOUR, OK_COLOUR, SOON_COLOUR, FAILURE_COLOUR)
_EVENTS = ("last changed", "now", "expires", "expiring", "expired")
_EVENT_COLOURS = (NEUTRAL_COLOUR, NOW_COLOUR, OK_COLOUR, SOON_COLOUR, FAILURE_COLOUR)
_SEGMENT_COLUMNS = ["segment", "start", "end", "from", "to", "length"]
_EVENT_COLUMNS = ["event", "label", "time", "when", "relative"]
# Dates on the axis and in the labels: a basket's life spans days to weeks.
_DATE_FORMAT = "%d %b %H:%M"


def _local_date(ts: datetime, tz_name: str | None) -> str:
    local = to_local(ts, tz_name)
    assert local is not None
    return local.strftime(_DATE_FORMAT)


def _wall_clock(ts: datetime, tz_name: str | None) -> str:
    # Vega parses an ISO string without an offset as wall-clock time and draws it as such, so the
    # axis shows the agent's zone whatever zone the browser runs in.
    local = to_local(ts, tz_name)
    assert local is not None
    return local.replace(tzinfo=None).isoformat(timespec="seconds")


def expiry_timeline(
    last_changed: datetime | None,
    now: datetime | None,
    expires: datetime | None,
    tz_name: str | None = None,
) -> alt.LayerChart:
    """One horizontal line through time: last changed → now → expires.

    The span since the last change is slate, the time left blue; for an expired basket the
    expiry point lies before "now" and the span from expiry to now is red. Missing timestamps
    are left out (with all three missing the chart is empty but valid). Times are drawn in
    ``tz_name`` (UTC when unknown); tooltips give exact times and durations.
    """
    # Naive values are UTC (as everywhere in basket_lib); comparing them must never raise.
    last_changed, now, expires = (to_local(ts, "UTC") for ts in (last_changed, now, expires))
    points: dict[str, datetime] = {}
    if last_changed is not None:
        points["last changed"] = last_changed
    if now is not None:
        points["now"] = now
    soon = False
    if expires is not None:
        status = expiry_status(expires, now) if now is not None else ExpiryStatus.OK
        soon = status is ExpiryStatus.EXPIRING
        names = {ExpiryStatus.EXPIRED: "expired", ExpiryStatus.EXPIRING: "expiring"}
        points[names.get(status, "expires")] = expires

    def relative(event: str, ts: datetime) -> str:
        if now is None or event == "now":
            return "now" if event == "now" else ""
        if event == "last changed":
            return f"{humanize_delta(now - ts)} ago"
        return expiry_text(ts, now)

    events = pd.DataFrame(
        [
            {
                "event": event,
                # Said in text as well as colour: "expiring 01 Dec 18:48", "expired 27 Jun 06:00".
                "label": event if event == "now" else f"{event} {_local_date(ts, tz_name)}",
                "time": _wall_clock(ts, tz_name),
                "when": format_time(ts, tz_name),
                "relative": relative(event, ts),
            }
            for event, ts in points.items()
        ],
        columns=_EVENT_COLUMNS,
    )

    spans: list[tuple[str, datetime, datetime]] = []
    if now is not None:
        if expires is not None and expires <= now:
            if last_changed is not None:
                spans.append((SINCE_CHANGE, last_changed, expires))
            spans.append((SINCE_EXPIRY, expires, now))
        else:
            if last_changed is not None:
                spans.append((SINCE_CHANGE, last_changed, now))
            if expires is not None:
                spans.append((TIME_LEFT_SOON if soon else TIME_LEFT, now, expires))
    segments = pd.DataFrame(
        [
            {
                "segment": name,
                "start": _wall_clock(start, tz_name),
                "end": _wall_clock(end, tz_name),
                "from": format_time(start, tz_name),
                "to": format_time(end, tz_name),
                "length": humanize_delta(end - start),
            }
            for name, start, end in spans
        ],
        columns=_SEGMENT_COLUMNS,
    )

    x_axis = alt.Axis(title=None, grid=False, labelOverlap=True, format=_DATE_FORMAT)
    # Pixels kept free at both ends so the first and last labels are not cut off.
    x_scale = alt.Scale(padding=48)
    span_layer = (
        alt.Chart(segments)
        .mark_rule(strokeWidth=8, strokeCap="round")
        .encode(
            x=alt.X("start:T", axis=x_axis, scale=x_scale),
            x2="end:T",
            color=alt.Color(
                "segment:N",
                scale=alt.Scale(domain=list(_SEGMENTS), range=list(_SEGMENT_COLOURS)),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("segment:N", title="span"),
                alt.Tooltip("from:N"),
                alt.Tooltip("to:N"),
                alt.Tooltip("length:N"),
            ],
        )
    )
    # Points and their labels share the event colours: a fixed text colour would vanish on one
    # of the two themes.
    event_encoding: dict[str, Any] = {
        "x": alt.X("time:T", axis=x_axis, scale=x_scale),
        "color": alt.Color(
            "event:N",
            scale=alt.Scale(domain=list(_EVENTS), range=list(_EVENT_COLOURS)),
            legend=None,
        ),
        "tooltip": [
            alt.Tooltip("event:N"),
            alt.Tooltip("when:N", title="time"),
            alt.Tooltip("relative:N", title="relative"),
        ],
    }
    point_layer = (
        alt.Chart(events).mark_point(filled=True, size=140, opacity=1).encode(**event_encoding)
    )
    # "now" is labelled a line higher than the others, so close events do not overprint.
    other_labels = (
        alt.Chart(events[events["event"] != "now"])
        .mark_text(dy=-14, fontWeight="bold")
        .encode(text="label:N", **event_encoding)
    )
    now_label = (
        alt.Chart(events[events["event"] == "now"])
        .mark_text(dy=-30, fontWeight="bold")
        .encode(text="label:N", **event_encoding)
    )
    timeline: alt.LayerChart = (
        alt.layer(span_layer, point_layer, other_labels, now_label)
        .resolve_scale(color="independent")
        .properties(height=70, width="container", autosize=_AUTOSIZE)
    )
    return timeline


# --- failures by product ----------------------------------------------------------------------

_BY_PRODUCT_COLUMNS = ["product_id", "name", "failed_reservations", "users", "failed_units"]


def _product_labels(frame: pd.DataFrame) -> pd.Series:
    names = frame["name"].where(frame["name"].notna() & (frame["name"] != ""), None)
    labels = names.fillna(frame["product_id"]).astype(str)
    # Two products with one name would share a bar: tell them apart by id.
    clash = labels.duplicated(keep=False)
    return labels.where(~clash, labels + " (" + frame["product_id"].astype(str) + ")")


def failures_by_product_chart(by_product: pd.DataFrame, top: int = 20) -> alt.Chart:
    """Horizontal bars of failed reservations for the ``top`` products with most failures.

    Input: ``views.failures_by_product`` output. Bars are labelled by name (the id when no name is
    known, "name (id)" when two products share a name), longest bar first.
    """
    data = (
        by_product.reindex(columns=_BY_PRODUCT_COLUMNS)
        .sort_values("failed_reservations", ascending=False, kind="stable")
        .head(max(top, 0))
        .reset_index(drop=True)
    )
    data.insert(0, "label", _product_labels(data) if len(data) else pd.Series(dtype=object))
    # pandas' own string dtype: altair writes a missing name as null, but as NaN (invalid JSON)
    # from an object column.
    data = data.astype({"label": "str", "product_id": "str", "name": "str"})
    chart: alt.Chart = (
        alt.Chart(data)
        .mark_bar(color=FAILURE_COLOUR)
        .encode(
            y=alt.Y("label:N", sort="-x", title=None, axis=alt.Axis(labelLimit=280)),
            x=alt.X(
                "failed_reservations:Q",
                title="failed reservations",
                axis=alt.Axis(tickMinStep=1, format="d"),
            ),
            tooltip=[
                alt.Tooltip("product_id:N", title="product id"),
                alt.Tooltip("name:N"),
                alt.Tooltip("failed_reservations:Q", title="failed reservations"),
                alt.Tooltip("users:Q"),
                alt.Tooltip("failed_units:Q", title="failed units"),
            ],
        )
        # One step per bar: the chart grows with the number of products shown.
        .properties(height=alt.Step(24), width="container", autosize=_AUTOSIZE)
    )
    return chart


# --- time to expiry histogram -----------------------------------------------------------------

WITH_FAILURE = "with failed reservation"
WITHOUT_FAILURE = "without failed reservation"
FAILURE_LABELS: tuple[str, str] = (WITH_FAILURE, WITHOUT_FAILURE)
HISTOGRAM_COLUMNS = ["bin", "baskets", "failures_label"]


def expiry_histogram_frame(counts: Mapping[tuple[int, bool], int]) -> pd.DataFrame:
    """Counts kept by a scan, keyed by (bin index, has a failed reservation), → the input of
    ``expiry_histogram``. Every bin appears for both labels (zeros included) so the axis is the
    same from scan to scan; ``bin`` is an ordered categorical."""
    rows = [
        {
            "bin": label,
            "baskets": int(counts.get((index, failed), 0)),
            "failures_label": WITH_FAILURE if failed else WITHOUT_FAILURE,
        }
        for index, label in enumerate(EXPIRY_BIN_LABELS)
        for failed in (True, False)
    ]
    frame = pd.DataFrame(rows, columns=HISTOGRAM_COLUMNS)
    frame["bin"] = pd.Categorical(frame["bin"], categories=EXPIRY_BIN_LABELS, ordered=True)
    return frame


def expiry_histogram(hist: pd.DataFrame) -> alt.Chart:
    """Stacked bars of baskets per time-to-expiry bin; baskets with a failed reservation in red at
    the bottom of each bar. Input columns: bin (a label of ``EXPIRY_BIN_LABELS``), baskets,
    failures_label (one of ``FAILURE_LABELS``, or a bool: True = with failure). The x axis always
    lists every bin in order."""
    data = hist.reindex(columns=HISTOGRAM_COLUMNS).copy()
    data["bin"] = data["bin"].astype(object)
    if data["failures_label"].dtype == bool:
        data["failures_label"] = data["failures_label"].map(
            {True: WITH_FAILURE, False: WITHOUT_FAILURE}
        )
    # Stacking order: failures first, so they sit on the axis and are easy to compare.
    data["stack_order"] = (data["failures_label"] != WITH_FAILURE).astype("int64")
    chart: alt.Chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(
                "bin:O",
                title="time to expiry",
                scale=alt.Scale(domain=list(EXPIRY_BIN_LABELS)),
                axis=alt.Axis(labelAngle=-40, labelOverlap=False),
            ),
            y=alt.Y("baskets:Q", stack="zero", title="baskets", axis=alt.Axis(tickMinStep=1)),
            color=alt.Color(
                "failures_label:N",
                scale=alt.Scale(domain=list(FAILURE_LABELS), range=[FAILURE_COLOUR, OK_COLOUR]),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            order=alt.Order("stack_order:Q"),
            tooltip=[
                alt.Tooltip("bin:O", title="time to expiry"),
                alt.Tooltip("failures_label:N", title="baskets"),
                alt.Tooltip("baskets:Q", title="count"),
            ],
        )
        .properties(height=240, width="container", autosize=_AUTOSIZE)
    )
    return chart


# --- failure rate across scans ----------------------------------------------------------------


TREND_MEASURES = {
    "failure_rate": ("Reservation failure rate", "%"),
    "failed_reservations": ("Failed reservations", ","),
}


def trend_chart(trend: pd.DataFrame, measure: str = "failure_rate") -> alt.LayerChart:
    """One figure of each completed scan over time (views.scans.trend_frame): the failure rate
    or the failed reservations, a line per label, a point per scan."""
    title, axis_format = TREND_MEASURES[measure]
    base = alt.Chart(trend).encode(
        x=alt.X("started:T", title="Scan started"),
        y=alt.Y(f"{measure}:Q", title=title, axis=alt.Axis(format=axis_format)),
        color=alt.Color("label:N", title="Label"),
        tooltip=[
            alt.Tooltip("label:N", title="Label"),
            alt.Tooltip("started:T", title="Started", format="%Y-%m-%d %H:%M"),
            alt.Tooltip("failure_rate:Q", title="Failure rate", format=".2%"),
            alt.Tooltip("failed_reservations:Q", title="Failed reservations", format=","),
            alt.Tooltip("scan:N", title="Scan"),
        ],
    )
    chart: alt.LayerChart = (base.mark_line() + base.mark_point(filled=True, size=60)).properties(
        height=260, autosize=_AUTOSIZE
    )
    return chart
