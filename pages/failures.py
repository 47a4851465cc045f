"""Product managers: failed stock reservations across many users (/failures)."""

from __future__ import annotations

import streamlit as st

from basket_lib.api.errors import BasketError
from basket_lib.connect import build_async_client
from basket_lib.demo.baskets import demo_user_ids
from basket_lib.scan import export
from basket_lib.scan.engine import DEFAULT_CONCURRENCY, scan_users_sync
from basket_lib.scan.inputs import MAX_SCAN_USERS, ParsedIds, parse_pasted_ids, parse_uploaded_csv
from basket_lib.scan.report import ScanProgress, ScanReport
from basket_lib.views import charts, tables
from basket_lib.views.text import md_escape, plural
from dashboard import columns, data, exports, gate

PASTE, UPLOAD, SAMPLE = "Paste ids", "Upload CSV", "Sample demo users"

settings = gate.require_settings()
st.title("Reservation failures")
st.caption(
    "How often do checkout stock reservations fail (stocked < 0), for which products and for "
    f"whom? Scan up to {MAX_SCAN_USERS:,} user ids."
)

sources = [PASTE, UPLOAD, SAMPLE] if settings.demo else [PASTE, UPLOAD]
source = st.radio("User ids", sources, horizontal=True, key="scan_source")

parsed: ParsedIds | None = None
if source == PASTE:
    text = st.text_area(
        "User ids, separated by new lines, commas or spaces",
        key="scan_text",
        height=150,
        placeholder="user-00001\nuser-00002, user-00003",
    )
    if text.strip():
        parsed = parse_pasted_ids(text, cap=MAX_SCAN_USERS)
elif source == UPLOAD:
    upload = st.file_uploader(
        "CSV file with a column named user_id", type=["csv", "txt"], key="scan_file"
    )
    if upload is not None:
        try:
            parsed = parse_uploaded_csv(upload.getvalue(), cap=MAX_SCAN_USERS, filename=upload.name)
        except BasketError as exc:
            data.show_error(exc)
else:
    count = st.number_input("Demo users", min_value=1, max_value=5000, value=500, step=100)
    parsed = ParsedIds(ids=demo_user_ids(int(count)))

if parsed is not None:
    st.caption(f"{plural(len(parsed.ids), 'distinct user id')} to scan")
    if parsed.messages:
        # Ids left out beyond the cap are a warning; duplicates and invalid ids are information.
        notice = st.warning if parsed.truncated or parsed.unread else st.info
        notice("  \n".join(md_escape(message) for message in parsed.messages))

concurrency = st.slider(
    "Concurrent requests", min_value=1, max_value=64, value=DEFAULT_CONCURRENCY, key="concurrency"
)
can_scan = parsed is not None and bool(parsed.ids or parsed.invalid)
if st.button("Start scan", type="primary", disabled=not can_scan, key="start_scan"):
    assert parsed is not None
    progress_bar = st.progress(0.0, text="Starting…")

    def show_progress(progress: ScanProgress) -> None:
        progress_bar.progress(
            progress.done / progress.total if progress.total else 1.0,
            text=(
                f"{progress.done:,} / {plural(progress.total, 'user')} · "
                f"{plural(progress.errors, 'error')} · "
                f"{plural(progress.failures, 'failed reservation')}"
            ),
        )

    with st.status(f"Scanning {plural(len(parsed.ids), 'user')}…", expanded=False) as status:
        report = scan_users_sync(
            lambda: build_async_client(settings),
            parsed.ids,
            concurrency=int(concurrency),
            on_progress=show_progress,
        )
        report.add_invalid_ids(parsed.invalid)
        status.update(
            label=f"Scanned {plural(report.total, 'user')} in {report.elapsed_seconds:.1f} s",
            state="complete",
        )
    audited = data.audit(
        settings,
        "scan",
        user_ids=[*parsed.ids, *(user for user, _ in parsed.invalid)],
        outcome=report.summary_line(),
    )
    # A scan that could not be audited is not shown (with sign-in on), nor kept for later runs.
    st.session_state["scan_report"] = report if audited else None

report: ScanReport | None = st.session_state.get("scan_report")
if report is None:
    st.stop()

st.divider()
st.subheader("Results")
rate = report.reservation_failure_rate
user_rate = report.user_failure_rate
cols = st.columns(5)
cols[0].metric("Users scanned", f"{report.scanned:,}", f"of {report.total:,}", delta_color="off")
cols[1].metric("Baskets with a checkout", f"{report.baskets_with_checkout:,}")
cols[2].metric("Failed reservations", f"{report.failed_reservations:,}")
cols[3].metric(
    "Failure rate",
    f"{rate:.1%}" if rate is not None else "—",
    help="Failed reservations / checkout items.",
)
cols[4].metric(
    "Checkouts with a failure",
    f"{user_rate:.1%}" if user_rate is not None else "—",
    help="Users with at least one failed reservation / baskets with a checkout.",
)
if report.errors:
    st.warning(
        f"{plural(len(report.errors), 'user')} could not be fetched; "
        f"{'it is' if len(report.errors) == 1 else 'they are'} listed below with the reason."
    )

details, details_error = data.fetch_details(
    settings, sorted({record.product_id for record in report.failures})
)
failures = tables.failures_frame(report.failures, details)
failures.insert(1, "basket", [tables.deep_link("", user) for user in failures["user_id"]])

st.markdown("#### Failed reservations")
if failures.empty:
    st.info("No failed reservations among the scanned baskets.")
else:
    st.dataframe(
        failures,
        hide_index=True,
        column_config=columns.FAILURE_COLUMNS,
        key="failures_table",
    )
    # Made on the click, not with the page: see dashboard/exports.py.
    exports.csv_download(
        "Download failures (CSV)",
        lambda: export.failures_csv(report.failures, details),
        file_name="reservation-failures.csv",
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

st.markdown("#### Users that could not be fetched")
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
        lambda: export.errors_csv(report.errors),
        file_name="scan-errors.csv",
        key="download_errors",
    )
else:
    st.caption("None: every user was fetched.")
