"""What every sender shares, with no HTTP library imported: the request as it goes on the wire,
one attempt's record, the timeouts and the attempt's deadline.

The senders themselves live apart (basket_lib.api.senders on httpx, basket_lib.api.aiohttp_sender
on aiohttp), so a process imports only the library it sends through: a scan never loads httpx.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from basket_lib.api.responses import ResponseHead

USER_AGENT = "basket-support"


@dataclass(frozen=True, slots=True)
class WireRequest:
    """One request as it goes on the wire; every attempt of a call sends the same one."""

    method: str
    url: str  # absolute, path and query already percent-encoded
    headers: Mapping[str, str]
    body: bytes | None


class Sender(Protocol):
    """One attempt of the async client: the head and whole body, or the client's error."""

    async def send(self, request: WireRequest, attempt: Attempt) -> tuple[ResponseHead, bytes]: ...

    async def aclose(self) -> None: ...


class Attempt:
    """What the retry loop learns of an attempt even when it fails: the head, once it arrived
    (a failure while reading the body still honours the answer's Retry-After)."""

    __slots__ = ("head",)

    def __init__(self) -> None:
        self.head: ResponseHead | None = None

    @property
    def retry_after(self) -> str | None:
        return None if self.head is None else self.head.headers.get("Retry-After")


class PhaseTimeouts(Protocol):
    """Seconds per phase of an attempt, under httpx.Timeout's names (which has them too)."""

    @property
    def connect(self) -> float | None: ...

    @property
    def read(self) -> float | None: ...

    @property
    def write(self) -> float | None: ...

    @property
    def pool(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class Timeouts:
    """The client's timeouts when given as seconds; an httpx.Timeout passed in is kept as is."""

    connect: float | None
    read: float | None
    write: float | None
    pool: float | None


def deadline_seconds(timeout: PhaseTimeouts) -> float | None:
    """The whole attempt's deadline: the longest of its phase timeouts (for `timeout=10` that is
    10 s), so no phase can be starved by another, and a server that trickles bytes cannot hold an
    attempt longer."""
    phases = [t for t in (timeout.connect, timeout.read, timeout.write, timeout.pool) if t]
    return max(phases) if phases else None


def host_label(url: object) -> str:
    """`host:port` of an absolute URL (the port only when the URL names one), for messages."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    return f"{host}:{parts.port}" if parts.port else host
