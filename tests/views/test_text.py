from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from basket_lib.access import Verdict
from basket_lib.api import errors
from basket_lib.api.errors import APITimeoutError, error_for_status
from basket_lib.views.text import describe_error, md_escape, plural, refusal_message


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain", "plain"),
        ("**bold**", r"\*\*bold\*\*"),
        ("[x](javascript:alert(1))", r"\[x\]\(javascript\:alert\(1\)\)"),
        ("<script>alert(1)</script>", r"\<script\>alert\(1\)\<\/script\>"),
        (":red[alarm]", r"\:red\[alarm\]"),
        ("$x$", r"\$x\$"),
        ("a\nb\t c", "a b c"),
        (None, ""),
        ("Ünïcødé 🧺", "Ünïcødé 🧺"),
    ],
)
def test_md_escape(raw: str | None, escaped: str) -> None:
    assert md_escape(raw) == escaped


def test_describe_status_error_has_every_fact() -> None:
    shown = describe_error(error_for_status(401, api_code=2002, api_message="Invalid API key"))
    assert shown.title == "Authentication failed"
    assert shown.facts == ("HTTP 401", "API code 2002 AUTHORIZATION_HEADER_INVALID")
    assert shown.message == "Invalid API key"
    assert shown.meaning == "The authorization header is missing or malformed."
    assert "BASKET_API_KEY" in shown.hint
    assert "BASKET\\_API\\_KEY" in shown.markdown()


def test_describe_undocumented_code() -> None:
    shown = describe_error(error_for_status(400, api_code=2017, api_message="nope"))
    assert shown.facts == ("HTTP 400", "API code 2017 (undocumented)")
    assert shown.meaning is not None and "not documented" in shown.meaning
    # Undocumented, not "malformed": the bad-request hint does not apply to a code nobody knows.
    assert shown.hint is not None and "undocumented code" in shown.hint
    assert "malformed" not in shown.for_agent + " " + shown.hint.replace("not a malformed", "")


def test_describe_connection_error_without_status() -> None:
    shown = describe_error(APITimeoutError("No answer from api.example within 10 s."))
    assert shown.facts == ()
    assert shown.title == "Timeout"
    assert "BASKET_API_TIMEOUT" in shown.hint


def test_markdown_escapes_hostile_api_message() -> None:
    shown = describe_error(error_for_status(500, api_message="<img src=x onerror=alert(1)> **x**"))
    text = shown.markdown()
    # Every markdown- or HTML-significant character from the API is escaped.
    assert re.search(r"(?<!\\)[<>*=()]", text.split("\n\n")[2]) is None
    assert r"\<img" in text


@pytest.mark.parametrize(
    ("count", "singular", "plural_form", "expected"),
    [
        (0, "product", None, "0 products"),
        (1, "product", None, "1 product"),
        (2, "unit", None, "2 units"),
        (1_234, "user", None, "1,234 users"),
        (1, "query", "queries", "1 query"),
        (3, "query", "queries", "3 queries"),
    ],
)
def test_plural(count: int, singular: str, plural_form: str | None, expected: str) -> None:
    assert plural(count, singular, plural_form) == expected


@pytest.mark.parametrize(
    ("verdict", "email", "says", "shows_address"),
    [
        (Verdict.NO_ADDRESS, None, "has no e-mail address", False),
        (Verdict.NOT_PLAIN, "\u212aim@example.com", "not a plain address", False),
        (Verdict.NOT_VERIFIED, "kim@example.com", "has not verified", True),
        (Verdict.NOT_LISTED, "kim@example.com", "not on this dashboard's list", True),
    ],
)
def test_each_refusal_says_why_and_echoes_only_a_plain_address(
    verdict: Verdict, email: str | None, says: str, shows_address: bool
) -> None:
    text = refusal_message(verdict, email)
    assert says in text
    assert ("kim\\@example\\.com" in text) is shows_address  # md_escape(address)
    assert "\u212a" not in text


# --- errors written for agents ------------------------------------------------------------------

AT = datetime(2026, 12, 1, 10, 51, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("error", "agent", "admin"),
    [
        (error_for_status(404, api_code=2005, api_message="Basket not found."),
         "no basket for this user id", None),
        (error_for_status(404), "address is wrong", "BASKET_API_URL"),
        (error_for_status(401, api_code=2002), "credentials", "BASKET_API_KEY"),
        (error_for_status(503), "cannot be read right now; try again in a minute",
         "retry in a moment"),
        (error_for_status(429), "busy; try again in a minute", "concurrency"),
        (error_for_status(400, api_code=2017), "does not document", "undocumented code"),
        (error_for_status(400, api_code=3002), "refused this request", "malformed"),
        (error_for_status(418), "refused this request", "See the API's message"),
        (APITimeoutError("No answer"), "did not answer in time", "BASKET_API_TIMEOUT"),
        (errors.APIConnectionError("refused"), "cannot be reached", "BASKET_API_URL"),
        (errors.ResponseFormatError("html"), "Something other than the API answered", "between"),
        (errors.ResponseTooLargeError("big"), "far more than any basket", "size limit"),
        (errors.ConfigurationError("no url"), "not set up", "BASKET_API_"),
        (errors.InvalidUserIdError("bad id"), "check it against the ticket", None),
        (errors.TrackingNotBase64Error("no"), "not sent", None),
        (errors.StorageError("db"), "Stored scans", "BASKET_DATABASE_URL"),
        (errors.BasketError("odd"), "Something went wrong", None),
    ],
)  # fmt: skip
def test_each_error_says_what_it_means_for_the_agent_and_what_to_check(
    error: errors.BasketError, agent: str, admin: str | None
) -> None:
    shown = describe_error(error, at=AT, user_id="user-00042")
    assert agent in shown.for_agent
    if admin is None:
        assert shown.hint is None
        assert "For an administrator" not in shown.markdown()
    else:
        assert shown.hint is not None and admin in shown.hint
        assert "**For an administrator:**" in shown.markdown()


@pytest.mark.parametrize(
    ("error", "agent", "admin"),
    [
        (error_for_status(429, api_code=429), "busy; try again in a minute", "concurrency"),
        (error_for_status(503, api_code=503), "try again in a minute", "retry in a moment"),
        (error_for_status(502, api_code=2017), "try again in a minute", "retry in a moment"),
        (error_for_status(504, api_code=504), "try again in a minute", "retry in a moment"),
    ],
)
def test_a_busy_api_says_try_again_even_with_an_undocumented_code(
    error: errors.BasketError, agent: str, admin: str
) -> None:
    shown = describe_error(error, at=AT)
    assert agent in shown.for_agent and "Escalate" not in shown.for_agent
    assert shown.hint is not None and admin in shown.hint and "Transfermedia" not in shown.hint
    # The undocumented code is still shown with the facts.
    assert shown.facts[1].endswith("(undocumented)")


def test_an_undocumented_code_of_a_lasting_server_error_is_still_escalated() -> None:
    shown = describe_error(error_for_status(500, api_code=2017), at=AT)
    assert "does not document" in shown.for_agent and "Escalate" in shown.for_agent
    assert shown.hint is not None and "undocumented code" in shown.hint


def test_basket_not_found_is_not_a_url_problem() -> None:
    shown = describe_error(error_for_status(404, api_code=2005), at=AT)
    assert "URL" not in shown.for_agent and shown.hint is None


def test_every_error_carries_a_reference_to_quote() -> None:
    later = AT.astimezone(timezone(timedelta(hours=2)))
    shown = describe_error(error_for_status(404, api_code=2005), at=later, user_id="user-00042")
    assert shown.reference == (
        "2026-12-01 10:51:03 UTC · user user-00042 · HTTP 404 · API code 2005 · not found"
    )
    assert shown.markdown().endswith(f"**Reference:** {md_escape(shown.reference)}")
    bare = describe_error(APITimeoutError("No answer"), at=AT)
    assert bare.reference == "2026-12-01 10:51:03 UTC · timeout"


def test_a_schema_error_shows_the_response_it_refers_to() -> None:
    response = {"data": {"cart": [{"productId": 1009}]}, "nextToken": None}
    error = errors.ResponseValidationError(
        "does not match", status=200, details={"problems": [], "response": response}
    )
    shown = describe_error(error, at=AT)
    assert shown.response is not None and json.loads(shown.response) == response
    assert describe_error(errors.ResponseValidationError("x", details=[1]), at=AT).response is None
    assert describe_error(error_for_status(500, details={"response": 1}), at=AT).response is None
