"""Typed client, data shaping and demo API for the Jay Basket API. Never imports streamlit."""

from basket_lib.api.client import AsyncBasketClient, BasketClient
from basket_lib.api.errors import BasketError
from basket_lib.api.models import Basket, BasketResult, CheckoutProduct, Product, ProductDetails
from basket_lib.tracking import TrackingSession, decode_tracking

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
