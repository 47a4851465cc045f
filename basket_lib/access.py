"""Who may see customer data: the allow-list rule of BASKET_ALLOWED_VIEWERS.

A viewer is admitted only when the identity provider vouches for the address (`email_verified`
is the JSON boolean true) and the address, a plain ASCII one, is listed by itself or by its exact
domain. Anything else is refused, with the reason as a `Verdict` the sign-in page can put in words.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Mapping

from basket_lib.api.errors import ConfigurationError
from basket_lib.api.options import QUOTE_LIMIT, quote

# Printable ASCII without space: one `@` between a non-empty local part and a non-empty domain.
_EMAIL = re.compile(r"[!-?A-~]+@[!-?A-~]+")
_DOMAIN = re.compile(r"@[!-?A-~]+")


class Verdict(enum.Enum):
    ALLOWED = "allowed"
    NO_ADDRESS = "the account has no e-mail address"
    NOT_PLAIN = "the e-mail address is not a plain ASCII address"
    NOT_VERIFIED = "the provider has not verified the e-mail address"
    NOT_LISTED = "the e-mail address is not on the list of allowed viewers"


def plain_address(value: object) -> str | None:
    """`value` lower-cased when it is a plain ASCII address (name@domain), else None.

    Non-ASCII is refused outright rather than normalised: compatibility and case folding map
    look-alikes onto ASCII (the Kelvin sign `\\u212a` lower-cases to `k`, fullwidth letters
    NFKC-fold to ASCII), so an address that only looks like a listed one would match it.
    """
    if not isinstance(value, str) or not value.isascii() or not _EMAIL.fullmatch(value):
        return None
    lowered = value.lower()
    # Redundant for ASCII today; kept so that a future loosening of the ASCII rule cannot let a
    # string through whose Unicode folding differs from the plain comparison made below.
    if unicodedata.normalize("NFKC", value).casefold() != lowered:
        return None
    return lowered


def _verified(claims: Mapping[str, object], allow_missing: bool) -> bool:
    if "email_verified" not in claims:
        return allow_missing
    # Only the JSON boolean: "true", 1 and friends are a provider's mistake or a forgery.
    return claims["email_verified"] is True


def judge_viewer(
    claims: Mapping[str, object],
    allowed: tuple[str, ...],
    *,
    allow_missing_email_verified: bool = False,
) -> Verdict:
    """Whether the identity `claims` (as in `st.user`) admit a viewer to customer data.

    `allowed` holds full addresses and `@domain` entries. A missing `email_verified` claim refuses
    unless `allow_missing_email_verified`; a present one must be the boolean True either way.
    """
    if not isinstance(claims, Mapping):
        raise TypeError(f"claims must be a mapping such as st.user, not {type(claims).__name__}")
    email = claims.get("email")
    if email is None or email == "":
        return Verdict.NO_ADDRESS
    address = plain_address(email)
    if address is None:
        return Verdict.NOT_PLAIN
    # Verification is judged before the list: an unverified account learns nothing about
    # whether the address it claims is listed.
    if not _verified(claims, allow_missing_email_verified):
        return Verdict.NOT_VERIFIED
    domain = address.rpartition("@")[2]
    for raw in allowed:
        entry = raw.strip()
        if not entry.isascii():
            continue
        entry = entry.lower()
        # Exact comparison only: `@example.com` must not admit evil-example.com,
        # example.com.evil or sub.example.com.
        if entry == address or (entry.startswith("@") and entry[1:] == domain):
            return Verdict.ALLOWED
    return Verdict.NOT_LISTED


def _ascii_quote(text: str) -> str:
    # Escapes show which character is not ASCII; a look-alike printed as itself would not.
    return ascii(text[:QUOTE_LIMIT]) + ("…" if len(text) > QUOTE_LIMIT else "")


def parse_allowed_viewers(value: str | None, name: str) -> tuple[str, ...]:
    """Lower-cased addresses and `@domain` entries from a comma-separated list, in order."""
    if value is None:
        return ()
    entries: dict[str, None] = {}
    for raw in value.split(","):
        entry = raw.strip()
        if not entry:
            continue
        if not entry.isascii():
            # Viewers' addresses must be plain ASCII to get in, so such an entry admits nobody;
            # a look-alike of an intended address is worse than a typo.
            raise ConfigurationError(
                f"{name} entry {_ascii_quote(entry)} has non-ASCII characters: write addresses and "
                "domains in plain ASCII (an internationalised domain in its xn-- form)."
            )
        entry = entry.lower()
        if not (_EMAIL.fullmatch(entry) or _DOMAIN.fullmatch(entry)):
            # A bare `example.com` would silently match nobody.
            raise ConfigurationError(
                f"{name} entry {quote(entry)} is neither an address (name@example.com) nor a "
                "domain (@example.com)."
            )
        entries.setdefault(entry, None)
    return tuple(entries)
