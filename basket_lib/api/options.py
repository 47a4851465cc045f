"""The rules for the client's configuration, each checked in exactly one place.

`Settings.from_env` and the clients' constructors both call these. `name` is how a message refers
to the value: the environment variable when it came from the environment (``BASKET_API_URL``), a
plain description when it came from code (``The API base URL``). No message ever quotes a key,
a token or a URL that holds credentials.
"""

from __future__ import annotations

import contextlib
import math
import re
from datetime import date
from urllib.parse import urlsplit

from basket_lib.api.defaults import DEFAULT_API_VERSION, MAX_RETRIES, MAX_TIMEOUT
from basket_lib.api.errors import ConfigurationError

_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")
_BEARER = re.compile(r"(?i)^\s*bearer\s+")
# Values are quoted back in messages only this far (they are never secrets, but can be long).
QUOTE_LIMIT = 40


def quote(value: object) -> str:
    text = str(value)
    return repr(text if len(text) <= QUOTE_LIMIT else text[:QUOTE_LIMIT] + "…")


def header_safe(value: str) -> bool:
    """Sendable as a header value as it is: printable ASCII, no CR, LF, NUL or other control."""
    return value.isascii() and value.isprintable()


def base_url(value: object, name: str) -> str:
    """An http(s) URL with a host and its path prefix, without trailing slash, query, fragment or
    credentials (the client appends /baskets/...)."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{name} is empty.")
    url = value.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError:
        raise ConfigurationError(f"{name} is not a valid URL.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ConfigurationError(
            f"{name} must start with https:// (or http://), e.g. https://api.example.com/v2."
        )
    if parts.username is not None or parts.password is not None:
        # The URL is not quoted: it holds a credential.
        raise ConfigurationError(
            f"{name} must not contain credentials (a user name or password); "
            "put the key in BASKET_API_KEY."
        )
    if not parts.hostname:
        raise ConfigurationError(f"{name} has no host name, e.g. https://api.example.com/v2.")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ConfigurationError(
            f"{name} must not have a query (?...) or fragment (#...): give the base URL with its "
            "path prefix only, e.g. https://api.example.com/v2."
        )
    if any(char.isspace() or not char.isprintable() for char in url):
        raise ConfigurationError(f"{name} contains spaces or control characters.")
    return url.rstrip("/")


def _credential(value: str, name: str) -> str:
    if not header_safe(value) or " " in value:
        # Would break the HTTP header; the value itself is never quoted.
        raise ConfigurationError(
            f"{name} contains spaces, control or non-ASCII characters that cannot be sent in a "
            "header."
        )
    return value


def api_key(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{name} is empty.")
    return _credential(value.strip(), name)


def token(value: object, name: str) -> str | None:
    """The bare bearer token; a whole pasted header value ("Bearer eyJ...") is accepted too.
    None when unset or blank."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"{name} must be text.")
    bare = _BEARER.sub("", value).strip()
    return _credential(bare, name) if bare else None


def api_version(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{name} is empty.")
    text = value.strip()
    try:
        if not _VERSION.fullmatch(text):
            raise ValueError
        date.fromisoformat(text)
    except ValueError:
        raise ConfigurationError(
            f"{name} must be a date like {DEFAULT_API_VERSION} (YYYY-MM-DD), got {quote(text)}."
        ) from None
    return text


def _seconds(value: object) -> float:
    """A number of seconds from a number or text, NaN for anything else (so every range check
    fails on it); a bool is not a number here."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return math.nan


def timeout(value: object, name: str) -> float:
    """Seconds above 0 and at most MAX_TIMEOUT; text (from the environment) is parsed."""
    seconds = _seconds(value)
    if not 0 < seconds <= MAX_TIMEOUT:  # also false for NaN
        raise ConfigurationError(
            f"{name} must be a positive number of seconds, at most {MAX_TIMEOUT:g}; "
            f"got {quote(value)}."
        )
    return seconds


def whole_number(value: object, name: str, *, low: int, high: int, low_means: str = "") -> int:
    """A whole number from `low` to `high`; text (from the environment) is parsed. `low_means`
    says in the message what the lowest value does."""
    number = low - 1
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    if not low <= number <= high:
        lowest = f"{low} ({low_means})" if low_means else str(low)
        raise ConfigurationError(
            f"{name} must be a whole number from {lowest} to {high}, got {quote(value)}."
        )
    return number


def seconds_between(
    value: object, name: str, *, low: float, high: float, low_means: str = ""
) -> float:
    """Seconds from `low` to `high`, both included; text (from the environment) is parsed."""
    seconds = _seconds(value)
    if not low <= seconds <= high:  # also false for NaN
        lowest = f"{low:g} ({low_means})" if low_means else f"{low:g}"
        raise ConfigurationError(
            f"{name} must be a number of seconds from {lowest} to {high:,.0f}, got {quote(value)}."
        )
    return seconds


def max_retries(value: object, name: str) -> int:
    """A whole number from 0 to MAX_RETRIES."""
    return whole_number(value, name, low=0, high=MAX_RETRIES)


_TRUE = ("true", "1")
_FALSE = ("false", "0")


def flag(value: object, name: str) -> bool:
    """A yes/no switch: a bool, or "true"/"false"/"1"/"0" in any case (from the environment)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ConfigurationError(f"{name} must be true or false (or 1 or 0), got {quote(value)}.")
