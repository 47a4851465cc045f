"""Pydantic models of the Jay Basket API's JSON.

Python names are snake_case, the API's are camelCase. Unknown fields are ignored (the API adds
fields over time); a wrong type in a known field is rejected with the field's path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from basket_lib.api.codes import INT64_MAX, INT64_MIN, parse_code


def _assume_utc(value: Any) -> Any:
    """A timestamp without a zone is UTC (the API's examples are mostly `Z`, some are naive)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(
                text.replace("Z", "+00:00") if text.endswith("Z") else text
            )
        except ValueError:
            return text  # left to pydantic, which reports the field path
        value = parsed
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


# Every zone is within a day of UTC, so these bounds keep a timestamp convertible to any zone.
EARLIEST_TIMESTAMP = datetime(1, 1, 2, tzinfo=UTC)
LATEST_TIMESTAMP = datetime(9999, 12, 30, tzinfo=UTC)


def check_displayable(value: datetime) -> datetime:
    """The timestamp in UTC, unless it lies so close to year 1 or 9999 that converting it to a
    time zone would overflow (the page shows every time in the agent's zone)."""
    if not EARLIEST_TIMESTAMP <= value <= LATEST_TIMESTAMP:
        raise ValueError(
            "the timestamp is outside the years 0001-9999 that can be shown in every time zone"
        )
    return value.astimezone(UTC)


def _none_as_empty(value: Any) -> Any:
    return () if value is None else value


def _reject_bool(value: Any) -> Any:
    # Pydantic's lax mode would read true/false as 1/0: a stocked of `false` is not "reserved 0".
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    return value


UtcDatetime = Annotated[
    AwareDatetime, BeforeValidator(_assume_utc), AfterValidator(check_displayable)
]
# Whole numbers the tables and the scan database's BIGINT columns hold: a larger value is not a
# count but a broken response.
ApiInt = Annotated[int, BeforeValidator(_reject_bool), Field(ge=INT64_MIN, le=INT64_MAX)]

# The API's JSON is a few levels deep. Deeper values (in fields the models ignore, or in `details`)
# are refused: results are pickled by st.cache_data and printed for engineers, and both recurse.
MAX_JSON_DEPTH = 64


class JsonTooDeepError(ValueError):
    pass


class JsonNotTextError(ValueError):
    pass


def check_json(payload: Any) -> Any:
    """The decoded JSON unchanged, unless it nests deeper than MAX_JSON_DEPTH (JsonTooDeepError)
    or holds a lone surrogate such as ``"\\ud800"`` (JsonNotTextError): valid JSON, but no page,
    table or file can encode it, so it would fail wherever it is shown."""
    level = [payload] if isinstance(payload, (dict, list)) else []
    texts = [payload] if isinstance(payload, str) else []
    depth = 0
    # Level by level rather than recursively: the check itself must not recurse.
    while level:
        depth += 1
        if depth > MAX_JSON_DEPTH:
            raise JsonTooDeepError(f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep")
        next_level = []
        for value in level:
            children: Iterable[Any] = value
            if isinstance(value, dict):
                texts += [key for key in value if isinstance(key, str)]
                children = value.values()
            for child in children:
                if isinstance(child, str):
                    texts.append(child)
                elif isinstance(child, (dict, list)):
                    next_level.append(child)
        level = next_level
    text = "".join(texts)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise JsonNotTextError(
                f"the JSON holds U+{ord(text[exc.start]):04X}, a lone surrogate that is not text"
            ) from None
    return payload


# Validation context: the payload's shape was already proven safe from its bytes.
SHAPE_KNOWN = {"json_shape_known": True}


def json_shape_known(body: bytes) -> bool:
    """Whether the JSON in `body` is certainly no deeper than MAX_JSON_DEPTH and free of lone
    surrogates, judged from its bytes alone: few enough brackets, and no \\u escape (a UTF-8
    body can carry a surrogate only as an escape). Almost every basket passes, and check_json's
    walk over every value is then not needed; anything else is walked."""
    return body.count(b"{") + body.count(b"[") <= MAX_JSON_DEPTH and b"\\u" not in body


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
    count: ApiInt = 1
    variant: str | None = None
    main_product_identifier: str | None = None


class CheckoutProduct(Product):
    """A product in the active checkout session."""

    # Units reserved in stock; < 0 means the reservation failed, None means unlimited stock.
    stocked: ApiInt | None = None

    @property
    def reservation_failed(self) -> bool:
        return self.stocked is not None and self.stocked < 0


_Item = TypeVar("_Item", bound=ApiModel)
# A list of products in the JSON; the API sends null for an empty one.
_Products = Annotated[tuple[_Item, ...], BeforeValidator(_none_as_empty)]


class Basket(ApiModel):
    expires: UtcDatetime | None = None
    last_changed: UtcDatetime | None = None
    cart: _Products[Product] = ()
    saved: _Products[Product] = ()
    checkout: _Products[CheckoutProduct] = ()

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
    code: ApiInt
    message: str
    details: Any = None

    @field_validator("code", mode="before")
    @classmethod
    def _numeric_string(cls, value: Any) -> Any:
        # The schema says integer, the docs' examples send "3002"; anything else is left to
        # ApiInt, which names what is wrong with it.
        code = parse_code(value) if isinstance(value, str) else None
        return value if code is None else code


class _Envelope(ApiModel):
    """The API's envelope around every response: `data`, `nextToken` and `error`."""

    next_token: str | None = None
    error: ErrorInfo | None = None

    @model_validator(mode="before")
    @classmethod
    def _displayable_json(cls, payload: Any, info: ValidationInfo) -> Any:
        if info.context is not None and info.context.get("json_shape_known"):
            return payload
        return check_json(payload)


class BasketEnvelope(_Envelope):
    """The body of every response of GET /baskets/users/{userId}."""

    data: Basket | None = None


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
    current_stock_count: ApiInt | None = None
    out_of_stock: bool | None = None
    variant: str | None = None
    main_product_identifier: str | None = None
    brand: Any = None


class ProductDetailsData(ApiModel):
    products: _Products[ProductDetails] = ()


class ProductDetailsEnvelope(_Envelope):
    """The body of POST /baskets/products/details."""

    data: ProductDetailsData | None = None


def details_for(
    product_id: str,
    main_product_identifier: str | None,
    details: Mapping[str, ProductDetails] | None,
) -> ProductDetails | None:
    """A line's own product details, else its main product's (variants often have no entry)."""
    if not details:
        return None
    found = details.get(product_id)
    if found is None and main_product_identifier:
        found = details.get(main_product_identifier)
    return found
