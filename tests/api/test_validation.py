"""User input is checked before any request: user ids, tracking values, provider and product ids."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from basket_lib.api import errors
from basket_lib.api.validation import (
    MAX_TRACKING_HEADER_BYTES,
    MAX_USER_ID_LENGTH,
    clean_provider_id,
    clean_tracking_header,
    distinct_product_ids,
    shown_user_id,
    suggest_user_id,
    user_path_segment,
    validate_user_id,
)

# --- validate_user_id ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_id", "expected"),
    [
        (None, "must be text, not NoneType"),
        (42, "must be text, not int"),
        (b"user", "must be text, not bytes"),
        ("", "is empty"),
        ("   ", "only whitespace"),
        ("\t\n", "only whitespace"),
        ("x" * (MAX_USER_ID_LENGTH + 1), f"is {MAX_USER_ID_LENGTH + 1} characters long"),
        ("x" * 10_000, "is 10000 characters long"),
        ("ab\x00c", "at position 3 (U+0000 NUL)"),
        ("abc\r", "at position 4 (U+000D"),
        ("a\nb", "at position 2 (U+000A"),
        ("\x7fab", "at position 1 (U+007F DEL)"),
        ("ab\x1bc", "at position 3 (U+001B"),
        ("ab\x85", "at position 3 (U+0085"),
        ("ab\ud800", "at position 3 (U+D800, a lone surrogate)"),
        (" user-1", "leading or trailing whitespace"),
        ("user-1 ", "leading or trailing whitespace"),
        ("user-1\u00a0", "leading or trailing whitespace"),
        (".", "cannot be '.'"),
        ("..", "cannot be '..'"),
        ("\u200fuser", "invisible character at position 1 (U+200F RIGHT-TO-LEFT MARK)"),
    ],
)
def test_invalid_user_ids_are_rejected_with_a_specific_message(
    user_id: object, expected: str
) -> None:
    with pytest.raises(errors.InvalidUserIdError) as caught:
        validate_user_id(user_id)
    assert expected in caught.value.message


@pytest.mark.parametrize(
    "user_id",
    [
        "user-1",
        "x" * MAX_USER_ID_LENGTH,
        "a b",
        "a/b",
        "../x",
        "...",
        "%2F",
        "😀",
        "👩\u200d👩\u200d👧",  # a zero-width joiner is part of an emoji
        "'; DROP TABLE baskets; --",
    ],
)
def test_valid_user_ids_are_returned_unchanged(user_id: str) -> None:
    assert validate_user_id(user_id) is user_id


def test_invalid_user_id_is_an_invalid_input_and_value_error() -> None:
    with pytest.raises(ValueError):
        validate_user_id("")
    with pytest.raises(errors.InvalidInputError):
        validate_user_id("")


# --- user_path_segment --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_id", "segment"),
    [
        ("user-1", "user-1"),
        ("a/b", "a%2Fb"),
        ("../x", "..%2Fx"),
        ("a?b#c", "a%3Fb%23c"),
        ("100%", "100%25"),
        ("%2F", "%252F"),
        ("a b+c", "a%20b%2Bc"),
        ("ü😀", "%C3%BC%F0%9F%98%80"),
        ("\u200f", "%E2%80%8F"),
        ("a;b&c=d|e`f$(g)'h\"", "a%3Bb%26c%3Dd%7Ce%60f%24%28g%29%27h%22"),
    ],
)
def test_user_path_segment_encodes_to_exactly_one_segment(user_id: str, segment: str) -> None:
    encoded = user_path_segment(user_id)
    assert encoded == segment
    assert not set("/?#") & set(encoded)
    assert unquote(encoded, errors="strict") == user_id


# --- tracking header ----------------------------------------------------------------------------


def test_tracking_header_is_stripped_and_blank_means_none() -> None:
    assert clean_tracking_header("  eyJhIjoxfQ==\n") == "eyJhIjoxfQ=="
    assert clean_tracking_header("   ") is None
    assert clean_tracking_header(None) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc\x00def", "control character at position 4 (U+0000 NUL)"),
        ("abc\r\nX-Evil: 1", "at position 4 (U+000D carriage return)"),
        ("abcé", "non-ASCII"),
        ("a" * (MAX_TRACKING_HEADER_BYTES + 1), "at most 8192"),
        (123, "must be text"),
    ],
)
def test_bad_tracking_values_are_rejected(value: object, expected: str) -> None:
    with pytest.raises(errors.InvalidInputError) as caught:
        clean_tracking_header(value)
    assert expected in caught.value.message


def test_tracking_value_at_the_size_limit_is_accepted() -> None:
    value = "a" * MAX_TRACKING_HEADER_BYTES
    assert clean_tracking_header(value) == value


# --- provider id --------------------------------------------------------------------------------


def test_provider_id_is_stripped_and_none_stays_none() -> None:
    assert clean_provider_id(" netflix ") == "netflix"
    assert clean_provider_id(None) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "blank"),
        ("  ", "blank"),
        ("net\x00flix", "at position 4 (U+0000 NUL)"),
        ("net\nflix", "at position 4 (U+000A line feed)"),
        ("p" * 257, "at most 256"),
        (7, "must be text"),
    ],
)
def test_bad_provider_ids_are_rejected(value: object, expected: str) -> None:
    with pytest.raises(errors.InvalidInputError) as caught:
        clean_provider_id(value)
    assert expected in caught.value.message


# --- product ids --------------------------------------------------------------------------------


def test_product_ids_are_distinct_in_first_order() -> None:
    assert distinct_product_ids(["p2", "p1", "p2", "p3", "p1"]) == ["p2", "p1", "p3"]
    assert distinct_product_ids(iter(())) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("prod-1", "not a single string"),
        (["p1", 2], "#2 must be text"),
        (["p1", " "], "#2 is blank"),
        (["p\x00"], "#1 contains a control character at position 2 (U+0000"),
    ],
)
def test_bad_product_ids_are_rejected(value: object, expected: str) -> None:
    with pytest.raises(errors.InvalidInputError) as caught:
        distinct_product_ids(value)  # type: ignore[arg-type]
    assert expected in caught.value.message


# --- suggest_user_id ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("User ID: user-00042, checkout failed", "user-00042"),
        ("userId=demo-checkout-failed please help", "demo-checkout-failed"),
        ("customer id #A-77 wrote in", "A-77"),
        ("Ticket 1234 from user-42", "user-42"),
        ("#5512: 99812 checkout failed", "5512"),
        ("Kunde (user-7) sagt: Kasse kaputt", "user-7"),
        ("“user-9”, checkout", "user-9"),
        ("hello world", None),
        ("User id:", None),
        ("user-00042", None),  # the text is already the id: nothing to offer
        ("User ID: " + "x" * 2_000, None),  # too long to be a mistyped id
    ],
)
def test_suggest_user_id_finds_the_id_in_a_ticket_line(text: str, suggestion: str | None) -> None:
    assert suggest_user_id(text) == suggestion


def test_a_suggestion_is_always_a_valid_id() -> None:
    # The word after the label is not a valid id (a zero-width space): the next candidate wins.
    assert suggest_user_id("User ID: a\u200bb, see user-5") == "user-5"


@pytest.mark.parametrize(
    ("text", "limit", "shown"),
    [
        ("user-00042", None, "user-00042"),
        ("user-\u202e00042", None, "user-<U+202E>00042"),  # else it reads as user-24000
        ("a\u200bb\x00c", None, "a<U+200B>b<U+0000>c"),
        ("x\ud800", None, "x<U+D800>"),
        ("Zoë 👩\u200d💻", None, "Zoë 👩\u200d💻"),  # a joiner inside an emoji is text
        ("abcdef", 3, "abc…"),
        ("abc", 3, "abc"),
    ],
)
def test_an_id_is_shown_with_its_invisible_characters_written_out(
    text: str, limit: int | None, shown: str
) -> None:
    assert shown_user_id(text, limit) == shown
