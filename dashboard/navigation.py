"""The app's pages for st.navigation, and the rule that every page runs through app.py."""

from __future__ import annotations

import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

_ROOT = Path(__file__).resolve().parent.parent
_PAGES_DIR = _ROOT / "pages"
_ENTRY_POINT = _ROOT / "app.py"
_VIA_ENTRY_POINT = "_via_entry_point"
# Set while this page's run executes app.py: the page it runs must not hand over again.
_HANDING_OVER = "_handing_over_to_entry_point"
# url_path: (file in pages/, title, icon). BASKET is the default page, served at /.
_PAGES = {
    "basket": ("basket.py", "Basket lookup", ":material/shopping_basket:"),
    "failures": ("failures.py", "Reservation failures", ":material/trending_down:"),
    "tracking": ("tracking.py", "Tracking decoder", ":material/manage_search:"),
}
BASKET = "basket"
# Each page script compiled once per process, and again only when its file changes. Streamlit's
# own cache of compiled pages is emptied whenever the server's last session disconnects, so a
# single agent moving from ticket link to ticket link paid a recompile of the page every time
# (pages/basket.py: 3-7 ms of the 45-55 ms of server CPU a lookup costs).
_COMPILED: dict[Path, tuple[tuple[int, int], types.CodeType]] = {}


def page(url_path: str) -> Any:
    """The st.Page of one of the app's pages, for st.navigation, st.page_link, st.switch_page."""
    file, title, icon = _PAGES[url_path]
    return st.Page(
        _page_runner(_PAGES_DIR / file),
        title=title,
        icon=icon,
        url_path=url_path,
        default=url_path == BASKET,
    )


def navigation_pages() -> list[Any]:
    """The app's pages for st.navigation."""
    return [page(url_path) for url_path in _PAGES]


def _compiled(script: Path) -> types.CodeType:
    stat = script.stat()
    version = (stat.st_mtime_ns, stat.st_size)
    found = _COMPILED.get(script)
    if found is None or found[0] != version:
        found = (version, compile(script.read_bytes(), str(script), "exec", dont_inherit=True))
        _COMPILED[script] = found
    return found[1]


def _run_script(script: Path) -> None:
    # As st.Page.run runs a page file: a module of its own, named __main__, not in sys.modules.
    module = types.ModuleType("__main__")
    module.__file__ = str(script)
    exec(_compiled(script), module.__dict__)


def _page_runner(script: Path) -> Callable[[], None]:
    def run() -> None:
        _run_script(script)

    run.__qualname__ = run.__name__ = f"run_{script.stem}"
    return run


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
    _run_script(_ENTRY_POINT)
