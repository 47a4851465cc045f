"""What one basket lookup sends besides the user id: the provider id and the tracking session an
agent typed, each left out (with the reason) when it cannot be sent, so a bad value never blocks
the lookup."""

from __future__ import annotations

from dataclasses import dataclass

from basket_lib.api.errors import InvalidInputError
from basket_lib.api.models import BasketResult
from basket_lib.api.validation import clean_provider_id
from basket_lib.tracking import TrackingSession, decode_tracking


@dataclass(frozen=True)
class RequestOptions:
    provider_id: str | None = None
    session: TrackingSession | None = None
    # Why a value that was typed is not sent.
    provider_error: InvalidInputError | None = None
    tracking_error: InvalidInputError | None = None

    @property
    def tracking(self) -> str | None:
        """The X-JAY-Tracking value to send."""
        return self.session.header_value if self.session is not None else None

    def sent(self) -> str:
        """ "provider id netflix and the tracking session s-77"; "" when neither is sent."""
        parts = []
        if self.provider_id:
            parts.append(f"provider id {self.provider_id}")
        if self.session is not None:
            parts.append(f"the tracking session {self.session.session_id or '(no session id)'}")
        return " and ".join(parts)

    def not_sent(self) -> str:
        """ "the tracking header (it is not base64 ...)"; "" when everything typed is sent."""
        parts = []
        if self.provider_error is not None:
            parts.append(f"the provider id ({self.provider_error.message})")
        if self.tracking_error is not None:
            parts.append(f"the tracking header ({self.tracking_error.message})")
        return " and without ".join(parts)


def read_request_options(provider_text: str, tracking_text: str) -> RequestOptions:
    """The options to send from what the agent typed; blank fields send nothing."""
    provider_id = session = provider_error = tracking_error = None
    if provider_text.strip():
        try:
            provider_id = clean_provider_id(provider_text)
        except InvalidInputError as exc:
            provider_error = exc
    if tracking_text.strip():
        try:
            session = decode_tracking(tracking_text)
        except InvalidInputError as exc:
            tracking_error = exc
    return RequestOptions(provider_id, session, provider_error, tracking_error)


def same_basket(new: BasketResult, shown: BasketResult) -> bool:
    """Whether a basket fetched again says what the page shows: the same customer, contents,
    expiry, next-page token and API version (when it was fetched does not count)."""
    return (new.user_id, new.basket, new.next_token, new.api_version) == (
        shown.user_id,
        shown.basket,
        shown.next_token,
        shown.api_version,
    )
