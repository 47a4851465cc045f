"""Prices as an agent reads them: in the viewer's locale with the currency's own symbol (Babel),
and totals kept per currency, because amounts in different currencies are never added."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, format_decimal, get_currency_precision

DEFAULT_LOCALE = Locale("en", "US")


def viewer_locale(tag: str | None) -> Locale:
    """The browser's language tag (``st.context.locale``, e.g. "de-DE") as a Babel locale;
    en_US when it is missing or unknown."""
    if tag:
        try:
            return Locale.parse(tag.strip().replace("_", "-"), sep="-")
        except (UnknownLocaleError, ValueError, TypeError):
            pass
    return DEFAULT_LOCALE


def currency_code(currency: str | None) -> str | None:
    """An ISO 4217 code ("EUR") from what the API sent; None when it is not one."""
    if currency is None:
        return None
    code = currency.strip().upper()
    return code if len(code) == 3 and code.isascii() and code.isalpha() else None


def format_money(amount: Decimal, currency: str | None, locale: Locale = DEFAULT_LOCALE) -> str:
    """ "€39.90" (en_US), "39,90 €" (de_DE). An amount without a usable currency code keeps its
    number and says what the API sent: "39.90 (no currency)", "39.90 (currency 'pts')"."""
    # Keyed on the amount's text: Decimal("-0") equals Decimal("0") but is not written the same.
    return _format_money(str(amount), currency, locale)


# Babel takes about 30 µs per amount, and a basket page formats every price and line total on
# every run; the same prices come back from lookup to lookup.
@lru_cache(maxsize=4096)
def _format_money(amount_text: str, currency: str | None, locale: Locale) -> str:
    amount = Decimal(amount_text)
    code = currency_code(currency)
    if code is not None:
        return str(format_currency(amount, code, locale=locale))
    number = format_decimal(amount, format="#,##0.00", locale=locale)
    if currency is None or not currency.strip():
        return f"{number} (no currency)"
    return f"{number} (currency {currency.strip()!r})"


def round_money(amount: float, currency: str | None) -> float:
    """`amount` to the currency's minor unit (cents; whole yen), 2 decimals without a code."""
    code = currency_code(currency)
    return round(amount, get_currency_precision(code) if code is not None else 2)


def line_total(price: Decimal | None, count: int) -> Decimal | None:
    return price * count if price is not None else None


@dataclass(frozen=True)
class Totals:
    """Sums per currency code, and how many lines could not be added (no price or currency)."""

    amounts: Mapping[str, Decimal] = field(default_factory=dict)
    unpriced: int = 0

    def text(self, locale: Locale = DEFAULT_LOCALE) -> str:
        """ "€79.80", "€79.80 + US$12.00", "€79.80 (1 item without a price)", "unknown (no
        prices)"."""
        parts = [format_money(amount, code, locale) for code, amount in self.amounts.items()]
        if not parts:
            return "unknown (no prices)"
        text = " + ".join(parts)
        if self.unpriced:
            items = "1 item" if self.unpriced == 1 else f"{self.unpriced} items"
            text += f" ({items} without a price)"
        return text


def totals(lines: Iterable[tuple[Decimal | None, str | None, int]]) -> Totals:
    """The (price, currency, count) lines summed per currency, in order of first appearance."""
    amounts: dict[str, Decimal] = {}
    unpriced = 0
    for price, currency, count in lines:
        code = currency_code(currency)
        if price is None or code is None:
            unpriced += 1
            continue
        amounts[code] = amounts.get(code, Decimal(0)) + price * count
    return Totals(amounts, unpriced)
