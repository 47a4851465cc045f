"""Two stored scans compared on the failures page (/failures?scan=<id>&compare=<id>)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from basket_lib.api.errors import BasketError
from basket_lib.scan import export
from basket_lib.settings import Settings
from basket_lib.store import scans
from basket_lib.store.database import Database
from basket_lib.views import scans as scan_views
from basket_lib.views import tables
from basket_lib.views.text import md_escape, plural
from dashboard import columns, data, exports
from dashboard import scans as dashboard_scans

NO_COMPARISON = ""
CHOICES_LIMIT = 100  # the most recent scans offered; a link may name an older one


def _choices(db: Database, info: scans.ScanInfo) -> list[scans.ScanInfo]:
    others = [s for s in scans.list_scans(db, limit=CHOICES_LIMIT) if s.id != info.id]
    return [s for s in others if s.status not in (scans.Status.QUEUED, scans.Status.RUNNING)]


def show(
    settings: Settings,
    db: Database,
    info: scans.ScanInfo,
    products: pd.DataFrame,
    failures: pd.DataFrame,
    tz_name: str,
) -> None:
    st.markdown("#### Compared with an earlier scan")
    try:
        choices = _choices(db, info)
    except BasketError as exc:
        data.show_error(exc)
        return
    by_id = {s.id: s for s in choices}
    wanted = st.query_params.get("compare", NO_COMPARISON)
    asked: scans.ScanInfo | None = None
    if wanted and wanted != info.id and wanted not in by_id:
        try:
            asked = scans.get_scan(db, wanted)  # older than the choices listed, perhaps
        except BasketError as exc:
            data.show_error(exc)
            return
        if asked is not None and asked.status not in (scans.Status.QUEUED, scans.Status.RUNNING):
            by_id[asked.id] = asked
    if wanted and wanted not in by_id:
        # Said plainly, and nothing compared in its place: another scan's figures would read as
        # the ones the link asked for.
        st.warning(md_escape(scan_views.comparison_refusal(info.id, wanted, asked)))
        wanted = NO_COMPARISON
    elif not wanted:
        # The previous scan of the same label is what a weekly review compares with.
        previous = scan_views.previous_of(info, choices)
        wanted = previous.id if previous is not None else NO_COMPARISON
    options = [NO_COMPARISON, *by_id]
    picked = st.selectbox(
        "Compare with",
        options,
        index=options.index(wanted),
        format_func=lambda scan_id: (
            "no comparison" if not scan_id else scan_views.scan_identity(by_id[scan_id], tz_name)
        ),
        key=f"compare_with_{info.id}",
    )
    if not picked:
        st.query_params.pop("compare", None)
        st.caption("Pick a scan to see which products are new offenders and which recovered.")
        return
    st.query_params["compare"] = picked
    other = by_id[picked]
    try:
        earlier = scans.load_report(db, other.id, settings.redactor)
        note = dashboard_scans.coverage_note(db, info, other)
    except BasketError as exc:
        data.show_error(exc)
        return
    if note is not None:
        st.warning(md_escape(note), icon=":material/group:")
    earlier_details, _ = data.fetch_details(settings, earlier.product_ids())
    earlier_failures = tables.failures_frame(earlier.failures, earlier_details)
    earlier_products = tables.product_table(
        earlier_failures, earlier.checkouts_by_product, earlier_details
    )
    compared = scan_views.compare_products(products, earlier_products)
    counts = compared["change"].value_counts()
    st.caption(
        f"{plural(int(counts.get(scan_views.NEW, 0)), 'new failing product')} · "
        f"{plural(int(counts.get(scan_views.BOTH, 0)), 'product')} failing in both · "
        f"{plural(int(counts.get(scan_views.RESOLVED, 0)), 'resolved product')}"
    )
    if compared.empty:
        st.info("Neither scan has a failed reservation.")
        return
    st.dataframe(
        compared,
        hide_index=True,
        column_config=columns.COMPARISON_COLUMNS,
        key="comparison_table",
    )
    exports.csv_download(
        "Download comparison (CSV)",
        lambda: export.table_csv(scan_views.COMPARISON_COLUMNS, tables.frame_rows(compared)),
        file_name=f"comparison-{info.id}-{other.id}.csv",
        key="download_comparison",
    )
    fresh = scan_views.newly_affected(failures, earlier_failures)
    st.markdown(f"##### Newly affected users ({len(fresh):,})")
    if fresh.empty:
        st.caption("None: every user with a failed reservation now had one before too.")
    else:
        st.dataframe(
            fresh,
            hide_index=True,
            column_config=columns.NEWLY_AFFECTED_COLUMNS,
            key="newly_affected_table",
        )
