"""From an HTTP response to a typed result or the right error: decoding, limits, parsing.

Pure functions over a read response, shared by both clients and every transport they send through.
"""

from __future__ import annotations

import html
import json
import re
import zlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import urljoin, urlsplit

import pydantic

from basket_lib.api import errors, models
from basket_lib.api.codes import parse_code
from basket_lib.api.wire import host_label

EXCERPT_CHARS = 200
# Only the start of a non-JSON body is inspected for the excerpt, keeping the tag stripping cheap.
_EXCERPT_SCAN_BYTES = 16 * 1024
_MAX_LISTED_PROBLEMS = 5

T = TypeVar("T")


class ResponseHead(Protocol):
    """What decoding reads of a response: httpx.Response has it, and so has the head of an
    aiohttp response (basket_lib.api.aiohttp_sender.AiohttpHead)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...  # case-insensitive

    @property
    def url(self) -> object: ...  # its str() is the absolute URL (httpx.URL, or a str)


_COMMENT = re.compile(r"<!--.*?-->", re.S)
_SCRIPT_STYLE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.S | re.I)
# `[^<>]` keeps this linear on bodies full of unmatched "<".
_TAG = re.compile(r"<[^<>]*>")


def text_excerpt(body: bytes, limit: int = EXCERPT_CHARS) -> str:
    """A short plain-text rendering of a body: tags stripped, whitespace collapsed."""
    text = body[:_EXCERPT_SCAN_BYTES].decode("utf-8", errors="replace")
    text = _TAG.sub(" ", _SCRIPT_STYLE.sub(" ", _COMMENT.sub(" ", text)))
    text = html.unescape(text)
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _content_type(response: ResponseHead) -> str:
    value = response.headers.get("Content-Type", "").strip()
    return value[:100] if value else "no content type"


def decode_json(response: ResponseHead, body: bytes) -> Any:
    """The decoded JSON body, or ResponseFormatError quoting status, content type and excerpt."""
    status = response.status_code
    content_type = _content_type(response)
    try:
        return json.loads(body)
    except RecursionError:
        reason = "it is nested too deeply"
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        reason = str(exc)
    excerpt = text_excerpt(body)
    quoted = f'"{excerpt}"' if excerpt else "an empty body"
    if "json" in content_type.lower():
        message = (
            f"The API answered HTTP {status} with {content_type}, but the body is not valid JSON "
            f"({reason}; it may have been cut off): {quoted}"
        )
    else:
        message = f"The API answered HTTP {status} with {content_type} instead of JSON: {quoted}"
    raise errors.ResponseFormatError(
        message,
        status=status,
        details={"content_type": content_type, "excerpt": excerpt},
    )


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(body)"


def validate_payload(model: type[T], payload: Any, status: int, *, shape_known: bool = False) -> T:
    """The payload as `model`, or ResponseValidationError naming each bad field's path.

    `shape_known`: the body it was decoded from proves it shallow and free of lone surrogates
    (models.json_shape_known), so the models need not walk it again."""
    if not isinstance(payload, dict):
        raise errors.ResponseValidationError(
            f"The API answered HTTP {status} with JSON {type(payload).__name__}, "
            "expected an object.",
            status=status,
            details={"response": payload},
        )
    try:
        context = models.SHAPE_KNOWN if shape_known else None
        return model.model_validate(payload, context=context)  # type: ignore[attr-defined,no-any-return]
    except pydantic.ValidationError as exc:
        # include_input=False: the offending values may be large or carry personal data.
        problems = [
            {"field": _field_path(err["loc"]), "problem": err["msg"], "type": err["type"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        listed = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:_MAX_LISTED_PROBLEMS])
        more = len(problems) - _MAX_LISTED_PROBLEMS
        if more > 0:
            listed += f"; and {more} more"
        raise errors.ResponseValidationError(
            f"The API's response does not match the documented schema: {listed}",
            status=status,
            # The response itself, so the agent can escalate with what the error refers to.
            details={"problems": problems, "response": payload},
        ) from None


def _lenient_error_fields(payload: Any) -> tuple[int | None, str | None, Any]:
    """API code, message and details of an error body, taking whatever is readable.

    Used for error statuses, where the status already decides the class and a malformed envelope
    must not hide it.
    """
    if not isinstance(payload, dict):
        return None, None, payload
    error = payload.get("error")
    if isinstance(error, dict):
        message = error.get("message")
        return (
            parse_code(error.get("code")),
            message if isinstance(message, str) else None,
            error.get("details"),
        )
    detail = payload.get("detail")  # FastAPI's own error body
    if isinstance(detail, str):
        return None, detail, None
    return None, None, detail


def redirect_error(response: ResponseHead) -> errors.APIStatusError:
    """A 3xx is never followed: the key would travel to wherever the Location points."""
    status = response.status_code
    source = urlsplit(str(response.url))
    location = response.headers.get("Location")
    target: str
    try:
        target_host = urlsplit(urljoin(source.geturl(), location)).hostname if location else None
    except ValueError:  # e.g. an unclosed IPv6 bracket
        target_host = None
    if target_host is None:
        target = "an invalid location"
    elif target_host == source.hostname:
        target = f"another URL on the same host {target_host}"
    else:
        target = f"host {target_host}"
    return errors.status_error_class(status)(
        f"The API redirected the request (HTTP {status}) to {target}; redirects are not followed "
        "so the API key only goes to the configured host. Check BASKET_API_URL.",
        status=status,
    )


def declared_length_error(response: ResponseHead, cap: int) -> errors.ResponseTooLargeError | None:
    declared = response.headers.get("Content-Length", "")
    if declared.strip().isdigit() and int(declared) > cap:
        return errors.ResponseTooLargeError(
            f"The API's response (HTTP {response.status_code}) declares {int(declared):,} bytes, "
            f"more than the {cap:,}-byte limit; it was not read.",
            status=response.status_code,
        )
    return None


def read_limit_error(response: ResponseHead, cap: int) -> errors.ResponseTooLargeError:
    return errors.ResponseTooLargeError(
        f"The API's response (HTTP {response.status_code}) exceeded the {cap:,}-byte limit; "
        "reading was stopped.",
        status=response.status_code,
    )


# zlib window bits per Content-Encoding: gzip with its header, deflate as RFC 9110 defines it
# (zlib-wrapped; servers that send a raw deflate stream are handled in BoundedDecoder).
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class BoundedDecoder:
    """A response body from its raw (still encoded) bytes, refused once it passes `cap`.

    Every path reads the raw bytes and decodes here, because the libraries' own decoders inflate a
    whole network read at once: a few KiB of gzip can become hundreds of MiB before any cap is
    checked. Here each piece is inflated with `max_length` set to what the cap still allows (plus
    one byte, to know it is over), so memory stays within the cap whatever the ratio.
    """

    __slots__ = ("_body", "_cap", "_decoder", "_head", "_raw_deflate", "_started")

    def __init__(self, head: ResponseHead, cap: int, encoding: str | None = None) -> None:
        self._head = head
        self._cap = cap
        self._body = bytearray()
        self._started = False
        self._raw_deflate = False
        if encoding is None:
            encoding = head.headers.get("Content-Encoding")
        name = (encoding or "").strip().lower()
        if name in ("", "identity"):
            self._decoder: Any = None
        elif name in _WBITS:
            self._raw_deflate = name == "deflate"
            self._decoder = zlib.decompressobj(_WBITS[name])
        else:
            # Only gzip and deflate are asked for (Accept-Encoding); stacked or other codings are
            # a server fault, not something to guess at.
            raise self._decoding_error(f"unsupported Content-Encoding {name[:40]!r}")

    def _decoding_error(self, reason: str) -> errors.ResponseFormatError:
        return errors.ResponseFormatError(
            f"The API at {host_label(self._head.url)} sent a body that could not be decoded "
            f"({reason}).",
            status=self._head.status_code,
        )

    def feed(self, data: bytes) -> None:
        if not data:
            return
        decoder = self._decoder
        if decoder is None:
            self._body += data
        else:
            if decoder.eof:
                # Bytes after the end of the compressed stream: the framing and the body
                # disagree, so nothing of it can be trusted to belong to this response.
                raise self._decoding_error("data after the end of the compressed stream")
            limit = self._cap + 1 - len(self._body)
            try:
                out = decoder.decompress(data, limit)
            except zlib.error as exc:
                if not (self._raw_deflate and not self._started):
                    raise self._decoding_error(str(exc)) from None
                # Some servers send deflate without its zlib wrapper.
                self._decoder = decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                try:
                    out = decoder.decompress(data, limit)
                except zlib.error as error:
                    raise self._decoding_error(str(error)) from None
            self._started = True
            self._body += out
            if decoder.eof and decoder.unused_data:
                raise self._decoding_error("data after the end of the compressed stream")
        if len(self._body) > self._cap:
            raise read_limit_error(self._head, self._cap)

    def finish(self) -> bytes:
        """The whole body, once the raw bytes have ended."""
        decoder = self._decoder
        # A stream that stopped short of the cap without its end marker was cut off; inflating
        # with a max_length never leaves output pending below it, so nothing needs flushing.
        if decoder is not None and self._started and not decoder.eof:
            raise self._decoding_error("the compressed body ends early")
        return bytes(self._body)


# --- per-endpoint parsing -----------------------------------------------------------------------


def _raise_envelope_error(status: int, error: models.ErrorInfo | None) -> None:
    if error is not None:
        raise errors.error_for_status(
            status, api_code=error.code, api_message=error.message, details=error.details
        )


def parse_basket(
    user_id: str, response: ResponseHead, payload: Any, shape_known: bool = False
) -> models.BasketResult:
    envelope = validate_payload(
        models.BasketEnvelope, payload, response.status_code, shape_known=shape_known
    )
    _raise_envelope_error(response.status_code, envelope.error)
    return models.BasketResult(
        user_id=user_id,
        # A user without a basket gets an empty one; some servers send `data: null` for it.
        basket=envelope.data or models.Basket(),
        next_token=envelope.next_token,
        api_version=response.headers.get("X-API-Version"),
        fetched_at=datetime.now(UTC),
        raw=payload,
    )


def parse_product_details(
    response: ResponseHead, payload: Any, shape_known: bool = False
) -> dict[str, models.ProductDetails]:
    envelope = validate_payload(
        models.ProductDetailsEnvelope, payload, response.status_code, shape_known=shape_known
    )
    _raise_envelope_error(response.status_code, envelope.error)
    products = envelope.data.products if envelope.data else ()
    return {product.product_id: product for product in products}


def interpret(
    response: ResponseHead, body: bytes, parse: Callable[[ResponseHead, Any, bool], T]
) -> T:
    """The parsed result of a fully read response, or the mapped error."""
    status = response.status_code
    if 300 <= status < 400:
        raise redirect_error(response)
    is_success = 200 <= status < 300
    if not is_success and not body.strip():
        raise errors.error_for_status(status)
    payload = decode_json(response, body)
    if not is_success:
        code, message, details = _lenient_error_fields(payload)
        raise errors.error_for_status(status, api_code=code, api_message=message, details=details)
    return parse(response, payload, models.json_shape_known(body))
