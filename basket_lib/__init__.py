"""Typed client, data shaping and demo API for the Jay Basket API. Never imports streamlit.

The names below load on first use, so `python -m basket_lib scan` imports only what a scan needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from basket_lib.api.client import AsyncBasketClient, BasketClient
    from basket_lib.api.errors import BasketError
    from basket_lib.api.models import (
        Basket,
        BasketResult,
        CheckoutProduct,
        Product,
        ProductDetails,
    )
    from basket_lib.tracking import TrackingSession, decode_tracking

_HOMES = {
    "AsyncBasketClient": "basket_lib.api.client",
    "BasketClient": "basket_lib.api.client",
    "BasketError": "basket_lib.api.errors",
    "Basket": "basket_lib.api.models",
    "BasketResult": "basket_lib.api.models",
    "CheckoutProduct": "basket_lib.api.models",
    "Product": "basket_lib.api.models",
    "ProductDetails": "basket_lib.api.models",
    "TrackingSession": "basket_lib.tracking",
    "decode_tracking": "basket_lib.tracking",
}

__all__ = [
    "AsyncBasketClient",
    "Basket",
    "BasketClient",
    "BasketError",
    "BasketResult",
    "CheckoutProduct",
    "Product",
    "ProductDetails",
    "TrackingSession",
    "decode_tracking",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'basket_lib' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
