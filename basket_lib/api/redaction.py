"""Keeping a client's secrets out of everything it raises or writes.

Each client and each Settings owns a Redactor of its own key and token: an error leaving the client
is scrubbed before anyone can print it, and the audit log and scan reports scrub with the
configured secrets. Nothing is registered process-wide, so a secret is forgotten with its owner.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import quote

from basket_lib.api.errors import BasketError, map_strings

REDACTED = "[redacted]"
# Very short values would redact ordinary words; keys and tokens are never that short.
MIN_SECRET_LENGTH = 4
# A start of a secret this long is redacted too: random enough that no ordinary text has it.
PREFIX_LENGTH = 12

E = TypeVar("E", bound=BasketError)


class Redactor:
    """Replaces each of its secrets by [redacted] in text, nested values and errors."""

    __slots__ = ("_forms", "_heads", "_secrets")

    def __init__(self, *secrets: str | None) -> None:
        kept = {s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = tuple(sorted(kept, key=len, reverse=True))
        # What an echo may carry instead of the secret itself: its percent-encoded form (a key
        # echoed in a URL), and the start of it (an API that quotes "the key abcd…" cut short).
        forms = {quote(s, safe="") for s in self._secrets} | set(self._secrets)
        self._forms = tuple(sorted(forms, key=len, reverse=True))
        # Keys and tokens are ASCII (api/options refuses anything else), and so are their
        # percent-encoded forms.
        self._heads = tuple(
            (form, form[: min(len(form), PREFIX_LENGTH)].encode())
            for form in self._forms
            if form.isascii()
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"

    def text(self, text: str) -> str:
        for form in self._forms:
            text = _replace_prefixes(text, form)
        return text

    def body(self, body: bytes) -> bytes:
        """A response body with every secret form replaced, before anything parses it: an API
        that echoes the key in a 200 body (a product name, an unknown field) must not put it on
        a page, in the raw JSON shown to engineers, or in a stored result. JSON stays valid: the
        replacement is plain text inside whatever string held the secret."""
        if self._heads and (b"\\u" in body or b"\\/" in body):
            body = self._unescaped(body)
        for form, head in self._heads:
            if head in body:  # a C-speed scan; the body is decoded only when it holds a secret
                text = _replace_prefixes(body.decode("utf-8", "surrogateescape"), form)
                body = text.encode("utf-8", "surrogateescape")
        return body

    def _unescaped(self, body: bytes) -> bytes:
        """The JSON body with its string escapes written out, when that shows a secret: a key
        echoed as `\\u0073afety…` holds no secret byte for byte, yet decodes to one. Otherwise
        (or when the body is not JSON, for the parser to report) the body as it came."""
        try:
            plain = json.dumps(json.loads(body), ensure_ascii=False).encode()
        except (ValueError, RecursionError):
            return body
        return plain if any(head in plain for _, head in self._heads) else body

    def value(self, value: Any) -> Any:
        return map_strings(value, self.text) if self._secrets else value

    def error(self, exc: E) -> E:
        """`exc` with every secret scrubbed from its message, the API's message and details."""
        if self._secrets:
            exc.message = self.text(exc.message)
            if exc.api_message is not None:
                exc.api_message = self.text(exc.api_message)
            exc.details = self.value(exc.details)
            exc.args = (exc.message,)
        return exc

    @contextmanager
    def scrubbing(self) -> Iterator[None]:
        """Scrubs any BasketError raised inside the block on its way out."""
        try:
            yield
        except BasketError as exc:
            self.error(exc)
            raise


def _replace_prefixes(text: str, secret: str) -> str:
    """`text` with every run that is `secret` or a start of it at least PREFIX_LENGTH long
    replaced by REDACTED."""
    head = secret[: min(len(secret), PREFIX_LENGTH)]
    start = text.find(head)
    if start < 0:
        return text
    parts: list[str] = []
    done = 0
    while start >= 0:
        end = start + len(head)
        while end - start < len(secret) and end < len(text) and text[end] == secret[end - start]:
            end += 1
        parts.append(text[done:start])
        parts.append(REDACTED)
        done = end
        start = text.find(head, end)
    parts.append(text[done:])
    return "".join(parts)


NO_SECRETS = Redactor()
