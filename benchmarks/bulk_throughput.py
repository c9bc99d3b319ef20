"""Users/s of ``iter_users`` against a raw aiohttp + msgspec loop, same server, same payload.

    python benchmarks/bulk_throughput.py [--users 20000] [--concurrency 16] [--rounds 3]

The stand-in server runs in its own process (pinned to another core where allowed); the two
clients alternate in rounds and the median of each is reported with their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adgate_async import AsyncSession
from adgate_async.models import HISTORY_DECODER
from benchmarks._server import server_process

DISTINCT_USERS = 1000  # the server caches this many generated bodies


def user_ids(n: int) -> list[str]:
    return [f"bench-{i % DISTINCT_USERS}" for i in range(n)]


async def run_library(base: str, ids: list[str], concurrency: int) -> float:
    async with AsyncSession(aff_id=1, api_key="bench", wall_code="w", adgate_base_url=base,
                            revu_base_url=base, max_connections=concurrency) as session:
        started = time.perf_counter()
        ok = 0
        async for result in session.iter_users(ids, concurrency=concurrency):
            ok += result.ok
        elapsed = time.perf_counter() - started
    assert ok == len(ids), ok
    return len(ids) / elapsed


async def run_raw(base: str, ids: list[str], concurrency: int) -> float:
    """The floor: N workers, aiohttp, typed msgspec decode; no validation, retries or stats."""
    prefix = f"{base}/v1/user-based-api/history?aff_id=1&api_key=bench&wall_code=w&user_id="
    source = iter(ids)
    ok = 0
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency)
    ) as client:

        async def worker() -> None:
            nonlocal ok
            for user_id in source:
                async with client.get(prefix + user_id) as resp:
                    body = await resp.read()
                HISTORY_DECODER.decode(body)
                ok += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    assert ok == len(ids), ok
    return len(ids) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--offers", type=int, default=5, help="offers per history")
    args = parser.parse_args()
    ids = user_ids(args.users)
    library: list[float] = []
    raw: list[float] = []
    with server_process(offers=args.offers) as base:
        asyncio.run(run_raw(base, ids[:500], args.concurrency))  # warm-up
        for _ in range(args.rounds):
            library.append(asyncio.run(run_library(base, ids, args.concurrency)))
            raw.append(asyncio.run(run_raw(base, ids, args.concurrency)))
    lib, floor = statistics.median(library), statistics.median(raw)
    print(f"users={args.users} concurrency={args.concurrency} rounds={args.rounds} "
          f"offers/history={args.offers}")
    print(f"iter_users            {lib:8,.0f} users/s  (rounds: "
          f"{', '.join(f'{x:,.0f}' for x in library)})")
    print(f"raw aiohttp + msgspec {floor:8,.0f} users/s  (rounds: "
          f"{', '.join(f'{x:,.0f}' for x in raw)})")
    print(f"ratio                 {lib / floor:8.2f}x")


if __name__ == "__main__":
    main()
