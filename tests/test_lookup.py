"""Request options of a lookup: what is sent, and what is left out and why."""

from __future__ import annotations

import base64
import json

from basket_lib.api.errors import TrackingNotBase64Error
from basket_lib.lookup import RequestOptions, read_request_options

TRACKING = base64.b64encode(json.dumps({"session_id": "s-77"}).encode()).decode()


def test_blank_fields_send_nothing() -> None:
    options = read_request_options("  ", "\n")
    assert options == RequestOptions()
    assert options.sent() == options.not_sent() == "" and options.tracking is None


def test_valid_options_are_sent() -> None:
    options = read_request_options(" netflix ", f"  {TRACKING}\n")
    assert options.provider_id == "netflix"
    assert options.tracking == TRACKING
    assert options.sent() == "provider id netflix and the tracking session s-77"
    assert options.not_sent() == ""


def test_each_bad_value_is_left_out_with_its_reason_and_the_other_still_sent() -> None:
    options = read_request_options("net\x00flix", TRACKING)
    assert options.provider_id is None and options.provider_error is not None
    assert options.sent() == "the tracking session s-77"
    assert options.not_sent().startswith("the provider id (The provider id contains a control")

    both = read_request_options("net\x00flix", "not base64 at all!")
    assert isinstance(both.tracking_error, TrackingNotBase64Error)
    assert both.sent() == ""
    assert " and without the tracking header (" in both.not_sent()


def test_a_session_without_an_id_is_still_named() -> None:
    value = base64.b64encode(json.dumps({"source": "x"}).encode()).decode()
    assert read_request_options("", value).sent() == "the tracking session (no session id)"
