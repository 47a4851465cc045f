"""CSV downloads of customer data that exist only briefly, after the viewer's own click.

Streamlit 1.67 serves every download from its media store at `/media/<id>`, to any request: the
route checks no cookie and no session, and the id of a stored file is a hash of its bytes, mime
type and file name. A download button given bytes puts them there while the page runs, so the
file is fetchable before anyone clicks. Given a callable instead, the button only holds a random
placeholder id that its own websocket session redeems; the file is written on the click. Once
written, Streamlit keeps it until two script runs (of any session) have ended, which on a quiet
server can be forever, so each export here is removed `EXPORT_LIFETIME_SECONDS` after it was
made: long enough for the browser, which fetches it at once, and no longer.

Streamlit has no public call to remove a media file, so `forget_later` uses two private names
(the file id function and the manager's storage); `tests/test_exports.py` fails if they change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import streamlit as st
from streamlit import runtime
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import _calculate_file_id

CSV_MIME = "text/csv"
EXPORT_LIFETIME_SECONDS = 30.0

_lock = threading.Lock()
# File id → how many times it was made; a timer removes a file only if no later click renewed it.
_generations: dict[str, int] = {}


def stored_file_id(data: bytes, mimetype: str, file_name: str) -> str:
    """The id under which Streamlit's media store keeps these bytes (its `/media/<id>.<ext>`)."""
    return _calculate_file_id(data, mimetype, file_name)


def forget_later(manager: MediaFileManager, file_id: str, delay: float) -> None:
    """Remove the stored file `file_id` after `delay` seconds unless it is made again meanwhile."""
    with _lock:
        generation = _generations.get(file_id, 0) + 1
        _generations[file_id] = generation

    def forget() -> None:
        # Under the lock: a click that renews the file waits, and Streamlit stores it afresh.
        with _lock:
            if _generations.get(file_id) != generation:
                return
            del _generations[file_id]
            manager._storage.delete_file(file_id)

    timer = threading.Timer(delay, forget)
    timer.daemon = True
    timer.start()


def on_click(
    make: Callable[[], bytes],
    file_name: str,
    *,
    manager: MediaFileManager | None,
    lifetime: float = EXPORT_LIFETIME_SECONDS,
) -> Callable[[], bytes]:
    """`make` as a download's deferred data, its stored file removed `lifetime` s after a click."""

    def generate() -> bytes:
        data = make()
        if manager is not None:
            # Streamlit stores the bytes just after this returns; the timer is far longer.
            forget_later(manager, stored_file_id(data, CSV_MIME, file_name), lifetime)
        return data

    return generate


def csv_download(label: str, make: Callable[[], bytes], *, file_name: str, key: str) -> None:
    """A download button whose CSV is made by `make` when the viewer clicks it."""
    manager = runtime.get_instance().media_file_mgr if runtime.exists() else None
    st.download_button(
        label,
        data=on_click(make, file_name, manager=manager),
        file_name=file_name,
        mime=CSV_MIME,
        on_click="ignore",
        icon=":material/download:",
        key=key,
    )
