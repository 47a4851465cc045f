"""The HTTP safety properties on every path a request can take, against hostile servers.

Each test runs three times, through the real request path of:

- `sync`: BasketClient on httpx's own transport;
- `aiohttp`: AsyncBasketClient's default path (raw aiohttp);
- `httpx-async`: AsyncBasketClient over an injected httpx.AsyncHTTPTransport.

The servers are raw asyncio servers on 127.0.0.1 (in a thread of their own, so the sync client can
talk to them) that write exactly the bytes a test gives.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from basket_lib.api import client as client_module
from basket_lib.api import errors
from basket_lib.api.client import AsyncBasketClient, BasketClient
from basket_lib.api.models import BasketResult

KEY = "safety-key-SECRET-4711"
BASE = "https://api.example.test/v2"
PATHS = ["sync", "aiohttp", "httpx-async"]

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class HostileServer:
    """A loopback server in a thread of its own, each connection handled by `handler`."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0
        self.connections = 0

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()

        async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self._handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        listener = await asyncio.start_server(counted, "127.0.0.1", 0)
        self.port = listener.sockets[0].getsockname()[1]
        self._ready.set()
        async with listener:
            await self._stop.wait()

    def __enter__(self) -> HostileServer:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2"


def basket_body(user_id: str) -> bytes:
    """A basket that names the user it was sent for, so a misattributed answer shows."""
    return json.dumps({"data": {"cart": [{"productId": f"for-{user_id}", "count": 1}]}}).encode()


def answer(body: bytes, *extra_headers: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    head += b"".join(h + b"\r\n" for h in extra_headers)
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


async def read_request(reader: asyncio.StreamReader) -> str:
    """The user id of the request read (its path's last segment)."""
    head = await reader.readuntil(b"\r\n\r\n")
    target = head.split(b" ", 2)[1].decode("ascii")
    return unquote(target.split("?", 1)[0].rsplit("/", 1)[-1])


def make_client(path: str, base_url: str, **options: Any) -> BasketClient | AsyncBasketClient:
    options = {"max_retries": 0, **options}
    if path == "sync":
        return BasketClient(base_url, KEY, **options)
    if path == "httpx-async":
        options["transport"] = httpx.AsyncHTTPTransport()
    return AsyncBasketClient(base_url, KEY, **options)


Outcome = BasketResult | errors.BasketError


def fetch(
    path: str,
    base_url: str,
    user_ids: list[str],
    *,
    between: Callable[[], None] | None = None,
    **options: Any,
) -> list[Outcome]:
    """Each user's basket in turn through one client on `path`: the result or the error.

    `between` runs (blocking, off the event loop) after each call but the last.
    """
    outcomes: list[Outcome] = []
    client = make_client(path, base_url, **options)
    if isinstance(client, BasketClient):
        with client:
            for n, user_id in enumerate(user_ids):
                try:
                    outcomes.append(client.get_basket(user_id))
                except errors.BasketError as exc:
                    outcomes.append(exc)
                if between is not None and n < len(user_ids) - 1:
                    between()
        return outcomes

    async def scenario(client: AsyncBasketClient) -> None:
        async with client:
            for n, user_id in enumerate(user_ids):
                try:
                    outcomes.append(await client.get_basket(user_id))
                except errors.BasketError as exc:
                    outcomes.append(exc)
                if between is not None and n < len(user_ids) - 1:
                    await asyncio.to_thread(between)

    asyncio.run(scenario(client))
    return outcomes


def fetch_one_traced(path: str, base_url: str, **options: Any) -> tuple[Outcome, int]:
    """User "u"'s outcome on `path`, and the peak of memory traced while it was fetched."""
    tracemalloc.start()
    try:
        outcome = only(fetch(path, base_url, ["u"], **options))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return outcome, peak


def only(outcomes: list[Outcome]) -> Outcome:
    assert len(outcomes) == 1
    return outcomes[0]


def served_to(outcome: Outcome) -> str | None:
    """The user the basket was made for, or None for an error."""
    if isinstance(outcome, errors.BasketError):
        return None
    return outcome.basket.cart[0].product_id.removeprefix("for-")


def error_chain_text(error: BaseException) -> str:
    parts = []
    seen: BaseException | None = error
    while seen is not None:
        parts += [str(seen), repr(seen), repr(getattr(seen, "details", None))]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


path_param = pytest.mark.parametrize("path", PATHS)


# --- redirects ----------------------------------------------------------------------------------


@path_param
def test_redirects_are_not_followed(path: str) -> None:
    requests: list[str] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            requests.append(await read_request(reader))
            writer.write(
                b"HTTP/1.1 302 Found\r\nLocation: /v2/baskets/users/elsewhere\r\n"
                b"Content-Length: 0\r\n\r\n"
            )
            await writer.drain()

    with HostileServer(handler) as server:
        error = only(fetch(path, server.base_url, ["u"]))
    assert isinstance(error, errors.UnexpectedStatusError)
    assert error.status == 302 and "redirects are not followed" in error.message
    assert requests == ["u"]


# --- size ---------------------------------------------------------------------------------------


@path_param
def test_an_endless_body_is_refused_while_it_streams(path: str) -> None:
    sent = 0
    done = threading.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
        try:
            while sent < 256 * 1024 * 1024:
                writer.write(chunk)
                await writer.drain()
                sent += 65536
        finally:
            done.set()

    with HostileServer(handler) as server:
        error = only(fetch(path, server.base_url, ["u"], max_response_bytes=100_000))
        assert done.wait(30)
    assert isinstance(error, errors.ResponseTooLargeError)
    assert "100,000-byte limit" in error.message
    assert sent < 32 * 1024 * 1024  # what socket buffers hold, not the 256 MiB on offer


_BOMB: list[bytes] = []


def gzip_bomb() -> bytes:
    """100 MiB of zeros as about 100 KiB of gzip."""
    if not _BOMB:
        packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        zeros = bytes(1024 * 1024)
        _BOMB.append(b"".join(packer.compress(zeros) for _ in range(100)) + packer.flush())
    return _BOMB[0]


@path_param
def test_a_gzip_bomb_is_bounded_while_it_inflates(path: str) -> None:
    bomb = gzip_bomb()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(bomb, b"Content-Encoding: gzip"))
        await writer.drain()
        await reader.read()

    with HostileServer(handler) as server:
        error, peak = fetch_one_traced(path, server.base_url, max_response_bytes=1024 * 1024)
    assert isinstance(error, errors.ResponseTooLargeError)
    # The 1 MiB cap plus the compressed bytes of one read and the clients' own allocations;
    # a decoder that inflates a whole read at once needs tens of MiB here.
    assert peak < 12 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


@path_param
@pytest.mark.parametrize("split", [False, True], ids=["same-read", "separate-read"])
def test_garbage_after_the_end_of_a_gzip_stream_is_a_format_error(path: str, split: bool) -> None:
    packed = gzip.compress(basket_body("u"))
    garbage = basket_body("EVIL")

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        whole = answer(packed + garbage, b"Content-Encoding: gzip")
        if split:
            writer.write(whole[: -len(garbage)])
            await writer.drain()
            await asyncio.sleep(0.05)  # the garbage in a read of its own
            writer.write(garbage)
        else:
            writer.write(whole)
        await writer.drain()
        await reader.read()

    with HostileServer(handler) as server:
        error = only(fetch(path, server.base_url, ["u"]))
    assert isinstance(error, errors.ResponseFormatError)
    assert "data after the end of the compressed stream" in error.message


@path_param
def test_megabytes_after_the_end_of_a_gzip_stream_are_never_buffered(path: str) -> None:
    # A valid gzip member, then 16 MiB of junk streamed as fast as the client reads (chunked,
    # so no declared length gives it away): the client stops at the first byte past the member.
    packed = gzip.compress(basket_body("u"))
    junk = b"j" * 65536
    sent = [0]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(packed) + packed + b"\r\n"
        )
        for _ in range(256):
            writer.write(b"%x\r\n" % len(junk) + junk + b"\r\n")
            await writer.drain()
            sent[0] += len(junk)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    with HostileServer(handler) as server:
        outcome, peak = fetch_one_traced(path, server.base_url, timeout=5)
    assert isinstance(outcome, errors.ResponseFormatError), outcome
    assert "data after the end of the compressed stream" in outcome.message
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
    assert sent[0] < 256 * len(junk)  # the client gave up; it did not read it all


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


ENCODERS: dict[str, tuple[bytes, Callable[[bytes], bytes]]] = {
    "gzip": (b"gzip", gzip.compress),
    "deflate": (b"deflate", zlib.compress),
    "raw-deflate": (b"deflate", _raw_deflate),  # what some servers send as "deflate"
    "identity": (b"identity", lambda data: data),
}


@path_param
def test_compressed_answers_are_decoded(path: str) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            user_id = await read_request(reader)
            name, encode = ENCODERS[user_id]
            writer.write(answer(encode(basket_body(user_id)), b"Content-Encoding: " + name))
            await writer.drain()

    with HostileServer(handler) as server:
        outcomes = fetch(path, server.base_url, list(ENCODERS))
    assert [served_to(o) for o in outcomes] == list(ENCODERS)


@path_param
@pytest.mark.parametrize(
    ("encoding", "content", "problem"),
    [
        (b"br", b"...", "unsupported Content-Encoding 'br'"),
        (b"gzip, gzip", gzip.compress(gzip.compress(b"{}")), "unsupported Content-Encoding"),
        (b"gzip", b"not gzip at all", "incorrect header check"),
        (b"gzip", gzip.compress(b'{"data": null}' * 100)[:30], "ends early"),
    ],
    ids=["unknown", "stacked", "corrupt", "cut-off"],
)
def test_bodies_that_do_not_decode_are_format_errors(
    path: str, encoding: bytes, content: bytes, problem: str
) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(content, b"Content-Encoding: " + encoding))
        await writer.drain()
        await reader.read()

    with HostileServer(handler) as server:
        error = only(fetch(path, server.base_url, ["u"]))
    assert isinstance(error, errors.ResponseFormatError)
    assert "could not be decoded" in error.message and problem in error.message


# --- time ---------------------------------------------------------------------------------------


@path_param
@pytest.mark.parametrize("phase", ["head", "body"])
def test_a_trickling_server_cannot_hold_a_request_past_its_deadline(path: str, phase: str) -> None:
    trickled = [0]  # bytes sent one by one so far

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        body = basket_body("u").ljust(200)
        if phase == "head":
            start, rest = b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"y" * 200 + b"\r\n"
            rest += b"Content-Length: %d\r\n\r\n" % len(body) + body
        else:
            start, rest = answer(body)[: -len(body)], body
        writer.write(start)
        await writer.drain()
        for byte in rest:  # 200 bytes or more, one each 0.1 s: 20 s, far past the 0.5 s deadline
            writer.write(bytes([byte]))
            await writer.drain()
            trickled[0] += 1
            await asyncio.sleep(0.1)

    with HostileServer(handler) as server:
        error = only(fetch(path, server.base_url, ["u"], timeout=0.5))
        sent = trickled[0]
    assert isinstance(error, errors.APITimeoutError)
    assert "timed out" in error.message
    # About 5 bytes fit in the 0.5 s deadline; each read's own 0.5 s timeout would never fire.
    assert sent < 25


@path_param
def test_retries_against_a_trickling_server_are_bounded_in_total(path: str) -> None:
    """Each of the 1 + retries attempts ends at its deadline: the call as a whole is bounded by
    (1 + retries) × the timeout plus the waits between attempts, as the README says."""
    trickled: list[int] = []  # bytes sent one by one, per connection

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        trickled.append(0)
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for byte in b"X-Slow: " + b"y" * 400:  # one byte each 0.1 s: 40 s if nobody gave up
            writer.write(bytes([byte]))
            await writer.drain()
            trickled[-1] += 1
            await asyncio.sleep(0.1)

    with HostileServer(handler) as server:
        error = only(fetch(path, server.base_url, ["u"], timeout=0.5, max_retries=2))
        connections = server.connections
    assert isinstance(error, errors.APITimeoutError)
    assert connections == 3  # the first attempt and two retries, each on a connection of its own
    assert len(trickled) == 3 and all(sent < 25 for sent in trickled), trickled


def test_a_host_name_lookup_that_hangs_ends_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The sync path: socket.create_connection's own lookup has no timeout at all.
    release = threading.Event()
    asked: list[str] = []
    real = socket.getaddrinfo

    def hanging(host: str, *args: Any, **kwargs: Any) -> Any:
        if host != "slow-dns.test":
            return real(host, *args, **kwargs)
        asked.append(host)
        release.wait(60)  # a resolver that does not answer
        raise OSError("no answer")

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    try:
        error = only(fetch("sync", "http://slow-dns.test:8080/v2", ["u"], timeout=0.5))
        still_hanging = not release.is_set()
    finally:
        release.set()
    assert asked == ["slow-dns.test"] and still_hanging  # given up on, not waited for
    assert isinstance(error, errors.APITimeoutError)
    assert "timed out while connecting" in error.message


def test_a_host_with_several_addresses_is_tried_address_by_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        user_id = await read_request(reader)
        writer.write(answer(basket_body(user_id)))
        await writer.drain()

    with HostileServer(handler) as server:
        real = socket.getaddrinfo

        def two(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host != "two.test":
                return real(host, port, *args, **kwargs)
            # The first address refuses: the server listens on 127.0.0.1 alone.
            dead = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.3", port))
            return [dead, *real("127.0.0.1", port, *args, **kwargs)]

        monkeypatch.setattr(socket, "getaddrinfo", two)
        (outcome,) = fetch("sync", f"http://two.test:{server.port}/v2", ["u"])
    assert served_to(outcome) == "u"


# --- what is sent -------------------------------------------------------------------------------


@path_param
@pytest.mark.parametrize(
    "value", ["abc\r\nX-Evil: 1", "abc\ndef", "abc\rdef", "abc\x00def", "ab€cd"]
)
def test_header_values_that_cannot_be_sent_are_refused_before_anything_is_sent(
    path: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Past the tracking value's own validation, as a value from any other source would be.
    monkeypatch.setattr(client_module, "clean_tracking_header", lambda tracking: tracking)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    with HostileServer(handler) as server:
        client = make_client(path, server.base_url)
        with pytest.raises(errors.InvalidInputError) as caught:
            if isinstance(client, BasketClient):
                with client:
                    client.get_basket("u", tracking=value)
            else:

                async def scenario(client: AsyncBasketClient) -> None:
                    async with client:
                        await client.get_basket("u", tracking=value)

                asyncio.run(scenario(client))
        assert server.connections == 0
    assert "X-JAY-Tracking header" in caught.value.message
    assert value not in caught.value.message
    assert client.request_count == 0


@path_param
def test_every_path_asks_for_gzip_or_deflate_only(path: str) -> None:
    heads: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        heads.append(head.lower())
        writer.write(answer(basket_body("u")))
        await writer.drain()
        await reader.read()

    with HostileServer(handler) as server:
        assert served_to(only(fetch(path, server.base_url, ["u"]))) == "u"
    [head] = heads
    assert b"\r\naccept-encoding: gzip, deflate\r\n" in head
    assert b"\r\nuser-agent: basket-support\r\n" in head


# --- framing: nothing is attributed to the wrong request ----------------------------------------


@path_param
def test_a_flood_of_interim_answers_ends_in_the_right_basket_or_an_error(path: str) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            user_id = await read_request(reader)
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" * 5000)
            writer.write(answer(basket_body(user_id)))
            await writer.drain()

    with HostileServer(handler) as server:
        outcomes = fetch(path, server.base_url, ["a", "b"])
    for user_id, outcome in zip(["a", "b"], outcomes, strict=True):
        assert served_to(outcome) == user_id or isinstance(outcome, errors.APIError)


@path_param
@pytest.mark.parametrize(
    "lengths",
    [(b"Content-Length: 5", b"Content-Length: 7"), (b"Content-Length: 5, 7",)],
    ids=["two-headers", "one-list"],
)
def test_conflicting_content_lengths_are_a_protocol_error(
    path: str, lengths: tuple[bytes, ...]
) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        head = b"HTTP/1.1 200 OK\r\n" + b"".join(h + b"\r\n" for h in lengths) + b"\r\n"
        writer.write(head + b'{"a":}' + answer(basket_body("EVIL")))
        await writer.drain()
        await reader.read()

    with HostileServer(handler) as server:
        error = only(fetch(path, server.base_url, ["u"], token="tok-SECRET-0123456789"))
    assert isinstance(error, errors.APIConnectionError)
    assert "broke the HTTP protocol" in error.message
    # aiohttp's exceptions carry the request's headers: none of it may travel with ours.
    text = error_chain_text(error)
    assert KEY not in text and "tok-SECRET-0123456789" not in text


@path_param
def test_an_unsolicited_second_response_never_answers_the_next_request(path: str) -> None:
    first_done = threading.Event()
    extra_sent = threading.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = not extra_sent.is_set()
        while True:
            user_id = await read_request(reader)
            writer.write(answer(basket_body(user_id)))
            await writer.drain()
            if first:
                first = False
                # Once the client has read the answer and put the connection back in its pool.
                await asyncio.to_thread(first_done.wait, 10)
                writer.write(answer(basket_body("EVIL")))
                await writer.drain()
                extra_sent.set()

    def between() -> None:
        first_done.set()
        assert extra_sent.wait(10)

    with HostileServer(handler) as server:
        outcomes = fetch(path, server.base_url, ["a", "b"], between=between)
    assert served_to(outcomes[0]) == "a"
    assert served_to(outcomes[1]) in ("b", None)


# Not httpx-async: that path runs over a transport the caller injects (tests' fakes), whose
# connections the client does not own. The default async path is aiohttp's.
@pytest.mark.parametrize("path", ["sync", "aiohttp"])
@pytest.mark.parametrize("retries", [0, 1])
def test_an_extra_response_in_the_same_write_never_answers_the_next_request(
    path: str, retries: int
) -> None:
    """A server (or a proxy) that sends a second response right behind the real one: the client
    has both in its buffer, and must not hand the second to the next user's request."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            user_id = await read_request(reader)
            writer.write(answer(basket_body(user_id)) + answer(basket_body(f"EXTRA-{user_id}")))
            await writer.drain()

    users = [f"u{n}" for n in range(8)]
    with HostileServer(handler) as server:
        outcomes = fetch(path, server.base_url, users, max_retries=retries)
    for user_id, outcome in zip(users, outcomes, strict=True):
        # Each user's own basket, or an error: never the one sent behind another user's.
        assert served_to(outcome) in (user_id, None), (user_id, served_to(outcome))
    served = [served_to(outcome) for outcome in outcomes]
    if retries:
        # The refused answer's request is retried on a connection of its own.
        assert served == users
    else:
        assert served[0] == "u0"
        assert sum(user is not None for user in served) >= len(users) // 2


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    yield


@pytest.mark.parametrize("path", ["sync", "async"])
def test_an_injected_transport_that_trickles_cannot_hold_a_request_past_its_deadline(
    path: str,
) -> None:
    """The deadline also bounds a body read from an injected transport, which does not read
    through the sync client's network backend."""
    trickled = [0]
    body = basket_body("u").ljust(200)

    def chunks() -> Iterator[bytes]:
        for byte in body:
            trickled[0] += 1
            time.sleep(0.1)  # the trickle itself, in the stand-in server
            yield bytes([byte])

    async def achunks() -> AsyncIterator[bytes]:
        for byte in body:
            trickled[0] += 1
            await asyncio.sleep(0.1)
            yield bytes([byte])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks() if path == "sync" else achunks())

    transport = httpx.MockTransport(handler)
    with pytest.raises(errors.APITimeoutError):
        if path == "sync":
            with BasketClient(BASE, KEY, transport=transport, timeout=0.5, max_retries=0) as c:
                c.get_basket("u")
        else:

            async def scenario() -> None:
                async with AsyncBasketClient(
                    BASE, KEY, transport=transport, timeout=0.5, max_retries=0
                ) as client:
                    await client.get_basket("u")

            asyncio.run(scenario())
    assert trickled[0] < 25


# --- chunked trailers ---------------------------------------------------------------------------


@path_param
def test_an_endless_chunked_trailer_section_is_never_buffered(path: str) -> None:
    # A complete chunked body followed by trailer fields that never end: 40 MiB of them, sent
    # as fast as the client reads. No path may hold them, or wait for their end, or return the
    # basket as if nothing followed (the answer is not complete until the trailers end).
    field = b"X-Padding: " + b"p" * 1000 + b"\r\n"
    sent = [0]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        body = basket_body("u")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(body) + body + b"\r\n0\r\n"
        )
        for _ in range(40 * 1024):
            writer.write(field)
            await writer.drain()
            sent[0] += len(field)

    with HostileServer(handler) as server:
        outcome, peak = fetch_one_traced(path, server.base_url, timeout=5)
    assert isinstance(outcome, errors.APIError), outcome
    assert peak < 12 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
    assert sent[0] < 40 * 1024 * len(field)  # the client gave up; it did not read them all
