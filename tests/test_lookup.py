"""Request options of a lookup: what is sent, and what is left out and why."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from basket_lib.api.errors import TrackingNotBase64Error
from basket_lib.api.models import Basket, BasketResult
from basket_lib.lookup import RequestOptions, read_request_options, same_basket

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
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


def _result(user: str = "u-1", count: int = 1, **extra: Any) -> BasketResult:
    basket = Basket.model_validate({"cart": [{"productId": "p-1", "count": count}]})
    return BasketResult(user_id=user, basket=basket, fetched_at=extra.pop("at", NOW), **extra)


def test_a_basket_fetched_again_is_the_same_whatever_the_time() -> None:
    assert same_basket(_result(at=NOW + timedelta(minutes=5)), _result())


def test_contents_customer_token_or_version_make_another_basket() -> None:
    shown = _result()
    assert not same_basket(_result(count=2), shown)
    assert not same_basket(_result(user="u-2"), shown)
    assert not same_basket(_result(next_token="t-2"), shown)
    assert not same_basket(_result(api_version="2.1"), shown)
