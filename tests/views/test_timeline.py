"""basket_lib.views.timeline: the expiry timeline's spec, checked against Vega-Lite's schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import altair as alt
import jsonschema
import pytest

from basket_lib.views.palette import FAILURE_COLOUR, SOON_COLOUR
from basket_lib.views.timeline import (
    SINCE_CHANGE,
    SINCE_EXPIRY,
    TIME_LEFT,
    TIME_LEFT_SOON,
    expiry_timeline,
)
from basket_lib.views.times import expiry_status

NOW = datetime(2025, 6, 29, 6, 0, tzinfo=UTC)
LAST_CHANGED = datetime(2025, 6, 4, 12, 34, 56, tzinfo=UTC)


def _data(part: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows a layer draws (inline, one list per layer)."""
    rows: list[dict[str, Any]] = part["data"]["values"]
    return rows


def _by_mark(spec: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    layers: dict[str, list[dict[str, Any]]] = {}
    for layer in spec["layer"]:
        layers.setdefault(layer["mark"]["type"], []).append(layer)
    return layers


# --- expiry timeline --------------------------------------------------------------------------


def test_timeline_of_a_live_basket() -> None:
    expires = NOW + timedelta(hours=2, minutes=12)
    spec = expiry_timeline(LAST_CHANGED, NOW, expires, "Europe/Berlin")
    layers = _by_mark(spec)
    assert sorted(layers) == ["point", "rule", "text"]

    rule = layers["rule"][0]
    assert rule["encoding"]["x"]["field"] == "start"
    assert rule["encoding"]["x"]["type"] == "temporal"
    assert rule["encoding"]["x2"]["field"] == "end"
    assert rule["encoding"]["color"]["field"] == "segment"
    segments = {row["segment"]: row for row in _data(rule)}
    assert set(segments) == {SINCE_CHANGE, TIME_LEFT}
    # Wall-clock times in the agent's zone (CEST = UTC+2).
    assert segments[SINCE_CHANGE]["start"] == "2025-06-04T14:34:56"
    assert segments[SINCE_CHANGE]["end"] == "2025-06-29T08:00:00"
    assert segments[TIME_LEFT]["end"] == "2025-06-29T10:12:00"
    assert segments[TIME_LEFT]["length"] == "2 h 12 min"
    assert segments[TIME_LEFT]["to"] == "2025-06-29 10:12 CEST"

    point = layers["point"][0]
    events = {row["event"]: row for row in _data(point)}
    assert list(events) == ["last changed", "now", "expires"]
    assert events["expires"]["relative"] == "expires in 2 h 12 min"
    assert events["last changed"]["relative"] == "24 days 17 h ago"
    assert events["last changed"]["time"] < events["now"]["time"] < events["expires"]["time"]
    assert point["encoding"]["x"]["field"] == "time"

    labels = [row["label"] for layer in layers["text"] for row in _data(layer)]
    # Each event says its date in the agent's zone, on the axis too.
    assert sorted(labels) == ["expires 29 Jun 10:12", "last changed 04 Jun 14:34", "now"]
    assert rule["encoding"]["x"]["axis"]["format"] == "%d %b %H:%M"
    for layer in layers["text"]:
        assert layer["encoding"]["text"]["field"] == "label"
        # Coloured like their points: a fixed text colour vanishes on one of the themes.
        assert layer["encoding"]["color"]["field"] == "event"
    # "now" sits a line above the other labels so that close events stay readable.
    offsets = {
        row["event"]: layer["mark"]["dy"] for layer in layers["text"] for row in _data(layer)
    }
    assert offsets["now"] < offsets["expires"] < 0


def test_timeline_of_an_expired_basket_puts_expiry_before_now() -> None:
    expires = NOW - timedelta(days=2)
    spec = expiry_timeline(LAST_CHANGED, NOW, expires)
    layers = _by_mark(spec)
    events = {row["event"]: row for row in _data(layers["point"][0])}
    assert set(events) == {"last changed", "now", "expired"}
    assert events["last changed"]["time"] < events["expired"]["time"] < events["now"]["time"]
    assert events["expired"]["relative"] == "expired 2 days ago"
    assert events["expired"]["when"] == "2025-06-27 06:00 UTC"

    segments = {row["segment"]: row for row in _data(layers["rule"][0])}
    assert set(segments) == {SINCE_CHANGE, SINCE_EXPIRY}
    assert segments[SINCE_CHANGE]["end"] == segments[SINCE_EXPIRY]["start"] == "2025-06-27T06:00:00"
    assert segments[SINCE_EXPIRY]["end"] == "2025-06-29T06:00:00"


def test_timeline_tells_expiring_from_expired_in_colour_and_text() -> None:
    soon = expiry_timeline(None, NOW, NOW + timedelta(minutes=37))
    layers = _by_mark(soon)
    labels = {row["event"]: row["label"] for row in _data(layers["point"][0])}
    assert labels == {"now": "now", "expiring": "expiring 29 Jun 06:37"}
    (segment,) = _data(layers["rule"][0])
    assert segment["segment"] == TIME_LEFT_SOON
    scale = layers["point"][0]["encoding"]["color"]["scale"]
    colours = dict(zip(scale["domain"], scale["range"], strict=True))
    assert colours["expiring"] == SOON_COLOUR and colours["expired"] == FAILURE_COLOUR
    late = expiry_timeline(None, NOW, NOW - timedelta(days=2))
    labels = {row["label"] for row in _data(_by_mark(late)["point"][0])}
    assert labels == {"now", "expired 27 Jun 06:00"}


def test_timeline_expiring_exactly_now_counts_as_expired() -> None:
    spec = expiry_timeline(None, NOW, NOW)
    events = [row["event"] for row in _data(_by_mark(spec)["point"][0])]
    assert events == ["now", "expired"]
    assert expiry_status(NOW, NOW) == "expired"


def test_timeline_colours_past_remaining_and_expired_apart() -> None:
    spec = expiry_timeline(LAST_CHANGED, NOW, NOW + timedelta(days=1))
    scale = _by_mark(spec)["rule"][0]["encoding"]["color"]["scale"]
    colours = dict(zip(scale["domain"], scale["range"], strict=True))
    assert len(set(colours.values())) == 4
    assert colours[SINCE_EXPIRY] == FAILURE_COLOUR
    assert colours[TIME_LEFT_SOON] == SOON_COLOUR
    assert spec["resolve"]["scale"]["color"] == "independent"


@pytest.mark.parametrize(
    ("last_changed", "expires", "events", "segments"),
    [
        (None, NOW + timedelta(hours=1), ["now", "expires"], [TIME_LEFT]),
        (LAST_CHANGED, None, ["last changed", "now"], [SINCE_CHANGE]),
        (None, None, ["now"], []),
        (None, NOW - timedelta(hours=1), ["now", "expired"], [SINCE_EXPIRY]),
    ],
)
def test_timeline_skips_missing_points(
    last_changed: datetime | None,
    expires: datetime | None,
    events: list[str],
    segments: list[str],
) -> None:
    spec = expiry_timeline(last_changed, NOW, expires)
    layers = _by_mark(spec)
    assert [row["event"] for row in _data(layers["point"][0])] == events
    assert [row["segment"] for row in _data(layers["rule"][0])] == segments


def test_timeline_with_nothing_known_is_empty_but_valid() -> None:
    spec = expiry_timeline(None, None, None)
    assert all(_data(layer) == [] for layer in spec["layer"])


def test_timeline_accepts_naive_timestamps_and_unknown_zones() -> None:
    spec = expiry_timeline(datetime(2025, 6, 1), NOW, datetime(2025, 6, 30, 6, 0), "Nowhere/Land")
    events = {row["event"]: row for row in _data(_by_mark(spec)["point"][0])}
    assert events["expires"]["when"] == "2025-06-30 06:00 UTC"
    assert events["expires"]["relative"] == "expires in 1 day"


def test_every_timeline_mark_has_a_tooltip() -> None:
    spec = expiry_timeline(LAST_CHANGED, NOW, NOW + timedelta(hours=5))
    for layer in spec["layer"]:
        assert layer["encoding"]["tooltip"], layer["mark"]
    assert "title" not in spec


@pytest.mark.parametrize(
    ("last_changed", "now", "expires", "zone"),
    [
        (LAST_CHANGED, NOW, NOW + timedelta(days=3), "Europe/Berlin"),
        (LAST_CHANGED, NOW, NOW - timedelta(days=2), "UTC"),
        (None, NOW, NOW + timedelta(minutes=20), "America/New_York"),
        (None, None, None, None),
    ],
    ids=["live", "expired", "expiring", "nothing known"],
)
def test_spec_is_valid_vega_lite_and_strict_json(
    last_changed: datetime | None, now: datetime | None, expires: datetime | None, zone: str | None
) -> None:
    spec = expiry_timeline(last_changed, now, expires, zone)
    # Validated against the Vega-Lite schema altair ships: raises on any unknown or mistyped key.
    alt.LayerChart.from_dict(spec, validate=True)
    json.dumps(spec, allow_nan=False)
    # Set explicitly, or Streamlit's "fit" squeezes axes and legend into the height.
    assert spec["autosize"] == {"type": "fit-x", "contains": "padding"}
    assert spec["width"] == "container"
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v6")


def test_spec_is_what_altair_would_build() -> None:
    # The same layers, marks and encodings as an altair LayerChart of the same data: altair's
    # round trip keeps every key the page's spec sets, and adds only its view defaults.
    spec = expiry_timeline(LAST_CHANGED, NOW, NOW + timedelta(hours=3), "Europe/Berlin")
    rebuilt = alt.LayerChart.from_dict(spec).to_dict()
    rebuilt.pop("config", None)
    assert rebuilt == spec


def test_a_broken_spec_is_refused_by_the_schema_check() -> None:
    # The check above can fail: a misspelt mark property is refused.
    spec = expiry_timeline(LAST_CHANGED, NOW, NOW + timedelta(hours=3))
    spec["layer"][0]["mark"]["strokeWidht"] = 8
    with pytest.raises(jsonschema.ValidationError):
        alt.LayerChart.from_dict(spec, validate=True)
