"""The agent's answer: every checkout line explained in words, the failed items named, and a
plain-text summary with a customer-facing reply, ready to paste into the ticket.

The wording rules live here (pure, tested) so the page only lays them out. The stock that
explains a failed reservation comes from the product details (`currentStockCount`,
`outOfStock`); without them a line is still explained from the basket alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from babel import Locale

from basket_lib.api.models import (
    BasketResult,
    CheckoutProduct,
    Product,
    ProductDetails,
    details_for,
)
from basket_lib.views import money, times
from basket_lib.views.text import plural


class LineKind(StrEnum):
    FAILED = "failed"
    PARTLY_RESERVED = "partly reserved"
    RESERVED = "reserved"
    # Reserved (wholly or partly) in a basket that has since expired: nothing is held any more.
    LAPSED = "reservation lapsed"
    UNLIMITED = "unlimited"


class StockNow(StrEnum):
    """What the product details say about the product's stock at the time of the lookup."""

    UNKNOWN = "unknown"
    GONE = "no longer available"
    OUT = "out of stock"
    SHORT = "fewer in stock than ordered"
    AVAILABLE = "in stock"
    UNLIMITED = "unlimited"


def signed(number: int) -> str:
    """Negative numbers with a real minus sign (−2), which reads as a minus in any font."""
    return f"−{-number:,}" if number < 0 else f"{number:,}"


def product_label(item: Product, details: Mapping[str, ProductDetails] | None) -> str:
    """ "Salt & Ember Signed Cookbook (prod-1017)", "Night Harbor Logo T-Shirt, variant M
    (prod-1001-m)", or the bare id when no name is known."""
    info = details_for(item.product_id, item.main_product_identifier, details)
    name = info.name.strip() if info is not None and info.name else ""
    variant = f"variant {item.variant}" if item.variant else ""
    if not name:
        return f"{item.product_id} ({variant})" if variant else item.product_id
    return f"{name}, {variant} ({item.product_id})" if variant else f"{name} ({item.product_id})"


def customer_name(item: Product, details: Mapping[str, ProductDetails] | None) -> str:
    """What the customer calls the product: its name (and variant), never an internal id when a
    name is known."""
    info = details_for(item.product_id, item.main_product_identifier, details)
    name = info.name.strip() if info is not None and info.name else ""
    if not name:
        return f"the product {item.product_id}"
    return f"{name} ({item.variant})" if item.variant else name


def stock_now(
    item: Product, details: Mapping[str, ProductDetails] | None
) -> tuple[StockNow, int | None]:
    """The line's own product's stock now. A variant's stock is its own: the main product's
    figure is never used for it."""
    info = details.get(item.product_id) if details else None
    if info is None:
        return StockNow.UNKNOWN, None
    current = info.current_stock_count
    if current is not None and current < 0:
        return StockNow.GONE, current
    if info.out_of_stock or current == 0:
        return StockNow.OUT, current
    if current is None:
        return StockNow.UNLIMITED, None
    return (StockNow.AVAILABLE if current >= item.count else StockNow.SHORT), current


def _stock_clause(state: StockNow, current: int | None, details_known: bool) -> str:
    if state is StockNow.UNKNOWN:
        return (
            "current stock unknown (no product details for it)"
            if details_known
            else "current stock unknown (product details unavailable)"
        )
    if state is StockNow.GONE:
        assert current is not None
        return f"current stock {signed(current)}: no longer available"
    if state is StockNow.OUT:
        return "out of stock" if current is None else f"current stock {current:,}, out of stock"
    if state is StockNow.UNLIMITED:
        return "unlimited stock now: the reservation may succeed on retry"
    if state is StockNow.SHORT:
        return f"only {current:,} in stock now: a retry with fewer units may succeed"
    return f"in stock now ({current:,}): the reservation may succeed on retry"


@dataclass(frozen=True)
class LineAnswer:
    """One checkout line in words, with its money."""

    product_id: str
    label: str
    customer_name: str
    kind: LineKind
    stock: StockNow
    count: int
    price: Decimal | None
    currency: str | None
    text: str

    @property
    def failed(self) -> bool:
        return self.kind is LineKind.FAILED

    @property
    def total(self) -> Decimal | None:
        return money.line_total(self.price, self.count)

    @property
    def may_succeed_on_retry(self) -> bool:
        return self.failed and self.stock in (StockNow.AVAILABLE, StockNow.UNLIMITED)


def explain_line(
    item: CheckoutProduct,
    details: Mapping[str, ProductDetails] | None,
    *,
    expired: bool = False,
) -> LineAnswer:
    """ "Salt & Ember Signed Cookbook (prod-1017): 2 ordered, reservation failed (stocked −2);
    current stock 0, out of stock", and likewise for reserved and unlimited lines. `details`
    None means the product details could not be fetched; an empty mapping that none were
    known. In an `expired` basket a reservation that held has lapsed with it."""
    label = product_label(item, details)
    info = details_for(item.product_id, item.main_product_identifier, details)
    ordered = f"{item.count:,} ordered"
    state, current = stock_now(item, details)
    stocked = item.stocked
    if stocked is None:
        kind, text = LineKind.UNLIMITED, f"{ordered}, no reservation needed (unlimited stock)"
    elif stocked < 0:
        clause = _stock_clause(state, current, details is not None)
        kind = LineKind.FAILED
        text = f"{ordered}, reservation failed (stocked {signed(stocked)}); {clause}"
    elif expired:
        only = "only " if stocked < item.count else ""
        kind = LineKind.LAPSED
        text = (
            f"{ordered}, {only}{stocked:,} had been reserved in stock; the reservation lapsed "
            "when the basket expired"
        )
    elif stocked < item.count:
        kind, text = LineKind.PARTLY_RESERVED, f"{ordered}, only {stocked:,} reserved in stock"
    else:
        kind, text = LineKind.RESERVED, f"{ordered}, {stocked:,} reserved in stock"
    return LineAnswer(
        product_id=item.product_id,
        label=label,
        customer_name=customer_name(item, details),
        kind=kind,
        stock=state,
        count=item.count,
        price=info.price if info is not None else None,
        currency=info.currency if info is not None else None,
        text=f"{label}: {text}",
    )


def explain_checkout(
    checkout: Iterable[CheckoutProduct],
    details: Mapping[str, ProductDetails] | None,
    *,
    expired: bool = False,
) -> list[LineAnswer]:
    """Every checkout line explained, failed lines first, otherwise in the basket's order."""
    answers = [explain_line(item, details, expired=expired) for item in checkout]
    return sorted(answers, key=lambda answer: not answer.failed)


def failure_alert(answers: Sequence[LineAnswer]) -> str | None:
    """ "2 stock reservations failed in this checkout: A (prod-1) and B (prod-2)." None when
    every reservation held."""
    failed = [answer.label for answer in answers if answer.failed]
    if not failed:
        return None
    return f"{plural(len(failed), 'stock reservation')} failed in this checkout: {_join(failed)}."


def value_at_risk(answers: Iterable[LineAnswer]) -> money.Totals:
    """The failed lines' total, per currency."""
    return money.totals((a.price, a.currency, a.count) for a in answers if a.failed)


def list_totals(
    items: Iterable[Product], details: Mapping[str, ProductDetails] | None
) -> money.Totals:
    """A list's (cart, checkout) total per currency: price × count of every line."""
    lines = []
    for item in items:
        info = details_for(item.product_id, item.main_product_identifier, details)
        lines.append((info.price if info else None, info.currency if info else None, item.count))
    return money.totals(lines)


def _join(names: Sequence[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def customer_reply(
    answers: Sequence[LineAnswer], expiry: times.ExpiryStatus, expires_text: str | None
) -> str:
    """A short sentence for the customer, to adapt: what failed and what they can do."""
    sentences: list[str] = []
    if not answers:
        sentences.append("I looked at your basket: there is no checkout in progress right now.")
    else:
        failed = [a for a in answers if a.failed]
        unknown = [a.customer_name for a in failed if a.stock is StockNow.UNKNOWN]
        short = [a.customer_name for a in failed if a.stock is StockNow.SHORT]
        gone = [a.customer_name for a in failed if a.stock in (StockNow.GONE, StockNow.OUT)]
        retry = [a.customer_name for a in failed if a.may_succeed_on_retry]
        reasons: list[str] = []
        if unknown:
            # Without the product details the reason is not known: no reason is invented.
            reasons.append(f"{_join(unknown)} could not be reserved for you.")
        if gone:
            verb = "it is" if len(gone) == 1 else "they are"
            reasons.append(
                f"{_join(gone)} could not be reserved for you because {verb} out of stock."
            )
        if short:
            reasons.append(
                f"{_join(short)} could not be reserved in the quantity you ordered; fewer are "
                "available now, so please try again with fewer."
            )
        if retry:
            verb = "it is" if len(retry) == 1 else "they are"
            reasons.append(
                f"{_join(retry)} could not be reserved when you checked out, but {verb} "
                "available again now, so please try checking out again."
            )
        if reasons:
            reasons[0] = f"I'm sorry: {reasons[0]}"
        sentences += reasons
        if expiry is times.ExpiryStatus.EXPIRED:
            # The reservations lapsed with the basket: nothing is held for the customer.
            sentences.append(
                "Your basket has expired, so nothing in your checkout is reserved for you any "
                "more: please add the items to your basket again and check out."
            )
        elif not failed:
            sentences.append("Every item in your checkout is reserved for you.")
        elif len(failed) < len(answers):
            sentences.append("The other items in your checkout are reserved for you.")
    if expiry is times.ExpiryStatus.EXPIRED and not answers:
        sentences.append("Your basket has expired, so the items need to be added again.")
    elif expiry is times.ExpiryStatus.EXPIRING and expires_text:
        sentences.append(
            f"Your basket expires at {expires_text}; please complete your order before then."
        )
    return " ".join(sentences)


def ticket_summary(
    result: BasketResult,
    details: Mapping[str, ProductDetails] | None,
    *,
    now: datetime,
    tz_name: str | None,
    locale: Locale = money.DEFAULT_LOCALE,
) -> str:
    """Plain text for the ticket: who, when fetched, the checkout line by line, what failed and
    why, the expiry in local time and UTC, and a reply to adapt. It holds only the basket's own
    data and the product details: no key, token or URL of the API or the dashboard."""
    basket = result.basket
    expiry = times.expiry_status(basket.expires, now)
    answers = explain_checkout(
        basket.checkout, details, expired=expiry is times.ExpiryStatus.EXPIRED
    )
    fetched = times.format_with_utc(result.fetched_at, tz_name, seconds=True)
    lines = [f"User: {result.user_id}", f"Basket fetched: {fetched}"]
    if answers:
        units = sum(a.count for a in answers)
        total = list_totals(basket.checkout, details).text(locale)
        lines.append(
            f"Checkout: {plural(len(answers), 'item')}, {plural(units, 'unit')}, total {total}"
        )
        lines += [f"- {answer.text}" for answer in answers]
        failed = [a for a in answers if a.failed]
        if failed:
            lines.append(
                f"Failed reservations: {len(failed)} of {len(answers)}; value at risk "
                f"{value_at_risk(answers).text(locale)}"
            )
        else:
            lines.append("Failed reservations: none")
    else:
        lines.append("Checkout: none in progress")
    if basket.cart:
        total = list_totals(basket.cart, details).text(locale)
        lines.append(f"Cart: {plural(len(basket.cart), 'item')}, total {total}")
    if basket.saved:
        lines.append(f"Saved for later: {plural(len(basket.saved), 'item')}")
    if basket.expires is not None:
        lines.append(
            f"Expires: {times.format_with_utc(basket.expires, tz_name)}, "
            f"{times.expiry_text(basket.expires, now)}"
        )
    else:
        lines.append("Expires: no expiry date")
    if details is None and basket.product_ids():
        lines.append("Product details were unavailable: names, prices and stock are not shown.")
    local_expiry = times.format_time(basket.expires, tz_name) if basket.expires else None
    lines += ["", "Suggested reply:", customer_reply(answers, expiry, local_expiry)]
    return "\n".join(lines)
