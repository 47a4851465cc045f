"""basket_lib.views.timeline: the expiry timeline's events, spans and the HTML the page draws."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from basket_lib.views.palette import FAILURE_COLOUR, NOW_COLOUR, SOON_COLOUR
from basket_lib.views.timeline import (
    EVENT_COLOURS,
    SEGMENT_COLOURS,
    SINCE_CHANGE,
    SINCE_EXPIRY,
    TIME_LEFT,
    TIME_LEFT_SOON,
    Timeline,
    expiry_timeline,
)
from basket_lib.views.times import expiry_status

NOW = datetime(2025, 6, 29, 6, 0, tzinfo=UTC)
LAST_CHANGED = datetime(2025, 6, 4, 12, 34, 56, tzinfo=UTC)


class _Drawn(HTMLParser):
    """What the browser is given: the points, spans and labels with their inline styles."""

    def __init__(self) -> None:
        super().__init__()
        self.root: dict[str, str] = {}
        self.points: dict[str, dict[str, str]] = {}
        self.spans: dict[str, dict[str, str]] = {}
        self.labels: list[tuple[str, dict[str, str]]] = []
        self._label: dict[str, str] | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        style = dict(
            part.split(":", 1) for part in found.get("style", "").split(";") if ":" in part
        )
        found.update({f"css-{name.strip()}": value.strip() for name, value in style.items()})
        if found.get("data-testid") == "expiry-timeline":
            self.root = found
        elif "data-event" in found:
            self.points[found["data-event"]] = found
        elif "data-segment" in found:
            self.spans[found["data-segment"]] = found
        elif "css-transform" in found:
            self._label = found

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._label is not None:
            self.labels.append((data, self._label))
            self._label = None


def _drawn(timeline: Timeline) -> _Drawn:
    parser = _Drawn()
    parser.feed(timeline.html())
    parser.close()
    return parser


def _percent(value: str) -> float:
    assert value.endswith("%"), value
    return float(value[:-1])


def test_timeline_of_a_live_basket() -> None:
    expires = NOW + timedelta(hours=2, minutes=12)
    timeline = expiry_timeline(LAST_CHANGED, NOW, expires, "Europe/Berlin")
    assert [event.name for event in timeline.events] == ["last changed", "now", "expires"]
    # Each event says its date in the agent's zone (CEST = UTC+2), in text as well as colour.
    assert [event.label for event in timeline.events] == [
        "last changed 04 Jun 14:34",
        "now",
        "expires 29 Jun 10:12",
    ]
    tooltips = {event.name: event.tooltip for event in timeline.events}
    assert tooltips["expires"] == "expires: 2025-06-29 10:12 CEST (expires in 2 h 12 min)"
    assert tooltips["last changed"] == "last changed: 2025-06-04 14:34 CEST (24 days 17 h ago)"
    assert tooltips["now"] == "now: 2025-06-29 08:00 CEST"
    segments = {segment.name: segment for segment in timeline.segments}
    assert list(segments) == [SINCE_CHANGE, TIME_LEFT]
    assert (segments[SINCE_CHANGE].start, segments[SINCE_CHANGE].end) == (LAST_CHANGED, NOW)
    assert segments[TIME_LEFT].tooltip == (
        "time left: 2025-06-29 08:00 CEST to 2025-06-29 10:12 CEST (2 h 12 min)"
    )
    assert timeline.summary == (
        "Timeline: last changed: 2025-06-04 14:34 CEST (24 days 17 h ago), then now: "
        "2025-06-29 08:00 CEST, then expires: 2025-06-29 10:12 CEST (expires in 2 h 12 min)."
    )


def test_the_line_spans_the_width_and_places_each_point_in_proportion() -> None:
    expires = NOW + timedelta(days=25)  # now halfway, give or take, between the two
    drawn = _drawn(expiry_timeline(LAST_CHANGED, NOW, expires))
    left = {name: _percent(point["css-left"]) for name, point in drawn.points.items()}
    assert left["last changed"] == pytest.approx(1.5)
    assert left["expires"] == pytest.approx(98.5)
    share = (NOW - LAST_CHANGED) / (expires - LAST_CHANGED)
    assert left["now"] == pytest.approx(1.5 + 97 * share, abs=0.01)
    # Each span runs from one point to the next.
    since = drawn.spans[SINCE_CHANGE]
    assert _percent(since["css-left"]) == pytest.approx(left["last changed"])
    end = _percent(since["css-left"]) + _percent(since["css-width"])
    assert end == pytest.approx(left["now"], abs=0.02)
    assert _percent(drawn.spans[TIME_LEFT]["css-left"]) == pytest.approx(left["now"])


def test_labels_never_overprint_the_middle_one_above_the_ends_inwards() -> None:
    # The last change a minute before "now", the expiry a week later: the two close points'
    # labels are on different rows, and the ends' labels run inwards from the edges.
    drawn = _drawn(expiry_timeline(NOW - timedelta(minutes=1), NOW, NOW + timedelta(days=7)))
    labels = {text.split(" ")[0]: style for text, style in drawn.labels}
    assert set(labels) == {"last", "now", "expires"}
    assert int(labels["now"]["css-top"].removesuffix("px")) < int(
        labels["last"]["css-top"].removesuffix("px")
    )
    assert labels["last"]["css-top"] == labels["expires"]["css-top"]
    assert labels["last"]["css-transform"] == "translateX(0)"
    assert labels["expires"]["css-transform"] == "translateX(-100%)"
    # "now" sits at the left edge: its label runs right, not off the page.
    assert labels["now"]["css-transform"] == "translateX(0)"
    centred = _drawn(expiry_timeline(LAST_CHANGED, NOW, NOW + timedelta(days=25)))
    assert dict(centred.labels)["now"]["css-transform"] == "translateX(-50%)"


def test_every_point_and_span_has_a_tooltip_and_the_whole_is_described() -> None:
    timeline = expiry_timeline(LAST_CHANGED, NOW, NOW + timedelta(hours=5))
    drawn = _drawn(timeline)
    assert {name: point["title"] for name, point in drawn.points.items()} == {
        event.name: event.tooltip for event in timeline.events
    }
    assert {name: span["title"] for name, span in drawn.spans.items()} == {
        segment.name: segment.tooltip for segment in timeline.segments
    }
    assert drawn.root["role"] == "img"
    assert drawn.root["aria-label"] == timeline.summary


def test_points_labels_and_spans_share_their_colours_and_a_legend_names_the_spans() -> None:
    drawn = _drawn(expiry_timeline(LAST_CHANGED, NOW, NOW + timedelta(days=1)))
    for name, point in drawn.points.items():
        assert point["css-background"] == EVENT_COLOURS[name]
    for text, style in drawn.labels:
        event = "now" if text == "now" else text.rsplit(" ", 3)[0]
        assert style["css-color"] == EVENT_COLOURS[event]
    for name, span in drawn.spans.items():
        assert span["css-background"] == SEGMENT_COLOURS[name]
    assert SINCE_CHANGE in drawn.text and TIME_LEFT in drawn.text  # the legend
    assert len(set(SEGMENT_COLOURS.values())) == 4
    assert SEGMENT_COLOURS[SINCE_EXPIRY] == FAILURE_COLOUR
    assert EVENT_COLOURS["now"] == NOW_COLOUR


def test_timeline_of_an_expired_basket_puts_expiry_before_now() -> None:
    timeline = expiry_timeline(LAST_CHANGED, NOW, NOW - timedelta(days=2))
    assert [event.name for event in timeline.events] == ["last changed", "expired", "now"]
    expired = timeline.events[1]
    assert expired.tooltip == "expired: 2025-06-27 06:00 UTC (expired 2 days ago)"
    spans = [(segment.name, segment.start, segment.end) for segment in timeline.segments]
    assert spans == [
        (SINCE_CHANGE, LAST_CHANGED, expired.at),
        (SINCE_EXPIRY, expired.at, NOW),
    ]
    # Red from the expiry to now, and "now" at the right end.
    drawn = _drawn(timeline)
    assert drawn.spans[SINCE_EXPIRY]["css-background"] == FAILURE_COLOUR
    assert _percent(drawn.points["now"]["css-left"]) == pytest.approx(98.5)


def test_timeline_tells_expiring_from_expired_in_colour_and_text() -> None:
    soon = expiry_timeline(None, NOW, NOW + timedelta(minutes=37))
    assert [event.label for event in soon.events] == ["now", "expiring 29 Jun 06:37"]
    assert [segment.name for segment in soon.segments] == [TIME_LEFT_SOON]
    assert _drawn(soon).points["expiring"]["css-background"] == SOON_COLOUR
    late = expiry_timeline(None, NOW, NOW - timedelta(days=2))
    assert [event.label for event in late.events] == ["expired 27 Jun 06:00", "now"]
    assert _drawn(late).points["expired"]["css-background"] == FAILURE_COLOUR


def test_timeline_expiring_exactly_now_counts_as_expired() -> None:
    timeline = expiry_timeline(None, NOW, NOW)
    assert sorted(event.name for event in timeline.events) == ["expired", "now"]
    assert expiry_status(NOW, NOW) == "expired"
    # Two points at one instant: both in the middle, not divided by a zero span.
    drawn = _drawn(timeline)
    assert {point["css-left"] for point in drawn.points.values()} == {"50.00%"}


@pytest.mark.parametrize(
    ("last_changed", "expires", "events", "segments"),
    [
        (None, NOW + timedelta(hours=1), ["now", "expires"], [TIME_LEFT]),
        (LAST_CHANGED, None, ["last changed", "now"], [SINCE_CHANGE]),
        (None, None, ["now"], []),
        (None, NOW - timedelta(hours=1), ["expired", "now"], [SINCE_EXPIRY]),
    ],
)
def test_timeline_skips_missing_points(
    last_changed: datetime | None,
    expires: datetime | None,
    events: list[str],
    segments: list[str],
) -> None:
    timeline = expiry_timeline(last_changed, NOW, expires)
    assert [event.name for event in timeline.events] == events
    assert [segment.name for segment in timeline.segments] == segments
    drawn = _drawn(timeline)
    assert list(drawn.points) == events
    assert list(drawn.spans) == segments


def test_timeline_with_nothing_known_says_so() -> None:
    timeline = expiry_timeline(None, None, None)
    assert timeline.events == [] and timeline.segments == []
    assert timeline.html() == "<p>No times known for this basket.</p>"


def test_timeline_accepts_naive_timestamps_and_unknown_zones() -> None:
    timeline = expiry_timeline(datetime(2025, 6, 1), NOW, datetime(2025, 6, 30, 6), "Nowhere/Land")
    assert timeline.events[-1].tooltip == "expires: 2025-06-30 06:00 UTC (expires in 1 day)"
    assert timeline.events[0].at == datetime(2025, 6, 1, tzinfo=UTC)


def test_the_html_is_well_formed_and_holds_no_markup_of_its_own_values() -> None:
    html = expiry_timeline(LAST_CHANGED, NOW, NOW + timedelta(hours=3), "Europe/Berlin").html()
    opened = re.findall(r"<(div|span)\b", html)
    assert len(opened) == html.count("</div>") + html.count("</span>")
    # Only the tags drawn here: st.html's sanitiser keeps HTML, and would drop SVG or scripts.
    assert set(re.findall(r"</?([a-z]+)", html)) == {"div", "span"}
