"""The app's pages for st.navigation, and the rule that every page runs through app.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

_PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"
_VIA_ENTRY_POINT = "_via_entry_point"
_NAVIGATION_REGISTERED = "_navigation_registered"


def navigation_pages() -> list[Any]:
    """The app's pages for st.navigation; absolute paths, so a page can register them too."""
    return [
        st.Page(
            _PAGES_DIR / "basket.py",
            title="Basket lookup",
            icon=":material/shopping_basket:",
            default=True,
        ),
        st.Page(
            _PAGES_DIR / "failures.py",
            title="Reservation failures",
            icon=":material/trending_down:",
            url_path="failures",
        ),
        st.Page(
            _PAGES_DIR / "tracking.py",
            title="Tracking decoder",
            icon=":material/manage_search:",
            url_path="tracking",
        ),
    ]


def mark_entry_point() -> None:
    """Called by app.py on every run, so a page knows it was reached through it."""
    st.session_state[_VIA_ENTRY_POINT] = True


def run_through_entry_point() -> None:
    """A fresh server treats pages/ as a legacy multipage folder until st.navigation is first
    called: /failures then runs this page alone, without app.py's sidebar. Registering the app's
    navigation ends that mode for the whole server; the rerun comes back to the same page (pages
    are keyed by url_path in both modes), this time through app.py."""
    if st.session_state.pop(_VIA_ENTRY_POINT, False) or st.session_state.get(
        _NAVIGATION_REGISTERED
    ):
        return
    st.session_state[_NAVIGATION_REGISTERED] = True
    st.navigation(navigation_pages(), position="hidden")
    st.rerun()
