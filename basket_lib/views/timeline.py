"""The basket page's expiry timeline: a line through time drawn in HTML, for ``st.html``.

Drawn here rather than as a Vega-Lite chart: for the chart the browser loaded and compiled
Streamlit's 775 KB vega bundle on the first basket of every tab, and the chart cost 5-40 ms of
every ticket link (benchmarks/README.md, "The expiry timeline as HTML"). Rendering the spec to
SVG on the server (vl-convert) cost 130 ms a basket. A line with three points needs neither: a
few positioned boxes, for the server's cost of formatting a string. (``st.html`` keeps HTML
only: its sanitiser drops SVG.)

Positions are percentages of the width, so the line spans the column at any width while the text
keeps its size. Every value in it goes through ``html.escape``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

from basket_lib.views.palette import (
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
SEGMENT_COLOURS = {
    SINCE_CHANGE: NEUTRAL_COLOUR,
    TIME_LEFT: OK_COLOUR,
    TIME_LEFT_SOON: SOON_COLOUR,
    SINCE_EXPIRY: FAILURE_COLOUR,
}
EVENT_COLOURS = {
    "last changed": NEUTRAL_COLOUR,
    "now": NOW_COLOUR,
    "expires": OK_COLOUR,
    "expiring": SOON_COLOUR,
    "expired": FAILURE_COLOUR,
}
# Dates in the labels: a basket's life spans days to weeks.
_DATE_FORMAT = "%d %b %H:%M"
# Per cent of the width kept free at both ends for the points' radius.
_MARGIN = 1.5
_HEIGHT = 62
_LINE_Y = 28
# The middle event's label above the line, the two ends' below it: labels never overprint.
_ABOVE_Y, _BELOW_Y = 8, 50


@dataclass(frozen=True)
class Event:
    name: str  # "last changed", "now", "expires", "expiring" or "expired"
    at: datetime
    label: str  # "expiring 01 Dec 18:48": said in text as well as colour
    tooltip: str


@dataclass(frozen=True)
class Segment:
    name: str  # one of SEGMENT_COLOURS
    start: datetime
    end: datetime
    tooltip: str


@dataclass(frozen=True)
class Timeline:
    events: list[Event]  # in time order
    segments: list[Segment]
    summary: str  # the whole timeline in one sentence, for screen readers

    def html(self) -> str:
        """The line, its points and labels, and below them a legend of the spans drawn."""
        if not self.events:
            return f"<p>{escape(self.summary)}</p>"
        first, last = self.events[0].at, self.events[-1].at
        span = (last - first).total_seconds()

        def x(ts: datetime) -> float:
            if span <= 0:
                return 50.0
            return _MARGIN + (100 - 2 * _MARGIN) * (ts - first).total_seconds() / span

        parts = [
            f'<div role="img" aria-label="{escape(self.summary)}" data-testid="expiry-timeline"'
            f' style="position:relative;height:{_HEIGHT}px;margin:0 0.5em">'
        ]
        for segment in self.segments:
            start, end = x(segment.start), x(segment.end)
            parts.append(
                f'<div title="{escape(segment.tooltip)}" data-segment="{escape(segment.name)}"'
                f' style="position:absolute;left:{start:.2f}%;width:{end - start:.2f}%;'
                f"top:{_LINE_Y - 4}px;height:8px;border-radius:4px;"
                f'background:{SEGMENT_COLOURS[segment.name]}"></div>'
            )
        for index, event in enumerate(self.events):
            colour = EVENT_COLOURS[event.name]
            at = x(event.at)
            middle = 0 < index < len(self.events) - 1
            top = _ABOVE_Y if middle else _BELOW_Y
            # The ends' labels run inwards from their point; the middle's (or a lone point's) is
            # centred on it unless that would push it off the edge.
            if middle or len(self.events) == 1:
                shift = "0" if at < 15 else "-100%" if at > 85 else "-50%"
            else:
                shift = "0" if index == 0 else "-100%"
            parts.append(
                f'<div title="{escape(event.tooltip)}" data-event="{escape(event.name)}"'
                f' style="position:absolute;left:{at:.2f}%;top:{_LINE_Y - 7}px;width:14px;'
                f'height:14px;margin-left:-7px;border-radius:50%;background:{colour}"></div>'
                f'<div style="position:absolute;left:{at:.2f}%;top:{top - 10}px;'
                f"transform:translateX({shift});white-space:nowrap;font-size:0.8em;"
                f'font-weight:bold;color:{colour}">{escape(event.label)}</div>'
            )
        parts.append("</div>")
        legend = "".join(
            '<span style="margin-right:1.2em;white-space:nowrap">'
            '<span style="display:inline-block;width:1.6em;height:0.5em;border-radius:0.25em;'
            f'margin-right:0.4em;background:{SEGMENT_COLOURS[name]}"></span>{escape(name)}</span>'
            for name in dict.fromkeys(segment.name for segment in self.segments)
        )
        if legend:
            parts.append(f'<div style="font-size:0.8em">{legend}</div>')
        return "".join(parts)


def _local_date(ts: datetime, tz_name: str | None) -> str:
    local = to_local(ts, tz_name)
    assert local is not None
    return local.strftime(_DATE_FORMAT)


def expiry_timeline(
    last_changed: datetime | None,
    now: datetime | None,
    expires: datetime | None,
    tz_name: str | None = None,
) -> Timeline:
    """One horizontal line through time: last changed → now → expires.

    The span since the last change is slate, the time left blue (orange under an hour); for an
    expired basket the expiry point lies before "now" and the span from expiry to now is red.
    Missing timestamps are left out (with all three missing there is nothing to draw and the
    summary says so). Times are shown in ``tz_name`` (UTC when unknown); tooltips give exact
    times and durations.
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
            return ""
        if event == "last changed":
            return f"{humanize_delta(now - ts)} ago"
        return expiry_text(ts, now)

    events = []
    for event, ts in sorted(points.items(), key=lambda item: item[1]):
        label = event if event == "now" else f"{event} {_local_date(ts, tz_name)}"
        said = relative(event, ts)
        tooltip = f"{event}: {format_time(ts, tz_name)}" + (f" ({said})" if said else "")
        events.append(Event(event, ts, label, tooltip))

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
        Segment(
            name,
            start,
            end,
            f"{name}: {format_time(start, tz_name)} to {format_time(end, tz_name)} "
            f"({humanize_delta(end - start)})",
        )
        for name, start, end in spans
    ]
    summary = (
        "Timeline: " + ", then ".join(event.tooltip for event in events) + "."
        if events
        else "No times known for this basket."
    )
    return Timeline(events, segments, summary)
