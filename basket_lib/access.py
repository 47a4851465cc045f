"""Who may see customer data: the allow-list rule of BASKET_ALLOWED_VIEWERS."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


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
