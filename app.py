"""Entry point: page config, settings, sign-in, shared sidebar and navigation."""

from __future__ import annotations

import streamlit as st

from pages import _shared as shared

st.set_page_config(page_title="Basket support", page_icon="🧺", layout="wide")

shared.mark_entry_point()
config = shared.load_config()
allowed = shared.access_allowed(config)

# Called on every run, signed in or not: Streamlit treats pages/ as a legacy multipage directory
# (where /failures would run that file without this script) until st.navigation is first called.
current = st.navigation(shared.navigation_pages(), position="sidebar" if allowed else "hidden")

# Sign-in gate: nothing below (no customer data, no sidebar, no page) runs for a visitor who is not
# signed in and allowed. Every page checks again (shared.require_access).
if not shared.sign_in_gate(config):
    st.stop()

with st.sidebar:
    # Bound to ?user= so ticket links work and the id survives page switches.
    st.text_input(
        "User id",
        key="user",
        bind="query-params",
        placeholder="e.g. demo-checkout-failed",
        help="The platform-specific user id from the ticket.",
    )
    shared.sidebar_status(config)

current.run()
