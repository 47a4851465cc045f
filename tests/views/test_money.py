"""Money as the basket page shows it: locale-aware prices and totals that never mix currencies."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel import Locale

from basket_lib.views import money


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("en-US", "en_US"),
        ("de-DE", "de_DE"),
        ("fr", "fr"),
        ("en_GB", "en_GB"),
        (None, "en_US"),
        ("", "en_US"),
        ("zz-ZZ", "en_US"),
        ("x" * 300, "en_US"),
        ("de-DE;q=0.9", "de"),
    ],
)
def test_viewer_locale_falls_back_to_en_us(tag: str | None, expected: str) -> None:
    assert str(money.viewer_locale(tag)) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "tag", "expected"),
    [
        ("39.90", "EUR", "en-US", "€39.90"),
        ("39.9", "EUR", "de-DE", "39,90\xa0€"),
        ("1234.5", "USD", "en-US", "$1,234.50"),
        ("12", "gbp", "en-GB", "£12.00"),
        ("-3", "EUR", "en-US", "-€3.00"),
        ("39.90", None, "en-US", "39.90 (no currency)"),
        ("39.90", " ", "en-US", "39.90 (no currency)"),
        ("39.90", "points", "en-US", "39.90 (currency 'points')"),
        ("39.90", "<b>", "de-DE", "39,90 (currency '<b>')"),
    ],
)
def test_format_money(amount: str, currency: str | None, tag: str, expected: str) -> None:
    assert money.format_money(Decimal(amount), currency, money.viewer_locale(tag)) == expected


def test_amounts_that_compare_equal_keep_their_own_text() -> None:
    # Formatted amounts are remembered: an equal amount written differently is not confused.
    en_us, de_de = money.viewer_locale("en-US"), money.viewer_locale("de-DE")
    assert money.format_money(Decimal("0"), "EUR", en_us) == "€0.00"
    assert money.format_money(Decimal("-0"), "EUR", en_us) == "-€0.00"
    assert money.format_money(Decimal("0"), "EUR", en_us) == "€0.00"
    assert money.format_money(Decimal("39.9"), "EUR", de_de) == "39,90\xa0€"
    assert money.format_money(Decimal("39.9"), "EUR", en_us) == "€39.90"
    assert money.format_money(Decimal("39.9"), "USD", en_us) == "$39.90"


def test_totals_are_kept_per_currency_and_never_summed_across() -> None:
    totals = money.totals(
        [
            (Decimal("39.90"), "EUR", 2),
            (Decimal("12.00"), "USD", 1),
            (Decimal("5.05"), "eur", 3),
            (None, "EUR", 1),
            (Decimal("1"), None, 4),
        ]
    )
    assert totals.amounts == {"EUR": Decimal("94.95"), "USD": Decimal("12.00")}
    assert totals.unpriced == 2
    assert totals.text() == "€94.95 + $12.00 (2 items without a price)"
    assert totals.text(Locale("de", "DE")) == "94,95\xa0€ + 12,00\xa0$ (2 items without a price)"


def test_totals_without_any_price() -> None:
    assert money.totals([(None, None, 1)]).text() == "unknown (no prices)"
    assert money.totals([(Decimal("2"), "EUR", 1), (None, None, 1)]).text() == (
        "€2.00 (1 item without a price)"
    )
    assert money.totals([]).text() == "unknown (no prices)"


def test_line_total() -> None:
    assert money.line_total(Decimal("39.90"), 2) == Decimal("79.80")
    assert money.line_total(None, 2) is None


def test_round_money_to_the_currencys_minor_unit() -> None:
    assert money.round_money(3 * 64.99, "EUR") == 194.97  # 194.96999999999997 unrounded
    assert money.round_money(1499.6, "jpy") == 1500.0
    assert money.round_money(1.23456, "KWD") == 1.235
    assert money.round_money(1.23456, None) == money.round_money(1.23456, "pts") == 1.23
