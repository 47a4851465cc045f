"""Decoder of the X-JAY-Tracking header (the `__Secure-jay_tracking` cookie).

The value is plain base64 of a JSON object (no signature is documented). Agents paste it in many
shapes: the bare value, the cookie (`name=value; Path=/...`), a whole `Cookie:` or
`X-JAY-Tracking:` header line, quoted, wrapped over lines, url-safe, without padding. Every shape
that still carries the value is accepted; everything else fails with a specific message that is
safe to show (it quotes at most a few characters of the input).
"""

from __future__ import annotations

import base64
import json
import re
import string
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field

from basket_lib.api.errors import (
    TrackingDecodeError,
    TrackingNotBase64Error,
    TrackingNotJsonError,
    TrackingNotObjectError,
    TrackingNotUtf8Error,
    TrackingTooLargeError,
)
from basket_lib.api.models import (
    JsonNotTextError,
    JsonTooDeepError,
    UtcDatetime,
    check_displayable,
    check_json,
)

MAX_TRACKING_BYTES = 8192
COOKIE_NAME = "__Secure-jay_tracking"

# At most this many characters of user input are ever quoted back in a message.
_QUOTE_LIMIT = 30

# Known fields and the spellings accepted for each, first match wins. The Playout API's JSON
# uses camelCase, the header's own payload snake_case.
_ALIASES: dict[str, tuple[str, ...]] = {
    "session_id": ("session_id", "sessionId"),
    "start_time": ("start_time", "startTime"),
    "source": ("source",),
    "user_id": ("user_id", "userId"),
    "provider_name": ("provider_name", "providerName", "provider", "provider_id", "providerId"),
}

_HEADER_LINE = re.compile(r"^(?:x-jay-tracking|set-cookie|cookie)\s*:\s*", re.IGNORECASE)
# `name=value` with something other than `=` after the `=`: a cookie (base64 only ends in `=`).
_COOKIE_PAIR = re.compile(r"^([!#$%&'*+\-.^_`|~0-9A-Za-z]+)=([^=].*)$", re.DOTALL)
_QUOTES = "\"'`"
_BASE64_COMMON = frozenset(string.ascii_letters + string.digits)
_STANDARD_ONLY = "+/"
_URLSAFE_ONLY = "-_"
# Python refuses to parse longer integers (sys.get_int_max_str_digits, 4300 by default).
_MAX_INT_DIGITS = 4000


class TrackingSession(BaseModel):
    """A decoded tracking session: the known fields, every other field, and the header to send."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    session_id: str | None = None
    start_time: UtcDatetime | None = None  # naive timestamps are UTC
    source: str | None = None
    user_id: str | None = None
    provider_name: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    header_value: str
    # The decoded object exactly as sent (key order, spelling), for to_json().
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], *, header_value: str) -> TrackingSession:
        """Map a decoded JSON object to a session; wrong types raise TrackingDecodeError."""
        known: dict[str, Any] = {}
        used: set[str] = set()
        for name, spellings in _ALIASES.items():
            key = next((k for k in spellings if k in payload), None)
            if key is None:
                continue
            used.add(key)
            value = payload[key]
            if value is None:
                continue
            if name == "start_time":
                known[name] = _timestamp(key, value)
            elif isinstance(value, str):
                known[name] = value
            else:
                raise TrackingDecodeError(
                    f"The tracking session's field {key} must be a string, got {_json_type(value)}."
                )
        # A second spelling of a known field is kept as an extra rather than silently dropped.
        extra = {k: v for k, v in payload.items() if k not in used}
        return cls(**known, extra=extra, header_value=header_value, raw=dict(payload))

    def age(self, now: datetime) -> timedelta | None:
        """Time since the session started (negative if it starts in the future)."""
        if self.start_time is None:
            return None
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return now - self.start_time

    def fields(self) -> list[tuple[str, str]]:
        """(field, display text) rows: the known fields, then every extra as compact JSON."""
        rows = [
            ("session_id", self.session_id),
            ("start_time", self.start_time.isoformat() if self.start_time else None),
            ("source", self.source),
            ("user_id", self.user_id),
            ("provider_name", self.provider_name),
        ]
        known = [(name, "(not set)" if value is None else value) for name, value in rows]
        return known + [(key, _dumps(value)) for key, value in self.extra.items()]

    def to_json(self) -> str:
        """The decoded object as sent, pretty-printed."""
        return _dumps(self.raw, indent=2)


def decode_tracking(value: str) -> TrackingSession:
    """Decode a pasted X-JAY-Tracking value (bare, cookie or header line) to a session."""
    _check_size(value)
    text = _extract_value(value)
    data = _decode_base64(text)
    try:
        decoded = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise TrackingNotUtf8Error(
            f"The base64 decodes to bytes that are not UTF-8 text: byte 0x{data[exc.start]:02x} "
            f"at offset {exc.start} ({exc.reason}). Is the value encrypted or compressed?"
        ) from None
    payload = _parse_json(decoded)
    try:
        check_json(payload)
    except JsonTooDeepError as exc:
        raise TrackingNotJsonError(
            f"The decoded JSON is not a tracking session: {exc}; a session is a flat object."
        ) from None
    except JsonNotTextError as exc:
        raise TrackingNotUtf8Error(f"The decoded JSON is not valid text: {exc}.") from None
    if not isinstance(payload, dict):
        what = "JSON null" if payload is None else f"a JSON {_json_type(payload)}"
        raise TrackingNotObjectError(f"The tracking value decodes to {what}, not to a JSON object.")
    return TrackingSession.from_payload(payload, header_value=text)


# --- steps --------------------------------------------------------------------------------------


def _check_size(value: str) -> None:
    # Counted before any work, so a huge paste costs nothing.
    if len(value) > MAX_TRACKING_BYTES:
        size = f"{len(value):,} characters"
    elif (n := len(value.encode("utf-8", "surrogatepass"))) > MAX_TRACKING_BYTES:
        size = f"{n:,} bytes"
    else:
        return
    raise TrackingTooLargeError(
        f"The tracking value is {size} long; the limit is {MAX_TRACKING_BYTES:,} bytes (8 KiB)."
    )


def _strip_quotes(text: str) -> str:
    text = text.strip()
    while len(text) >= 2 and text[0] == text[-1] and text[0] in _QUOTES:
        text = text[1:-1].strip()
    return text


def _extract_value(value: str) -> str:
    """The base64 text inside whatever was pasted, whitespace removed."""
    text = _strip_quotes(value)
    if not text:
        raise TrackingDecodeError("The tracking value is empty.")
    text = _strip_quotes(_HEADER_LINE.sub("", text, count=1))
    parts = [part.strip() for part in text.split(";")]
    cookie = next(
        (
            v
            for name, sep, v in (part.partition("=") for part in parts)
            if sep and name.strip().lower() == COOKIE_NAME.lower()
        ),
        None,
    )
    if cookie is None:
        # Whatever follows the first `;` are cookie attributes or other cookies.
        text = parts[0]
        if match := _COOKIE_PAIR.match(text):
            raise TrackingDecodeError(
                f"The value is the cookie {_quote(match.group(1))}, not {COOKIE_NAME}: paste the "
                f"{COOKIE_NAME} cookie or the X-JAY-Tracking header."
            )
    else:
        text = cookie
    text = _strip_quotes(text)
    # Some cookie jars percent-encode `=`, `+` and `/`; `%` itself is never base64.
    if "%" in text:
        text = unquote(text)
    text = "".join(text.split())
    if not text:
        raise TrackingDecodeError(
            f"The {COOKIE_NAME} cookie is empty."
            if cookie is not None
            else "The tracking value is empty."
        )
    return text


def _decode_base64(text: str) -> bytes:
    body = text.rstrip("=")
    alphabet: tuple[str, str, int] | None = None  # (kind, first character, its position)
    for position, char in enumerate(body, start=1):
        if char in _BASE64_COMMON:
            continue
        if char == "=":
            raise TrackingNotBase64Error(
                f"The tracking value is not base64: padding '=' at position {position} "
                "is only allowed at the end."
            )
        if char in _STANDARD_ONLY:
            kind = "standard"
        elif char in _URLSAFE_ONLY:
            kind = "url-safe"
        else:
            raise TrackingNotBase64Error(
                f"The tracking value is not base64: character {char!r} at position {position} "
                "is not in the base64 alphabet."
            )
        if alphabet is None:
            alphabet = (kind, char, position)
        elif alphabet[0] != kind:
            raise TrackingNotBase64Error(
                f"The tracking value is not base64: {char!r} at position {position} is {kind} "
                f"base64 but {alphabet[1]!r} at position {alphabet[2]} is {alphabet[0]} base64; "
                "the two alphabets cannot be mixed."
            )
    padding = len(text) - len(body)
    if not body:
        raise TrackingNotBase64Error("The tracking value is not base64: it is only padding.")
    if len(body) % 4 == 1:
        raise TrackingNotBase64Error(
            f"The tracking value is not base64: no base64 text is {len(body)} characters long "
            "(without padding); the value is truncated or has a character too many."
        )
    if padding and (padding > 2 or len(text) % 4):
        raise TrackingNotBase64Error(
            f"The tracking value is not base64: the padding {'=' * padding!r} does not fit "
            f"its length of {len(body)} characters."
        )
    if alphabet is not None and alphabet[0] == "url-safe":
        body = body.translate(str.maketrans(_URLSAFE_ONLY, _STANDARD_ONLY))
    # The checks above leave nothing for b64decode to reject.
    return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)


class _NonFiniteNumber(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NonFiniteNumber(name)


def _parse_int(text: str) -> int | Decimal:
    return int(text) if len(text) <= _MAX_INT_DIGITS else Decimal(text)


def _parse_json(text: str) -> Any:
    try:
        # Decimal keeps every number exactly as sent, however large.
        return json.loads(
            text, parse_float=Decimal, parse_int=_parse_int, parse_constant=_reject_constant
        )
    except json.JSONDecodeError as exc:
        near = f" near {_quote(text[exc.pos : exc.pos + 12])}" if exc.pos < len(text) else ""
        raise TrackingNotJsonError(
            # Some of json's messages end in " at", ahead of the position it appends itself.
            f"The decoded text is not JSON: {exc.msg.removesuffix(' at')} at line {exc.lineno} "
            f"column {exc.colno} (character {exc.pos + 1}){near}."
        ) from None
    except _NonFiniteNumber as exc:
        raise TrackingNotJsonError(
            f"The decoded text is not JSON: {exc} is not a valid JSON number."
        ) from None
    except RecursionError:
        raise TrackingNotJsonError("The decoded JSON is nested too deeply to read.") from None


def _timestamp(key: str, value: Any) -> datetime:
    if not isinstance(value, str):
        raise TrackingDecodeError(
            f"The tracking session's field {key} is not an ISO-8601 timestamp "
            f"(got {_json_type(value)})."
        )
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise TrackingDecodeError(
            f"The tracking session's field {key} is not an ISO-8601 timestamp "
            f"(got {_quote(value)})."
        ) from None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    try:
        return check_displayable(parsed)
    except ValueError as exc:
        raise TrackingDecodeError(
            f"The tracking session's field {key} cannot be used: {exc} (got {_quote(value)})."
        ) from None


# --- helpers ------------------------------------------------------------------------------------


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _quote(text: str) -> str:
    """User input quoted for a message: short, and with control characters escaped."""
    short = text if len(text) <= _QUOTE_LIMIT else text[:_QUOTE_LIMIT] + "…"
    return repr(short)


def _dumps(value: Any, *, indent: int | None = None) -> str:
    """JSON text of a decoded value; Decimals are written back digit for digit."""
    # json can only write int and float as numbers, so each Decimal goes out as a unique
    # placeholder string that is then replaced by the number's own text.
    marker = uuid.uuid4().hex
    numbers: dict[str, str] = {}

    def default(obj: Any) -> Any:
        if isinstance(obj, Decimal):
            token = f"{marker}{len(numbers)}"
            numbers[f'"{token}"'] = str(obj)
            return token
        if isinstance(obj, datetime):
            return obj.isoformat()
        raise TypeError(f"{type(obj).__name__} is not JSON serialisable")

    separators = (",", ": ") if indent else (",", ":")
    text = json.dumps(
        value, indent=indent, separators=separators, ensure_ascii=False, default=default
    )
    for token, number in numbers.items():
        text = text.replace(token, number)
    return text
