"""The catalogue of the API's error codes: the seed's enum and the names the docs publish."""

from __future__ import annotations

import re
from dataclasses import dataclass

# The range every whole number the API sends must lie in: what a database's BIGINT holds.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# ASCII digits only, at most 18 of them (always within int64): int() would also read "²", "٣" or
# "1_000", and thousands of digits take it seconds.
_CODE_TEXT = re.compile(r"\s*(-?[0-9]{1,18})\s*")

# Codes listed in the seed's enum of `error.code`.
SEED_CODES: tuple[int, ...] = (
    *range(1001, 1015),
    2001, 2002, 2003, 2004, 2005, 2006, 2008,
    *range(2012, 2026),
    *range(3000, 3008),
    4001, 4002,
    5001, 5002, 5003, 5004,
    200, 201, 202, 204, 400, 401, 403, 404, 405, 406, 422, 423, 501, 503,
)  # fmt: skip

# Names and meanings published on the API's error-handling page.
_DOCUMENTED: dict[int, tuple[str, str]] = {
    1001: (
        "EPISODE_NOT_FOUND",
        "Playout: episode not found (also seen for 'no tracking session').",
    ),
    1002: ("DESCRIPTIONS_NOT_AVAILABLE", "Playout: descriptions not available."),
    1003: ("EPISODE_NOT_AVAILABLE", "Playout: episode not available."),
    1004: ("AFFILIATE_NOT_AVAILABLE", "Playout: affiliate not available."),
    1005: ("MERCHANTS_NOT_AVAILABLE", "Playout: merchants not available."),
    1006: ("MERCHANT_NOT_FOUND", "Playout: merchant not found."),
    1007: ("TIMELINE_NOT_AVAILABLE", "Playout: timeline not available."),
    1008: ("SCENE_NOT_FOUND", "Playout: scene not found."),
    1009: ("DATA_NOT_FOUND", "Playout: data not found."),
    1010: ("TRACKING_NOT_VALID", "The tracking session is missing or invalid."),
    1011: ("CONTENT_NOT_FOUND", "Playout: content not found."),
    1012: ("FORMAT_NOT_FOUND", "Playout: format not found."),
    1013: ("INVALID_FILTER", "Playout: invalid filter."),
    1014: ("PAGINATION_ERROR", "The paging token or paging parameters are invalid."),
    2001: ("PAYMENT_PROVIDER_NOT_SUPPORTED", "Basket: the payment provider is not supported."),
    2002: ("AUTHORIZATION_HEADER_INVALID", "The authorization header is missing or malformed."),
    2003: ("AFFILIATE_NOT_EXISTS", "Basket: the affiliate does not exist."),
    2004: ("MISSING_AFFILIATE", "Basket: the affiliate is missing."),
    2005: ("BASKET_NOT_FOUND", "Basket: the basket was not found."),
    2006: ("PRODUCT_NOT_IN_BASKET", "Basket: the product is not in the basket."),
    3001: ("INTERNAL_SERVER_ERROR", "The API failed internally."),
    3002: ("REQUEST_VALIDATION_ERROR", "The request was malformed."),
    4001: ("NOT_A_MANAGED_SHOP", "Product: not a managed shop."),
}


@dataclass(frozen=True, slots=True)
class CodeInfo:
    code: int
    name: str
    meaning: str
    documented: bool

    def label(self) -> str:
        return f"{self.code} {self.name}" if self.documented else self.name


def parse_code(value: object) -> int | None:
    """An `error.code` as the API sends it (a number, or digits in a string as in the docs'
    examples: "3002"), or None when it is not a whole number in the int64 range."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if INT64_MIN <= value <= INT64_MAX else None
    if isinstance(value, str) and (match := _CODE_TEXT.fullmatch(value)) is not None:
        return int(match[1])
    return None


def describe_code(code: int) -> CodeInfo:
    """Catalogue entry of an API error code; unknown codes are reported, never guessed."""
    if code in _DOCUMENTED:
        name, meaning = _DOCUMENTED[code]
        return CodeInfo(code, name, meaning, True)
    in_enum = (
        "listed in the API's schema but not documented"
        if code in SEED_CODES
        else "not in the API's schema"
    )
    return CodeInfo(code, f"undocumented code {code}", f"Code {code} is {in_enum}.", False)


CATALOGUE: dict[int, CodeInfo] = {code: describe_code(code) for code in SEED_CODES}
