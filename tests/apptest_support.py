"""Helpers for the AppTest page tests: a fresh app, recorded API requests, element texts."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from streamlit.proto.DownloadButton_pb2 import DownloadButton as DownloadButtonProto
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.media_file_storage import MediaFileStorageError
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest, app_test

from basket_lib.demo import transport as demo_transport
from basket_lib.demo.api import DemoApi, DemoResponse
from basket_lib.demo.transport import DemoTransport
from dashboard import navigation

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
TIMEOUT = 30

AUTH_SECRETS: dict[str, Any] = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-cookie-secret-for-tests-only-0123456789",
    "client_id": "basket-support",
    "client_secret": "client-secret-for-tests",
    "server_metadata_url": "https://accounts.example.com/.well-known/openid-configuration",
}

# Elements whose text Streamlit renders as markdown.
MARKDOWN_ELEMENTS = (
    "title",
    "header",
    "subheader",
    "markdown",
    "caption",
    "error",
    "warning",
    "info",
    "success",
)


class _AfterFirstNavigation(PagesManager):
    """A running server's steady state. Streamlit runs pages/*.py as legacy multipage scripts
    until the first st.navigation call; AppTest resets that every run, so from the second run on
    it would run the page file alone, without app.py and its sidebar."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        PagesManager.uses_pages_directory = False


def use_navigation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_test, "PagesManager", _AfterFirstNavigation)


def new_app(
    *,
    page: str | None = None,
    user: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> AppTest:
    """The dashboard, not yet run; `page` is e.g. "pages/failures.py"."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if user is not None:
        at.query_params["user"] = user
    if context:
        at.context = dict(context)
    if page is not None:
        switch_page(at, page)
    return at


def switch_page(at: AppTest, page: str) -> AppTest:
    """Goes to one of the app's pages (e.g. "pages/failures.py") in the same session, as the
    sidebar's navigation does.

    st.navigation registers the pages as callables (dashboard.navigation runs each file from
    code it compiled once), and AppTest.switch_page matches page files: before the first run it
    picks the page by the file's name, which is its url_path; after it, by the hash Streamlit
    registered for that url_path (the default page's is empty).
    """
    if not at._registered_pages:
        return at.switch_page(page)
    url_path = Path(page).stem
    wanted = "" if url_path == navigation.BASKET else url_path
    (page_hash,) = [
        page_hash
        for page_hash, info in at._registered_pages.items()
        if info.get("url_pathname") == wanted
    ]
    at._page_hash = page_hash
    return at


def look_up(user: str, **context: Any) -> AppTest:
    """The dashboard opened on a ticket link /?user=USER, run once."""
    at = new_app(user=user, context=context or None)
    at.run()
    no_exception(at)
    return at


def set_user(at: AppTest, user: str) -> AppTest:
    """Types a user id into the sidebar, as an agent does."""
    at.sidebar.text_input(key="user").set_value(user).run()
    no_exception(at)
    return at


def plain(text: str) -> str:
    """Markdown text with md_escape's backslashes removed: what the reader sees."""
    return re.sub(r"\\(.)", r"\1", text)


def texts(at: AppTest, kind: str) -> list[str]:
    return [str(element.value) for element in at.get(kind)]


def plain_texts(at: AppTest, kind: str) -> list[str]:
    return [plain(text) for text in texts(at, kind)]


_SECTION_NOTE = re.compile(r"^#### .*?\n\n:small\[:gray\[(.*)\]\]$", re.DOTALL)


def section_notes(at: AppTest) -> list[str]:
    """The notes under the basket page's section headings ("Total: €79.80", "Empty."), as read."""
    notes = (_SECTION_NOTE.match(text) for text in texts(at, "markdown"))
    return [plain(note.group(1)) for note in notes if note]


def markdown_texts(at: AppTest) -> list[str]:
    """Every text Streamlit renders as markdown, metrics included."""
    found = [text for kind in MARKDOWN_ELEMENTS for text in texts(at, kind)]
    for metric in at.metric:
        found.extend([metric.label, metric.value, metric.delta or ""])
    return found


# An HTML tag that would become a live element if data were put into markdown unescaped.
_UNESCAPED_TAG = re.compile(r"(?<!\\)<[A-Za-z/!]")
DEMO_BADGE = ":orange-badge[:material/science: Demo data]"


def assert_no_live_markup(at: AppTest, payloads: Iterable[str] = ()) -> None:
    """No markdown text holds an unescaped HTML tag or any of `payloads` verbatim (escaped, a
    payload such as `**bold**` or `[x](javascript:...)` no longer reads as markup)."""
    for text in markdown_texts(at):
        assert not _UNESCAPED_TAG.search(text), text
        for payload in payloads:
            assert payload not in text, (payload, text)


def all_texts(at: AppTest) -> str:
    """Everything the page shows as text, tables and code included (for leak checks)."""
    parts = markdown_texts(at) + texts(at, "code")
    parts += [frame.value.to_csv() for frame in at.dataframe]
    parts += [str(widget.value) for widget in (*at.text_input, *at.text_area)]
    return "\n".join(parts)


def frame_with(at: AppTest, column: str) -> Any:
    """The one st.dataframe that has `column`."""
    frames = [frame.value for frame in at.dataframe if column in frame.value.columns]
    assert len(frames) == 1, f"{len(frames)} tables have a {column!r} column"
    return frames[0]


def no_exception(at: AppTest) -> None:
    assert not at.exception, [exc.value for exc in at.exception]


@dataclass(frozen=True)
class Sent:
    method: str
    target: str
    headers: dict[str, str]

    @property
    def is_basket(self) -> bool:
        return "/baskets/users/" in self.target


class RecordingApi(DemoApi):
    """The demo API, remembering every request it was sent."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sent: list[Sent] = []
        self._lock = threading.Lock()

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> DemoResponse:
        lowered = {name.lower(): value for name, value in headers.items()}
        with self._lock:
            self.sent.append(Sent(method.upper(), target, lowered))
        return super().handle(method, target, headers, body)

    def baskets(self) -> list[Sent]:
        with self._lock:
            return [sent for sent in self.sent if sent.is_basket]


class ChangedDetailsApi(RecordingApi):
    """The demo API with its product details answers changed by `products` (override it)."""

    def products(self, products: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return products

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> DemoResponse:
        response = super().handle(method, target, headers, body)
        if "/products/details" not in target:
            return response
        payload = json.loads(response.body)
        payload["data"]["products"] = self.products(payload["data"]["products"])
        return DemoResponse(response.status, response.headers, json.dumps(payload).encode())


def record_requests(monkeypatch: pytest.MonkeyPatch) -> RecordingApi:
    """Every client the app builds in demo mode (cached or for a scan) talks to one recorder."""
    api = RecordingApi()
    monkeypatch.setattr(demo_transport, "DemoTransport", lambda: DemoTransport(api))
    return api


class _KeptMediaManager(MediaFileManager):
    instances: ClassVar[list[MediaFileManager]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _KeptMediaManager.instances.append(self)


def keep_media_managers(monkeypatch: pytest.MonkeyPatch) -> list[MediaFileManager]:
    """The media managers of every later run (download buttons register their data there)."""
    _KeptMediaManager.instances = []
    monkeypatch.setattr(app_test, "MediaFileManager", _KeptMediaManager)
    return _KeptMediaManager.instances


def download_data(managers: list[MediaFileManager], button: DownloadButtonProto) -> bytes:
    """What a click on `button` downloads. Customer exports are deferred: the page stores
    nothing until the click, so a button with a ready URL is a failure here."""
    assert not button.url, f"{button.label!r} stored its file before any click"
    for manager in reversed(managers):
        try:
            url = manager.execute_deferred(button.deferred_file_id)
        except MediaFileStorageError:  # registered in another run's manager
            continue
        stored = manager.read_file(url.rsplit("/", 1)[-1])
        assert stored is not None
        return stored.content
    raise AssertionError(f"no deferred file behind {button.label!r}")


def audit_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
