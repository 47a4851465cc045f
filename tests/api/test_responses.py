"""basket_lib.api.responses and the models' shape check: the fast path and where it stops."""

from __future__ import annotations

import json

import pytest

from basket_lib.api import errors, models
from basket_lib.api.responses import interpret, parse_basket


class Head:
    status_code = 200
    headers = {"Content-Type": "application/json"}  # noqa: RUF012 -- a stand-in, never changed


def _parse(body: bytes) -> models.BasketResult:
    return interpret(
        Head(), body, lambda head, payload, known: parse_basket("u", head, payload, known)
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "known"),
    [
        (b'{"data":{"cart":[{"productId":"p","count":1}]}}', True),
        (b'{"data":{"cart":[]},"x":"caf\\u00e9"}', False),  # an escape: walked
        (b'{"x":' + b"[" * 65 + b"]" * 65 + b"}", False),  # many brackets: walked
    ],
)
def test_json_shape_known_only_vouches_for_what_its_bytes_prove(body: bytes, known: bool) -> None:
    json.loads(body)
    assert models.json_shape_known(body) is known


def test_a_basket_that_passes_the_fast_path_is_the_same_basket() -> None:
    body = (
        b'{"data":{"cart":[{"productId":"p","count":2}],'
        b'"checkout":[{"productId":"p","stocked":-1}]}}'
    )
    result = _parse(body)
    assert result.basket.cart[0].count == 2 and result.basket.checkout[0].stocked == -1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"x":' + b"[" * 70 + b"]" * 70 + b"}", "nested more than 64"),
        (b'{"data":{"cart":[{"productId":"a\\ud800"}]}}', "lone surrogate"),
    ],
)
def test_what_the_fast_path_cannot_vouch_for_is_still_checked(body: bytes, message: str) -> None:
    with pytest.raises(errors.ResponseValidationError, match=message):
        _parse(body)
