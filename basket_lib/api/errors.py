"""The exception hierarchy and the one mapper from an error response to its class.

Every exception carries what a support agent needs to read (HTTP status, API code, its catalogue
name and meaning, the API's own message) and a hint on what to do. The client that raises an error
scrubs its own key and token from it (basket_lib.api.redaction), whatever the API echoes back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from basket_lib.api.codes import CodeInfo, describe_code

# --- displayable text -------------------------------------------------------------------------


def displayable(text: str) -> str:
    """`text` as every page, file and database can hold it."""
    if "\x00" in text:
        # No page shows a NUL and PostgreSQL's text columns refuse it: U+FFFD marks where it was.
        text = text.replace("\x00", "\ufffd")
    if not text.isascii():
        # A lone surrogate (JSON "\ud800") cannot be encoded: no page or log could show the text.
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


# Error details nested deeper than this are cut off: JSON can nest far deeper than Python can
# recurse, and a hostile body must end as an error, not as a RecursionError.
MAX_DETAILS_DEPTH = 64
_TOO_DEEP = "[nested too deeply to show]"


def map_strings(value: Any, text: Callable[[str], str], depth: int = 0) -> Any:
    """`value` with `text` applied to every string in it (dict keys included), nested containers
    cut off at MAX_DETAILS_DEPTH."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, (dict, list, tuple)) and depth >= MAX_DETAILS_DEPTH:
        return _TOO_DEEP
    if isinstance(value, dict):
        return {text(str(k)): map_strings(v, text, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [map_strings(v, text, depth + 1) for v in value]
    return value


# --- exceptions -------------------------------------------------------------------------------


class BasketError(Exception):
    """Root of every error basket_lib raises."""

    hint: str = ""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        api_code: int | None = None,
        api_message: str | None = None,
        details: Any = None,
    ) -> None:
        self.message = displayable(message)
        self.status = status
        self.api_code = api_code
        self.api_message = displayable(api_message) if api_message is not None else None
        self.details = map_strings(details, displayable)
        super().__init__(self.message)

    @property
    def code_info(self) -> CodeInfo | None:
        return describe_code(self.api_code) if self.api_code is not None else None

    @property
    def kind(self) -> str:
        """Short human label of the error class, e.g. 'authentication failed'."""
        return kind_of(type(self))

    def summary(self) -> str:
        """One line for tables and logs: status, code, name and message."""
        parts: list[str] = []
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        info = self.code_info
        if info is not None:
            parts.append(f"code {info.label()}" if info.documented else info.name)
        parts.append(self.message)
        return " · ".join(parts)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, api_code={self.api_code!r}, "
            f"message={self.message!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keeps errors picklable (st.cache_data, multiprocessing) with their fields.
        return (
            _rebuild,
            (type(self), self.message, self.status, self.api_code, self.api_message, self.details),
        )


def _rebuild(
    cls: type[BasketError],
    message: str,
    status: int | None,
    api_code: int | None,
    api_message: str | None,
    details: Any,
) -> BasketError:
    return cls(message, status=status, api_code=api_code, api_message=api_message, details=details)


class ConfigurationError(BasketError):
    hint = "Check the BASKET_API_* settings (environment or .streamlit/secrets.toml)."


class StorageError(BasketError):
    """The scan database cannot be opened, migrated, read or written."""

    hint = "Check BASKET_DATABASE_URL and that the database is reachable and writable."


class ScanStateError(BasketError):
    """A stored scan that does not exist, or cannot do what was asked in its state (resume a
    completed scan, a run that another process took over)."""

    hint = "List the stored scans with: python -m basket_lib scans"


class InvalidInputError(BasketError, ValueError):
    """Input rejected before any request was sent."""

    hint = "Correct the input; nothing was sent to the API."


class InvalidUserIdError(InvalidInputError):
    pass


class TrackingDecodeError(InvalidInputError):
    hint = "Paste the X-JAY-Tracking header value or the __Secure-jay_tracking cookie value."


class TrackingTooLargeError(TrackingDecodeError):
    pass


class TrackingNotBase64Error(TrackingDecodeError):
    pass


class TrackingNotUtf8Error(TrackingDecodeError):
    pass


class TrackingNotJsonError(TrackingDecodeError):
    pass


class TrackingNotObjectError(TrackingDecodeError):
    pass


class APIError(BasketError):
    """Anything that went wrong talking to the API."""


class APIStatusError(APIError):
    """The API answered with an error status or an error envelope."""

    hint = "See the API's message; retry later if the problem persists."


class BadRequestError(APIStatusError):
    hint = "The API rejected the request as malformed."


class AuthenticationError(APIStatusError):
    hint = "Check BASKET_API_KEY (and BASKET_API_TOKEN if the API requires a bearer token)."


class PermissionDeniedError(APIStatusError):
    hint = "The key is valid but not allowed to read this basket; ask Transfermedia for access."


class NotFoundError(APIStatusError):
    hint = "Check BASKET_API_URL, including its path prefix (e.g. /v2)."


class RequestValidationError(APIStatusError):
    hint = "The API rejected the request's parameters: check the user id and provider id."


class RateLimitError(APIStatusError):
    hint = "The API is throttling requests; wait a moment or lower the scan's concurrency."


class ServerError(APIStatusError):
    hint = "The API or a proxy in front of it failed; retry in a moment."


class UnexpectedStatusError(APIStatusError):
    pass


class APIConnectionError(APIError):
    hint = "The API could not be reached; check BASKET_API_URL and the network."


class APITimeoutError(APIConnectionError):
    hint = "The API did not answer in time; retry, or raise BASKET_API_TIMEOUT."


class ResponseTooLargeError(APIError):
    hint = "The response exceeded the size limit; this is not a normal basket."


class ResponseFormatError(APIError):
    """The body was not JSON (an HTML error page from a proxy, a truncated body)."""

    hint = "Something between the dashboard and the API answered instead of the API."


class ResponseValidationError(APIError):
    """The body was JSON but did not match the documented schema."""

    hint = (
        "The API answered with data the dashboard does not understand; "
        "report it with the raw response."
    )


_KIND_LABELS: dict[type, str] = {
    ConfigurationError: "configuration error",
    StorageError: "database error",
    ScanStateError: "scan state",
    InvalidInputError: "invalid input",
    InvalidUserIdError: "invalid user id",
    TrackingDecodeError: "invalid tracking value",
    TrackingTooLargeError: "tracking value too large",
    TrackingNotBase64Error: "tracking value is not base64",
    TrackingNotUtf8Error: "tracking value is not UTF-8",
    TrackingNotJsonError: "tracking value is not JSON",
    TrackingNotObjectError: "tracking value is not a JSON object",
    BadRequestError: "bad request",
    AuthenticationError: "authentication failed",
    PermissionDeniedError: "permission denied",
    NotFoundError: "not found",
    RequestValidationError: "request rejected",
    RateLimitError: "rate limited",
    ServerError: "server error",
    UnexpectedStatusError: "unexpected status",
    APIConnectionError: "connection error",
    APITimeoutError: "timeout",
    ResponseTooLargeError: "response too large",
    ResponseFormatError: "response not JSON",
    ResponseValidationError: "response does not match the schema",
}

_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: RequestValidationError,
    429: RateLimitError,
}


def kind_of(cls: type[BasketError]) -> str:
    """The short label errors of `cls` carry as `kind`."""
    return _KIND_LABELS.get(cls, cls.__name__)


def status_error_class(status: int) -> type[APIStatusError]:
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    if status >= 500:
        return ServerError
    return UnexpectedStatusError


def error_for_status(
    status: int,
    *,
    api_code: int | None = None,
    api_message: str | None = None,
    details: Any = None,
) -> APIStatusError:
    """The one place that maps an error response to its exception class."""
    cls = status_error_class(status)
    text = api_message or f"The API answered HTTP {status}."
    return cls(text, status=status, api_code=api_code, api_message=api_message, details=details)
