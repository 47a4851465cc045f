"""The sidebar below the user id: configuration status, demo scenarios, the signed-in viewer."""

from __future__ import annotations

import streamlit as st

from basket_lib.demo.api import SCENARIOS
from basket_lib.views.text import md_escape
from dashboard.config import AppConfig
from dashboard.gate import viewer


def sidebar_status(config: AppConfig) -> None:
    if config.error is not None:
        st.error(md_escape(config.error.message))
        return
    settings = config.settings
    assert settings is not None
    if settings.demo:
        st.badge("Demo data", icon=":material/science:", color="orange")
        st.caption("No BASKET\\_API\\_URL is set: baskets come from the built-in demo API.")
        labels = {user: f"{user} — {text}" for user, text in SCENARIOS.items()}
        st.selectbox(
            "Demo scenarios",
            options=list(SCENARIOS),
            index=None,
            format_func=labels.__getitem__,
            key="_scenario",
            placeholder="Pick a scenario user",
            on_change=_use_scenario,
        )
    else:
        st.caption(
            f"API: {md_escape(settings.api_url)} · version {md_escape(settings.api_version)}"
        )
    who = viewer()
    if who:
        st.caption(f"Signed in as {md_escape(who)}")
        st.button("Sign out", on_click=st.logout)


def _use_scenario() -> None:
    choice = st.session_state.get("_scenario")
    if choice:
        st.session_state["user"] = choice
    st.session_state["_scenario"] = None
