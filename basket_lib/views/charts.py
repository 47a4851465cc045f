"""Altair chart builders of the scan pages: pure functions from data to ``alt.Chart`` /
``alt.LayerChart``. The basket page's expiry timeline is a plain spec (views/timeline.py).

Design shared by every chart:

- Colours from views/palette.py: failures are always red, the rest neutral slate or blue.
- No titles (the page's headings say what a chart is); every mark carries a tooltip.
- Text from the API (product names, ids) is passed as data fields, which Vega renders as text,
  never as markup.
"""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import pandas as pd

from basket_lib.scan.report import EXPIRY_BIN_LABELS
from basket_lib.views.palette import AUTOSIZE, FAILURE_COLOUR, OK_COLOUR

# Width follows the container, height is each chart's own (see palette.AUTOSIZE).
_AUTOSIZE = alt.AutoSizeParams.from_dict(AUTOSIZE)

# The builders name their result's type: to mypy, altair's mark_*, encode and resolve_* return
# Any (the use_signature decorator that copies their signatures drops Self).


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


# d3-format: a bare "," keeps the shortest form, 100 as "1e+2"; ",d" writes counts as integers.
TREND_MEASURES = {
    "failure_rate": ("Reservation failure rate", "%"),
    "failed_reservations": ("Failed reservations", ",d"),
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
            alt.Tooltip("failed_reservations:Q", title="Failed reservations", format=",d"),
            alt.Tooltip("scan:N", title="Scan"),
        ],
    )
    chart: alt.LayerChart = (base.mark_line() + base.mark_point(filled=True, size=60)).properties(
        height=260, autosize=_AUTOSIZE
    )
    return chart
