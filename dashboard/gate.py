"""The sign-in gate every page passes: who is signed in, and whether they may see customer data."""

from __future__ import annotations

import streamlit as st

from basket_lib.access import Verdict, judge_viewer
from basket_lib.api.errors import ConfigurationError
from basket_lib.settings import Settings
from basket_lib.views.text import md_escape, refusal_message
from dashboard.config import AppConfig, load_config
from dashboard.navigation import run_through_entry_point


def sign_in_enabled() -> bool:
    """Whether this run passed the sign-in gate with sign-in on (set by sign_in_gate)."""
    return bool(st.session_state.get("_auth_enabled"))


def viewer() -> str | None:
    """The signed-in viewer's e-mail, or None when sign-in is off."""
    if not sign_in_enabled():
        return None
    email = st.user.get("email")
    return str(email) if email else None


def _signed_in() -> bool:
    # A missing flag (no [auth] section where st.user looks) counts as signed out.
    return st.user.get("is_logged_in") is True


def _verdict(config: AppConfig) -> Verdict | None:
    """What the allow-list says about the signed-in viewer; None when there is nobody to judge."""
    if config.settings is None or not _signed_in():
        return None
    return judge_viewer(
        st.user.to_dict(),
        config.settings.allowed_viewers,
        allow_missing_email_verified=config.settings.allow_missing_email_verified,
    )


def access_allowed(config: AppConfig) -> bool:
    """Whether the visitor may see customer data (draws nothing)."""
    if not config.auth_enabled:
        return True
    return _verdict(config) is Verdict.ALLOWED


def sign_in_gate(config: AppConfig) -> bool:
    """True when the visitor may see customer data; otherwise draws the sign-in page."""
    st.session_state["_auth_enabled"] = config.auth_enabled
    if access_allowed(config):
        return True
    st.title("Basket support")
    if config.error is not None:
        # Without settings the allowed viewers are unknown: nobody gets in.
        st.error(md_escape(config.error.message), icon=":material/error:")
    elif not _signed_in():
        st.write("Sign in to look at customer baskets.")
        st.button("Sign in", type="primary", on_click=st.login)
    else:
        verdict = _verdict(config) or Verdict.NOT_LISTED
        st.error(refusal_message(verdict, st.user.get("email")), icon=":material/block:")
        st.button("Sign out", on_click=st.logout)
    return False


def require_access(config: AppConfig | None = None) -> AppConfig:
    """Every page checks sign-in itself, not only app.py: while Streamlit still treats pages/ as
    a legacy multipage directory (on a fresh server, until app.py first calls st.navigation), a
    URL such as /failures runs the page file without app.py."""
    run_through_entry_point()
    config = config or load_config()
    if not sign_in_gate(config):
        st.stop()
    return config


def require_settings() -> Settings:
    """The settings of a visitor allowed in, or a clear error on the page and the run stops."""
    config = require_access()
    if config.error is not None or config.settings is None:
        st.error(md_escape(config.error.message if config.error else "No configuration."))
        st.info(md_escape(ConfigurationError.hint))
        st.stop()
    return config.settings
