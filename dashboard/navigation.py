"""The app's pages for st.navigation, and the rule that every page runs through app.py."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import streamlit as st

_ROOT = Path(__file__).resolve().parent.parent
_PAGES_DIR = _ROOT / "pages"
_ENTRY_POINT = _ROOT / "app.py"
_VIA_ENTRY_POINT = "_via_entry_point"
# Set while this page's run executes app.py: the page it runs must not hand over again.
_HANDING_OVER = "_handing_over_to_entry_point"


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
    called: /failures then runs this page alone, without app.py's sidebar. app.py is then run
    here, in this same script run, as Streamlit itself does for / in that mode: its st.navigation
    ends the mode for the whole server and runs this page again through it (pages are keyed by
    url_path in both modes), and this run of the page stops. A st.rerun() instead would cost the
    first visit a second script run."""
    if st.session_state.pop(_VIA_ENTRY_POINT, False) or st.session_state.get(_HANDING_OVER):
        return
    st.session_state[_HANDING_OVER] = True
    try:
        _run_entry_point()
    finally:
        st.session_state.pop(_HANDING_OVER, None)
    st.stop()


def _run_entry_point() -> None:
    # As st.Page.run runs a page file: a module of its own, named __main__, not in sys.modules.
    code = compile(_ENTRY_POINT.read_bytes(), str(_ENTRY_POINT), "exec")
    module = types.ModuleType("__main__")
    module.__file__ = str(_ENTRY_POINT)
    exec(code, module.__dict__)
