"""The basket page's expiry timeline, as a plain Vega-Lite spec (a dict).

Written as a dict rather than built with altair: building and validating the altair layer chart
cost about a quarter of the server's CPU per basket lookup (benchmarks/README.md, "Agents"), and
the basket page then needs neither altair nor pandas. The tests validate the spec against
Vega-Lite's schema (through altair), so it stays a valid chart.

Its data is inline, one list of rows per layer: Streamlit ships it inside the spec as JSON,
without an Arrow conversion.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from basket_lib.views.palette import (
    AUTOSIZE,
    FAILURE_COLOUR,
    NEUTRAL_COLOUR,
    NOW_COLOUR,
    OK_COLOUR,
    SOON_COLOUR,
)
from basket_lib.views.times import (
    ExpiryStatus,
    expiry_status,
    expiry_text,
    format_time,
    humanize_delta,
    to_local,
)

SINCE_CHANGE, TIME_LEFT, SINCE_EXPIRY = "since last change", "time left", "since expiry"
TIME_LEFT_SOON = "time left (under 1 h)"
_SEGMENTS = (SINCE_CHANGE, TIME_LEFT, TIME_LEFT_SOON, SINCE_EXPIRY)
_SEGMENT_COLOURS = (NEUTRAL_COLOUR, OK_COLOUR, SOON_COLOUR, FAILURE_COLOUR)
_EVENTS = ("last changed", "now", "expires", "expiring", "expired")
_EVENT_COLOURS = (NEUTRAL_COLOUR, NOW_COLOUR, OK_COLOUR, SOON_COLOUR, FAILURE_COLOUR)
# Dates on the axis and in the labels: a basket's life spans days to weeks.
_DATE_FORMAT = "%d %b %H:%M"
SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"

Spec = dict[str, Any]


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


def _nominal(field: str, title: str | None = None) -> Spec:
    channel: Spec = {"field": field, "type": "nominal"}
    if title is not None:
        channel["title"] = title
    return channel


def _x(field: str) -> Spec:
    return {
        "field": field,
        "type": "temporal",
        "axis": {"title": None, "grid": False, "labelOverlap": True, "format": _DATE_FORMAT},
        # Pixels kept free at both ends so the first and last labels are not cut off.
        "scale": {"padding": 48},
    }


def expiry_timeline(
    last_changed: datetime | None,
    now: datetime | None,
    expires: datetime | None,
    tz_name: str | None = None,
) -> Spec:
    """One horizontal line through time: last changed → now → expires.

    The span since the last change is slate, the time left blue (orange under an hour); for an
    expired basket the expiry point lies before "now" and the span from expiry to now is red.
    Missing timestamps are left out (with all three missing the chart is empty but valid). Times
    are drawn in ``tz_name`` (UTC when unknown); tooltips give exact times and durations.
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

    events = [
        {
            "event": event,
            # Said in text as well as colour: "expiring 01 Dec 18:48", "expired 27 Jun 06:00".
            "label": event if event == "now" else f"{event} {_local_date(ts, tz_name)}",
            "time": _wall_clock(ts, tz_name),
            "when": format_time(ts, tz_name),
            "relative": relative(event, ts),
        }
        for event, ts in points.items()
    ]

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
    segments = [
        {
            "segment": name,
            "start": _wall_clock(start, tz_name),
            "end": _wall_clock(end, tz_name),
            "from": format_time(start, tz_name),
            "to": format_time(end, tz_name),
            "length": humanize_delta(end - start),
        }
        for name, start, end in spans
    ]

    span_layer: Spec = {
        "data": {"values": segments},
        "mark": {"type": "rule", "strokeWidth": 8, "strokeCap": "round"},
        "encoding": {
            "x": _x("start"),
            "x2": {"field": "end"},
            "color": {
                **_nominal("segment"),
                "scale": {"domain": list(_SEGMENTS), "range": list(_SEGMENT_COLOURS)},
                "legend": {"title": None, "orient": "bottom"},
            },
            "tooltip": [
                _nominal("segment", "span"),
                _nominal("from"),
                _nominal("to"),
                _nominal("length"),
            ],
        },
    }
    # Points and their labels share the event colours: a fixed text colour would vanish on one
    # of the two themes.
    event_encoding: Spec = {
        "x": _x("time"),
        "color": {
            **_nominal("event"),
            "scale": {"domain": list(_EVENTS), "range": list(_EVENT_COLOURS)},
            "legend": None,
        },
        "tooltip": [
            _nominal("event"),
            _nominal("when", "time"),
            _nominal("relative", "relative"),
        ],
    }
    point_layer: Spec = {
        "data": {"values": events},
        "mark": {"type": "point", "filled": True, "size": 140, "opacity": 1},
        "encoding": event_encoding,
    }

    def labels(rows: list[Spec], dy: int) -> Spec:
        return {
            "data": {"values": rows},
            "mark": {"type": "text", "dy": dy, "fontWeight": "bold"},
            "encoding": {**event_encoding, "text": _nominal("label")},
        }

    # "now" is labelled a line higher than the others, so close events do not overprint.
    return {
        "$schema": SCHEMA,
        "layer": [
            span_layer,
            point_layer,
            labels([row for row in events if row["event"] != "now"], -14),
            labels([row for row in events if row["event"] == "now"], -30),
        ],
        "resolve": {"scale": {"color": "independent"}},
        "height": 70,
        "width": "container",
        "autosize": dict(AUTOSIZE),
    }
