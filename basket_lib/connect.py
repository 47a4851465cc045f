"""The client for the configured API, or for the built-in demo API when none is configured."""

from __future__ import annotations

from typing import Any

from basket_lib.api.client import AsyncBasketClient, BasketClient
from basket_lib.settings import Settings


def build_client(settings: Settings) -> BasketClient:
    """The synchronous client for the configured API, or for the demo API."""
    return BasketClient(**_client_arguments(settings))


def build_async_client(settings: Settings, **overrides: Any) -> AsyncBasketClient:
    """The asynchronous client (bulk scans); `overrides` go to AsyncBasketClient as given."""
    return AsyncBasketClient(**(_client_arguments(settings) | overrides))


def _client_arguments(settings: Settings) -> dict[str, Any]:
    common: dict[str, Any] = {
        "api_version": settings.api_version,
        "timeout": settings.timeout,
        "max_retries": settings.max_retries,
    }
    if not settings.demo:
        return {
            "base_url": settings.api_url,
            "api_key": settings.api_key,
            "token": settings.token,
            **common,
        }
    # Imported here: the demo's data is built only where the demo is used.
    from basket_lib.demo.api import DEMO_API_KEY, DEMO_BASE_URL
    from basket_lib.demo.transport import DemoTransport

    return {
        "base_url": DEMO_BASE_URL,
        "api_key": DEMO_API_KEY,
        "transport": DemoTransport(),
        **common,
    }
