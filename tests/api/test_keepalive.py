"""The sync client's idle connections: kept through an agent's reading pause, over HTTP and TLS,
and never a failed lookup when the server has closed one in the meantime.

The server is a blocking loopback server in threads of its own that counts the connections it
accepts; a pause is simulated by moving forward the clock httpcore's connections read for their
keep-alive expiry, so no test waits for it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpcore._sync.http11
import pytest
import trustme

from basket_lib.api import errors, senders
from basket_lib.api.client import BasketClient

KEY = "keepalive-key-SECRET-0123456789"
BODY = json.dumps({"data": {"cart": [{"productId": "prod-123", "count": 2}]}}).encode()
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
ANSWER = HEAD % len(BODY) + BODY
# An agent reading a basket before looking up the next one, and the default of the idle timeout
# of AWS's load balancers.
READING_PAUSE = 60.0


class LoopbackApi:
    """An HTTP/1.1 API on 127.0.0.1 (over TLS with a certificate) answering every request with a
    basket, each connection served by a thread of its own.

    `close_after_answer`: every connection is closed by the server once its first request is
    answered, as by a server or load balancer whose idle timeout has passed (`closed` is set when
    it is). `drop`: the requests, counted from 1 over all connections, whose connection is closed
    instead of answered, as when that close crosses a request on the wire.
    """

    def __init__(
        self,
        certificate: trustme.LeafCert | None = None,
        *,
        close_after_answer: bool = False,
        drop: frozenset[int] = frozenset(),
    ) -> None:
        self._tls: ssl.SSLContext | None = None
        if certificate is not None:
            self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            certificate.configure_cert(self._tls)
        self._close_after_answer = close_after_answer
        self._drop = drop
        self._lock = threading.Lock()
        self.connections = 0
        self.requests = 0
        self.closed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._threads: list[threading.Thread] = []
        self._open: list[socket.socket] = []

    @property
    def base_url(self) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self._listener.getsockname()[1]}/v2"

    def __enter__(self) -> LoopbackApi:
        self._start(self._accept)
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Each blocked accept() and recv() returns, so every thread ends.
        with self._lock:
            sockets = [self._listener, *self._open]
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for thread in self._threads:
            thread.join(10)

    def _start(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._open.append(connection)
            self._start(self._serve, connection)

    def _serve(self, connection: socket.socket) -> None:
        try:
            if self._tls is not None:
                connection = self._tls.wrap_socket(connection, server_side=True)
            with self._lock:
                self._open.append(connection)
            received = b""
            while True:
                while b"\r\n\r\n" not in received:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return  # the client closed its connection
                    received += chunk
                received = received.split(b"\r\n\r\n", 1)[1]  # GETs: no body
                with self._lock:
                    self.requests += 1
                    number = self.requests
                if number in self._drop:
                    return
                connection.sendall(ANSWER)
                if self._close_after_answer:
                    connection.close()
                    self.closed.set()
                    return
        except OSError:
            pass
        finally:
            connection.close()


@pytest.fixture
def idle_for(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Lets the pooled connections sit idle for some seconds at once: httpcore's HTTP/1.1
    connections read `time.monotonic` for their keep-alive expiry, and nothing else there does.
    (The control case of the first test shows the moved clock reaches the pool.)"""
    offset = [0.0]

    class Clock:
        @staticmethod
        def monotonic() -> float:
            return time.monotonic() + offset[0]

    monkeypatch.setattr(httpcore._sync.http11, "time", Clock)

    def idle(seconds: float) -> None:
        offset[0] += seconds

    return idle


@pytest.fixture(params=["http", "https"])
def certificate(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> trustme.LeafCert | None:
    """None for plain HTTP; for TLS, a certificate for 127.0.0.1 from a CA the client trusts
    through SSL_CERT_FILE, as any client of httpx's default trust store would."""
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    if request.param == "http":
        return None
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    return ca.issue_cert("127.0.0.1")


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(sleeps: list[float]) -> Iterator[Callable[..., BasketClient]]:
    clients: list[BasketClient] = []

    def make(base_url: str, **options: Any) -> BasketClient:
        client = BasketClient(base_url, KEY, sleep=sleeps.append, jitter=lambda: 0.0, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.mark.parametrize(
    ("idle_seconds", "connections"),
    [
        (READING_PAUSE, 1),
        # The control: past the expiry the connection is dropped, so the moved clock does reach
        # the pool (and no connection is kept until a middlebox forgets it unannounced).
        (senders.SYNC_KEEPALIVE_EXPIRY + 1, 2),
    ],
)
def test_a_lookup_after_an_agents_reading_pause_reuses_the_idle_connection(
    certificate: trustme.LeafCert | None,
    idle_for: Callable[[float], None],
    make_client: Callable[..., BasketClient],
    idle_seconds: float,
    connections: int,
) -> None:
    with LoopbackApi(certificate) as server:
        client = make_client(server.base_url, max_retries=0)
        client.get_basket("first-customer")
        idle_for(idle_seconds)
        assert client.get_basket("next-customer").basket.cart[0].product_id == "prod-123"
    assert (server.requests, server.connections) == (2, connections)
    assert client.request_count == 2


def test_a_lookup_after_the_server_closed_the_idle_connection_opens_a_new_one(
    certificate: trustme.LeafCert | None,
    idle_for: Callable[[float], None],
    make_client: Callable[..., BasketClient],
    sleeps: list[float],
) -> None:
    with LoopbackApi(certificate, close_after_answer=True) as server:
        # No retries: the pooled connection the server closed must not cost a failed attempt.
        client = make_client(server.base_url, max_retries=0)
        client.get_basket("first-customer")
        assert server.closed.wait(10)
        idle_for(READING_PAUSE)
        assert not client.get_basket("next-customer").basket.is_empty
    assert (server.requests, server.connections) == (2, 2)
    assert client.request_count == 2 and sleeps == []


def test_a_close_that_crosses_the_lookup_is_retried_on_a_new_connection(
    certificate: trustme.LeafCert | None,
    idle_for: Callable[[float], None],
    make_client: Callable[..., BasketClient],
    sleeps: list[float],
) -> None:
    with LoopbackApi(certificate, drop=frozenset({2})) as server:
        client = make_client(server.base_url, max_retries=1)
        client.get_basket("first-customer")
        idle_for(READING_PAUSE)
        # Sent on the kept connection, which the server closes instead of answering.
        assert not client.get_basket("next-customer").basket.is_empty
    assert (server.requests, server.connections) == (3, 2)
    assert client.request_count == 3 and len(sleeps) == 1  # one retry, by the client's policy


def test_without_retries_a_crossed_close_is_a_connection_error_without_the_key(
    certificate: trustme.LeafCert | None,
    idle_for: Callable[[float], None],
    make_client: Callable[..., BasketClient],
) -> None:
    with LoopbackApi(certificate, drop=frozenset({2})) as server:
        client = make_client(server.base_url, max_retries=0)
        client.get_basket("first-customer")
        idle_for(READING_PAUSE)
        with pytest.raises(errors.APIConnectionError, match="closed the connection") as caught:
            client.get_basket("next-customer")
    assert "127.0.0.1" in caught.value.message
    seen: BaseException | None = caught.value
    while seen is not None:
        assert KEY not in f"{seen} {seen!r} {getattr(seen, 'details', None)!r}"
        seen = seen.__cause__ or seen.__context__
