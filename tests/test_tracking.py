"""decode_tracking(): every shape agents paste, and a specific error for everything else."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from basket_lib.api import errors
from basket_lib.tracking import (
    COOKIE_NAME,
    MAX_TRACKING_BYTES,
    TrackingSession,
    decode_tracking,
)

SEED = (
    "eyJzZXNzaW9uX2lkIjoiZXhhbXBsZS1zZXNzaW9uLWlkLTEyMzQiLCJzdGFydF90aW1lIjoiMjAyNS0wMS0wMVQxMjow"
    "MDowMC4wMDAwMDAiLCJzb3VyY2UiOiJqYXkuYXBpLnBsYXlvdXQuZXhhbXBsZSJ9"
)
SEED_JSON = (
    '{"session_id":"example-session-id-1234","start_time":"2025-01-01T12:00:00.000000",'
    '"source":"jay.api.playout.example"}'
)
# Chosen so that its base64 contains '+' and '/' (url-safe: '-' and '_') and ends in one '='.
SYMBOLS = {"sessionId": "s-1", "note": "?????>"}


def encode_tracking(payload: dict[str, object]) -> str:
    """Standard base64 of compact JSON: the form the Playout API issues."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def urlsafe(text: str | bytes) -> str:
    return base64.urlsafe_b64encode(text.encode() if isinstance(text, str) else text).decode()


def test_seed_example() -> None:
    session = decode_tracking(SEED)
    assert session.session_id == "example-session-id-1234"
    assert session.start_time == datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert session.start_time.isoformat() == "2025-01-01T12:00:00+00:00"
    assert session.source == "jay.api.playout.example"
    assert (session.user_id, session.provider_name, session.extra) == (None, None, {})
    assert session.header_value == SEED


def test_encode_reproduces_the_seed() -> None:
    assert encode_tracking(json.loads(SEED_JSON)) == SEED
    assert decode_tracking(encode_tracking(SYMBOLS)).raw == SYMBOLS


def test_symbols_payload_exercises_both_alphabets() -> None:
    # Guards the fixture the alphabet tests rely on.
    standard, safe = encode_tracking(SYMBOLS), urlsafe(json.dumps(SYMBOLS))
    assert "+" in standard and "/" in standard and standard.endswith("=")
    assert "-" in safe and "_" in safe and safe.endswith("=")
    assert not standard.endswith("==") and not safe.endswith("==")


@pytest.mark.parametrize(
    ("pasted", "header_value"),
    [
        pytest.param(SEED, SEED, id="bare"),
        pytest.param(SEED.rstrip("="), SEED, id="seed-has-no-padding"),
        pytest.param(encode_tracking(SYMBOLS), encode_tracking(SYMBOLS), id="padded"),
        pytest.param(
            encode_tracking(SYMBOLS).rstrip("="),
            encode_tracking(SYMBOLS).rstrip("="),
            id="unpadded",
        ),
        pytest.param(urlsafe(json.dumps(SYMBOLS)), urlsafe(json.dumps(SYMBOLS)), id="url-safe"),
        pytest.param(
            urlsafe(json.dumps(SYMBOLS)).rstrip("="),
            urlsafe(json.dumps(SYMBOLS)).rstrip("="),
            id="url-safe-unpadded",
        ),
        pytest.param(f"{COOKIE_NAME}={SEED}", SEED, id="cookie"),
        pytest.param(
            f"{COOKIE_NAME}={SEED}; Path=/; Secure; HttpOnly; SameSite=None",
            SEED,
            id="cookie-attrs",
        ),
        pytest.param(f"{SEED}; Path=/; Secure", SEED, id="value-with-attrs"),
        pytest.param(
            f"Cookie: theme=dark; {COOKIE_NAME}={SEED}; lang=de", SEED, id="cookie-header"
        ),
        pytest.param(f"Set-Cookie: {COOKIE_NAME}={SEED}; Path=/", SEED, id="set-cookie-header"),
        pytest.param(f"X-JAY-Tracking: {SEED}", SEED, id="header-line"),
        pytest.param(f"x-jay-tracking:{SEED}", SEED, id="header-line-lower-case"),
        pytest.param(f"'X-JAY-Tracking: {SEED}'", SEED, id="header-line-quoted-as-in-curl"),
        pytest.param(f'  "{SEED}"\n', SEED, id="whitespace-and-quotes"),
        pytest.param(f"'{SEED}'", SEED, id="single-quotes"),
        pytest.param(f'{COOKIE_NAME}="{SEED}"', SEED, id="quoted-cookie-value"),
        pytest.param(f"{SEED[:40]}\n  {SEED[40:90]}\r\n{SEED[90:]}", SEED, id="wrapped-lines"),
        pytest.param(
            f"{COOKIE_NAME}={encode_tracking(SYMBOLS).replace('=', '%3D').replace('+', '%2B')}",
            encode_tracking(SYMBOLS),
            id="percent-encoded-cookie",
        ),
    ],
)
def test_accepted_shapes(pasted: str, header_value: str) -> None:
    session = decode_tracking(pasted)
    assert session.header_value == header_value
    assert session.session_id in ("example-session-id-1234", "s-1")
    # The canonical value is itself a valid header that decodes the same way.
    assert decode_tracking(session.header_value) == session


def test_url_safe_and_standard_decode_to_the_same_session() -> None:
    standard = decode_tracking(encode_tracking(SYMBOLS))
    safe = decode_tracking(urlsafe(json.dumps(SYMBOLS, separators=(",", ":"))))
    assert standard.extra == safe.extra == {"note": "?????>"}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(
            {
                "sessionId": "s",
                "startTime": "2025-01-01T12:00:00Z",
                "source": "src",
                "userId": "u",
                "providerName": "netflix",
            },
            ("s", datetime(2025, 1, 1, 12, tzinfo=UTC), "src", "u", "netflix"),
            id="camelCase",
        ),
        pytest.param(
            {"session_id": "s", "user_id": "u", "provider_name": "p"},
            ("s", None, None, "u", "p"),
            id="snake_case",
        ),
        pytest.param({"provider": "p"}, (None, None, None, None, "p"), id="provider"),
        pytest.param({"provider_id": "p"}, (None, None, None, None, "p"), id="provider_id"),
        pytest.param({"providerId": "p"}, (None, None, None, None, "p"), id="providerId"),
        pytest.param(
            {"sessionId": None, "startTime": None}, (None, None, None, None, None), id="nulls"
        ),
        pytest.param(
            {"startTime": "2025-01-01T14:00:00+02:00"},
            (None, datetime(2025, 1, 1, 12, tzinfo=UTC), None, None, None),
            id="offset",
        ),
    ],
)
def test_known_fields_in_both_spellings(payload: dict, expected: tuple) -> None:
    session = decode_tracking(encode_tracking(payload))
    fields = (
        session.session_id,
        session.start_time,
        session.source,
        session.user_id,
        session.provider_name,
    )
    assert fields == expected


def test_unknown_fields_are_kept_in_order_and_a_second_spelling_is_not_lost() -> None:
    payload = {
        "session_id": "a",
        "campaign": {"id": 7, "tags": ["x"]},
        "sessionId": "b",
        "provider": "p1",
        "providerName": "p2",
        "flag": True,
    }
    session = decode_tracking(encode_tracking(payload))
    assert session.session_id == "a"
    assert session.provider_name == "p2"  # providerName ranks above provider
    assert session.extra == {
        "campaign": {"id": 7, "tags": ["x"]},
        "sessionId": "b",
        "provider": "p1",
        "flag": True,
    }


def test_huge_numbers_are_kept_exactly_as_extras() -> None:
    digits = "9" * 5000  # beyond Python's default int parsing limit
    text = f'{{"sessionId":"s","big":{digits},"huge":1e999,"price":1.10,"n":3}}'
    session = decode_tracking(b64(text))
    assert session.extra["big"] == Decimal(digits)
    assert session.extra["n"] == 3
    rows = dict(session.fields())
    assert rows["big"] == digits
    assert rows["huge"] == "1E+999"
    assert rows["price"] == "1.10"
    assert json.loads(session.to_json(), parse_float=Decimal, parse_int=Decimal) == {
        "sessionId": "s",
        "big": Decimal(digits),
        "huge": Decimal("1e999"),
        "price": Decimal("1.10"),
        "n": 3,
    }


# --- errors -------------------------------------------------------------------------------------


def error_of(value: str) -> errors.TrackingDecodeError:
    with pytest.raises(errors.TrackingDecodeError) as info:
        decode_tracking(value)
    return info.value


@pytest.mark.parametrize(
    ("value", "cls", "fragments"),
    [
        pytest.param("", errors.TrackingDecodeError, ["is empty"], id="empty"),
        pytest.param(" \n\t ", errors.TrackingDecodeError, ["is empty"], id="blank"),
        pytest.param('""', errors.TrackingDecodeError, ["is empty"], id="empty-quotes"),
        pytest.param(
            "X-JAY-Tracking:", errors.TrackingDecodeError, ["is empty"], id="empty-header"
        ),
        pytest.param(
            f"{COOKIE_NAME}=; Path=/",
            errors.TrackingDecodeError,
            [f"The {COOKIE_NAME} cookie is empty"],
            id="empty-cookie",
        ),
        pytest.param(
            "Cookie: theme=dark; lang=de",
            errors.TrackingDecodeError,
            ["cookie 'theme'", COOKIE_NAME],
            id="other-cookie",
        ),
        pytest.param(
            "!!!",
            errors.TrackingNotBase64Error,
            ["character '!' at position 1"],
            id="not-base64",
        ),
        pytest.param(
            "eyJh bG\u00e9ci",
            errors.TrackingNotBase64Error,
            ["character 'é' at position 7"],  # position in the value without whitespace
            id="non-ascii",
        ),
        pytest.param(
            "ab+cd-ef",
            errors.TrackingNotBase64Error,
            ["'-' at position 6", "'+' at position 3", "cannot be mixed"],
            id="mixed-plus-minus",
        ),
        pytest.param(
            "ab_cd/ef",
            errors.TrackingNotBase64Error,
            ["'/' at position 6", "'_' at position 3", "cannot be mixed"],
            id="mixed-underscore-slash",
        ),
        pytest.param(
            "abcd==efgh",
            errors.TrackingNotBase64Error,
            ["padding '=' at position 5"],
            id="padding-inside",
        ),
        pytest.param("abcde", errors.TrackingNotBase64Error, ["5 characters"], id="bad-length"),
        pytest.param(
            "abc==", errors.TrackingNotBase64Error, ["padding '=='"], id="too-much-padding"
        ),
        pytest.param("====", errors.TrackingNotBase64Error, ["only padding"], id="only-padding"),
        pytest.param(
            b64(b"\xff\xfe"),
            errors.TrackingNotUtf8Error,
            ["byte 0xff at offset 0"],
            id="not-utf8",
        ),
        pytest.param(
            b64("not json"),
            errors.TrackingNotJsonError,
            ["line 1 column 1 (character 1)", "near 'not json'"],
            id="not-json",
        ),
        pytest.param(
            b64('{"a": 1,}'),
            errors.TrackingNotJsonError,
            ["column 9 (character 9)"],
            id="trailing-comma",
        ),
        pytest.param(b64('{"a": NaN}'), errors.TrackingNotJsonError, ["NaN"], id="nan"),
        pytest.param(
            b64("[" * 3000 + "]" * 3000),
            errors.TrackingNotJsonError,
            ["nested too deeply"],
            id="deeply-nested",
        ),
        pytest.param(b64("[1, 2]"), errors.TrackingNotObjectError, ["a JSON array"], id="array"),
        pytest.param(b64('"text"'), errors.TrackingNotObjectError, ["a JSON string"], id="string"),
        pytest.param(b64("42"), errors.TrackingNotObjectError, ["a JSON number"], id="number"),
        pytest.param(b64("true"), errors.TrackingNotObjectError, ["a JSON boolean"], id="bool"),
        pytest.param(b64("null"), errors.TrackingNotObjectError, ["JSON null"], id="null"),
        pytest.param(
            encode_tracking({"sessionId": 1234}),
            errors.TrackingDecodeError,
            ["field sessionId must be a string, got number"],
            id="numeric-session-id",
        ),
        pytest.param(
            encode_tracking({"session_id": {"id": "x"}}),
            errors.TrackingDecodeError,
            ["field session_id must be a string, got object"],
            id="object-session-id",
        ),
        pytest.param(
            encode_tracking({"userId": ["u"]}),
            errors.TrackingDecodeError,
            ["field userId must be a string, got array"],
            id="array-user-id",
        ),
        pytest.param(
            encode_tracking({"providerName": False}),
            errors.TrackingDecodeError,
            ["field providerName must be a string, got boolean"],
            id="boolean-provider",
        ),
        pytest.param(
            encode_tracking({"source": 1.5}),
            errors.TrackingDecodeError,
            ["field source must be a string, got number"],
            id="numeric-source",
        ),
        pytest.param(
            encode_tracking({"startTime": "yesterday"}),
            errors.TrackingDecodeError,
            ["field startTime is not an ISO-8601 timestamp", "'yesterday'"],
            id="unparseable-start-time",
        ),
        pytest.param(
            b64('{"start_time": 1e400}'),
            errors.TrackingDecodeError,
            ["field start_time is not an ISO-8601 timestamp (got number)"],
            id="huge-number-start-time",
        ),
        pytest.param(
            encode_tracking({"startTime": 1735732800}),
            errors.TrackingDecodeError,
            ["field startTime is not an ISO-8601 timestamp (got number)"],
            id="epoch-start-time",
        ),
    ],
)
def test_errors_are_specific(
    value: str, cls: type[errors.TrackingDecodeError], fragments: list[str]
) -> None:
    error = error_of(value)
    assert type(error) is cls
    for fragment in fragments:
        assert fragment in str(error)
    assert error.kind  # every class has a label for the page


def test_too_large_is_checked_first_and_gives_the_size() -> None:
    error = error_of("!" * (MAX_TRACKING_BYTES + 1))  # not base64 either: size wins
    assert isinstance(error, errors.TrackingTooLargeError)
    assert "8,193" in str(error) and "8,192" in str(error)


def test_too_large_counts_utf8_bytes() -> None:
    error = error_of("é" * (MAX_TRACKING_BYTES // 2 + 1))  # 4,097 characters, 8,194 bytes
    assert isinstance(error, errors.TrackingTooLargeError)
    assert "8,194 bytes" in str(error)


def test_the_limit_itself_is_accepted() -> None:
    payload = {"sessionId": "s", "pad": ""}
    base = len(encode_tracking(payload))
    # Every 3 characters of padding add exactly 4 of base64.
    payload["pad"] = "x" * ((MAX_TRACKING_BYTES - base) // 4 * 3)
    value = encode_tracking(payload)
    value += " " * (MAX_TRACKING_BYTES - len(value))
    assert len(value) == MAX_TRACKING_BYTES
    assert decode_tracking(value).session_id == "s"


LONG = "Q" * 200


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(f"{LONG}!", id="not-base64"),
        pytest.param(f"{LONG}=x", id="cookie-like"),
        pytest.param(b64(LONG + " trailing garbage"), id="not-json"),
        pytest.param(encode_tracking({"startTime": LONG}), id="bad-timestamp"),
        pytest.param(b64(f'"{LONG}"'), id="string"),
        pytest.param("!" * 50_000, id="too-large"),
    ],
)
def test_messages_quote_at_most_a_few_characters_of_the_input(value: str) -> None:
    message = str(error_of(value))
    assert "Q" * 41 not in message and "!" * 41 not in message
    assert len(message) < 300


# --- TrackingSession ----------------------------------------------------------------------------


def test_age() -> None:
    session = decode_tracking(SEED)
    assert session.age(datetime(2025, 1, 1, 13, 30, tzinfo=UTC)) == timedelta(hours=1, minutes=30)
    # A naive `now` is UTC too; other zones compare by instant.
    assert session.age(datetime(2025, 1, 1, 12, 5)) == timedelta(minutes=5)
    berlin = timezone(timedelta(hours=1))
    assert session.age(datetime(2025, 1, 1, 14, tzinfo=berlin)) == timedelta(hours=1)
    assert session.age(datetime(2025, 1, 1, 11, tzinfo=UTC)) == timedelta(hours=-1)
    assert decode_tracking(encode_tracking({"sessionId": "s"})).age(datetime.now(UTC)) is None


def test_fields_lists_known_fields_then_extras_as_compact_json() -> None:
    payload = {
        "startTime": "2025-01-01T12:00:00",
        "sessionId": "s",
        "campaign": {"id": 7, "tags": ["a", "b"]},
        "label": "x",
        "count": 2,
        "off": None,
    }
    assert decode_tracking(encode_tracking(payload)).fields() == [
        ("session_id", "s"),
        ("start_time", "2025-01-01T12:00:00+00:00"),
        ("source", "(not set)"),
        ("user_id", "(not set)"),
        ("provider_name", "(not set)"),
        ("campaign", '{"id":7,"tags":["a","b"]}'),
        ("label", '"x"'),
        ("count", "2"),
        ("off", "null"),
    ]


def test_to_json_is_the_object_as_sent() -> None:
    session = decode_tracking(b64(SEED_JSON))
    text = session.to_json()
    assert text.startswith('{\n  "session_id": "example-session-id-1234",')
    # Key order and the naive timestamp are kept as sent, not as parsed.
    assert json.loads(text) == json.loads(SEED_JSON)
    assert list(json.loads(text)) == ["session_id", "start_time", "source"]


def test_to_json_keeps_non_ascii_readable() -> None:
    session = decode_tracking(encode_tracking({"source": "Köln ✓"}))
    assert session.source == "Köln ✓"
    assert "Köln ✓" in session.to_json()


def test_session_is_frozen_and_naive_start_time_is_utc() -> None:
    session = TrackingSession(start_time="2025-01-01T12:00:00.000000", header_value="x")
    assert session.start_time == datetime(2025, 1, 1, 12, tzinfo=UTC)
    with pytest.raises(ValueError):
        session.session_id = "other"  # type: ignore[misc]
