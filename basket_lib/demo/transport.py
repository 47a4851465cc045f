"""The demo API as an httpx transport: the whole request path runs, no socket is opened."""

from __future__ import annotations

import threading

import httpx

from basket_lib.demo.api import DemoApi, DemoResponse


class DemoTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Serves requests of ``httpx.Client`` and ``httpx.AsyncClient`` from a :class:`DemoApi`."""

    def __init__(self, api: DemoApi | None = None) -> None:
        self.api = api or DemoApi()
        self._count = 0
        self._lock = threading.Lock()

    @property
    def request_count(self) -> int:
        with self._lock:
            return self._count

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._respond(request, request.read())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self._respond(request, await request.aread())

    def _respond(self, request: httpx.Request, body: bytes) -> httpx.Response:
        with self._lock:
            self._count += 1
        answer: DemoResponse = self.api.handle(
            request.method, request.url.raw_path.decode("ascii"), request.headers, body
        )
        # The faults a socket would show, raised as httpx raises them.
        if answer.fault == "stall":
            raise httpx.ReadTimeout(
                "The demo API did not answer (demo-fault-timeout).", request=request
            )
        if answer.fault == "drop":
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return httpx.Response(answer.status, headers=answer.headers, content=answer.body)
