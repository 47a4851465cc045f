"""The dashboard's configuration: settings from the environment and whether sign-in is on."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from basket_lib.api.errors import ConfigurationError
from basket_lib.settings import Settings


@dataclass(frozen=True)
class AppConfig:
    settings: Settings | None
    error: ConfigurationError | None
    auth_enabled: bool


# The tab's icon, 🧺, drawn as SVG text in a data URL written in ASCII: given the emoji itself,
# Streamlit loads its emoji catalogue (about 0.1 s of a fresh server's first page), and a Material
# icon makes the browser fetch it from fonts.gstatic.com.
PAGE_ICON = "data:image/svg+xml," + quote(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
    '<text y=".9em" font-size="90">\N{BASKET}</text></svg>',
    safe="",
)
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
