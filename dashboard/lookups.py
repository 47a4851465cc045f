"""One agent's lookups in a browser session: recent customers, and request options (provider id,
tracking header) that belong to the customer they were set for."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from basket_lib.views.text import md_escape

BASKET_PAGE = "pages/basket.py"
PROVIDER_KEY = "provider_id"
TRACKING_KEY = "tracking_header"
_OPTIONS_USER = "_options_user"
_RECENT = "_recent_lookups"
MAX_RECENT = 10


def switch_user(user_id: str) -> None:
    """Callback: look `user_id` up (the sidebar's id, bound to ?user=)."""
    st.session_state["user"] = user_id


def open_with_options(user_id: str, *, tracking: str, provider_id: str | None) -> None:
    """Callback: look `user_id` up with these request options, set for that customer."""
    st.session_state["user"] = user_id
    st.session_state[TRACKING_KEY] = tracking
    st.session_state[PROVIDER_KEY] = provider_id or ""
    st.session_state[_OPTIONS_USER] = user_id


@dataclass(frozen=True)
class ClearedOptions:
    user_id: str
    provider_id: str
    tracking: str

    def restore(self) -> None:
        """Callback: send the cleared options for the current customer too."""
        st.session_state[PROVIDER_KEY] = self.provider_id
        st.session_state[TRACKING_KEY] = self.tracking


def options_for(user_id: str) -> ClearedOptions | None:
    """Clears request options set for another customer, before the option widgets are drawn, so
    a provider id or tracking session never silently follows the agent to the next ticket.
    Returns what was cleared, for the page to say so (and offer it back)."""
    previous = st.session_state.get(_OPTIONS_USER)
    st.session_state[_OPTIONS_USER] = user_id
    provider = str(st.session_state.get(PROVIDER_KEY) or "")
    tracking = str(st.session_state.get(TRACKING_KEY) or "")
    if previous is None or previous == user_id or not (provider.strip() or tracking.strip()):
        return None
    st.session_state[PROVIDER_KEY] = ""
    st.session_state[TRACKING_KEY] = ""
    return ClearedOptions(previous, provider, tracking)


def remember(user_id: str) -> None:
    """Puts a looked-up customer first in this session's recent lookups."""
    recent = [user for user in st.session_state.get(_RECENT, []) if user != user_id]
    st.session_state[_RECENT] = [user_id, *recent][:MAX_RECENT]


def recent_lookups_sidebar() -> None:
    """Links to this session's recent customers; each opens as a new browser history entry."""
    recent = st.session_state.get(_RECENT, [])
    current = (st.session_state.get("user") or "").strip()
    others = [user for user in recent if user != current]
    if not others:
        return
    with st.sidebar:
        st.markdown("**Recent lookups**")
        for user in others:
            st.page_link(
                BASKET_PAGE,
                label=md_escape(user),
                icon=":material/history:",
                query_params={"user": user},
            )
