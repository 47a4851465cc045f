"""The demo API's request handling, shared by the in-process transport and the loopback server.

It speaks the real API's HTTP contract: the same paths (after any prefix), headers, statuses and
envelope ``{"data", "nextToken", "error"}``. Baskets come from named scenario users, seeded
``user-NNNNN`` users, and fault users that always fail in one particular way.
"""

from __future__ import annotations

import functools
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import unquote_to_bytes, urlsplit

# Re-exported: the loopback server and the simulator answer with the demo's default version.
from basket_lib.api.defaults import DEFAULT_API_VERSION as DEFAULT_API_VERSION
from basket_lib.demo.baskets import (
    MAX_USER_NUMBER,
    SCENARIO_BASKETS,
    empty_basket,
    envelope,
    huge_body,
    schema_violation,
    seeded_basket,
    to_json,
)
from basket_lib.demo.catalogue import product_details

DEMO_BASE_URL = "http://demo.jay-basket.invalid/v2"
DEMO_API_KEY = "demo-key"
MAX_USER_ID_LENGTH = 256

Fault = Literal["stall", "drop"]
Clock = Callable[[], datetime]

SCENARIOS: dict[str, str] = {
    "demo-normal": "A normal basket: a few products in the cart, one saved, no checkout.",
    "demo-checkout-failed": "A checkout with failed, successful and unlimited reservations.",
    "demo-variants": "Size variants of apparel, each naming its main product.",
    "demo-empty": "An empty basket, as any unknown user gets.",
    "demo-expiring": "A basket that expires in 37 minutes.",
    "demo-expired": "A basket that expired two days ago.",
    "demo-full-cart": "A full cart: 20 products, the API's maximum.",
    "demo-next-token": "A normal basket whose envelope carries a nextToken.",
    "demo-hostile": "Product ids, names and variants full of HTML, script and markdown.",
    "demo-fault-401": "Always 401: invalid API key (code 2002).",
    "demo-fault-403": "Always 403: the key may not read this basket.",
    "demo-fault-404": "Always 404: basket not found (code 2005).",
    "demo-fault-422": 'Always 422: request validation error (code "3002" as a string).',
    "demo-fault-429": "Always 429: rate limited, Retry-After: 1.",
    "demo-fault-500": "Always 500: internal server error (code 3001).",
    "demo-fault-502-html": "Always 502 with a proxy's HTML error page.",
    "demo-fault-503": "Always 503: service unavailable.",
    "demo-fault-timeout": "Never answers: the request times out.",
    "demo-fault-drop": "The connection closes without an answer.",
    "demo-fault-malformed": "200 with a truncated JSON body.",
    "demo-fault-schema": "200 JSON with wrong types (numeric productId, stocked 'lots').",
    "demo-fault-undocumented": "400 with the undocumented error code 2017.",
    "demo-fault-huge": "200 with a body over 4 MiB.",
}

_ALLOWED_USER_ID = re.compile(rf"[A-Za-z0-9._@:+-]{{1,{MAX_USER_ID_LENGTH}}}")
_DISALLOWED_CHAR = re.compile(r"[^A-Za-z0-9._@:+-]")
_SEEDED_USER = re.compile(r"user-(\d{1,6})", re.ASCII)
_BASKET_ROUTE = re.compile(r".*?/baskets/users/(?P<segment>[^/]+)")
_DETAILS_ROUTE = re.compile(r".*?/baskets/products/details/?")
# The requested API version is echoed into a response header: only short printable values are.
_SAFE_HEADER_VALUE = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,63}")

_BAD_GATEWAY_PAGE = b"""<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""


@dataclass(frozen=True, slots=True)
class DemoResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    # A failure without an HTTP answer: "stall" (never answer) or "drop" (close the connection).
    fault: Fault | None = None
    # The decoded user id of a basket request, for per-user counters.
    user_id: str | None = field(default=None, compare=False)


def json_response(
    status: int, payload: Any, version: str, *, headers: Mapping[str, str] | None = None
) -> DemoResponse:
    body = payload if isinstance(payload, bytes) else to_json(payload)
    all_headers = {"Content-Type": "application/json", "X-API-Version": version, **(headers or {})}
    return DemoResponse(status, all_headers, body)


def error_response(
    status: int,
    code: int | str,
    message: str,
    version: str,
    *,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> DemoResponse:
    payload = {
        "data": None,
        "nextToken": None,
        "error": {"code": code, "message": message, "details": details},
    }
    return json_response(status, payload, version, headers=headers)


def validation_error(message: str, version: str, location: str) -> DemoResponse:
    # The docs' 422 examples carry the code as the string "3002", so every demo 422 does too.
    details = [{"loc": location.split("."), "msg": message, "type": "value_error"}]
    return error_response(422, "3002", message, version, details=details)


def rate_limited(version: str, retry_after: float) -> DemoResponse:
    message = "Too many requests; retry later."
    return error_response(429, 429, message, version, headers={"Retry-After": f"{retry_after:g}"})


def service_unavailable(version: str) -> DemoResponse:
    return error_response(503, 503, "Service temporarily unavailable.", version)


def bad_gateway_page() -> DemoResponse:
    """What a reverse proxy answers when the API behind it is down: HTML, no API headers."""
    return DemoResponse(502, {"Content-Type": "text/html"}, _BAD_GATEWAY_PAGE)


def truncated(response: DemoResponse) -> DemoResponse:
    """The response cut off half way: a 200 whose JSON never ends."""
    body = response.body[: max(1, len(response.body) // 2)]
    return DemoResponse(200, {**response.headers, "Content-Type": "application/json"}, body)


def user_id_problem(user_id: str) -> str | None:
    """Why the demo rejects a user id, or None when it is accepted."""
    if _ALLOWED_USER_ID.fullmatch(user_id):
        return None
    if not user_id:
        return "The userId is empty."
    if len(user_id) > MAX_USER_ID_LENGTH:
        return (
            f"The userId is {len(user_id)} characters long; "
            f"at most {MAX_USER_ID_LENGTH} are allowed."
        )
    bad = sorted(set(_DISALLOWED_CHAR.findall(user_id)))
    shown = ", ".join(repr(char) for char in bad[:5]) + (", ..." if len(bad) > 5 else "")
    return (
        f"The userId contains characters that are not allowed ({shown}); "
        "allowed are letters, digits and . _ @ : + -"
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DemoApi:
    """The demo API's behaviour, independent of how requests arrive.

    ``api_key``: when set, requests must send it as ``X-API-Key``. ``seed`` picks the seeded
    users' baskets. ``clock`` is the time baskets are relative to. ``stall_seconds`` is how long
    the loopback server holds a stalled request before closing it.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        seed: int = 7,
        clock: Clock = _utc_now,
        stall_seconds: float = 30.0,
    ) -> None:
        self.api_key = api_key
        self.seed = seed
        self.clock = clock
        self.stall_seconds = stall_seconds
        # Seeded baskets are rendered once per user and minute, so serving is a dict lookup; the
        # cache holds all DEFAULT_DEMO_USERS, as a sequential scan through them would thrash it.
        self._seeded_body = functools.lru_cache(maxsize=16384)(self._render_seeded)

    def __repr__(self) -> str:
        # Never shows the key itself.
        return f"DemoApi(seed={self.seed}, api_key={'set' if self.api_key else 'none'})"

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> DemoResponse:
        """Answer one request; ``target`` is the request target (path and query)."""
        lowered = {name.lower(): value for name, value in headers.items()}
        version = lowered.get("x-jay-api-version", "")
        version = version if _SAFE_HEADER_VALUE.fullmatch(version) else DEFAULT_API_VERSION
        path = target if target.startswith("/") else urlsplit(target).path
        path = path.partition("?")[0]
        method = method.upper()

        if match := _BASKET_ROUTE.fullmatch(path):
            if method != "GET":
                return self._method_not_allowed("GET", version)
            return self._key_problem(lowered, version) or self._basket(match["segment"], version)
        if _DETAILS_ROUTE.fullmatch(path):
            if method != "POST":
                return self._method_not_allowed("POST", version)
            return self._key_problem(lowered, version) or self._details(body, version)
        return error_response(404, 404, "Not Found", version)

    def _method_not_allowed(self, allowed: str, version: str) -> DemoResponse:
        return error_response(405, 405, "Method Not Allowed", version, headers={"Allow": allowed})

    def _key_problem(self, headers: Mapping[str, str], version: str) -> DemoResponse | None:
        if self.api_key is None:
            return None
        sent = headers.get("x-api-key", "")
        if hmac.compare_digest(sent.encode(), self.api_key.encode()):
            return None
        return error_response(401, 2002, "Invalid API key", version)

    def _basket(self, segment: str, version: str) -> DemoResponse:
        try:
            user_id = unquote_to_bytes(segment).decode("utf-8") if "%" in segment else segment
        except UnicodeDecodeError:
            message = "The userId is not valid UTF-8 after percent-decoding."
            return validation_error(message, version, "path.userId")
        if problem := user_id_problem(user_id):
            answer = validation_error(problem, version, "path.userId")
        else:
            now = self.clock()
            now = now if now.tzinfo else now.replace(tzinfo=UTC)
            answer = self._fault(user_id, now, version) or self._basket_of(user_id, now, version)
        return replace(answer, user_id=user_id)

    def _basket_of(self, user_id: str, now: datetime, version: str) -> DemoResponse:
        if user_id in SCENARIO_BASKETS:
            render, next_token = SCENARIO_BASKETS[user_id]
            payload: Any = envelope(render(now), next_token)
        elif (seeded := _SEEDED_USER.fullmatch(user_id)) and int(seeded[1]) <= MAX_USER_NUMBER:
            payload = self._seeded_body(int(seeded[1]), int(now.timestamp()) // 60)
        else:
            payload = envelope(empty_basket())  # like the real API: unknown users have no basket
        return json_response(200, payload, version)

    def _fault(self, user_id: str, now: datetime, version: str) -> DemoResponse | None:
        """The answer of a demo-fault-* user, None for every other user."""
        fault_prefix = "demo-fault-"
        if not user_id.startswith(fault_prefix):
            return None
        match user_id[len(fault_prefix) :]:
            case "401":
                return error_response(401, 2002, "Invalid API key", version)
            case "403":
                return error_response(
                    403, 403, "This key may not read this user's basket.", version
                )
            case "404":
                return error_response(404, 2005, "Basket not found.", version)
            case "422":
                message = "Request validation error: userId is not a known platform user."
                return validation_error(message, version, "path.userId")
            case "429":
                return rate_limited(version, 1)
            case "500":
                return error_response(500, 3001, "Internal server error.", version)
            case "502-html":
                return bad_gateway_page()
            case "503":
                return service_unavailable(version)
            case "timeout":
                return DemoResponse(504, {}, b"", fault="stall")
            case "drop":
                return DemoResponse(502, {}, b"", fault="drop")
            case "malformed":
                return truncated(self._basket_of("demo-normal", now, version))
            case "schema":
                return json_response(200, schema_violation(now), version)
            case "undocumented":
                message = "The basket is locked by another checkout session."
                return error_response(400, 2017, message, version, details={"retry": False})
            case "huge":
                return json_response(200, huge_body(now), version)
        return None

    def _render_seeded(self, number: int, minute: int) -> bytes:
        return to_json(
            envelope(seeded_basket(self.seed, number, datetime.fromtimestamp(minute * 60, UTC)))
        )

    def _details(self, body: bytes, version: str) -> DemoResponse:
        problem = "The request body must be a JSON array of product id strings."
        try:
            product_ids = json.loads(body)
        except ValueError:
            return validation_error(problem, version, "body")
        if not isinstance(product_ids, list) or not all(isinstance(p, str) for p in product_ids):
            return validation_error(problem, version, "body")
        return json_response(200, envelope({"products": product_details(product_ids)}), version)
