"""Turning API data and errors into text that is safe to put in Streamlit markdown.

Anything that came from the API or a user (ids, names, error messages) is data: in markdown it is
escaped so that HTML, links, emphasis, LaTeX and Streamlit's ``:color[...]`` directives show as the
characters they are.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from basket_lib.access import Verdict
from basket_lib.api.errors import BasketError

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
    hint: str

    def markdown(self) -> str:
        """The whole error as escaped markdown, for st.error."""
        lines = [f"**{md_escape(self.title)}**"]
        if self.facts:
            lines.append(md_escape(" · ".join(self.facts)))
        lines.append(md_escape(self.message))
        if self.meaning:
            lines.append(md_escape(self.meaning))
        if self.hint:
            lines.append(f"**What to do:** {md_escape(self.hint)}")
        return "\n\n".join(lines)


def describe_error(exc: BasketError) -> ErrorDisplay:
    """Status, API code, catalogue name and meaning, the API's message and what to do."""
    facts: list[str] = []
    if exc.status is not None:
        facts.append(f"HTTP {exc.status}")
    info = exc.code_info
    if info is not None:
        facts.append(f"API code {info.code}" + (f" {info.name}" if info.documented else ""))
    return ErrorDisplay(
        title=exc.kind[:1].upper() + exc.kind[1:],
        facts=tuple(facts),
        message=exc.message,
        meaning=info.meaning if info is not None else None,
        hint=exc.hint,
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
