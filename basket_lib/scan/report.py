"""What a scan found: one outcome per user, the failed reservations and the aggregates shown.

The report grows only with what must be shown one by one (failed reservations, users that could
not be read); every basket is folded into counters as soon as it arrives and then dropped.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from basket_lib.api.errors import BasketError, displayable
from basket_lib.api.models import Basket
from basket_lib.api.redaction import NO_SECRETS, Redactor

# Hours from the scan's start until a basket expires; negative = already expired. The histogram's
# bins: views.charts draws them from these labels (this module avoids importing pandas and altair).
EXPIRY_BIN_EDGES_HOURS: tuple[float, ...] = (
    -math.inf, -72, -24, -1, 0, 1, 6, 24, 72, 168, 336, 720, math.inf,
)  # fmt: skip
EXPIRY_BIN_LABELS: tuple[str, ...] = (
    "expired > 3 days",
    "expired 1-3 days",
    "expired 1-24 h",
    "expired < 1 h",
    "< 1 h",
    "1-6 h",
    "6-24 h",
    "1-3 days",
    "3-7 days",
    "7-14 days",
    "14-30 days",
    "> 30 days",
)

MAX_ERROR_MESSAGE_CHARS = 500
INVALID_USER_ID_KIND = "invalid user id"
UNEXPECTED_ERROR_KIND = "unexpected error"


def expiry_bin(hours: float) -> int:
    """Index into EXPIRY_BIN_LABELS of a time to expiry in hours.

    Bins count age away from now on both sides: a future bin holds ``lo <= hours < hi``, an
    expired bin ``lo < hours <= hi``; exactly 0 is expired (as in views.times.expiry_status).
    """
    if math.isnan(hours):
        raise ValueError("hours to expiry is NaN")
    if hours <= 0:
        return max(bisect_left(EXPIRY_BIN_EDGES_HOURS, hours) - 1, 0)
    return min(bisect_right(EXPIRY_BIN_EDGES_HOURS, hours) - 1, len(EXPIRY_BIN_LABELS) - 1)


@dataclass(slots=True)
class FailureRecord:
    """One checkout item whose stock reservation failed (stocked < 0)."""

    user_id: str
    product_id: str
    variant: str | None
    main_product_identifier: str | None
    count: int
    stocked: int


@dataclass(slots=True)
class ErrorRecord:
    """One user whose basket could not be read."""

    user_id: str
    kind: str
    status: int | None
    api_code: int | None
    message: str

    @classmethod
    def from_exception(
        cls, user_id: str, exc: BaseException, redactor: Redactor = NO_SECRETS
    ) -> ErrorRecord:
        # Scrubbed here too: an exception that is not the client's own was never scrubbed.
        if isinstance(exc, BasketError):
            message = redactor.text(exc.summary())[:MAX_ERROR_MESSAGE_CHARS]
            return cls(user_id, exc.kind, exc.status, exc.api_code, message)
        message = displayable(redactor.text(f"{type(exc).__name__}: {exc}"))
        message = message[:MAX_ERROR_MESSAGE_CHARS]
        return cls(user_id, UNEXPECTED_ERROR_KIND, None, None, message)


@dataclass(frozen=True, slots=True)
class BasketSummary:
    """What the aggregates take from one scanned basket (also what a stored scan keeps of it)."""

    checkout_items: int
    failures: tuple[FailureRecord, ...]
    empty: bool
    expires_in_hours: float | None  # from the scan's as_of; None without an expiry
    # The distinct products of the checkout: the denominators of the per-product failure rates.
    products: tuple[str, ...] = ()

    @classmethod
    def of(cls, user_id: str, basket: Basket, as_of: datetime) -> BasketSummary:
        checkout = basket.checkout
        failures = tuple(
            FailureRecord(
                user_id,
                item.product_id,
                item.variant,
                item.main_product_identifier,
                item.count,
                item.stocked,
            )
            for item in checkout
            if item.stocked is not None and item.stocked < 0
        )
        expires = basket.expires
        hours = None if expires is None else (expires - as_of).total_seconds() / 3600
        products = tuple(dict.fromkeys(item.product_id for item in checkout))
        return cls(len(checkout), failures, basket.is_empty, hours, products)


@dataclass(frozen=True, slots=True)
class ScanProgress:
    done: int
    total: int
    errors: int
    failures: int  # failed reservations found so far
    baskets_with_checkout: int


class FailureRates:
    """The two failure rates of a scan, for anything with its four counts (a ScanReport, a
    stored scan's row). Both are None when their denominator is 0."""

    failed_reservations: int
    checkout_items: int
    users_with_failure: int
    baskets_with_checkout: int

    @property
    def reservation_failure_rate(self) -> float | None:
        return self.failed_reservations / self.checkout_items if self.checkout_items else None

    @property
    def user_failure_rate(self) -> float | None:
        if not self.baskets_with_checkout:
            return None
        return self.users_with_failure / self.baskets_with_checkout


@dataclass
class ScanReport(FailureRates):
    """Aggregates of one scan.

    Two failure rates, because one user can have several failed items:
    - ``reservation_failure_rate``: failed reservations / checkout items (every checkout line is
      one reservation);
    - ``user_failure_rate``: users with at least one failed reservation / baskets with a checkout.
    Both are None when their denominator is 0.
    """

    total: int = 0  # distinct users, each ends as scanned or as an error
    duplicates: int = 0
    invalid: int = 0  # of the errors, ids refused before the scan (add_invalid_ids)
    scanned: int = 0
    errors: list[ErrorRecord] = field(default_factory=list)
    failures: list[FailureRecord] = field(default_factory=list)
    baskets_with_checkout: int = 0
    checkout_items: int = 0
    failed_reservations: int = 0
    users_with_failure: int = 0
    empty_baskets: int = 0
    expired_baskets: int = 0
    baskets_without_expiry: int = 0
    # Scanned baskets with an expiry, per EXPIRY_BIN_LABELS bin, split by failed reservations.
    expiry_with_failure: list[int] = field(default_factory=lambda: [0] * len(EXPIRY_BIN_LABELS))
    expiry_without_failure: list[int] = field(default_factory=lambda: [0] * len(EXPIRY_BIN_LABELS))
    # Checkouts holding each product (once per checkout, whatever its lines).
    checkouts_by_product: Counter[str] = field(default_factory=Counter)
    as_of: datetime = field(default_factory=lambda: datetime.now(UTC))  # histogram's "now"
    elapsed_seconds: float = 0.0
    # The scanning client's secrets, scrubbed from every recorded error.
    redactor: Redactor = field(default=NO_SECRETS, repr=False, compare=False)

    def add_basket(self, user_id: str, basket: Basket) -> BasketSummary:
        summary = BasketSummary.of(user_id, basket, self.as_of)
        self.add_summary(summary)
        return summary

    def add_summary(self, summary: BasketSummary) -> None:
        self.scanned += 1
        failures = summary.failures
        if summary.checkout_items:
            self.baskets_with_checkout += 1
            self.checkout_items += summary.checkout_items
            self.checkouts_by_product.update(summary.products)
            if failures:
                self.failed_reservations += len(failures)
                self.failures += failures
                self.users_with_failure += 1
        elif summary.empty:
            self.empty_baskets += 1
        hours = summary.expires_in_hours
        if hours is None:
            self.baskets_without_expiry += 1
            return
        if hours <= 0:
            self.expired_baskets += 1
        bins = self.expiry_with_failure if failures else self.expiry_without_failure
        bins[expiry_bin(hours)] += 1

    def add_error(self, user_id: str, exc: BaseException) -> ErrorRecord:
        record = ErrorRecord.from_exception(user_id, exc, self.redactor)
        self.errors.append(record)
        return record

    def add_invalid_ids(self, invalid: Iterable[tuple[str, str]]) -> None:
        """Count ids rejected before the scan (see inputs.ParsedIds.invalid) as outcomes too."""
        for user_id, reason in invalid:
            self.total += 1
            self.invalid += 1
            self.errors.append(ErrorRecord(user_id, INVALID_USER_ID_KIND, None, None, reason))

    @property
    def outcomes_total(self) -> int:
        return self.scanned + len(self.errors)

    def check_complete(self) -> None:
        """Raise unless every user ended in exactly one outcome."""
        if self.outcomes_total != self.total:
            raise RuntimeError(
                f"Scan incomplete: {self.scanned} scanned + {len(self.errors)} errors "
                f"!= {self.total} users."
            )

    def expiry_counts(self) -> dict[tuple[int, bool], int]:
        """{(bin index, has a failed reservation): baskets}, the input of
        charts.expiry_histogram_frame."""
        counts = {(i, True): n for i, n in enumerate(self.expiry_with_failure)}
        counts.update({(i, False): n for i, n in enumerate(self.expiry_without_failure)})
        return counts

    def product_ids(self) -> list[str]:
        """The products whose details the failures need, sorted: each failed product and its
        main product, as Basket.product_ids (variants often have no details entry of their own,
        and models.details_for falls back to the main product's)."""
        ids = {record.product_id for record in self.failures}
        ids.update(r.main_product_identifier for r in self.failures if r.main_product_identifier)
        return sorted(ids)

    def errors_by_kind(self) -> Counter[str]:
        return Counter(record.kind for record in self.errors)

    def summary_line(self) -> str:
        return (
            f"users={self.total} scanned={self.scanned} with_checkout={self.baskets_with_checkout} "
            f"failed_reservations={self.failed_reservations} errors={len(self.errors)} "
            f"seconds={self.elapsed_seconds:.2f}"
        )
