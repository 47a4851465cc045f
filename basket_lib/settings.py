"""Configuration from the environment (Streamlit copies top-level secrets.toml keys into it).

Without BASKET_API_URL the dashboard runs against the built-in demo API. Every setting is checked
when it is read, so a typo ends in one clear message at start-up rather than in odd failures
later; no message ever contains the API key or the bearer token.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlsplit

from basket_lib.api.defaults import (
    DEFAULT_API_VERSION,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    MAX_RETRIES,
    MAX_TIMEOUT,
)
from basket_lib.api.errors import ConfigurationError, register_secret

# Every variable Settings.from_env reads.
ENVIRONMENT_VARIABLES: tuple[str, ...] = (
    "BASKET_API_URL",
    "BASKET_API_KEY",
    "BASKET_API_TOKEN",
    "BASKET_API_VERSION",
    "BASKET_API_TIMEOUT",
    "BASKET_API_MAX_RETRIES",
    "BASKET_AUDIT_LOG",
    "BASKET_ALLOWED_VIEWERS",
)

_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_DOMAIN = re.compile(r"^@[^@\s]+$")
# Values are quoted back in messages only this far (they are never secrets, but can be long).
_QUOTE_LIMIT = 40


@dataclass(frozen=True)
class Settings:
    api_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    api_version: str = DEFAULT_API_VERSION
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    audit_log: str | None = None
    # Lower-cased full addresses and `@domain` entries; empty lets nobody in.
    allowed_viewers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Also covers Settings built in code, not only from_env().
        register_secret(self.api_key)
        register_secret(self.token)

    @property
    def demo(self) -> bool:
        """True when no API is configured and the built-in demo API serves every request."""
        return self.api_url is None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the BASKET_* variables (blank counts as unset); raises ConfigurationError."""
        source = os.environ if env is None else env

        def read(name: str) -> str | None:
            value = source.get(name)
            return value.strip() if value and value.strip() else None

        key = _credential("BASKET_API_KEY", read("BASKET_API_KEY"))
        token = _credential("BASKET_API_TOKEN", _strip_bearer(read("BASKET_API_TOKEN")))
        url = read("BASKET_API_URL")
        if url is None:
            if key or token:
                # A credential without a URL is a half-done configuration, not a wish for the demo.
                name = "BASKET_API_KEY" if key else "BASKET_API_TOKEN"
                raise ConfigurationError(
                    f"{name} is set but BASKET_API_URL is not: set the API's base URL, "
                    "or unset the credentials to use the demo API."
                )
        else:
            url = _api_url(url)
            if key is None:
                raise ConfigurationError(
                    "BASKET_API_URL is set but BASKET_API_KEY is not: the API requires a key "
                    "(X-API-Key); unset BASKET_API_URL to use the demo API."
                )
        return cls(
            api_url=url,
            api_key=key,
            token=token,
            api_version=_api_version(read("BASKET_API_VERSION")),
            timeout=_timeout(read("BASKET_API_TIMEOUT")),
            max_retries=_max_retries(read("BASKET_API_MAX_RETRIES")),
            audit_log=read("BASKET_AUDIT_LOG"),
            allowed_viewers=_viewers(read("BASKET_ALLOWED_VIEWERS")),
        )


# --- parsing ------------------------------------------------------------------------------------


def _quote(value: str) -> str:
    return repr(value if len(value) <= _QUOTE_LIMIT else value[:_QUOTE_LIMIT] + "…")


def _strip_bearer(token: str | None) -> str | None:
    if token and token[:7].lower() == "bearer ":
        return token[7:].strip() or None
    return token


def _credential(name: str, value: str | None) -> str | None:
    if value is not None and not (value.isascii() and value.isprintable() and " " not in value):
        # Would break the HTTP header; the value itself is never quoted.
        raise ConfigurationError(f"{name} contains spaces, control or non-ASCII characters.")
    return value


def _api_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError:
        raise ConfigurationError("BASKET_API_URL is not a valid URL.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ConfigurationError(
            "BASKET_API_URL must start with https:// (or http://), e.g. https://api.example.com/v2."
        )
    if parts.username is not None or parts.password is not None:
        # The URL is not quoted: it holds a credential.
        raise ConfigurationError(
            "BASKET_API_URL must not contain a user name or password; "
            "put the key in BASKET_API_KEY."
        )
    if not parts.hostname:
        raise ConfigurationError(
            "BASKET_API_URL has no host name, e.g. https://api.example.com/v2."
        )
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ConfigurationError(
            "BASKET_API_URL must not have a query (?...) or fragment (#...): give the base URL "
            "with its path prefix only, e.g. https://api.example.com/v2."
        )
    if any(char.isspace() for char in url):
        raise ConfigurationError("BASKET_API_URL contains spaces.")
    # The client appends /baskets/...; a trailing slash would double it.
    return url.rstrip("/")


def _api_version(value: str | None) -> str:
    if value is None:
        return DEFAULT_API_VERSION
    try:
        if not _VERSION.match(value):
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(
            f"BASKET_API_VERSION must be a date like {DEFAULT_API_VERSION} (YYYY-MM-DD), "
            f"got {_quote(value)}."
        ) from None
    return value


def _timeout(value: str | None) -> float:
    if value is None:
        return Settings.timeout
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MAX_TIMEOUT:  # also false for NaN
        raise ConfigurationError(
            f"BASKET_API_TIMEOUT must be a number of seconds above 0 and at most "
            f"{MAX_TIMEOUT:g}, got {_quote(value)}."
        )
    return seconds


def _max_retries(value: str | None) -> int:
    if value is None:
        return Settings.max_retries
    try:
        retries = int(value)
    except ValueError:
        retries = -1
    if not 0 <= retries <= MAX_RETRIES:
        raise ConfigurationError(
            f"BASKET_API_MAX_RETRIES must be a whole number from 0 to {MAX_RETRIES}, "
            f"got {_quote(value)}."
        )
    return retries


def _viewers(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    entries: dict[str, None] = {}
    for raw in value.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if not (_EMAIL.match(entry) or _DOMAIN.match(entry)):
            # A bare `example.com` would silently match nobody.
            raise ConfigurationError(
                f"BASKET_ALLOWED_VIEWERS entry {_quote(entry)} is neither an address "
                "(name@example.com) nor a domain (@example.com)."
            )
        entries.setdefault(entry, None)
    return tuple(entries)
