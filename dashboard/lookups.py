"""One agent's lookups in a browser session: recent customers, and request options (provider id,
tracking header) that belong to the customer they were set for."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from basket_lib.views.text import md_escape
from dashboard import navigation

PROVIDER_KEY = "provider_id"
TRACKING_KEY = "tracking_header"
_OPTIONS_USER = "_options_user"
_RECENT = "_recent_lookups"
_URL_USER = "_url_user"
_URL_PAGE = "_url_page"
MAX_RECENT = 10
USER_PARAM = "user"


def sync_user_with_url(page: str) -> None:
    """Keeps the sidebar's user id (session state "user") and ?user= in step, before the sidebar
    draws it; `page` is the current page's url_path.

    The sidebar box is not bound to ?user= (bind="query-params"): a bound widget rewrites the URL
    with history.replaceState, so every typed lookup would replace the previous customer's history
    entry and Back would leave the app. Instead:

    - a ?user= that changed since the last run (a ticket link, Back/Forward, a Recent lookups
      link) is the customer to show;
    - otherwise an id the agent typed or picked is written to ?user=, which Streamlit adds as a
      new history entry (pushState), so Back returns to the previous customer;
    - a page switch drops unbound query parameters: the id is written back, so it survives.
    """
    state = st.session_state
    in_url = st.query_params.get(USER_PARAM, "")
    seen = state.get(_URL_USER)
    page_changed = state.get(_URL_PAGE, page) != page
    state[_URL_PAGE] = page
    url_changed = in_url != seen if seen is not None else bool(in_url)
    if url_changed and (in_url or not page_changed):
        state["user"] = in_url
        if in_url:
            # Sent back unchanged so the address bar shows it: a Recent lookups link to the page
            # already open reruns with its ?user= but leaves the address as it was. Where the
            # address already shows it (a ticket link, Back) this adds no history entry.
            st.query_params[USER_PARAM] = in_url
    else:
        current = str(state.get("user") or "")
        if current != in_url:
            if current:
                st.query_params[USER_PARAM] = current
            else:
                del st.query_params[USER_PARAM]
    state[_URL_USER] = st.query_params.get(USER_PARAM, "")


def switch_user(user_id: str) -> None:
    """Callback: look `user_id` up (the sidebar's id; sync_user_with_url writes it to ?user=)."""
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
                navigation.page(navigation.BASKET),
                label=md_escape(user),
                icon=":material/history:",
                query_params={"user": user},
            )
