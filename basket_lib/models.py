"""Pydantic models of the Jay Basket API's JSON.

Python names are snake_case, the API's are camelCase. Unknown fields are ignored (the API adds
fields over time); a wrong type in a known field is rejected with the field's path.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)
from pydantic.alias_generators import to_camel


def _assume_utc(value: Any) -> Any:
    """A timestamp without a zone is UTC (the API's examples are mostly `Z`, some are naive)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(
                text.replace("Z", "+00:00") if text.endswith("Z") else text
            )
        except ValueError:
            return value  # left to pydantic, which reports the field path
        value = parsed
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _none_as_empty(value: Any) -> Any:
    return () if value is None else value


UtcDatetime = Annotated[AwareDatetime, BeforeValidator(_assume_utc)]


class ApiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="ignore",
    )


class Product(ApiModel):
    """A product in the cart or the saved list."""

    product_id: str
    # count > 0 places the product in the cart, 0 in the saved list.
    count: int = 1
    variant: str | None = None
    main_product_identifier: str | None = None


class CheckoutProduct(Product):
    """A product in the active checkout session."""

    # Units reserved in stock; < 0 means the reservation failed, None means unlimited stock.
    stocked: int | None = None

    @property
    def reservation_failed(self) -> bool:
        return self.stocked is not None and self.stocked < 0


def _products(model: type) -> Any:
    return Annotated[tuple[model, ...], BeforeValidator(_none_as_empty)]  # type: ignore[valid-type]


class Basket(ApiModel):
    expires: UtcDatetime | None = None
    last_changed: UtcDatetime | None = None
    cart: _products(Product) = ()
    saved: _products(Product) = ()
    checkout: _products(CheckoutProduct) = ()

    @property
    def is_empty(self) -> bool:
        return not (self.cart or self.saved or self.checkout)

    @property
    def failed_reservations(self) -> tuple[CheckoutProduct, ...]:
        return tuple(item for item in self.checkout if item.reservation_failed)

    def product_ids(self) -> list[str]:
        """Distinct product ids in the order they first appear."""
        seen: dict[str, None] = {}
        for item in (*self.cart, *self.saved, *self.checkout):
            seen.setdefault(item.product_id, None)
            if item.main_product_identifier:
                seen.setdefault(item.main_product_identifier, None)
        return list(seen)


class ErrorInfo(ApiModel):
    code: int
    message: str
    details: Any = None

    @field_validator("code", mode="before")
    @classmethod
    def _numeric_string(cls, value: Any) -> Any:
        # The schema says integer, the docs' examples send "3002".
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value.strip())
        return value


class BasketEnvelope(ApiModel):
    """The body of every response of GET /baskets/users/{userId}."""

    data: Basket | None = None
    next_token: str | None = None
    error: ErrorInfo | None = None


class BasketResult(ApiModel):
    """What the client returns for one user: the basket and how it was served."""

    user_id: str
    basket: Basket
    next_token: str | None = None
    api_version: str | None = None
    fetched_at: AwareDatetime
    # The decoded JSON body, for engineers; excluded from repr to keep logs short.
    raw: Any = Field(default=None, repr=False)


class ProductDetails(ApiModel):
    """One product of POST /baskets/products/details."""

    product_id: str
    name: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    # < 0 no longer available, None unlimited.
    current_stock_count: int | None = None
    out_of_stock: bool | None = None
    variant: str | None = None
    main_product_identifier: str | None = None
    brand: Any = None

    @property
    def price_label(self) -> str | None:
        if self.price is None:
            return None
        return f"{self.price:.2f} {self.currency}" if self.currency else f"{self.price:.2f}"


class ProductDetailsData(ApiModel):
    products: _products(ProductDetails) = ()


class ProductDetailsEnvelope(ApiModel):
    data: ProductDetailsData | None = None
    next_token: str | None = None
    error: ErrorInfo | None = None
