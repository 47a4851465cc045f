"""The baselines of scan_throughput.py, each run as a process of its own:

    python benchmarks/baselines.py KIND BASE_URL API_KEY USERS_FILE [CONCURRENCY]

KIND is one of:

- `aiohttp`: raw aiohttp GET + json.loads, the connector limited to CONCURRENCY connections;
- `httpx`: plain httpx.AsyncClient, its pool sized like aiohttp's connector
  (`Limits(max_connections=CONCURRENCY)`: that many connections, all kept alive): baseline (b);
- `httpx-default`: plain httpx.AsyncClient with httpx's default pool limits (100 connections,
  20 kept alive), shown for reference;
- `sequential`: one httpx.Client request after the other.

Each reads every user's basket once, the way a hand-written script would, and prints one line:
`users=N ok=N seconds=S` (the time of the requests alone, without interpreter start-up).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable


async def _pool(
    user_ids: list[str], concurrency: int, fetch: Callable[[str], Awaitable[int]]
) -> int:
    pending = iter(user_ids)
    ok = 0

    async def worker() -> None:
        nonlocal ok
        for user_id in pending:
            succeeded = await fetch(user_id)  # awaited first: `ok += await ...` loses updates
            ok += succeeded

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok


async def raw_aiohttp(base_url: str, key: str, user_ids: list[str], concurrency: int) -> int:
    try:
        import aiohttp
    except ImportError:
        raise SystemExit("baseline (a) needs aiohttp: pip install aiohttp") from None

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers={"X-API-Key": key}) as session:

        async def fetch(user_id: str) -> int:
            async with session.get(f"{base_url}/baskets/users/{user_id}") as response:
                json.loads(await response.read())
                return response.status == 200

        return await _pool(user_ids, concurrency, fetch)


async def plain_httpx(
    base_url: str, key: str, user_ids: list[str], concurrency: int, *, sized: bool
) -> int:
    import httpx

    # `sized` mirrors aiohttp's TCPConnector(limit=concurrency): at most `concurrency`
    # connections, every one kept alive (httpx leaves keep-alive unbounded when only
    # max_connections is given). Otherwise the client's defaults: 100 connections, 20 kept
    # alive (httpx.Limits() itself would mean no limits at all).
    options = {"limits": httpx.Limits(max_connections=concurrency)} if sized else {}
    async with httpx.AsyncClient(headers={"X-API-Key": key}, **options) as client:

        async def fetch(user_id: str) -> int:
            response = await client.get(f"{base_url}/baskets/users/{user_id}")
            json.loads(response.content)
            return response.status_code == 200

        return await _pool(user_ids, concurrency, fetch)


def sequential(base_url: str, key: str, user_ids: list[str]) -> int:
    import httpx

    ok = 0
    with httpx.Client(headers={"X-API-Key": key}) as client:
        for user_id in user_ids:
            response = client.get(f"{base_url}/baskets/users/{user_id}")
            json.loads(response.content)
            ok += response.status_code == 200
    return ok


def main(argv: list[str]) -> int:
    kind, base_url, key, users_file = argv[:4]
    concurrency = int(argv[4]) if len(argv) > 4 else 64
    with open(users_file, encoding="utf-8") as handle:
        user_ids = [line.strip() for line in handle if line.strip()]
    started = time.perf_counter()
    if kind == "aiohttp":
        ok = asyncio.run(raw_aiohttp(base_url, key, user_ids, concurrency))
    elif kind in {"httpx", "httpx-default"}:
        sized = kind == "httpx"
        ok = asyncio.run(plain_httpx(base_url, key, user_ids, concurrency, sized=sized))
    elif kind == "sequential":
        ok = sequential(base_url, key, user_ids)
    else:
        print(f"unknown kind {kind!r}", file=sys.stderr)
        return 2
    print(f"users={len(user_ids)} ok={ok} seconds={time.perf_counter() - started:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
