"""Product managers: failed stock reservations across many users (/failures)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from basket_lib.api.errors import BasketError
from basket_lib.demo.baskets import demo_user_ids
from basket_lib.scan import export
from basket_lib.scan.engine import DEFAULT_CONCURRENCY
from basket_lib.scan.inputs import MAX_PASTE_CHARS, MAX_SCAN_USERS, ParsedIds
from basket_lib.store import scans
from basket_lib.views import charts, tables
from basket_lib.views import scans as scan_views
from basket_lib.views.text import md_escape, plural
from dashboard import columns, comparison, data, exports, gate, history, scan_inputs
from dashboard import scans as dashboard_scans

PASTE, UPLOAD, SAMPLE = "Paste ids", "Upload CSV", "Sample demo users"
_CLEAR_INPUT = "_clear_scan_input"

settings = gate.require_settings()
st.title("Reservation failures")
st.caption(
    "How often do checkout stock reservations fail (stocked < 0), for which products and for "
    f"whom? Scan up to {MAX_SCAN_USERS:,} user ids; every scan is kept, so it can be shared by "
    "its link, compared and followed over time."
)
# What failed just before the last run's st.rerun() (Stop, Resume, a worker not started).
data.show_kept_errors()
db = dashboard_scans.database(settings)
if db is None:
    st.stop()
tz_name = st.context.timezone or "UTC"
scan_id = st.query_params.get("scan")

if st.session_state.pop(_CLEAR_INPUT, False):
    # The ids of a started scan are stored with it. Left in the text area they would travel to
    # the server with every rerun, the progress poll's every second included (110 KB for 10,000).
    st.session_state["scan_text"] = ""

with st.expander("New scan", expanded=scan_id is None, icon=":material/add:"):
    sources = [PASTE, UPLOAD, SAMPLE] if settings.demo else [PASTE, UPLOAD]
    source = st.radio("User ids", sources, horizontal=True, key="scan_source")

    parsed: ParsedIds | None = None
    if source == PASTE:
        text = st.text_area(
            "User ids, separated by new lines, commas or spaces",
            key="scan_text",
            height=150,
            placeholder="user-00001\nuser-00002, user-00003",
            max_chars=MAX_PASTE_CHARS,
        )
        parsed = scan_inputs.pasted_ids(text, cap=MAX_SCAN_USERS)
    elif source == UPLOAD:
        upload = st.file_uploader(
            "CSV file: a column named user_id (or User ID), or pick the column below",
            type=["csv", "txt"],
            key="scan_file",
        )
        if upload is None:
            scan_inputs.forget()
        else:
            try:
                layout = scan_inputs.upload_layout(upload)
                column: int | None = None
                header = True
                if layout.id_column is None:
                    st.info("No column is headed user_id: pick the one that holds the ids.")
                    # Each file starts from its own defaults, never the previous file's choices.
                    scan_inputs.widget_defaults(
                        upload, {"scan_header": layout.columns > 1, "scan_column": 0}
                    )
                    header = st.checkbox("The first row is a header", key="scan_header")
                    names = layout.column_names(header)
                    column = st.selectbox(
                        "Column with the user ids",
                        range(len(names)),
                        format_func=names.__getitem__,
                        key="scan_column",
                    )
                    st.dataframe(
                        pd.DataFrame(layout.preview[1:] if header else layout.preview),
                        hide_index=True,
                        key="scan_preview",
                    )
                parsed = scan_inputs.uploaded_ids(
                    upload, cap=MAX_SCAN_USERS, column=column, header=header
                )
            except BasketError as exc:
                data.show_error(exc)
        if parsed is not None and parsed.extras:
            others = export.extra_columns(parsed.extras)
            st.caption(
                f"Carried through to the exports: {md_escape(', '.join(others))} "
                f"({plural(len(others), 'other column')})."
            )
    else:
        scan_inputs.forget()
        count = st.number_input("Demo users", min_value=1, max_value=5000, value=500, step=100)
        parsed = ParsedIds(ids=demo_user_ids(int(count)))

    if parsed is not None or scan_id is None:
        # A new scan is being filled in: its worker gets ready meanwhile (not while one runs).
        dashboard_scans.prepare_worker(settings)
    if parsed is not None:
        st.caption(scan_views.input_summary(len(parsed.ids), len(parsed.invalid)))
        if parsed.messages:
            # Ids left out beyond the cap are a warning; duplicates and invalid ids are info.
            notice = st.warning if parsed.truncated or parsed.unread else st.info
            notice("  \n".join(md_escape(message) for message in parsed.messages))

    label = st.text_input(
        "Label",
        key="scan_label",
        max_chars=200,
        placeholder="e.g. weekly top customers",
        help="Scans with the same label are compared with each other and shown as a trend.",
    )
    concurrency = st.slider(
        "Concurrent requests",
        min_value=1,
        max_value=64,
        value=DEFAULT_CONCURRENCY,
        key="concurrency",
    )
    # Never disabled: a click right after pasting commits the text in the same run, and an
    # empty input is answered with the reason instead of a greyed-out button.
    if st.button("Start scan", type="primary", key="start_scan"):
        if parsed is None or not (parsed.ids or parsed.invalid):
            st.error(
                "There is nothing to scan yet: paste user ids, upload a CSV with a user_id "
                "column, or choose the sample."
            )
        else:
            started = dashboard_scans.start(
                settings, db, parsed, label=label, concurrency=int(concurrency)
            )
            if started is not None:
                st.query_params["scan"] = started
                st.session_state[_CLEAR_INPUT] = True
                st.rerun()

if scan_id is None:
    history.show(db, tz_name)
    st.stop()

try:
    info = scans.get_scan(db, scan_id)
except BasketError as exc:
    data.show_error(exc)
    st.stop()
if info is None:
    st.error(f"There is no stored scan {md_escape(scan_id)!s}. Pick one from the history below.")
    history.show(db, tz_name)
    st.stop()

st.divider()
st.subheader(info.label or "Scan")
if info.status in (scans.Status.QUEUED, scans.Status.RUNNING):
    dashboard_scans.live_progress(db, info.id, tz_name)  # says which scan it is, and its status
    st.stop()
st.caption(md_escape(scan_views.scan_identity(info, tz_name)))
if (note := scan_views.partial_note(info)) is not None:
    st.warning(note, icon=":material/pending:")
    if info.error:
        st.error(md_escape(info.error), icon=":material/error:")
    dashboard_scans.follow_stopped(db, info.id, info.status)
    if st.button("Resume scan", key="resume_scan", icon=":material/play_arrow:"):
        dashboard_scans.resume(db, info.id)
        st.rerun()

try:
    # With the users' other input columns, for the exports.
    report, extras = dashboard_scans.report_of(db, info, settings)
except BasketError as exc:
    data.show_error(exc)
    st.stop()
# Results are customer data: each session's first look at a scan is audited (fail closed with
# sign-in on, as for a basket).
seen: set[str] = st.session_state.setdefault("audited_scans", set())
if info.id not in seen:
    if not data.audit(
        settings,
        "scan results",
        user_ids=[],
        outcome=report.summary_line(),
        scan_id=info.id,
    ):
        st.stop()
    seen.add(info.id)
st.subheader("Results")
rate = report.reservation_failure_rate
user_rate = report.user_failure_rate
try:
    same_label = scans.list_scans(db, limit=200, label=info.label) if info.label else []
except BasketError as exc:
    data.show_error(exc)
    same_label = []
previous = scan_views.previous_of(info, same_label)
rate_change = scan_views.rate_change(rate, previous.reservation_failure_rate if previous else None)
count_change = scan_views.count_change(
    report.failed_reservations, previous.failed_reservations if previous else None
)
cols = st.columns(5)
cols[0].metric(
    "Users read",
    f"{report.scanned:,}",
    f"of {report.total:,} in the input",
    delta_color="off",
    delta_arrow="off",
    help="Baskets read; the others are listed below with the reason they could not be.",
)
cols[1].metric("Baskets with a checkout", f"{report.baskets_with_checkout:,}")
cols[2].metric(
    "Failed reservations",
    f"{report.failed_reservations:,}",
    count_change.text,
    delta_color="inverse",
)
cols[3].metric(
    "Failure rate",
    f"{rate:.1%}" if rate is not None else "—",
    rate_change.text,
    delta_color="inverse",
    help="Failed reservations / checkout items. The change is against the previous completed "
    "scan with the same label.",
)
cols[4].metric(
    "Checkouts with a failure",
    f"{user_rate:.1%}" if user_rate is not None else "—",
    help="Users with at least one failed reservation / baskets with a checkout.",
)
if previous is not None:
    try:
        note = dashboard_scans.coverage_note(db, info, previous)
    except BasketError as exc:
        data.show_error(exc)
    else:
        if note is not None:
            st.caption(md_escape(f"Changes are against the previous scan labelled alike. {note}"))
if report.errors:
    st.warning(scan_views.unread_summary(len(report.errors) - report.invalid, report.invalid))

details, details_error = data.fetch_details(settings, report.product_ids())
failures = tables.failures_frame(report.failures, details)
failures.insert(1, "basket", [tables.deep_link("", user) for user in failures["user_id"]])

st.markdown("#### Failed reservations")
if failures.empty:
    st.info("No failed reservations among the scanned baskets.")
else:
    st.dataframe(
        tables.blank_missing(failures),
        hide_index=True,
        column_config=columns.FAILURE_COLUMNS,
        key="failures_table",
    )
    # Made on the click, not with the page: see dashboard/exports.py.
    exports.csv_download(
        "Download failures (CSV)",
        lambda: export.failures_csv(report.failures, details, extras),
        file_name=f"reservation-failures-{info.id}.csv",
        key="download_failures",
    )
if details_error is not None:
    st.caption(f"Product names unavailable ({md_escape(details_error.summary())}).")

left, right = st.columns(2)
with left:
    st.markdown("#### Failures by product")
    st.altair_chart(charts.failures_by_product_chart(tables.failures_by_product(failures)))
with right:
    st.markdown("#### Time to expiry of scanned baskets")
    st.altair_chart(charts.expiry_histogram(charts.expiry_histogram_frame(report.expiry_counts())))
    if report.baskets_without_expiry:
        verb = "has" if report.baskets_without_expiry == 1 else "have"
        st.caption(f"{plural(report.baskets_without_expiry, 'basket')} {verb} no expiry date.")

st.markdown("#### Products with failed reservations")
products = tables.product_table(failures, report.checkouts_by_product, details)
if products.empty:
    st.caption("None.")
else:
    at_risk = tables.value_at_risk_by_currency(products)
    if at_risk:
        amounts = " · ".join(f"{amount:,.2f} {currency}" for currency, amount in at_risk.items())
        st.caption(f"Value at risk (price × units whose reservation failed): {amounts}")
    picked = st.dataframe(
        products,
        hide_index=True,
        column_config=columns.PRODUCT_TABLE_COLUMNS,
        key="products_table",
        on_select="rerun",
        selection_mode="single-row",
    )
    exports.csv_download(
        "Download products (CSV)",
        lambda: export.table_csv(tables.PRODUCT_CSV_HEADER, tables.product_csv_rows(products)),
        file_name=f"failing-products-{info.id}.csv",
        key="download_products",
    )
    rows = picked.selection.rows
    if rows:
        product_id = str(products.iloc[rows[0]]["product_id"])
        st.markdown(f"##### Users whose reservation of {md_escape(product_id)} failed")
        st.dataframe(
            tables.affected_users(failures, product_id),
            hide_index=True,
            column_config=columns.AFFECTED_USER_COLUMNS,
            key="affected_users_table",
        )
    else:
        st.caption("Select a product to see the users it failed for, each a click from its basket.")

st.markdown("#### Users that could not be read")
if report.errors:
    st.dataframe(
        tables.errors_frame(report.errors),
        hide_index=True,
        key="errors_table",
        column_config=columns.ERROR_COLUMNS,
    )
    # Same CSV format as the command line's --errors-csv, so no unread user is lost on export.
    exports.csv_download(
        "Download users not fetched (CSV)",
        lambda: export.errors_csv(report.errors, extras),
        file_name=f"scan-errors-{info.id}.csv",
        key="download_errors",
    )
else:
    st.caption(scan_views.no_unread_note(info))
if info.partial:
    st.markdown("#### Users not scanned yet")
    try:
        pending = scans.pending_user_ids(db, info.id)
    except BasketError as exc:
        data.show_error(exc)
    else:
        st.caption(scan_views.not_scanned_summary(info, len(pending)))
        if pending:
            exports.csv_download(
                "Download users not scanned yet (CSV)",
                lambda: export.pending_csv(pending, extras),
                file_name=f"scan-not-scanned-{info.id}.csv",
                key="download_pending",
            )

st.divider()
comparison.show(settings, db, info, products, failures, tz_name)
st.divider()
history.show(db, tz_name)
