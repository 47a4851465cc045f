"""Deferred CSV downloads against Streamlit's own media manager (dashboard/exports.py).

These run the real `MediaFileManager` the way a click does (`add_deferred`, then
`execute_deferred`), so they fail if Streamlit stops storing the file under the id
`exports.stored_file_id` computes, or if removing it through the storage stops working: the two
private names the exports rely on.
"""

from __future__ import annotations

import time

from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from dashboard import exports

CSV = b"user_id,product_id\nuser-00001,prod-1017\n"
NAME = "reservation-failures.csv"


def manager() -> MediaFileManager:
    return MediaFileManager(MemoryMediaFileStorage("/media"))


def stored_name(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def click(media: MediaFileManager, lifetime: float) -> str:
    """Register the deferred download as the page does and redeem it as a click does."""
    generate = exports.on_click(lambda: CSV, NAME, manager=media, lifetime=lifetime)
    placeholder = media.add_deferred(generate, exports.CSV_MIME, "0.1", file_name=NAME)
    return media.execute_deferred(placeholder)


def wait_until_gone(media: MediaFileManager, url: str, within: float = 30.0) -> bool:
    deadline = time.monotonic() + within
    while media.read_file(stored_name(url)) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)  # the poll's pause; the condition is the file's absence
    return True


def test_the_file_is_stored_under_the_id_the_exports_compute() -> None:
    media = manager()
    url = click(media, lifetime=3600)

    stored = media.read_file(stored_name(url))
    assert stored is not None and stored.content == CSV
    assert stored_name(url) == exports.stored_file_id(CSV, exports.CSV_MIME, NAME) + ".csv"


def test_a_made_file_is_removed_after_its_lifetime() -> None:
    media = manager()
    url = click(media, lifetime=0.05)

    assert wait_until_gone(media, url)


def test_a_second_click_renews_the_lifetime() -> None:
    media = manager()
    first = click(media, lifetime=0.05)
    second = click(media, lifetime=3600)

    assert first == second
    # The first click's timer must not take the file the second click is downloading.
    assert not wait_until_gone(media, second, within=0.5)
