"""AppTest of the tracking decoder page: the seed example, the cookie form, every malformed kind."""

from __future__ import annotations

import base64
import json

import pytest
from apptest_support import (
    assert_no_live_markup,
    frame_with,
    new_app,
    no_exception,
    plain,
    plain_texts,
    texts,
    use_navigation,
)
from streamlit.testing.v1 import AppTest

from basket_lib.api.errors import TrackingDecodeError
from basket_lib.tracking import MAX_TRACKING_BYTES, decode_tracking

SEED = (
    "eyJzZXNzaW9uX2lkIjoiZXhhbXBsZS1zZXNzaW9uLWlkLTEyMzQiLCJzdGFydF90aW1lIjoiMjAyNS0wMS0wMVQxMjow"
    "MDowMC4wMDAwMDAiLCJzb3VyY2UiOiJqYXkuYXBpLnBsYXlvdXQuZXhhbXBsZSJ9"
)


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch, clear_streamlit_caches: None) -> None:
    use_navigation(monkeypatch)


@pytest.fixture(scope="module")
def page() -> AppTest:
    # One app for the module: each test pastes a new value, as an agent does.
    at = new_app(page="pages/tracking.py", context={"timezone": "Europe/Berlin"})
    at.run()
    return at


def decode(at: AppTest, value: str) -> AppTest:
    at.text_area(key="tracking_input").set_value(value).run()
    no_exception(at)
    return at


def metric(at: AppTest, label: str) -> str:
    (value,) = [m.value for m in at.metric if m.label == label]
    return plain(value)


@pytest.mark.parametrize(
    "value",
    [
        SEED,
        SEED.rstrip("="),
        f"__Secure-jay_tracking={SEED}; Path=/; Secure; HttpOnly",
        f"Cookie: theme=dark; __Secure-jay_tracking={SEED}",
        f"X-JAY-Tracking: {SEED}",
        f'"{SEED}"',
        SEED[:40] + "\n" + SEED[40:],
        base64.urlsafe_b64encode(base64.b64decode(SEED + "==")).decode().rstrip("="),
    ],
    ids=[
        "bare",
        "no-padding",
        "cookie",
        "cookie-header",
        "header-line",
        "quoted",
        "wrapped",
        "url",
    ],
)
def test_seed_example_decodes(page: AppTest, value: str) -> None:
    at = decode(page, value)

    assert [title.value for title in at.title] == ["Tracking decoder"]
    assert not at.error
    assert metric(at, "Session") == "example-session-id-1234"
    assert metric(at, "Provider") == "not in the session"
    assert "day" in metric(at, "Session age")
    fields = dict(frame_with(at, "field").itertuples(index=False))
    assert fields["session_id"] == "example-session-id-1234"
    assert fields["source"] == "jay.api.playout.example"
    assert fields["start_time"] == "2025-01-01T12:00:00+00:00"
    (code,) = texts(at, "code")
    assert json.loads(code) == {
        "session_id": "example-session-id-1234",
        "start_time": "2025-01-01T12:00:00.000000",
        "source": "jay.api.playout.example",
    }
    # The viewer's zone (Berlin, winter: CET) next to UTC.
    assert "Started 2025-01-01 13:00 CET (2025-01-01 12:00 UTC)" in plain_texts(at, "caption")


def test_a_session_starting_in_the_future_has_no_age(page: AppTest) -> None:
    future = {"session_id": "s", "start_time": "2999-01-01T00:00:00Z", "user_id": "demo-normal"}
    at = decode(page, b64(json.dumps(future)))

    assert metric(at, "Session age") == "in the future"
    (warning,) = plain_texts(at, "warning")
    assert warning.startswith("This session starts in ")
    assert warning.endswith("its start time is in the future (clock skew or a bad value).")
    assert "Starts 2999-01-01 01:00 CET (2999-01-01 00:00 UTC)" in plain_texts(at, "caption")


def test_a_user_id_the_basket_page_would_refuse_is_not_offered_for_a_lookup(
    page: AppTest,
) -> None:
    at = decode(page, b64(json.dumps({"session_id": "s", "user_id": "u" * 300})))
    assert not [b for b in at.button if b.key == "open_tracked_basket"]
    assert any(
        text.startswith("The session's user id cannot be looked up: The user id is 300 characters")
        for text in plain_texts(at, "caption")
    )
    at = decode(page, b64(json.dumps({"session_id": "s", "user_id": "demo-normal"})))
    assert [b for b in at.button if b.key == "open_tracked_basket"]


def test_provider_and_camel_case_fields(page: AppTest) -> None:
    value = b64(json.dumps({"sessionId": "s-9", "providerName": "netflix", "plan": {"tier": 2}}))
    at = decode(page, value)

    assert metric(at, "Session") == "s-9"
    assert metric(at, "Provider") == "netflix"
    assert metric(at, "Session age") == "unknown"
    fields = dict(frame_with(at, "field").itertuples(index=False))
    assert fields["plan"] == '{"tier":2}'


def test_hostile_session_is_shown_as_data(page: AppTest) -> None:
    hostile = {"session_id": "<img src=x onerror=alert(1)>", "provider_name": "[x](javascript:1)"}
    at = decode(page, b64(json.dumps(hostile)))

    assert metric(at, "Session") == hostile["session_id"]
    assert metric(at, "Provider") == hostile["provider_name"]
    assert_no_live_markup(at, hostile.values())


def test_huge_numbers_are_shown_faithfully(page: AppTest) -> None:
    at = decode(page, b64('{"session_id": "s", "n": 1e999, "big": ' + "9" * 500 + "}"))

    fields = dict(frame_with(at, "field").itertuples(index=False))
    assert fields["n"] == "1E+999"
    assert fields["big"] == "9" * 500


MALFORMED = {
    "not-base64": "this is not base64!",
    "padding-in-middle": "ab=cd",
    "only-padding": "====",
    "mixed-alphabets": "ab+c-d__",
    "impossible-length": "abcde",
    "not-utf8": b64(b"\xff\xfe\xfa"),
    "not-json": b64("hello world"),
    "json-list": b64("[1, 2]"),
    "json-null": b64("null"),
    "nested-object": b64('{"session_id": {"nested": {"deeper": 1}}}'),
    "non-string-id": b64('{"session_id": 12345}'),
    "huge-number-id": b64('{"session_id": 1e999}'),
    "bad-start-time": b64('{"start_time": "yesterday-ish"}'),
    "deep-nesting": b64("[" * 5000 + "]" * 5000),
    "other-cookie": "theme=dark; Path=/",
    "empty-cookie": "__Secure-jay_tracking=; Path=/",
    "too-large": "A" * (MAX_TRACKING_BYTES + 1),
}


@pytest.mark.parametrize("value", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_value_gets_its_specific_error(page: AppTest, value: str) -> None:
    with pytest.raises(TrackingDecodeError) as expected:
        decode_tracking(value)
    at = decode(page, value)

    (error,) = plain_texts(at, "error")
    assert " ".join(expected.value.message.split()) in error
    assert "Traceback" not in error
    assert not at.metric and not at.dataframe and not at.code


def test_blank_input_shows_nothing(page: AppTest) -> None:
    at = decode(page, "   \n ")

    assert not at.error and not at.metric
