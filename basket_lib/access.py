"""Who may see customer data: the allow-list rule of BASKET_ALLOWED_VIEWERS."""

from __future__ import annotations

import re

from basket_lib.api.errors import ConfigurationError
from basket_lib.api.options import quote

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_DOMAIN = re.compile(r"^@[^@\s]+$")


def viewer_allowed(email: str | None, allowed: tuple[str, ...]) -> bool:
    """Whether `email` is listed, by address or by its exact domain (`@example.com`)."""
    if not email or not allowed:
        return False
    address = email.strip().lower()
    if not _EMAIL.match(address):
        return False
    domain = address.rpartition("@")[2]
    for entry in allowed:
        entry = entry.strip().lower()
        # Exact comparison only: `@example.com` must not admit evil-example.com,
        # example.com.evil or sub.example.com.
        if entry == address or (entry.startswith("@") and entry[1:] == domain):
            return True
    return False


def parse_allowed_viewers(value: str | None, name: str) -> tuple[str, ...]:
    """Lower-cased addresses and `@domain` entries from a comma-separated list, in order."""
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
                f"{name} entry {quote(entry)} is neither an address (name@example.com) nor a "
                "domain (@example.com)."
            )
        entries.setdefault(entry, None)
    return tuple(entries)
