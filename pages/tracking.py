"""Everyone: decode an X-JAY-Tracking header or __Secure-jay_tracking cookie value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import streamlit as st

from basket_lib.api.errors import BasketError, TrackingDecodeError
from basket_lib.api.validation import validate_user_id
from basket_lib.tracking import decode_tracking
from basket_lib.views import times
from basket_lib.views.text import md_escape
from dashboard import data, gate, lookups, navigation

gate.require_access()
st.title("Tracking decoder")
st.caption(
    "Paste the X-JAY-Tracking header value or the __Secure-jay_tracking cookie "
    "(base64 of a JSON tracking session; padding and url-safe forms are fine)."
)
value = st.text_area("Header or cookie value", key="tracking_input", height=120)

if value.strip():
    try:
        session = decode_tracking(value)
    except TrackingDecodeError as exc:
        data.show_error(exc)
        st.stop()
    now = datetime.now(UTC)
    tz_name = st.context.timezone or "UTC"
    cols = st.columns(3)
    # Metric values are markdown; the pasted value is data.
    cols[0].metric("Session", md_escape(session.session_id) if session.session_id else "—")
    cols[1].metric(
        "Provider",
        md_escape(session.provider_name) if session.provider_name else "not in the session",
    )
    age = session.age(now)
    future = age is not None and age < timedelta(0)
    cols[2].metric(
        "Session age",
        "unknown" if age is None else "in the future" if future else times.humanize_delta(age),
        help="Time since start_time (a start time without zone is taken as UTC).",
    )
    if age is not None and future:
        st.warning(md_escape(f"This session {times.start_text(age)}."), icon=":material/warning:")
    if session.start_time is not None:
        verb = "Starts" if future else "Started"
        st.caption(md_escape(f"{verb} {times.format_with_utc(session.start_time, tz_name)}"))
    # One click from the decoded header to that customer's basket, sent with this header; an id
    # the basket page would refuse is not offered (the page would only say why).
    refused = None
    if session.user_id:
        try:
            validate_user_id(session.user_id)
        except BasketError as exc:
            refused = exc.message
    if refused is not None:
        st.caption(md_escape(f"The session's user id cannot be looked up: {refused}"))
    elif session.user_id and st.button(
        f"Open the basket of {md_escape(session.user_id)} with this tracking session",
        key="open_tracked_basket",
        icon=":material/shopping_basket:",
        type="primary",
        # The callback sets the user and the options before the sidebar's id is drawn.
        on_click=lookups.open_with_options,
        args=(session.user_id,),
        kwargs={"tracking": session.header_value, "provider_id": session.provider_name},
    ):
        st.switch_page(
            navigation.page(navigation.BASKET), query_params={lookups.USER_PARAM: session.user_id}
        )
    st.dataframe(
        [{"field": name, "value": text} for name, text in session.fields()],
        hide_index=True,
        key="tracking_fields",
    )
    st.markdown("**Decoded JSON** (copy button on the right)")
    st.code(session.to_json(), language="json")
