"""Turning API data and errors into text that is safe to put in Streamlit markdown.

Anything that came from the API or a user (ids, names, error messages) is data: in markdown it is
escaped so that HTML, links, emphasis, LaTeX and Streamlit's ``:color[...]`` directives show as the
characters they are.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from datetime import UTC, datetime

from basket_lib.access import Verdict
from basket_lib.api import errors
from basket_lib.api.errors import BasketError
from basket_lib.api.retry import is_retryable

_ESCAPE = {ord(ch): "\\" + ch for ch in string.punctuation}


def md_escape(text: object) -> str:
    """Escape every ASCII punctuation character (CommonMark allows a backslash before each)."""
    flat = " ".join(str(text).split()) if text is not None else ""
    return flat.translate(_ESCAPE)


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """Counts in page text read as written English: "1 product", "2 products", "1,234 units"."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {word}"


@dataclass(frozen=True)
class ErrorDisplay:
    title: str
    facts: tuple[str, ...]
    message: str
    meaning: str | None
    # What the error means for the agent and what they can do now.
    for_agent: str
    # What an administrator should check (variable names); None when nothing is to be fixed.
    hint: str | None
    # What the agent quotes when escalating: time, user id, status, API code.
    reference: str
    # The response a schema error refers to, as the API sent it (JSON text).
    response: str | None = None

    def markdown(self) -> str:
        """The whole error as escaped markdown, for st.error."""
        lines = [f"**{md_escape(self.title)}:** {md_escape(self.for_agent)}"]
        if self.facts:
            lines.append(md_escape(" · ".join(self.facts)))
        lines.append(md_escape(self.message))
        if self.meaning:
            lines.append(md_escape(self.meaning))
        if self.hint:
            lines.append(f"**For an administrator:** {md_escape(self.hint)}")
        lines.append(f"**Reference:** {md_escape(self.reference)}")
        return "\n\n".join(lines)


_TRY_AGAIN = "This basket cannot be read right now; try again in a minute."
_ESCALATE = "Escalate it with the reference below."
# What each kind of error means for an agent, looked up along the error's class hierarchy.
_FOR_AGENT: dict[type[BasketError], str] = {
    errors.ConfigurationError: "The dashboard is not set up to read baskets. Tell an "
    "administrator.",
    errors.StorageError: "Stored scans cannot be read or written right now. Tell an administrator.",
    errors.ScanStateError: "That scan cannot do this in its current state.",
    errors.InvalidUserIdError: "This user id cannot be looked up as typed; check it against the "
    "ticket. Nothing was sent to the API.",
    errors.TrackingDecodeError: "This tracking value cannot be read, so it is not sent; check "
    "that the whole header or cookie value was pasted.",
    errors.InvalidInputError: "The input cannot be used as it is; nothing was sent to the API.",
    errors.AuthenticationError: "The API refused the dashboard's credentials: no basket can be "
    "read until an administrator fixes them.",
    errors.PermissionDeniedError: "The dashboard may not read this basket. " + _ESCALATE,
    errors.RequestValidationError: "The API refused this request; check the user id and the "
    "provider id.",
    errors.RateLimitError: "The API is busy; try again in a minute.",
    errors.ServerError: _TRY_AGAIN,
    errors.APITimeoutError: "The API did not answer in time; try again in a minute.",
    errors.APIConnectionError: "The API cannot be reached right now; try again in a minute. If "
    "it keeps happening, tell an administrator.",
    errors.ResponseTooLargeError: "The API sent far more than any basket, so it cannot be shown. "
    + _ESCALATE,
    errors.ResponseFormatError: "Something other than the API answered (a proxy's error page or "
    "a cut-off answer); try again in a minute.",
    errors.ResponseValidationError: "The API sent data the dashboard cannot read. Escalate it "
    "with the reference and the response below.",
    errors.APIStatusError: "The API refused this request. " + _ESCALATE,
    errors.BasketError: "Something went wrong. " + _ESCALATE,
}
BASKET_NOT_FOUND = 2005


def _transient(exc: BasketError) -> bool:
    """A busy or briefly unavailable API (429, 502, 503, 504: what the client retries). Trying
    again later is the advice whatever code came with it: the API sends codes such as 429 and
    503 that its documentation does not list."""
    return isinstance(exc, errors.APIStatusError) and is_retryable(exc)


def for_agent(exc: BasketError) -> str:
    if isinstance(exc, errors.NotFoundError):
        if exc.api_code == BASKET_NOT_FOUND:
            return (
                "The API has no basket for this user id: check the id with the customer (an "
                "unknown id usually shows as an empty basket)."
            )
        return "The API's address is wrong, so no basket can be read. Tell an administrator."
    info = exc.code_info
    undocumented = info is not None and not info.documented
    if undocumented and isinstance(exc, errors.APIStatusError) and not _transient(exc):
        return f"The API refused this request with an error code it does not document. {_ESCALATE}"
    for cls in type(exc).__mro__:
        if cls in _FOR_AGENT:
            return _FOR_AGENT[cls]
    return _FOR_AGENT[errors.BasketError]


def admin_hint(exc: BasketError) -> str | None:
    """What an administrator should check; None for errors there is nothing to configure for
    (input the agent corrects, a basket that does not exist)."""
    if isinstance(exc, errors.InvalidInputError):
        return None
    if isinstance(exc, errors.NotFoundError) and exc.api_code == BASKET_NOT_FOUND:
        return None  # the API answered: its address and the key are right
    info = exc.code_info
    # The facts and the meaning still name an undocumented code; the hint stays the retry one.
    if info is not None and not info.documented and not _transient(exc):
        return (
            f"The API answered with code {info.code}, which its documentation does not list "
            "(an undocumented code, not a malformed request); report it to Transfermedia with "
            "the reference."
        )
    return exc.hint or None


def error_reference(exc: BasketError, *, at: datetime, user_id: str | None) -> str:
    """ "2026-12-01 10:51:03 UTC · user user-00042 · HTTP 404 · API code 2005"."""
    parts = [at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")]
    if user_id:
        parts.append(f"user {user_id}")
    if exc.status is not None:
        parts.append(f"HTTP {exc.status}")
    if exc.api_code is not None:
        parts.append(f"API code {exc.api_code}")
    parts.append(exc.kind)
    return " · ".join(parts)


def _response_text(exc: BasketError) -> str | None:
    details = exc.details
    if not isinstance(exc, errors.ResponseValidationError) or not isinstance(details, dict):
        return None
    if "response" not in details:
        return None
    return json.dumps(details["response"], indent=2, ensure_ascii=False, default=str)


def describe_error(
    exc: BasketError, *, at: datetime | None = None, user_id: str | None = None
) -> ErrorDisplay:
    """Status, API code, catalogue name and meaning, the API's message, what it means for the
    agent, what an administrator should check, and a reference to quote."""
    facts: list[str] = []
    if exc.status is not None:
        facts.append(f"HTTP {exc.status}")
    info = exc.code_info
    if info is not None:
        facts.append(
            f"API code {info.code}" + (f" {info.name}" if info.documented else " (undocumented)")
        )
    return ErrorDisplay(
        title=exc.kind[:1].upper() + exc.kind[1:],
        facts=tuple(facts),
        message=exc.message,
        meaning=info.meaning if info is not None else None,
        for_agent=for_agent(exc),
        hint=admin_hint(exc),
        reference=error_reference(exc, at=at or datetime.now(UTC), user_id=user_id),
        response=_response_text(exc),
    )


_ASK_OPERATOR = (
    "Ask the dashboard's operator to add you to BASKET\\_ALLOWED\\_VIEWERS if you should have "
    "access."
)


def refusal_message(verdict: Verdict, email: object) -> str:
    """Why a signed-in viewer is refused, as markdown; the address only when it is plain ASCII."""
    if verdict is Verdict.NO_ADDRESS:
        return (
            "Your account has no e-mail address, so it cannot be checked against this "
            f"dashboard's list of allowed viewers. {_ASK_OPERATOR}"
        )
    if verdict is Verdict.NOT_PLAIN:
        # Not echoed: look-alike, invisible or direction-changing characters would show the
        # viewer something other than what was checked.
        return (
            "Your account's e-mail address is not a plain address (it has spaces, control "
            "characters or characters outside ASCII), so it cannot be checked against this "
            "dashboard's list of allowed viewers."
        )
    who = md_escape(email)
    if verdict is Verdict.NOT_VERIFIED:
        return (
            f"You are signed in as {who}, but your sign-in provider has not verified that this "
            "e-mail address is yours, so you cannot be let in. Verify the address with your "
            "provider, then sign out and sign in again."
        )
    return (
        f"You are signed in as {who}, which is not on this dashboard's list of allowed "
        f"viewers. {_ASK_OPERATOR}"
    )
