"""basket_lib.views.charts: the scan charts' structure through ``to_dict()``, and the expiry bin
helpers."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import altair as alt
import pandas as pd
import pytest

from basket_lib.api.models import ProductDetails
from basket_lib.scan.report import EXPIRY_BIN_EDGES_HOURS, EXPIRY_BIN_LABELS, FailureRecord
from basket_lib.scan.report import expiry_bin as expiry_bin_index
from basket_lib.views.charts import (
    FAILURE_LABELS,
    WITH_FAILURE,
    WITHOUT_FAILURE,
    expiry_histogram,
    expiry_histogram_frame,
    failures_by_product_chart,
)
from basket_lib.views.palette import FAILURE_COLOUR
from basket_lib.views.tables import failures_by_product, failures_frame
from basket_lib.views.times import expiry_status

NOW = datetime(2025, 6, 29, 6, 0, tzinfo=UTC)


def _data(spec: dict[str, Any], part: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The rows a (layer of a) chart spec draws."""
    data = (part or spec)["data"]
    return spec["datasets"][data["name"]] if "name" in data else data.get("values", [])


def _tooltip_fields(encoding: dict[str, Any]) -> set[str]:
    return {item["field"] for item in encoding["tooltip"]}


# --- failures by product ----------------------------------------------------------------------


def _by_product(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """Rows of (user, product, name, variant, count, stocked) → the by-product frame."""
    records = [FailureRecord(u, p, v, None, c, s) for u, p, _, v, c, s in rows]
    details = {p: ProductDetails(product_id=p, name=n) for _, p, n, *_ in rows if n is not None}
    return failures_by_product(failures_frame(records, details))


SCAN = [
    ("u1", "p1", "Shirt", None, 2, -2),
    ("u2", "p1", "Shirt", None, 1, -1),
    ("u3", "p1", "Shirt", None, 1, -1),
    ("u1", "p2", None, None, 4, -4),
    ("u2", "p2", None, None, 1, -1),
    ("u4", "p3", "<img src=x onerror=alert(1)>", None, 1, -1),
]


def test_failures_by_product_chart_structure() -> None:
    spec = failures_by_product_chart(_by_product(SCAN)).to_dict()
    assert spec["mark"]["type"] == "bar"
    encoding = spec["encoding"]
    assert encoding["y"]["field"] == "label"
    assert encoding["y"]["type"] == "nominal"
    assert encoding["y"]["sort"] == "-x"
    assert encoding["x"]["field"] == "failed_reservations"
    assert encoding["x"]["type"] == "quantitative"
    assert _tooltip_fields(encoding) == {
        "product_id",
        "name",
        "failed_reservations",
        "users",
        "failed_units",
    }
    assert "title" not in spec


def test_failures_by_product_chart_labels_by_name_or_id() -> None:
    rows = _data(failures_by_product_chart(_by_product(SCAN)).to_dict())
    assert [(r["label"], r["failed_reservations"], r["users"]) for r in rows] == [
        ("Shirt", 3, 3),
        ("p2", 2, 2),
        # API text is kept verbatim as data, never interpreted.
        ("<img src=x onerror=alert(1)>", 1, 1),
    ]
    assert rows[1]["name"] is None
    assert rows[0]["failed_units"] == 4


def test_failures_by_product_chart_tells_products_with_one_name_apart() -> None:
    rows = _data(
        failures_by_product_chart(
            _by_product([("u1", "a", "Mug", None, 1, -1), ("u1", "b", "Mug", None, 1, -1)])
        ).to_dict()
    )
    assert sorted(r["label"] for r in rows) == ["Mug (a)", "Mug (b)"]


def test_failures_by_product_chart_keeps_the_top_products() -> None:
    rows = [(f"u{i}", f"p{n:02d}", None, None, 1, -1) for n in range(30) for i in range(n + 1)]
    data = _data(failures_by_product_chart(_by_product(rows), top=5).to_dict())
    assert [r["product_id"] for r in data] == ["p29", "p28", "p27", "p26", "p25"]
    assert len(_data(failures_by_product_chart(_by_product(rows)).to_dict())) == 20


@pytest.mark.parametrize(
    "frame",
    [failures_by_product(failures_frame([])), pd.DataFrame()],
    ids=["no failures", "no columns"],
)
def test_failures_by_product_chart_without_data(frame: pd.DataFrame) -> None:
    spec = failures_by_product_chart(frame).to_dict()
    assert spec["mark"]["type"] == "bar"
    assert _data(spec) == []


# --- time to expiry histogram -----------------------------------------------------------------


def test_bin_edges_and_labels_match() -> None:
    assert len(EXPIRY_BIN_LABELS) == len(EXPIRY_BIN_EDGES_HOURS) - 1
    assert list(EXPIRY_BIN_EDGES_HOURS) == sorted(EXPIRY_BIN_EDGES_HOURS)
    assert EXPIRY_BIN_EDGES_HOURS[0] == -math.inf and EXPIRY_BIN_EDGES_HOURS[-1] == math.inf


def test_expired_bins_agree_with_expiry_status() -> None:
    for seconds in (-3600, -1, 0, 1, 3599, 3600):
        expired = expiry_status(NOW + timedelta(seconds=seconds), NOW) == "expired"
        label = EXPIRY_BIN_LABELS[expiry_bin_index(seconds / 3600)]
        assert label.startswith("expired") is expired, seconds


def test_expiry_histogram_frame_fills_every_bin() -> None:
    frame = expiry_histogram_frame({(3, True): 2, (5, False): 4, (5, True): 1})
    assert list(frame.columns) == ["bin", "baskets", "failures_label"]
    assert len(frame) == 2 * len(EXPIRY_BIN_LABELS)
    assert frame["bin"].cat.ordered
    assert list(frame["bin"].cat.categories) == list(EXPIRY_BIN_LABELS)
    counts = {(row.bin, row.failures_label): row.baskets for row in frame.itertuples()}
    assert counts[("expired < 1 h", WITH_FAILURE)] == 2
    assert counts[("1-6 h", WITHOUT_FAILURE)] == 4
    assert counts[("1-6 h", WITH_FAILURE)] == 1
    assert sum(counts.values()) == 7


def test_expiry_histogram_structure() -> None:
    spec = expiry_histogram(expiry_histogram_frame({(0, True): 3, (6, False): 5})).to_dict()
    assert spec["mark"]["type"] == "bar"
    encoding = spec["encoding"]
    assert encoding["x"]["field"] == "bin"
    assert encoding["x"]["scale"]["domain"] == list(EXPIRY_BIN_LABELS)
    assert encoding["y"]["field"] == "baskets"
    assert encoding["y"]["stack"] == "zero"
    assert encoding["color"]["field"] == "failures_label"
    assert encoding["color"]["scale"]["domain"] == list(FAILURE_LABELS)
    assert encoding["color"]["scale"]["range"][0] == FAILURE_COLOUR
    assert encoding["order"]["field"] == "stack_order"
    assert _tooltip_fields(encoding) == {"bin", "failures_label", "baskets"}
    rows = _data(spec)
    assert {(r["bin"], r["failures_label"], r["baskets"]) for r in rows if r["baskets"]} == {
        ("expired > 3 days", WITH_FAILURE, 3),
        ("6-24 h", WITHOUT_FAILURE, 5),
    }
    # Failures are stacked first, on the axis.
    assert {r["failures_label"]: r["stack_order"] for r in rows} == {
        WITH_FAILURE: 0,
        WITHOUT_FAILURE: 1,
    }


def test_expiry_histogram_accepts_boolean_failure_flags() -> None:
    frame = pd.DataFrame(
        {"bin": ["1-6 h", "1-6 h"], "baskets": [2, 7], "failures_label": [True, False]}
    )
    rows = _data(expiry_histogram(frame).to_dict())
    assert [(r["failures_label"], r["baskets"]) for r in rows] == [
        (WITH_FAILURE, 2),
        (WITHOUT_FAILURE, 7),
    ]


def test_expiry_histogram_without_data() -> None:
    spec = expiry_histogram(pd.DataFrame(columns=["bin", "baskets", "failures_label"])).to_dict()
    assert spec["mark"]["type"] == "bar"
    assert _data(spec) == []


@pytest.mark.parametrize(
    "chart",
    [
        failures_by_product_chart(_by_product(SCAN)),
        failures_by_product_chart(pd.DataFrame()),
        expiry_histogram(expiry_histogram_frame({(1, True): 1})),
    ],
    ids=["by product", "empty by product", "histogram"],
)
def test_specs_are_strict_json_and_size_their_own_height(chart: alt.TopLevelMixin) -> None:
    spec = chart.to_dict()
    # A missing product name must reach Vega as null: NaN is not JSON.
    json.dumps(spec, allow_nan=False)
    # Set explicitly, or Streamlit's "fit" squeezes axes and legend into the height.
    assert spec["autosize"] == {"type": "fit-x", "contains": "padding"}
    assert spec["width"] == "container"


def test_failures_by_product_chart_grows_with_the_bars() -> None:
    assert failures_by_product_chart(_by_product(SCAN)).to_dict()["height"] == {"step": 24}


def test_the_trend_charts_plot_each_completed_scan() -> None:
    from basket_lib.views.charts import trend_chart

    trend = pd.DataFrame(
        {
            "started": pd.to_datetime(["2026-11-01T09:00Z", "2026-11-08T09:00Z"]),
            "label": ["weekly", "weekly"],
            "failure_rate": [0.05, 0.04],
            "failed_reservations": [20, 16],
            "scan": ["a", "b"],
        }
    )
    for measure, title in (
        ("failure_rate", "Reservation failure rate"),
        ("failed_reservations", "Failed reservations"),
    ):
        spec = trend_chart(trend, measure).to_dict()
        (line, points) = spec["layer"]
        assert line["mark"]["type"] == "line" and points["mark"]["type"] == "point"
        assert line["encoding"]["y"] == {
            "field": measure,
            "type": "quantitative",
            "title": title,
            "axis": {"format": "%" if measure == "failure_rate" else ",d"},
        }
        # Counts as integers: a bare "," would label the axis and tooltip "1e+2".
        (count_tooltip,) = [
            t for t in line["encoding"]["tooltip"] if t["field"] == "failed_reservations"
        ]
        assert count_tooltip["format"] == ",d"
        assert len(spec["datasets"][next(iter(spec["datasets"]))]) == 2
