"""Checks on user input that run before any request is sent."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import quote

from basket_lib.api import errors

MAX_USER_ID_LENGTH = 256
MAX_PROVIDER_ID_LENGTH = 256
# Tracking values are base64 of a small JSON object; proxies commonly cap a header at 8 KiB.
MAX_TRACKING_HEADER_BYTES = 8 * 1024


_CONTROL_NAMES = {
    0x00: "NUL",
    0x09: "tab",
    0x0A: "line feed",
    0x0D: "carriage return",
    0x1B: "escape",
    0x7F: "DEL",
}


# Joins emoji into one picture (👩‍👩‍👧): a visible part of an id, unlike other format characters.
_ZERO_WIDTH_JOINER = "\u200d"


def _char_label(char: str) -> str:
    name = _CONTROL_NAMES.get(ord(char)) or unicodedata.name(char, "")
    return f"U+{ord(char):04X} {name}".rstrip()


def validate_user_id(user_id: object) -> str:
    """Return the user id unchanged, or raise InvalidUserIdError saying what is wrong with it.

    The API documents no format, so anything printable is accepted; only what cannot be a real id
    (or would change the request's path) is rejected. Nothing is stripped: a pasted id with a
    trailing space is a typo the agent has to see, not one to fix silently.
    """
    if not isinstance(user_id, str):
        raise errors.InvalidUserIdError(f"The user id must be text, not {type(user_id).__name__}.")
    if not user_id:
        raise errors.InvalidUserIdError("The user id is empty.")
    if user_id.isspace():
        raise errors.InvalidUserIdError("The user id contains only whitespace.")
    if len(user_id) > MAX_USER_ID_LENGTH:
        raise errors.InvalidUserIdError(
            f"The user id is {len(user_id)} characters long; "
            f"at most {MAX_USER_ID_LENGTH} are allowed."
        )
    # Printable ASCII holds no control, format or surrogate character: most ids skip the walk.
    plain = user_id.isascii() and user_id.isprintable()
    for position, char in enumerate("" if plain else user_id, start=1):
        category = unicodedata.category(char)
        if category == "Cc":
            raise errors.InvalidUserIdError(
                f"The user id contains a control character at position {position} "
                f"({_char_label(char)})."
            )
        if category == "Cf" and char != _ZERO_WIDTH_JOINER:
            # Zero-width spaces, byte-order marks, direction overrides: copied along with an id
            # from a ticket or a spreadsheet, they make another id that looks the same.
            raise errors.InvalidUserIdError(
                f"The user id contains an invisible character at position {position} "
                f"({_char_label(char)}); it was probably copied along with the id."
            )
        if category == "Cs":
            # A lone surrogate cannot be encoded as UTF-8, so it can never reach the API.
            raise errors.InvalidUserIdError(
                f"The user id contains an invalid character at position {position} "
                f"(U+{ord(char):04X}, a lone surrogate)."
            )
    if user_id != user_id.strip():
        raise errors.InvalidUserIdError(
            "The user id has leading or trailing whitespace; check for a stray space."
        )
    if user_id in {".", ".."}:
        # Even encoded, "." and ".." are dot-segments that URL normalisation removes.
        raise errors.InvalidUserIdError(f"The user id cannot be {user_id!r}.")
    return user_id


# "User ID: user-00042", "userId=user-00042", "customer id #user-00042".
_LABELLED_ID = re.compile(r"\b(?:user|customer|client)[ _-]?id\s*[:=#]?\s*(\S+)", re.IGNORECASE)
_ENCLOSING = "\"'`“”‘’«»()[]{}<>.,;:!?#"
# A ticket line longer than this is not searched: it is not an id typed by mistake.
MAX_SUGGESTION_SOURCE = 2_000


def shown_user_id(text: str, limit: int | None = None) -> str:
    """`text` as a page, a tab title or a file shows it faithfully: each control, invisible or
    invalid character written as <U+XXXX> (a direction override would otherwise make it read as
    another id: "user-\u202e00042" shows as user-24000), cut at `limit` characters with "…"."""
    cut = text if limit is None or len(text) <= limit else text[:limit]
    if not (cut.isascii() and cut.isprintable()):
        cut = "".join(
            f"<U+{ord(char):04X}>"
            if unicodedata.category(char) in {"Cc", "Cf", "Cs"} and char != _ZERO_WIDTH_JOINER
            else char
            for char in cut
        )
    return cut if limit is None or len(text) <= limit else cut + "…"


def suggest_user_id(text: str) -> str | None:
    """The user id inside a pasted ticket line ("User ID: user-00042, checkout failed" →
    "user-00042"), to be offered, never used silently. First an id after a "user id" label,
    else the first word holding letters and digits, else one of digits only; None when none is
    a valid id other than the text itself."""
    if not isinstance(text, str) or len(text) > MAX_SUGGESTION_SOURCE:
        return None
    labelled = [match.group(1) for match in _LABELLED_ID.finditer(text)]
    words = [word for word in text.split() if any(char.isdigit() for char in word)]
    # Words mixing letters and digits ("user-00042") before bare numbers (often ticket numbers).
    words.sort(key=lambda word: not any(char.isalpha() for char in word))
    for candidate in (*labelled, *words):
        token = candidate.strip(_ENCLOSING)
        if not token or token == text:
            continue
        try:
            return validate_user_id(token)
        except errors.InvalidUserIdError:
            continue
    return None


def _first_control(value: str) -> tuple[int, str] | None:
    for position, char in enumerate(value, start=1):
        if unicodedata.category(char) in {"Cc", "Cs"}:
            return position, char
    return None


def clean_tracking_header(tracking: object) -> str | None:
    """The X-JAY-Tracking value to send, or None when there is nothing to send.

    Surrounding whitespace is dropped (values are pasted from browsers and logs); a blank value
    means no tracking session.
    """
    if tracking is None:
        return None
    if not isinstance(tracking, str):
        raise errors.InvalidInputError(
            f"The tracking value must be text, not {type(tracking).__name__}."
        )
    value = tracking.strip()
    if not value:
        return None
    if len(value) > MAX_TRACKING_HEADER_BYTES:
        raise errors.InvalidInputError(
            f"The tracking value is {len(value)} characters long; "
            f"at most {MAX_TRACKING_HEADER_BYTES} can be sent as a header."
        )
    found = _first_control(value)
    if found:
        position, char = found
        raise errors.InvalidInputError(
            f"The tracking value contains a control character at position {position} "
            f"({_char_label(char)})."
        )
    if not value.isascii():
        raise errors.InvalidInputError(
            "The tracking value contains non-ASCII characters; it should be base64 text."
        )
    return value


def clean_provider_id(provider_id: object) -> str | None:
    """The provider_id query value to send (surrounding whitespace dropped), or None."""
    if provider_id is None:
        return None
    if not isinstance(provider_id, str):
        raise errors.InvalidInputError(
            f"The provider id must be text, not {type(provider_id).__name__}."
        )
    value = provider_id.strip()
    if not value:
        raise errors.InvalidInputError("The provider id is blank; leave it out instead.")
    if len(value) > MAX_PROVIDER_ID_LENGTH:
        raise errors.InvalidInputError(
            f"The provider id is {len(value)} characters long; "
            f"at most {MAX_PROVIDER_ID_LENGTH} are allowed."
        )
    found = _first_control(value)
    if found:
        position, char = found
        raise errors.InvalidInputError(
            f"The provider id contains a control character at position {position} "
            f"({_char_label(char)})."
        )
    return value


def distinct_product_ids(product_ids: Iterable[object]) -> list[str]:
    """Distinct product ids in their first order; each must be non-blank text."""
    if isinstance(product_ids, (str, bytes)):
        # A lone string is iterable too, and would silently become one id per character.
        raise errors.InvalidInputError("Pass a list of product ids, not a single string.")
    seen: dict[str, None] = {}
    for index, product_id in enumerate(product_ids):
        if not isinstance(product_id, str):
            raise errors.InvalidInputError(
                f"Product id #{index + 1} must be text, not {type(product_id).__name__}."
            )
        if not product_id.strip():
            raise errors.InvalidInputError(f"Product id #{index + 1} is blank.")
        found = _first_control(product_id)
        if found:
            raise errors.InvalidInputError(
                f"Product id #{index + 1} contains a control character at position "
                f"{found[0]} ({_char_label(found[1])})."
            )
        seen.setdefault(product_id, None)
    return list(seen)


def user_path_segment(user_id: str) -> str:
    """Percent-encode a validated user id as exactly one path segment.

    Nothing is safe: "/", "?", "#" and "%" are encoded so the id can neither add path segments nor
    start a query or fragment, and an id that already looks encoded ("%2F") keeps its literal form.
    """
    return quote(user_id.encode("utf-8"), safe="")
