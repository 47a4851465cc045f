"""Streamlit glue shared by the pages: configuration, sign-in, the cached client and fetches."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from basket_lib.audit import DEFAULT_AUDIT_LOG, AuditLog
from basket_lib.client import BasketClient
from basket_lib.errors import BasketError, ConfigurationError
from basket_lib.models import BasketResult, ProductDetails
from basket_lib.presentation import describe_error, md_escape
from basket_lib.settings import Settings, build_client, viewer_allowed
from basket_lib.simulator import SCENARIOS

BASKET_TTL_SECONDS = 30
DETAILS_TTL_SECONDS = 300


@dataclass(frozen=True)
class AppConfig:
    settings: Settings | None
    error: ConfigurationError | None
    auth_enabled: bool


_NO_SECRETS_FILE = "no-secrets-found"
UNREADABLE_SECRETS = (
    "Streamlit's secrets cannot be read, so whether sign-in is required cannot be checked and "
    "nothing is shown. Fix .streamlit/secrets.toml (the server log names the problem)."
)


def _secrets_have_auth() -> bool:
    """Whether secrets.toml has an [auth] section; raises ConfigurationError when it exists but
    cannot be read, since it may hold that section (fail closed, never open)."""
    # Loading st.secrets also copies its top-level keys into os.environ, where Settings reads them.
    try:
        return "auth" in st.secrets
    except StreamlitSecretNotFoundError as exc:  # a FileNotFoundError, so caught first
        if getattr(exc, "error_id", None) == _NO_SECRETS_FILE:
            return False
        raise ConfigurationError(UNREADABLE_SECRETS) from None
    except FileNotFoundError:
        return False


def load_config() -> AppConfig:
    try:
        auth_enabled = _secrets_have_auth()
    except ConfigurationError as exc:
        return AppConfig(None, exc, auth_enabled=True)
    try:
        return AppConfig(Settings.from_env(), None, auth_enabled)
    except ConfigurationError as exc:
        return AppConfig(None, exc, auth_enabled)


def viewer() -> str | None:
    """The signed-in viewer's e-mail, or None when sign-in is off."""
    if not st.session_state.get("_auth_enabled"):
        return None
    email = st.user.get("email")
    return str(email) if email else None


def _signed_in() -> bool:
    # A missing flag (no [auth] section where st.user looks) counts as signed out.
    return st.user.get("is_logged_in") is True


def access_allowed(config: AppConfig) -> bool:
    """Whether the visitor may see customer data (draws nothing)."""
    if not config.auth_enabled:
        return True
    if config.settings is None or not _signed_in():
        return False
    email = st.user.get("email")
    return viewer_allowed(str(email) if email else None, config.settings.allowed_viewers)


def sign_in_gate(config: AppConfig) -> bool:
    """True when the visitor may see customer data; otherwise draws the sign-in page."""
    st.session_state["_auth_enabled"] = config.auth_enabled
    if access_allowed(config):
        return True
    st.title("Basket support")
    if config.error is not None:
        # Without settings the allowed viewers are unknown: nobody gets in.
        st.error(md_escape(config.error.message), icon=":material/error:")
    elif not _signed_in():
        st.write("Sign in to look at customer baskets.")
        st.button("Sign in", type="primary", on_click=st.login)
    else:
        email = st.user.get("email")
        st.error(
            f"You are signed in as {md_escape(email or 'an account without an e-mail address')}, "
            "which is not on this dashboard's list of allowed viewers. Ask the dashboard's "
            "operator to add you to BASKET\\_ALLOWED\\_VIEWERS."
        )
        st.button("Sign out", on_click=st.logout)
    return False


_PAGES_DIR = Path(__file__).resolve().parent
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


def _run_through_entry_point() -> None:
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


def require_access(config: AppConfig | None = None) -> AppConfig:
    """Every page checks sign-in itself, not only app.py: while Streamlit still treats pages/ as
    a legacy multipage directory (on a fresh server, until app.py first calls st.navigation), a
    URL such as /failures runs the page file without app.py."""
    _run_through_entry_point()
    config = config or load_config()
    if not sign_in_gate(config):
        st.stop()
    return config


def sidebar_status(config: AppConfig) -> None:
    if config.error is not None:
        st.error(md_escape(config.error.message))
        return
    settings = config.settings
    assert settings is not None
    if settings.demo:
        st.badge("Demo data", icon=":material/science:", color="orange")
        st.caption("No BASKET\\_API\\_URL is set: baskets come from the built-in demo API.")
        labels = {user: f"{user} — {text}" for user, text in SCENARIOS.items()}
        st.selectbox(
            "Demo scenarios",
            options=list(SCENARIOS),
            index=None,
            format_func=labels.__getitem__,
            key="_scenario",
            placeholder="Pick a scenario user",
            on_change=_use_scenario,
        )
    else:
        st.caption(
            f"API: {md_escape(settings.api_url)} · version {md_escape(settings.api_version)}"
        )
    who = viewer()
    if who:
        st.caption(f"Signed in as {md_escape(who)}")
        st.button("Sign out", on_click=st.logout)


def _use_scenario() -> None:
    choice = st.session_state.get("_scenario")
    if choice:
        st.session_state["user"] = choice
    st.session_state["_scenario"] = None


def require_settings() -> Settings:
    """The settings of a visitor allowed in, or a clear error on the page and the run stops."""
    config = require_access()
    if config.error is not None or config.settings is None:
        st.error(md_escape(config.error.message if config.error else "No configuration."))
        st.info(md_escape(ConfigurationError.hint))
        st.stop()
    return config.settings


def fingerprint(settings: Settings) -> str:
    # Keys the caches on the whole configuration without putting the key itself in a cache key.
    text = repr((settings.api_url, settings.api_key, settings.token, settings.api_version))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@st.cache_resource(show_spinner=False)
def _client(_settings: Settings, settings_fingerprint: str) -> BasketClient:
    return build_client(_settings)


def client(settings: Settings) -> BasketClient:
    return _client(settings, fingerprint(settings))


@st.cache_data(ttl=BASKET_TTL_SECONDS, max_entries=256, show_spinner=False)
def _fetch_basket(
    _client: BasketClient,
    settings_fingerprint: str,
    user_id: str,
    tracking: str | None,
    provider_id: str | None,
    refresh: int,
) -> BasketResult:
    return _client.get_basket(user_id, tracking=tracking, provider_id=provider_id)


def fetch_basket(
    settings: Settings,
    user_id: str,
    *,
    tracking: str | None = None,
    provider_id: str | None = None,
    refresh: int = 0,
) -> BasketResult:
    """One basket, cached briefly; a new `refresh` value bypasses the cache."""
    return _fetch_basket(
        client(settings), fingerprint(settings), user_id, tracking, provider_id, refresh
    )


@st.cache_data(ttl=DETAILS_TTL_SECONDS, max_entries=256, show_spinner=False)
def _fetch_details(
    _client: BasketClient, settings_fingerprint: str, product_ids: tuple[str, ...]
) -> dict[str, ProductDetails]:
    return _client.get_product_details(product_ids)


def fetch_details(
    settings: Settings, product_ids: list[str]
) -> tuple[dict[str, ProductDetails], BasketError | None]:
    """Product names and prices; a failure only means the page shows bare ids."""
    if not product_ids:
        return {}, None
    try:
        return _fetch_details(client(settings), fingerprint(settings), tuple(product_ids)), None
    except BasketError as exc:
        return {}, exc


def show_error(exc: BasketError) -> None:
    st.error(describe_error(exc).markdown(), icon=":material/error:")


def audit(
    settings: Settings, action: str, *, user_ids: list[str], outcome: str, **details: Any
) -> None:
    """Append to the audit log; a log that cannot be written is shown, never ignored."""
    log = AuditLog(settings.audit_log or DEFAULT_AUDIT_LOG)
    try:
        log.record(action, viewer=viewer(), user_ids=user_ids, outcome=outcome, **details)
    except ConfigurationError as exc:
        st.warning(md_escape(exc.message), icon=":material/warning:")
