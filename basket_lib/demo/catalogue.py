"""The demo API's product catalogue: merchandise of fictional streaming shows.

Apparel comes in sizes: each size is its own product (``prod-1001-m``) whose ``variant`` is the size
and whose ``mainProductIdentifier`` is the main product (``prod-1001``); baskets hold the sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate
from typing import Any

CURRENCY = "EUR"
SIZES = ("S", "M", "L", "XL")
# Medium and large sell best, so they are picked (and reserved) more often.
_SIZE_SHARE = {"S": 0.2, "M": 0.35, "L": 0.3, "XL": 0.15}


@dataclass(frozen=True, slots=True)
class CatalogueProduct:
    product_id: str
    name: str
    price: str
    brand: str
    # Units in stock; < 0 no longer available, None unlimited (downloads, print on demand).
    stock: int | None
    # Relative chance of landing in a seeded basket.
    popularity: float = 1.0
    variant: str = ""
    main_product_id: str | None = None

    @property
    def scarce(self) -> bool:
        """Few or no units left: a checkout's reservation is likely to fail."""
        return self.stock is not None and self.stock <= 3

    def details(self) -> dict[str, Any]:
        """The product as POST /baskets/products/details serializes it."""
        return {
            "productId": self.product_id,
            "name": self.name,
            "price": self.price,
            "currency": CURRENCY,
            "currentStockCount": self.stock,
            "outOfStock": self.stock is not None and self.stock <= 0,
            "variant": self.variant,
            "mainProductIdentifier": self.main_product_id,
            "brand": self.brand,
            "images": [],
        }


# (number, show, title, price, stock of sizes S, M, L and XL, popularity)
_APPAREL: tuple[tuple[int, str, str, str, tuple[int | None, ...], float], ...] = (
    (1001, "Night Harbor", "Logo T-Shirt", "29.99", (14, 3, 0, 22), 9),
    (1002, "Night Harbor", "Lighthouse Hoodie", "59.99", (8, 12, 0, 5), 6),
    (1003, "The Glass Orchard", "Embroidered Sweatshirt", "54.99", (4, 9, 11, 2), 4),
    (1004, "Signal Lost", "Static T-Shirt", "27.99", (30, 41, 38, 17), 5),
    (1005, "Crown of Ash", "Dragon Crest Hoodie", "64.99", (2, 1, -1, 6), 8),
    (1006, "Paper Moons", "Cast Tour T-Shirt", "24.99", (None, None, None, None), 5),
    (1007, "Haunt Valley", "Glow-in-the-Dark T-Shirt", "32.99", (7, 15, 9, 3), 4),
    (1008, "Deep Field", "Mission Patch Bomber Jacket", "119.00", (1, 3, 2, 0), 2),
)  # fmt: skip

# (number, show, title, price, stock, popularity)
_GOODS: tuple[tuple[int, str, str, str, int | None, float], ...] = (
    (1009, "Night Harbor", "Enamel Mug", "14.99", 120, 7),
    (1010, "The Glass Orchard", "Original Soundtrack Vinyl (2LP)", "34.99", 18, 5),
    (1011, "Signal Lost", "Season 1 Blu-ray", "24.99", 64, 5),
    (1012, "Crown of Ash", "Complete Series Blu-ray Box Set", "89.99", 9, 6),
    (1013, "Paper Moons", "Poster (A2)", "12.99", None, 9),
    (1014, "Deep Field", "Star Map Poster (A1)", "19.99", None, 8),
    (1015, "Haunt Valley", "Spirit Board Replica", "44.99", 3, 4),
    (1016, "Salt & Ember", "Chef Apron", "22.00", 40, 3),
    (1017, "Salt & Ember", "Signed Cookbook", "39.90", -2, 4),
    (1018, "Crown of Ash", "Dragon Figure (Limited Edition)", "149.00", 0, 7),
    (1019, "Night Harbor", "Original Score Vinyl", "29.99", 25, 4),
    (1020, "Signal Lost", "Radio Replica Bluetooth Speaker", "79.99", 2, 5),
    (1021, "The Glass Orchard", "Art Book", "42.00", 14, 3),
    (1022, "Paper Moons", "Enamel Pin Set", "9.99", 230, 4),
    (1023, "Deep Field", "4K UHD Blu-ray", "29.99", 51, 3),
    (1024, "Haunt Valley", "Season 2 Blu-ray", "22.99", 33, 3),
    (1025, "Crown of Ash", "Map of the Realm Poster (A1)", "17.99", None, 8),
    (1026, "Night Harbor", "Detective's Notebook", "11.99", 75, 3),
    (1027, "Signal Lost", "Soundtrack Cassette", "16.99", -1, 3),
    (1028, "The Glass Orchard", "Orchard Blossom Scented Candle", "19.50", 60, 3),
    (1029, "Paper Moons", "Tote Bag", "15.00", 88, 3),
    (1030, "Deep Field", "Astronaut Plush", "24.99", 1, 4),
    (1031, "Haunt Valley", "Lantern Lamp", "49.99", 12, 2),
    (1032, "Crown of Ash", "Board Game", "59.90", 20, 4),
    (1033, "Salt & Ember", "Spice Tin Set", "27.50", 45, 2),
    (1034, "Night Harbor", "Digital Soundtrack (Download)", "9.99", None, 7),
    (1035, "Signal Lost", "Digital Comic Bundle", "7.99", None, 6),
    (1036, "The Glass Orchard", "Seasons 1-3 Blu-ray", "49.99", 16, 3),
    (1037, "Paper Moons", "Blooper Reel DVD", "9.99", -3, 2),
    (1038, "Deep Field", "Lunar Globe", "64.00", 5, 2),
    (1039, "Haunt Valley", "Cursed Doll Replica", "39.99", 1, 3),
    (1040, "Crown of Ash", "Goblet Set (2 pcs)", "34.99", 27, 3),
    (1041, "Salt & Ember", "Cast-Iron Pan", "69.00", 6, 2),
    (1042, "Signal Lost", "Poster Set (3 x A3)", "21.99", None, 6),
    (1043, "Paper Moons", "Coffee Mug", "12.99", 140, 4),
    (1044, "Deep Field", "Original Soundtrack Vinyl", "32.99", 0, 3),
    (1045, "Crown of Ash", "Gift Card 25 EUR", "25.00", None, 5),
    (1046, "Haunt Valley", "Digital Art Book (Download)", "14.99", None, 3),
)  # fmt: skip

# Strings a page must show as text, never render: ids, names, variants and brands of the
# demo-hostile user's products.
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
MD_LINK = "[click](javascript:alert(1))"
HOSTILE_PRODUCTS: tuple[CatalogueProduct, ...] = (
    CatalogueProduct(SCRIPT, f"{SCRIPT} Mug", "9.99", "<b>Evil</b> Corp", 5),
    CatalogueProduct(IMG, f"Poster {IMG}", "12.50", IMG, None),
    CatalogueProduct(MD_LINK, f"{MD_LINK} T-Shirt", "19.99", MD_LINK, -1, variant="<b>XL</b>",
                     main_product_id=SCRIPT),
    CatalogueProduct("**bold**", "**bold** _em_ $x$ Vinyl", "24.00", "**Brand**", 3),
    CatalogueProduct("_em_", "_em_ Blu-ray </td></tr><tr><td>injected", "14.99", "_Brand_", 0,
                     variant=IMG, main_product_id="**bold**"),
    CatalogueProduct("$x$", "$x$ Poster {{7*7}} ${7*7}", "5.00", "$Brand$", None),
)  # fmt: skip


def _build() -> tuple[dict[str, CatalogueProduct], tuple[CatalogueProduct, ...]]:
    products: dict[str, CatalogueProduct] = {}
    purchasable: list[CatalogueProduct] = []
    for number, show, title, price, sizes, popularity in _APPAREL:
        main_id = f"prod-{number}"
        # The main product is unlimited when any size is; otherwise it holds what its sizes hold.
        limited = [stock for stock in sizes if stock is not None]
        total = sum(max(0, stock) for stock in limited) if len(limited) == len(sizes) else None
        name = f"{show} {title}"
        products[main_id] = CatalogueProduct(main_id, name, price, show, total, popularity)
        for size, stock in zip(SIZES, sizes, strict=True):
            variant = CatalogueProduct(
                f"{main_id}-{size.lower()}",
                name,
                price,
                show,
                stock,
                popularity * _SIZE_SHARE[size],
                variant=size,
                main_product_id=main_id,
            )
            products[variant.product_id] = variant
            purchasable.append(variant)
    for number, show, title, price, stock, popularity in _GOODS:
        product = CatalogueProduct(
            f"prod-{number}", f"{show} {title}", price, show, stock, popularity
        )
        products[product.product_id] = product
        purchasable.append(product)
    for product in HOSTILE_PRODUCTS:
        products[product.product_id] = product
    return products, tuple(purchasable)


CATALOGUE, PURCHASABLE = _build()
"""Every product by id (hostile ones included); the products seeded baskets draw from."""

PURCHASABLE_CUM_WEIGHTS: tuple[float, ...] = tuple(accumulate(p.popularity for p in PURCHASABLE))


def product_details(product_ids: list[str]) -> list[dict[str, Any]]:
    """Details of the known products among ``product_ids``, each once, in request order.

    [inferred] Unknown ids are left out rather than failing the whole request.
    """
    return [CATALOGUE[pid].details() for pid in dict.fromkeys(product_ids) if pid in CATALOGUE]
