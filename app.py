"""Entry point: page config, settings, sign-in, shared sidebar and navigation."""

from __future__ import annotations

import streamlit as st

from dashboard import collector, config, gate, lookups, navigation, sidebar

collector.tune()

st.set_page_config(page_title="Basket support", page_icon=config.PAGE_ICON, layout="wide")

navigation.mark_entry_point()
config = config.load_config()
allowed = gate.access_allowed(config)

# Called on every run, signed in or not: Streamlit treats pages/ as a legacy multipage directory
# (where /failures would run that file without this script) until st.navigation is first called.
current = st.navigation(navigation.navigation_pages(), position="sidebar" if allowed else "hidden")

# Sign-in gate: nothing below (no customer data, no sidebar, no page) runs for a visitor who is not
# signed in and allowed. Every page checks again (gate.require_access).
if not gate.sign_in_gate(config):
    st.stop()

# Before the box is drawn: ticket links, Back and page switches keep it and ?user= in step.
lookups.sync_user_with_url(current.url_path)
with st.sidebar:
    st.text_input(
        "User id",
        key="user",
        placeholder="e.g. demo-checkout-failed",
        help="The platform-specific user id from the ticket.",
    )
    sidebar.sidebar_status(config)

try:
    current.run()
finally:
    # Modules this run imported (pandas on the first basket) are set aside from the collector.
    collector.freeze_after_imports()
