"""Sync client: a lookup after an agent's reading pause, on a new TLS connection or a kept one.

    python benchmarks/keepalive.py [--lookups 200] [--reading-seconds 30] [--pause 6]
                                   [--key-type ecdsa|rsa]

Starts an HTTPS server on 127.0.0.1 as its own process (the demo API's baskets on aiohttp.web;
TLS as negotiated by default, 1.3; a certificate from a throwaway CA made with trustme; idle
connections kept for an hour, so only the client decides when one ends) and builds two sync
clients the way the dashboard does (`connect.build_client` with an https BASKET_API_URL; the CA
reaches httpx through SSL_CERT_FILE):

- **before**: the client as it was, with httpx's keep-alive expiry (5 s);
- **after**: the client as it is (`senders.SYNC_KEEPALIVE_EXPIRY`).

Each round moves the clock of httpcore's connections forward by `--reading-seconds` (an agent
reading a basket; only httpcore's keep-alive expiry sees it, so nothing waits for real), then
times one lookup through each client, in alternating order. The clients' network backends count
the connections they open and time each one's TCP connect and TLS handshake (wall, and the CPU of
the client's thread). Finally both clients really stay idle for `--pause` seconds (0 skips it)
and look up once more, with the real clock: the proof that the expiry drops or keeps the
connection. The server's count of accepted connections must match the clients'.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import API_KEY, ROOT, child_env, median, python

sys.path.insert(0, str(ROOT))


# --- the server (a child process: python benchmarks/keepalive.py --serve CERT_CHAIN_PEM) --------


def serve(chain_pem: str) -> int:
    """The demo API over TLS on a free loopback port; prints the port, then on SIGTERM the number
    of connections it accepted."""
    from aiohttp import web

    from basket_lib.demo.api import DemoApi

    api = DemoApi(api_key=API_KEY)
    accepted = 0

    async def handle(request: web.BaseRequest) -> web.Response:
        body = await request.read()
        answer = api.handle(request.method, request.raw_path, request.headers, body)
        return web.Response(status=answer.status, headers=answer.headers, body=answer.body)

    async def main() -> None:
        nonlocal accepted
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(chain_pem)
        # An hour: the client's expiry, not the server's, decides when an idle connection ends.
        http = web.Server(handle, access_log=None, keepalive_timeout=3600)

        def connection() -> Any:
            nonlocal accepted
            accepted += 1
            return http()

        loop = asyncio.get_running_loop()
        listener = await loop.create_server(connection, "127.0.0.1", 0, ssl=context)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        print(listener.sockets[0].getsockname()[1], flush=True)
        await stop.wait()
        print(f"connections={accepted}", flush=True)

    asyncio.run(main())
    return 0


# --- the clients ---------------------------------------------------------------------------------


@dataclass
class Connections:
    """What a client's network backend saw: each connection's set-up, TCP connect to the end of
    the TLS handshake, in wall and thread-CPU seconds."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    tls_version: str = ""


def counting_backend(inner: Any, seen: Connections) -> Any:
    import httpcore

    class TimedStream(httpcore.NetworkStream):
        def __init__(self, stream: Any, wall: float, cpu: float) -> None:
            self._stream, self._wall, self._cpu = stream, wall, cpu

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self._stream.read(max_bytes, timeout)  # type: ignore[no-any-return]

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self._stream.write(buffer, timeout)

        def close(self) -> None:
            self._stream.close()

        def start_tls(self, *args: Any, **kwargs: Any) -> Any:
            stream = self._stream.start_tls(*args, **kwargs)
            seen.wall.append(time.perf_counter() - self._wall)
            seen.cpu.append(time.thread_time() - self._cpu)
            seen.tls_version = stream.get_extra_info("ssl_object").version()
            return stream

        def get_extra_info(self, info: str) -> Any:
            return self._stream.get_extra_info(info)

    class CountingBackend(httpcore.NetworkBackend):
        def connect_tcp(self, *args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            return TimedStream(inner.connect_tcp(*args, **kwargs), wall, cpu)

        def connect_unix_socket(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError

        def sleep(self, seconds: float) -> None:
            inner.sleep(seconds)

    return CountingBackend()


@dataclass
class Contender:
    name: str
    client: Any
    expiry: float
    connections: Connections = field(default_factory=Connections)
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    new_connection: list[bool] = field(default_factory=list)
    server_cpu: float = 0.0

    def lookup(self, user_id: str, server_pid: int, record: bool = True) -> bool:
        """One lookup; whether it opened a connection."""
        opened = len(self.connections.wall)
        server_before = process_cpu(server_pid)
        wall, cpu = time.perf_counter(), time.thread_time()
        result = self.client.get_basket(user_id)
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        if result.user_id != user_id:
            raise RuntimeError(f"{self.name}: no basket for {user_id}")
        new = len(self.connections.wall) > opened
        if record:
            self.wall.append(wall)
            self.cpu.append(cpu)
            self.new_connection.append(new)
            self.server_cpu += process_cpu(server_pid) - server_before
        return new


def build(name: str, base_url: str, expiry: float) -> Contender:
    """The dashboard's client (`connect.build_client`) with the given keep-alive expiry."""
    from basket_lib.api import senders
    from basket_lib.connect import build_client
    from basket_lib.settings import Settings

    settings = Settings.from_env({"BASKET_API_URL": base_url, "BASKET_API_KEY": API_KEY})
    kept, senders.SYNC_KEEPALIVE_EXPIRY = senders.SYNC_KEEPALIVE_EXPIRY, expiry
    try:
        client = build_client(settings)
    finally:
        senders.SYNC_KEEPALIVE_EXPIRY = kept
    pool = client._http._transport._pool
    if pool._keepalive_expiry != expiry:
        raise RuntimeError(f"{name}: the pool keeps idle connections {pool._keepalive_expiry} s")
    contender = Contender(name, client, expiry)
    pool._network_backend = counting_backend(pool._network_backend, contender.connections)
    return contender


class ShiftedClock:
    """The clock httpcore's HTTP/1.1 connections read for their keep-alive expiry (and nothing
    else reads): real monotonic time plus the reading pauses simulated so far."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the run ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=200, help="timed lookups per client")
    parser.add_argument("--reading-seconds", type=float, default=30.0)
    parser.add_argument("--pause", type=float, default=6.0, help="real idle pause; 0 skips it")
    parser.add_argument("--key-type", choices=["ecdsa", "rsa"], default="ecdsa")
    parser.add_argument("--serve", metavar="CERT_CHAIN_PEM", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)

    import httpcore._sync.http11 as http11
    import trustme

    from basket_lib.api import senders

    with tempfile.TemporaryDirectory() as tmp:
        key_type = trustme.KeyType[args.key_type.upper()]
        ca = trustme.CA(key_type=key_type)
        leaf = ca.issue_cert("127.0.0.1", "localhost", key_type=key_type)
        chain, ca_file = Path(tmp, "server.pem"), Path(tmp, "ca.pem")
        leaf.private_key_and_cert_chain_pem.write_to_path(str(chain))
        ca.cert_pem.write_to_path(str(ca_file))
        # httpx's default trust store is certifi's, or this file when it is set.
        os.environ["SSL_CERT_FILE"] = str(ca_file)
        os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

        server = subprocess.Popen(
            [python(), str(Path(__file__).resolve()), "--serve", str(chain)],
            cwd=ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            port = server.stdout.readline().strip()
            if not port.isdigit():
                raise RuntimeError(f"the TLS server did not start (exit {server.wait()})")
            base_url = f"https://127.0.0.1:{port}/v2"
            contenders = [
                build("before", base_url, senders.HTTPX_KEEPALIVE_EXPIRY),
                build("after", base_url, senders.SYNC_KEEPALIVE_EXPIRY),
            ]
            run(args, contenders, http11, server.pid)
        finally:
            server.send_signal(signal.SIGTERM)
            out, _ = server.communicate(timeout=10)
        accepted = int(out.strip().rsplit("connections=", 1)[1])
        opened = sum(len(c.connections.wall) for c in contenders)
        if accepted != opened:
            raise RuntimeError(f"the server accepted {accepted} connections, the clients {opened}")
        print(f"server: {accepted} connections accepted, as many as the clients opened")
    return 0


def run(args: argparse.Namespace, contenders: list[Contender], http11: Any, server: int) -> None:
    clock = ShiftedClock()
    real_time = http11.time
    http11.time = clock
    try:
        for contender in contenders:  # the first connection, imports, caches
            contender.lookup("user-00001", server, record=False)
        print(
            f"{args.lookups} lookups per client, each after {args.reading_seconds:g} s of reading "
            f"(httpcore's clock moved on), {contenders[0].connections.tls_version}, "
            f"{args.key_type.upper()} certificate, alternating order; medians"
        )
        for n in range(args.lookups):
            clock.offset += args.reading_seconds
            user_id = f"user-{n % 9999 + 2:05d}"
            for contender in contenders if n % 2 == 0 else reversed(contenders):
                contender.lookup(user_id, server)
    finally:
        http11.time = real_time

    print(
        f"{'client':8s} {'expiry':>7s} {'new conn.':>9s} {'lookup ms':>9s} "
        f"{'client CPU µs':>13s} {'server CPU µs':>13s} {'set-up ms':>9s} {'set-up CPU µs':>13s}"
    )
    for c in contenders:
        new = sum(c.new_connection)
        setup_wall = median(c.connections.wall[1:]) * 1e3 if new else float("nan")
        setup_cpu = median(c.connections.cpu[1:]) * 1e6 if new else float("nan")
        print(
            f"{c.name:8s} {c.expiry:6g}s {new:4d}/{len(c.wall):<4d} {median(c.wall) * 1e3:9.2f} "
            f"{median(c.cpu) * 1e6:13.0f} {c.server_cpu / len(c.wall) * 1e6:13.0f} "
            f"{setup_wall:9.2f} {setup_cpu:13.0f}"
        )
    before, after = contenders
    # Among the same lookups: those that opened a connection against those that did not.
    pairs = [(w, new) for c in contenders for w, new in zip(c.wall, c.new_connection, strict=True)]
    fresh = [wall for wall, new in pairs if new]
    kept = [wall for wall, new in pairs if not new]
    if fresh and kept:
        print(
            f"lookups on a new connection: {median(fresh) * 1e3:.2f} ms (n={len(fresh)}), "
            f"on a kept one: {median(kept) * 1e3:.2f} ms (n={len(kept)})"
        )

    if args.pause > 0:
        for c in contenders:  # both start the pause with a connection just used
            c.lookup("user-00001", server, record=False)
        time.sleep(args.pause)
        outcome = [
            f"{c.name} ({c.expiry:g} s) "
            + ("opened a new connection" if c.lookup("user-00002", server, False) else "reused it")
            for c in contenders
        ]
        print(f"after {args.pause:g} s really idle: " + ", ".join(outcome))
    else:
        print("real idle pause: skipped (--pause 0)")

    for c in contenders:
        c.client.close()
    # The server's CPU comes in clock ticks (10 ms): too coarse for a ratio of a few lookups.
    server_ratio = f"{before.server_cpu / after.server_cpu:.2f}" if after.server_cpu > 0 else "n/a"
    print(
        f"ratios: lookup after {args.reading_seconds:g} s of reading before/after="
        f"{median(before.wall) / median(after.wall):.2f} (wall), "
        f"{median(before.cpu) / median(after.cpu):.2f} (client CPU), "
        f"{server_ratio} (server CPU)"
    )


if __name__ == "__main__":
    sys.exit(main())
