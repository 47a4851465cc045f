"""Basket JSON of the demo API: the named scenario users and the seeded ``user-NNNNN`` users.

Everything is relative to the time it is rendered at, so a scenario that expires "in 37 minutes"
always does, whatever the day.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from basket_lib.demo.catalogue import (
    CATALOGUE,
    IMG,
    MD_LINK,
    PURCHASABLE,
    PURCHASABLE_CUM_WEIGHTS,
    SCRIPT,
)

Json = dict[str, Any]

# [inferred] A basket lives 30 days after its last change, like the docs' guest baskets.
BASKET_LIFETIME = timedelta(days=30)
MAX_CART_PRODUCTS = 20
MAX_USER_NUMBER = 999_999
DEFAULT_DEMO_USERS = 5000
HUGE_BODY_MIN_BYTES = 4 * 1024 * 1024 + 1


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_json(payload: Any) -> bytes:
    # Compact separators and raw UTF-8, as FastAPI's JSONResponse writes them.
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def line(product_id: str, count: int = 1, **extra: Any) -> Json:
    """A basket entry; a size variant names its variant and main product, as the API does."""
    item: Json = {"productId": product_id, "count": count}
    product = CATALOGUE.get(product_id)
    if product is not None and product.main_product_id:
        item["variant"] = product.variant
        item["mainProductIdentifier"] = product.main_product_id
    item.update(extra)
    return item


def basket(
    expires: datetime | None,
    last_changed: datetime | None,
    cart: Sequence[Json] = (),
    saved: Sequence[Json] = (),
    checkout: Sequence[Json] = (),
) -> Json:
    return {
        "expires": iso(expires) if expires else None,
        "lastChanged": iso(last_changed) if last_changed else None,
        "cart": list(cart),
        "saved": list(saved),
        "checkout": list(checkout),
    }


def envelope(data: Json | None, next_token: str | None = None) -> Json:
    return {"data": data, "nextToken": next_token}


def empty_basket() -> Json:
    """[inferred] A user without a basket: no timestamps, three empty lists."""
    return basket(None, None)


# --- named scenarios ----------------------------------------------------------------------------


def _normal(now: datetime) -> Json:
    return basket(
        now + timedelta(days=25),
        now - timedelta(hours=2, minutes=14),
        cart=[line("prod-1009", 2), line("prod-1001-m"), line("prod-1013")],
        saved=[line("prod-1012")],
    )


def _checkout_failed(now: datetime) -> Json:
    return basket(
        now + timedelta(days=6),
        now - timedelta(minutes=4),
        cart=[
            line("prod-1017", 2),
            line("prod-1018"),
            line("prod-1001-m"),
            line("prod-1009", 2),
            line("prod-1013", 3),
        ],
        saved=[line("prod-1021")],
        checkout=[
            line("prod-1017", 2, stocked=-2),
            line("prod-1018", stocked=-1),
            line("prod-1001-m", stocked=1),
            line("prod-1009", 2, stocked=2),
            line("prod-1013", 3, stocked=None),
        ],
    )


def _variants(now: datetime) -> Json:
    return basket(
        now + timedelta(days=19),
        now - timedelta(days=1, hours=3),
        cart=[
            line("prod-1001-m"),
            line("prod-1001-xl"),
            line("prod-1002-l"),
            line("prod-1005-s", 2),
            # An explicitly empty variant addresses the main product itself.
            line("prod-1011", variant="", mainProductIdentifier="prod-1011"),
        ],
        saved=[line("prod-1003-l"), line("prod-1007-s", 0)],
        checkout=[line("prod-1002-l", stocked=-1), line("prod-1005-s", 2, stocked=2)],
    )


def _expiring(now: datetime) -> Json:
    return basket(
        now + timedelta(minutes=37),
        now + timedelta(minutes=37) - BASKET_LIFETIME,
        cart=[line("prod-1020"), line("prod-1004-l", 2)],
        saved=[line("prod-1014")],
    )


def _expired(now: datetime) -> Json:
    expires = now - timedelta(days=2)
    return basket(
        expires,
        expires - BASKET_LIFETIME,
        cart=[line("prod-1032"), line("prod-1025")],
        checkout=[line("prod-1032", stocked=1), line("prod-1025", stocked=None)],
    )


def _full_cart(now: datetime) -> Json:
    products = [p for p in PURCHASABLE if not p.main_product_id][:MAX_CART_PRODUCTS]
    return basket(
        now + timedelta(days=28),
        now - timedelta(hours=1),
        cart=[line(p.product_id, 1 + i % 3) for i, p in enumerate(products)],
    )


def _hostile(now: datetime) -> Json:
    return basket(
        now + timedelta(days=10),
        now - timedelta(minutes=30),
        cart=[
            line(SCRIPT),
            line(IMG, 2),
            line(MD_LINK, variant="<b>XL</b>", mainProductIdentifier=SCRIPT),
            line("**bold**"),
            line("_em_", variant=IMG, mainProductIdentifier="**bold**"),
            line("$x$"),
        ],
        saved=[line(SCRIPT, 0, variant=MD_LINK)],
        checkout=[
            line(SCRIPT, stocked=-1),
            line(MD_LINK, variant="<b>XL</b>", mainProductIdentifier=SCRIPT, stocked=1),
            line("$x$", stocked=None),
        ],
    )


# base64url of {"page":2,"user":"demo-next-token"}: opaque, like a real paging token.
NEXT_TOKEN = "eyJwYWdlIjoyLCJ1c2VyIjoiZGVtby1uZXh0LXRva2VuIn0"
HOSTILE_NEXT_TOKEN = "<img src=x onerror=alert('nextToken')>"

# user id -> (basket at a given time, nextToken)
SCENARIO_BASKETS: dict[str, tuple[Callable[[datetime], Json], str | None]] = {
    "demo-normal": (_normal, None),
    "demo-checkout-failed": (_checkout_failed, None),
    "demo-variants": (_variants, None),
    "demo-empty": (lambda now: empty_basket(), None),
    "demo-expiring": (_expiring, None),
    "demo-expired": (_expired, None),
    "demo-full-cart": (_full_cart, None),
    "demo-next-token": (_normal, NEXT_TOKEN),
    "demo-hostile": (_hostile, HOSTILE_NEXT_TOKEN),
}


# --- seeded users -------------------------------------------------------------------------------

# Chance of a cart of 1..20 products: mostly small, sometimes full.
_CART_SIZE_WEIGHTS = (
    22, 20, 16, 12, 9, 6, 4, 3, 2, 1.5, 1, 1, 0.8, 0.6, 0.5, 0.4, 0.3, 0.3, 0.3, 0.3,
)  # fmt: skip
_COUNTS, _COUNT_WEIGHTS = (1, 2, 3, 4), (70, 20, 7, 3)
# Reservations of scarce products fail often, of plentiful ones rarely, so failures cluster on a
# few products as they do in a real shop.
_FAIL_SCARCE, _FAIL_PLENTIFUL = 0.4, 0.03


def demo_user_ids(n: int = DEFAULT_DEMO_USERS) -> list[str]:
    """The first ``n`` seeded user ids: ``user-00001`` ... ."""
    if not 0 <= n <= MAX_USER_NUMBER:
        raise ValueError(f"n must be between 0 and {MAX_USER_NUMBER}, got {n}")
    return [f"user-{number:05d}" for number in range(1, n + 1)]


def _pick_products(rng: random.Random, size: int, exclude: set[str]) -> list[str]:
    chosen: list[str] = []
    taken = set(exclude)
    while len(chosen) < size:
        [product] = rng.choices(PURCHASABLE, cum_weights=PURCHASABLE_CUM_WEIGHTS)
        if product.product_id not in taken:
            taken.add(product.product_id)
            chosen.append(product.product_id)
    return chosen


def _stocked(rng: random.Random, product_id: str, count: int) -> int | None:
    product = CATALOGUE[product_id]
    if product.stock is None:
        return None  # unlimited: no reservation needed
    fail = _FAIL_SCARCE if product.scarce else _FAIL_PLENTIFUL
    return -rng.randint(1, 3) if rng.random() < fail else count


def seeded_basket(seed: int, number: int, now: datetime) -> Json:
    """The basket of ``user-<number>``: a pure function of (seed, number) and the time."""
    rng = random.Random(f"{seed}:{number}")
    kind = rng.random()
    expires = now + timedelta(seconds=rng.randint(-3 * 86_400, 30 * 86_400))
    # Never after now, always before the expiry.
    last_changed = min(expires - BASKET_LIFETIME, now) - timedelta(seconds=rng.randint(0, 6 * 3600))
    if kind < 0.15:
        # Half never had a basket, half emptied theirs.
        return empty_basket() if rng.random() < 0.5 else basket(expires, last_changed)
    size = rng.choices(range(1, MAX_CART_PRODUCTS + 1), weights=_CART_SIZE_WEIGHTS)[0]
    cart_ids = _pick_products(rng, size, set())
    cart = [line(pid, rng.choices(_COUNTS, weights=_COUNT_WEIGHTS)[0]) for pid in cart_ids]
    saved: list[Json] = []
    if rng.random() < 0.45:
        saved = [
            line(pid, rng.choice((0, 1)))
            for pid in _pick_products(rng, rng.randint(1, 4), set(cart_ids))
        ]
    checkout: list[Json] = []
    if kind >= 0.70:
        picked = set(rng.sample(range(len(cart)), rng.randint(1, len(cart))))
        checkout = [
            {**item, "stocked": _stocked(rng, item["productId"], item["count"])}
            for i, item in enumerate(cart)
            if i in picked
        ]
    return basket(expires, last_changed, cart, saved, checkout)


# --- bodies of the data faults ------------------------------------------------------------------


def schema_violation(now: datetime) -> Json:
    """Valid JSON with wrong types in documented fields."""
    return envelope(
        {
            "expires": iso(now + timedelta(days=3)),
            "lastChanged": iso(now - timedelta(hours=1)),
            "cart": [{"productId": 1009, "count": 1}],
            "saved": [],
            "checkout": [{"productId": "prod-1009", "count": 1, "stocked": "lots"}],
        }
    )


def huge_body(now: datetime) -> bytes:
    """A well-formed basket just over 4 MiB: only its size is wrong. Built per request."""
    head = to_json(envelope(basket(now + timedelta(days=30), now)))
    prefix, suffix = head.split(b'"saved":[]', 1)
    entry = b'{"productId":"prod-1009","count":0},'
    entries = entry * (HUGE_BODY_MIN_BYTES // len(entry) + 1)
    return b"".join((prefix, b'"saved":[', entries[:-1], b"]", suffix))
