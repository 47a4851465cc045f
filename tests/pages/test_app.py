"""AppTest of the entry point: navigation, the sidebar user id, sign-in and who may see data."""

from __future__ import annotations

import builtins
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import streamlit
from apptest_support import (
    APP,
    AUTH_SECRETS,
    RecordingApi,
    all_texts,
    assert_no_live_markup,
    audit_lines,
    new_app,
    no_exception,
    plain_texts,
    switch_page,
    texts,
    use_navigation,
)
from streamlit.errors import StreamlitSecretNotFoundError
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from dashboard import navigation as dashboard_navigation

PAGES = {
    "pages/basket.py": "Basket lookup",
    "pages/failures.py": "Reservation failures",
    "pages/tracking.py": "Tracking decoder",
}
ALLOWED = "agent@example.com"


pytestmark = pytest.mark.usefixtures("app_environment")


@pytest.fixture
def navigation(monkeypatch: pytest.MonkeyPatch) -> None:
    use_navigation(monkeypatch)


def titles(at: AppTest) -> list[str]:
    return texts(at, "title")


MISSING = object()


def signed_in_app(
    email: str | None,
    *,
    user: str = "demo-checkout-failed",
    email_verified: object = True,
    **kw: Any,
) -> AppTest:
    at = new_app(user=user, **kw)
    at.secrets["auth"] = dict(AUTH_SECRETS)
    at.user = {
        "is_logged_in": True,
        **({"email": email} if email else {}),
        **({} if email_verified is MISSING else {"email_verified": email_verified}),
    }
    return at


def shows_no_customer_data(at: AppTest, api: RecordingApi) -> None:
    no_exception(at)
    assert not api.sent
    assert not at.dataframe and not at.metric and not at.code
    assert not at.sidebar.text_input  # no user id box, no scenario picker
    assert not at.get("vega_lite_chart")


# --- no sign-in configured ----------------------------------------------------------------------


@pytest.mark.usefixtures("navigation")
def test_without_auth_every_page_opens(api: RecordingApi) -> None:
    at = new_app(user="demo-checkout-failed")
    at.run()
    no_exception(at)
    assert titles(at) == ["Basket lookup"]
    assert not any("Sign" in button.label for button in at.button)

    for page, title in PAGES.items():
        switch_page(at, page).run()
        no_exception(at)
        assert titles(at) == [title]
        assert at.sidebar.text_input(key="user").value == "demo-checkout-failed"


@pytest.mark.usefixtures("navigation")
def test_page_switching_keeps_the_user() -> None:
    at = new_app(user="demo-normal")
    at.run()
    at.sidebar.text_input(key="user").set_value("demo-variants").run()

    switch_page(at, "pages/failures.py").run()
    no_exception(at)
    assert titles(at) == ["Reservation failures"]
    assert at.session_state["user"] == "demo-variants"

    switch_page(at, "pages/tracking.py").run()
    switch_page(at, "pages/basket.py").run()
    no_exception(at)
    assert at.sidebar.text_input(key="user").value == "demo-variants"
    assert plain_texts(at, "subheader") == ["demo-variants"]
    assert at.query_params["user"] == "demo-variants"


# The sidebar box and ?user= (lookups.sync_user_with_url): a lookup is written to the address,
# which Streamlit then adds to the browser history; a changed address is the customer to show.


@pytest.mark.usefixtures("navigation")
def test_a_typed_user_id_is_written_to_the_address() -> None:
    at = new_app(user="demo-normal")
    at.run()
    at.sidebar.text_input(key="user").set_value("demo-variants").run()
    no_exception(at)
    assert at.query_params["user"] == "demo-variants"
    assert plain_texts(at, "subheader") == ["demo-variants"]

    at.sidebar.text_input(key="user").set_value("").run()
    no_exception(at)
    assert "user" not in at.query_params


@pytest.mark.usefixtures("navigation")
def test_a_scenario_pick_is_written_to_the_address() -> None:
    at = new_app()
    at.run()
    at.sidebar.selectbox(key="_scenario").set_value("demo-expired").run()
    no_exception(at)
    assert at.query_params["user"] == "demo-expired"


@pytest.mark.usefixtures("navigation")
def test_a_changed_address_wins_over_the_box() -> None:
    """Back, Forward and a Recent lookups link rerun with the other customer's ?user= while the
    box still holds the one on screen."""
    at = new_app(user="demo-normal")
    at.run()
    at.sidebar.text_input(key="user").set_value("demo-variants").run()

    at.query_params["user"] = "demo-normal"
    at.run()
    no_exception(at)
    assert at.sidebar.text_input(key="user").value == "demo-normal"
    assert plain_texts(at, "subheader") == ["demo-normal"]


@pytest.mark.usefixtures("navigation")
def test_configuration_error_is_shown_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASKET_API_TIMEOUT", "soon")
    at = new_app(user="demo-normal")
    at.run()

    no_exception(at)
    assert any("BASKET_API_TIMEOUT" in text for text in plain_texts(at, "error"))
    assert not at.metric


# --- sign-in: who gets past the sign-in page ----------------------------------------------------


def test_auth_section_in_secrets_turns_sign_in_on(api: RecordingApi) -> None:
    at = new_app(user="demo-checkout-failed")
    at.secrets["auth"] = dict(AUTH_SECRETS)
    at.user = {"is_logged_in": False}
    at.run()

    shows_no_customer_data(at, api)
    assert titles(at) == ["Basket support"]
    assert [button.label for button in at.button] == ["Sign in"]


def test_sign_in_page_ends_the_legacy_pages_mode(api: RecordingApi) -> None:
    # app.py calls st.navigation (hidden) before the gate, so a signed-out visit to / is enough
    # to stop Streamlit from running pages/*.py on their own.
    at = new_app()
    at.secrets["auth"] = dict(AUTH_SECRETS)
    at.user = {"is_logged_in": False}
    at.run()

    shows_no_customer_data(at, api)
    assert PagesManager.uses_pages_directory is False


def test_a_user_without_a_login_flag_counts_as_signed_out(api: RecordingApi) -> None:
    # AppTest's default user has an e-mail but no is_logged_in.
    at = new_app(user="demo-checkout-failed")
    at.secrets["auth"] = dict(AUTH_SECRETS)
    at.run()

    shows_no_customer_data(at, api)
    assert [button.label for button in at.button] == ["Sign in"]


@pytest.mark.usefixtures("navigation")
def test_signed_in_allowed_viewer_sees_the_basket(
    monkeypatch: pytest.MonkeyPatch, api: RecordingApi, tmp_path: Path
) -> None:
    monkeypatch.setenv("BASKET_ALLOWED_VIEWERS", "@example.com, boss@other.org")
    at = signed_in_app(ALLOWED)
    at.run()

    no_exception(at)
    assert titles(at) == ["Basket lookup"]
    assert "failed (-2)" in set(at.dataframe[0].value["status"])
    assert f"Signed in as {ALLOWED}" in plain_texts(at, "caption")
    assert "Sign out" in [button.label for button in at.sidebar.button]
    (line,) = audit_lines(tmp_path / "audit.jsonl")
    assert line["viewer"] == ALLOWED
    assert line["user_ids"] == ["demo-checkout-failed"]

    switch_page(at, "pages/failures.py").run()
    assert titles(at) == ["Reservation failures"]


@pytest.mark.usefixtures("navigation")
def test_allowed_by_full_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASKET_ALLOWED_VIEWERS", "boss@other.org")
    at = signed_in_app("Boss@Other.org")
    at.run()

    no_exception(at)
    assert titles(at) == ["Basket lookup"]


@pytest.mark.parametrize(
    "email",
    [
        "someone@other.org",
        "agent@evil-example.com",
        "agent@example.com.evil.io",
        "agent@sub.example.com",
        "example.com@evil.io",
    ],
)
def test_signed_in_but_not_allowed_is_refused(
    email: str | None, monkeypatch: pytest.MonkeyPatch, api: RecordingApi, tmp_path: Path
) -> None:
    monkeypatch.setenv("BASKET_ALLOWED_VIEWERS", "@example.com")
    at = signed_in_app(email)
    at.run()

    shows_no_customer_data(at, api)
    (error,) = plain_texts(at, "error")
    assert "not on this dashboard's list of allowed viewers" in error
    assert "BASKET_ALLOWED_VIEWERS" in error
    assert [button.label for button in at.button] == ["Sign out"]
    assert not audit_lines(tmp_path / "audit.jsonl")


def test_an_account_without_an_address_is_refused(
    monkeypatch: pytest.MonkeyPatch, api: RecordingApi, tmp_path: Path
) -> None:
    monkeypatch.setenv("BASKET_ALLOWED_VIEWERS", "@example.com")
    at = signed_in_app(None)
    at.run()

    shows_no_customer_data(at, api)
    (error,) = plain_texts(at, "error")
    assert "has no e-mail address" in error and "BASKET_ALLOWED_VIEWERS" in error
    assert [button.label for button in at.button] == ["Sign out"]
    assert not audit_lines(tmp_path / "audit.jsonl")


@pytest.mark.parametrize(
    "email_verified",
    [
        pytest.param(False, id="false"),
        pytest.param("false", id="string-false"),
        pytest.param("true", id="string-true"),
        pytest.param(1, id="one"),
        pytest.param(None, id="null"),
        pytest.param(MISSING, id="missing"),
    ],
)
def test_an_unverified_address_is_refused(
    email_verified: object, monkeypatch: pytest.MonkeyPatch, api: RecordingApi, tmp_path: Path
) -> None:
    # Issue 10: a provider's {"email": "alice@...", "email_verified": false} got alice's access.
    monkeypatch.setenv("BASKET_ALLOWED_VIEWERS", ALLOWED)
    at = signed_in_app(ALLOWED, email_verified=email_verified)
    at.run()

    shows_no_customer_data(at, api)
    (error,) = plain_texts(at, "error")
    assert f"You are signed in as {ALLOWED}" in error
    assert "has not verified that this e-mail address is yours" in error
    assert "list of allowed viewers" not in error  # an unverified account learns nothing of it
    assert [button.label for button in at.button] == ["Sign out"]
    assert not audit_lines(tmp_path / "audit.jsonl")


@pytest.mark.usefixtures("navigation")
def test_a_missing_verified_claim_is_let_in_when_configured(
    monkeypatch: pytest.MonkeyPatch, api: RecordingApi, tmp_path: Path
) -> None:
    monkeypatch.setenv("BASKET_ALLOWED_VIEWERS", ALLOWED)
    monkeypatch.setenv("BASKET_ALLOW_MISSING_EMAIL_VERIFIED", "true")
    at = signed_in_app(ALLOWED, email_verified=MISSING)
    at.run()

    no_exception(at)
    assert titles(at) == ["Basket lookup"]
    (line,) = audit_lines(tmp_path / "audit.jsonl")
    assert line["viewer"] == ALLOWED


def test_a_present_false_claim_refuses_even_when_missing_is_allowed(
    monkeypatch: pytest.MonkeyPatch, api: RecordingApi
) -> None:
    monkeypatch.setenv("BASKET_ALLOWED_VIEWERS", ALLOWED)
    monkeypatch.setenv("BASKET_ALLOW_MISSING_EMAIL_VERIFIED", "true")
    at = signed_in_app(ALLOWED, email_verified=False)
    at.run()

    shows_no_customer_data(at, api)
    assert "has not verified" in plain_texts(at, "error")[0]


@pytest.mark.parametrize(
    "email",
    [
        pytest.param("\u212aim@example.com", id="kelvin-sign"),
        pytest.param("\uff4bim@example.com", id="fullwidth-k"),
        pytest.param("kim@example.com\u202e", id="right-to-left-override"),
        pytest.param("<img src=x onerror=alert(1)>@evil.io", id="html-with-spaces"),
    ],
)
def test_an_address_that_is_not_plain_is_refused_and_not_echoed(
    email: str, monkeypatch: pytest.MonkeyPatch, api: RecordingApi, tmp_path: Path
) -> None:
    monkeypatch.setenv("BASKET_ALLOWED_VIEWERS", "kim@example.com, @evil.io")
    at = signed_in_app(email)
    at.run()

    shows_no_customer_data(at, api)
    assert_no_live_markup(at)
    (error,) = plain_texts(at, "error")
    assert "not a plain address" in error
    assert email not in all_texts(at) and "onerror" not in all_texts(at)
    assert not audit_lines(tmp_path / "audit.jsonl")


def test_empty_allowed_viewers_lets_nobody_in(api: RecordingApi) -> None:
    at = signed_in_app(ALLOWED)
    at.run()

    shows_no_customer_data(at, api)
    assert "not on this dashboard's list" in plain_texts(at, "error")[0]


def test_markdown_in_an_ascii_address_is_shown_as_text(api: RecordingApi) -> None:
    email = "[x](javascript:alert(1))**b**@evil.io"
    at = signed_in_app(email)
    at.run()

    shows_no_customer_data(at, api)
    assert_no_live_markup(at, payloads=["[x](javascript:", "**b**"])
    assert f"You are signed in as {email}" in plain_texts(at, "error")[0]


def test_configuration_error_with_sign_in_lets_nobody_in(
    monkeypatch: pytest.MonkeyPatch, api: RecordingApi
) -> None:
    monkeypatch.setenv("BASKET_ALLOWED_VIEWERS", "@example.com")
    monkeypatch.setenv("BASKET_API_TIMEOUT", "soon")
    at = signed_in_app(ALLOWED)
    at.run()

    shows_no_customer_data(at, api)
    assert "BASKET_API_TIMEOUT" in plain_texts(at, "error")[0]


class _UnreadableSecrets:
    def __contains__(self, key: object) -> bool:
        raise StreamlitSecretNotFoundError(
            "Error parsing secrets file", error_id="failed-parsing-secrets-file"
        )


def test_unreadable_secrets_fail_closed(monkeypatch: pytest.MonkeyPatch, api: RecordingApi) -> None:
    # A secrets.toml that does not parse may hold [auth]: show nothing rather than everything.
    monkeypatch.setattr(streamlit, "secrets", _UnreadableSecrets())
    at = new_app(user="demo-checkout-failed")
    at.user = {"is_logged_in": True, "email": ALLOWED}
    at.run()

    shows_no_customer_data(at, api)
    (error,) = plain_texts(at, "error")
    assert "secrets cannot be read" in error and "nothing is shown" in error


@pytest.mark.parametrize("page", list(PAGES))
def test_page_run_without_the_entry_point_still_requires_sign_in(
    page: str, api: RecordingApi
) -> None:
    # On a fresh server Streamlit treats pages/ as a legacy multipage directory until app.py first
    # calls st.navigation: a URL such as /failures then runs the page file alone. The page
    # runs app.py within the same run (which runs the page through it), whose gate applies.
    at = new_app(page=page, user="demo-checkout-failed")
    at.secrets["auth"] = dict(AUTH_SECRETS)
    at.user = {"is_logged_in": False}
    at.run()

    assert not PagesManager.uses_pages_directory  # the page ended the legacy mode
    shows_no_customer_data(at, api)
    assert titles(at) == ["Basket support"]
    assert PAGES[page] not in titles(at)
    assert "Sign in" in [button.label for button in at.button]


def test_the_api_key_is_never_on_the_sign_in_page(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "live-key-0b3c9e"
    monkeypatch.setenv("BASKET_API_URL", "http://127.0.0.1:9/v2")
    monkeypatch.setenv("BASKET_API_KEY", key)
    monkeypatch.setenv("BASKET_ALLOWED_VIEWERS", "@example.com")
    at = signed_in_app("x@other.org")
    at.run()

    no_exception(at)
    assert key not in all_texts(at)


# --- the audit fails closed with sign-in on -----------------------------------------------------


def _unwritable_audit_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    path = blocker / "audit.jsonl"
    monkeypatch.setenv("BASKET_AUDIT_LOG", str(path))
    return path


@pytest.mark.usefixtures("navigation")
def test_a_lookup_that_cannot_be_audited_is_not_shown_when_signed_in(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BASKET_ALLOWED_VIEWERS", "@example.com")
    path = _unwritable_audit_log(monkeypatch, tmp_path)
    at = signed_in_app(ALLOWED)
    at.run()
    at.run()  # a rerun of the same lookup must not show it either

    no_exception(at)
    assert not at.dataframe and not at.metric
    (error,) = plain_texts(at, "error")
    assert "could not be recorded in the audit log, so it is not shown" in error
    assert str(path) not in all_texts(at) and "not-a-directory" not in all_texts(at)


def test_a_failed_lookup_that_cannot_be_audited_shows_no_detail_when_signed_in(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A schema error carries the response it refers to: customer data, shown in an expander.
    monkeypatch.setenv("BASKET_ALLOWED_VIEWERS", "@example.com")
    _unwritable_audit_log(monkeypatch, tmp_path)
    at = signed_in_app(ALLOWED, user="demo-fault-schema")
    at.run()

    no_exception(at)
    (error,) = plain_texts(at, "error")
    assert "could not be recorded in the audit log, so it is not shown" in error
    texts = all_texts(at)
    # Neither the error's explanation nor the response it refers to.
    assert "lots" not in texts and "Reference" not in texts and "documented schema" not in texts
    assert not at.json and not at.code


@pytest.mark.usefixtures("navigation")
def test_a_scan_that_cannot_be_audited_is_not_shown_when_signed_in(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BASKET_ALLOWED_VIEWERS", "@example.com")
    _unwritable_audit_log(monkeypatch, tmp_path)
    at = signed_in_app(ALLOWED, user="")
    switch_page(at, "pages/failures.py").run()
    at.text_area(key="scan_text").set_value("demo-checkout-failed\nuser-00001").run()
    at.button(key="start_scan").click().run()

    no_exception(at)
    assert not at.dataframe and not at.get("download_button")
    assert any("could not be recorded in the audit log" in e for e in plain_texts(at, "error"))
    at.run()
    assert not at.dataframe  # nor kept for a later run


def test_without_sign_in_an_unaudited_lookup_is_shown_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = _unwritable_audit_log(monkeypatch, tmp_path)
    at = new_app(user="demo-checkout-failed")
    at.run()

    no_exception(at)
    assert at.dataframe
    (warning,) = plain_texts(at, "warning")
    assert "audit log cannot be written" in warning
    assert str(path) not in all_texts(at)


@pytest.mark.usefixtures("navigation")
@pytest.mark.parametrize("page", list(PAGES))
def test_a_page_is_compiled_once_per_server_not_once_per_new_session(
    page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Streamlit empties its own cache of compiled pages when the last session disconnects (an
    # agent going from one ticket link to the next); each AppTest is such a fresh start.
    new_app(page=page, user="demo-normal").run()
    script = str(Path(APP).parent / page)
    compiled: list[str] = []
    real_compile = compile

    def counting_compile(source: Any, filename: Any, *args: Any, **kwargs: Any) -> Any:
        compiled.append(str(filename))
        return real_compile(source, filename, *args, **kwargs)

    monkeypatch.setattr(builtins, "compile", counting_compile)
    at = new_app(page=page, user="demo-normal")
    at.run()

    no_exception(at)
    assert titles(at) == [PAGES[page]]
    assert script not in compiled


def test_a_page_file_that_changed_is_compiled_again(tmp_path: Path) -> None:
    script = tmp_path / "page.py"
    script.write_text("shown = 1\n", encoding="utf-8")
    first = dashboard_navigation._compiled(script)
    assert dashboard_navigation._compiled(script) is first

    script.write_text("shown = 22\n", encoding="utf-8")
    changed: dict[str, Any] = {}
    exec(dashboard_navigation._compiled(script), changed)
    assert changed["shown"] == 22


# In a process of its own: whatever else the test session imported must not hide a load.
FIRST_RUN = """
import sys
from streamlit.testing.v1 import AppTest

at = AppTest.from_file(sys.argv[1], default_timeout=60)
at.query_params["user"] = "demo-checkout-failed"
at.run()
assert not at.exception, [exception.value for exception in at.exception]
print("loaded:", sorted(m for m in ("streamlit.emojis", "sqlalchemy") if m in sys.modules))
"""


def _first_basket_loads(env: dict[str, str]) -> str:
    """What a fresh server's first run of a ticket link imported of the modules FIRST_RUN names."""
    proc = subprocess.run(
        [sys.executable, "-c", FIRST_RUN, APP],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(APP).parent,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("loaded:")]
    return line


def test_a_fresh_servers_first_basket_loads_neither_the_emoji_catalogue_nor_the_scan_store() -> (
    None
):
    # One server process for both (each costs a Streamlit start-up). Streamlit loads the emoji
    # catalogue for a non-ASCII page icon: about 0.1 s of the first page's start-up. SQLAlchemy is
    # the scan store's (about 0.25 s to import): a configured store URL, even an unusable one, is
    # not parsed before a page opens the store.
    env = dict(os.environ, BASKET_DATABASE_URL="mysql://user@host/scans")
    assert _first_basket_loads(env) == "loaded: []"
