"""The failures page's history of stored scans: recent scans and the failure-rate trend."""

from __future__ import annotations

import streamlit as st

from basket_lib.api.errors import BasketError
from basket_lib.store import scans
from basket_lib.store.database import Database
from basket_lib.views import charts
from basket_lib.views import scans as scan_views
from dashboard import columns, data

HISTORY_LIMIT = 50
ALL_LABELS = "All labels"


def show(db: Database, tz_name: str) -> None:
    st.subheader("History")
    try:
        recent = scans.list_scans(db, limit=HISTORY_LIMIT)
    except BasketError as exc:
        data.show_error(exc)
        return
    if not recent:
        st.caption("No scans yet: the scans started here or with `python -m basket_lib scan`.")
        return
    labels = sorted({info.label for info in recent if info.label})
    choice = st.selectbox("Trend of", [ALL_LABELS, *labels], key="trend_label")
    trend = scan_views.trend_frame(recent, None if choice == ALL_LABELS else choice)
    if len(trend) >= 2:
        rate, count = st.columns(2)
        rate.altair_chart(charts.trend_chart(trend, "failure_rate"))
        count.altair_chart(charts.trend_chart(trend, "failed_reservations"))
    else:
        st.caption("The trend appears once two scans (of this label) have completed.")
    st.dataframe(
        scan_views.history_frame(recent, tz_name),
        hide_index=True,
        column_config=columns.HISTORY_COLUMNS,
        key="history_table",
    )
