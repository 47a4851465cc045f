"""Sign-in end to end (issue 10, item 1): `st.login` against a real OpenID provider, in Chromium.

oidc-provider-mock runs on loopback with predefined users whose claims each test chooses; the
dashboard runs under `streamlit run` with an `[auth]` section pointing at it, with secrets made
for this run. A provider that does not vouch for the e-mail address (`email_verified` false, or
the string "false"), or an address that only looks like a listed one, must end on the refusal
page: no basket data reaches the browser and the audit log names nobody. A verified, listed
viewer signs in the same way and sees the basket, which proves that the flow itself works.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
from e2e_support import (
    ERROR,
    Capture,
    RunningApp,
    app_environment,
    expect,
    expect_cell,
    free_port,
    get_without_cookies,
    heading,
    metric,
    open_app,
    paste_and_scan,
    run_streamlit,
    running_in_ci,
    screenshot,
    sources_containing,
    wait_for_app,
)

from basket_lib.demo.baskets import demo_user_ids
from dashboard.exports import CSV_MIME, EXPORT_LIFETIME_SECONDS, stored_file_id

try:
    from oidc_provider_mock import User, run_server_in_thread
except ImportError:  # the fixture skips (or, under CI, fails) with the reason
    User = run_server_in_thread = None  # type: ignore[assignment,misc]

if TYPE_CHECKING:
    from playwright.sync_api import Page

TICKET_USER = "demo-checkout-failed"
# Only in that user's basket table (a status cell), so finding it means basket data was sent.
BASKET_MARKER = "failed (-2)"
VERIFIED = "bob@example.com"
LISTED = "alice@example.com"
# The id of any file of Streamlit's media store, in a page's `/media/<id>.<extension>` URLs.
MEDIA_ID = re.compile(rb"/media/([0-9a-f]{32})")
LOOK_ALIKE = "\u212aim@example.com"  # the Kelvin sign lower-cases to "k"
ALLOWED_VIEWERS = f"{LISTED}, {VERIFIED}, kim@example.com"


@dataclass(frozen=True)
class Account:
    sub: str
    email: str
    email_verified: object


ACCOUNTS = {
    "verified": Account("verified-bob", VERIFIED, True),
    "unverified": Account("unverified-alice", LISTED, False),
    "unverified-string": Account("string-false-alice", LISTED, "false"),
    "look-alike": Account("kelvin-kim", LOOK_ALIKE, True),
}


@dataclass(frozen=True)
class SignInApp:
    app: RunningApp
    audit: Path
    origin: str  # the redirect_uri's origin: the auth cookie is only honoured there

    def url(self, path: str = "/") -> str:
        return self.origin + path

    def audit_lines(self) -> list[dict[str, object]]:
        if not self.audit.exists():
            return []
        return [json.loads(line) for line in self.audit.read_text("utf-8").splitlines() if line]


@pytest.fixture(scope="module")
def provider_url() -> Iterator[str]:
    if run_server_in_thread is None:
        problem = "oidc-provider-mock is not installed (pip install -e '.[test]')"
        if running_in_ci():
            pytest.fail(f"{problem}: CI must run the sign-in test.", pytrace=False)
        pytest.skip(f"sign-in test skipped: {problem}")
    users = [
        User(sub=a.sub, claims={"email": a.email, "email_verified": a.email_verified})
        for a in ACCOUNTS.values()
    ]
    # Port 0: the provider picks a free one itself, so no other process can take it meanwhile.
    with run_server_in_thread(port=0, user_claims=users, require_nonce=True) as server:
        yield f"http://127.0.0.1:{server.server_port}"


@pytest.fixture(scope="module")
def signin_app(provider_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignInApp]:
    folder = tmp_path_factory.mktemp("signin-app")
    port = free_port()
    origin = f"http://localhost:{port}"
    secrets_file = folder / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "{origin}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
        'client_id = "basket-support-e2e"\n'
        f'client_secret = "{secrets.token_urlsafe(24)}"\n'
        f'server_metadata_url = "{provider_url}/.well-known/openid-configuration"\n',
        encoding="utf-8",
    )
    audit = folder / "audit.jsonl"
    env = app_environment(BASKET_AUDIT_LOG=str(audit), BASKET_ALLOWED_VIEWERS=ALLOWED_VIEWERS)
    with run_streamlit(env, folder / "streamlit.log", port=port, secrets_file=secrets_file) as app:
        yield SignInApp(app, audit, origin)


def sign_in(page: Page, signin: SignInApp, provider_url: str, account: Account) -> None:
    """From the ticket link through the provider's authorization page back to the dashboard."""
    open_app(page, signin.url(f"/?user={TICKET_USER}"), "Sign in to look at customer baskets.")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(provider_url)}/oauth2/authorize\?"))
    page.get_by_role("button", name=account.sub, exact=True).click()
    # Streamlit's callback sets the auth cookie and sends the browser back to its base URL.
    expect(page).to_have_url(re.compile(rf"^{re.escape(signin.origin)}/(\?.*)?$"))


@pytest.mark.parametrize("name", ["unverified", "unverified-string", "look-alike"])
def test_a_viewer_the_provider_does_not_vouch_for_is_refused(
    name: str, page: Page, signin_app: SignInApp, provider_url: str
) -> None:
    account = ACCOUNTS[name]
    capture = Capture()
    capture.attach(page)
    sign_in(page, signin_app, provider_url, account)

    refusal = page.locator(ERROR)
    wait_for_app(page, refusal)
    if name == "look-alike":
        expect(refusal).to_contain_text("not a plain address")
    else:
        expect(refusal).to_contain_text(f"You are signed in as {account.email}")
        expect(refusal).to_contain_text("has not verified that this e-mail address is yours")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    screenshot(page, f"signin-refused-{name}")
    capture.snapshot(page)

    # Signed in now: the ticket link itself still shows nothing but the refusal.
    open_app(page, signin_app.url(f"/?user={TICKET_USER}"), refusal)
    expect(heading(page, TICKET_USER)).to_have_count(0)
    expect(page.locator("[data-testid=stDataFrame]")).to_have_count(0)
    expect(page.locator("[data-testid=stSidebar] [data-testid=stTextInput]")).to_have_count(0)
    capture.snapshot(page)

    assert sources_containing(BASKET_MARKER, capture.sources()) == []
    assert [line for line in signin_app.audit_lines() if line.get("viewer") == account.email] == []


def test_a_verified_listed_viewer_sees_the_basket(
    page: Page, signin_app: SignInApp, provider_url: str
) -> None:
    account = ACCOUNTS["verified"]
    capture = Capture()
    capture.attach(page)
    sign_in(page, signin_app, provider_url, account)

    open_app(page, signin_app.url(f"/?user={TICKET_USER}"), heading(page, TICKET_USER))
    expect(page.get_by_text(f"Signed in as {VERIFIED}")).to_be_visible()
    expect_cell(page, BASKET_MARKER)
    capture.snapshot(page)

    # The control for the refusal tests: the same search finds the basket when it was sent.
    assert "websocket frames received" in sources_containing(BASKET_MARKER, capture.sources())
    lookups = [line for line in signin_app.audit_lines() if line.get("viewer") == VERIFIED]
    assert lookups and lookups[-1]["user_ids"] == [TICKET_USER]


def media_ids(capture: Capture) -> set[str]:
    return {
        match.decode()
        for blobs in capture.sources().values()
        for blob in blobs
        for match in MEDIA_ID.findall(blob)
    }


def test_an_export_exists_only_briefly_after_the_signed_in_viewers_click(
    page: Page, signin_app: SignInApp, provider_url: str
) -> None:
    """Issue 10, item 3: Streamlit's /media route answers anyone, so no export may wait there."""
    capture = Capture()
    capture.attach(page)
    sign_in(page, signin_app, provider_url, ACCOUNTS["verified"])
    open_app(page, signin_app.url("/failures"), heading(page, "Reservation failures"))
    paste_and_scan(page, [*demo_user_ids(30), TICKET_USER, "demo-fault-500"])
    download = page.get_by_role("button", name="Download failures (CSV)")
    expect(download).to_be_visible()
    expect(page.get_by_role("button", name="Download users not fetched (CSV)")).to_be_visible()
    capture.snapshot(page)

    # (a) Before any click no URL the page was given serves a file to a request without cookies.
    before_click = media_ids(capture)
    for file_id in before_click:
        # The route finds a file by its id alone, whatever the extension.
        status, body = get_without_cookies(signin_app.url(f"/media/{file_id}"))
        assert status == 404, f"{file_id} answered {status} without a cookie: {body[:200]!r}"

    with page.expect_download() as made:
        download.click()
    data = made.value.path().read_bytes()
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    failed = metric(page, "Failed reservations").locator("[data-testid=stMetricValue]")
    assert len(rows) == int(failed.inner_text().replace(",", ""))
    assert TICKET_USER in {row["user_id"] for row in rows}
    assert {row["stocked"] for row in rows if row["user_id"] == TICKET_USER} >= {"-2"}

    # The file's id is a hash of its bytes and its name, which carries the scan's random id: not
    # guessable from the rows alone, and never sent before the click.
    scan_id = parse_qs(urlsplit(page.url).query)["scan"][0]
    file_id = stored_file_id(data, CSV_MIME, f"reservation-failures-{scan_id}.csv")
    path = f"/media/{file_id}.csv"
    assert made.value.url == signin_app.url(path)
    assert file_id not in before_click

    # (b) After the click it is removed within its lifetime: for a request without cookies and
    # for the signed-in browser alike. The poll's deadline is generous; the lifetime is the bound.
    deadline = time.monotonic() + EXPORT_LIFETIME_SECONDS + 90
    while (answer := get_without_cookies(signin_app.url(path)))[0] != 404:
        assert time.monotonic() < deadline, f"{path} still answers {answer[0]}"
        time.sleep(0.5)  # the poll's pause; the condition is the file's removal
    assert TICKET_USER.encode() not in answer[1]
    assert page.request.get(signin_app.url(path)).status == 404
