"""Requests/s of ``gather_users`` against raw aiohttp (+ msgspec, + json.loads) and httpx.

    python -m benchmarks.throughput [--quick] [--offers 200] [--concurrency 1 16 64]

One server process answers the same history body to every request (pinned to the second
core where the OS allows; the client on the first). At each concurrency the four clients run
in alternating rounds; the table shows the median requests/s, the client's CPU milliseconds
per request, and each ratio against ``gather_users``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adgate_async import AsyncSession
from adgate_async.models import HISTORY_DECODER
from benchmarks._payloads import history_body
from benchmarks._report import Check, Section
from benchmarks._server import server_process

PATH = "/v1/user-based-api/history?aff_id=1&api_key=bench&wall_code=w&user_id="
Client = Callable[[str, float, int], Coroutine[Any, Any, int]]


def _ids(seconds: float) -> Iterator[str]:
    """User ids until ``seconds`` have passed: every client runs for the same time."""
    deadline = time.perf_counter() + seconds
    for i in itertools.count():
        if time.perf_counter() >= deadline:
            return
        yield f"user-{i}"


async def library(base: str, seconds: float, concurrency: int) -> int:
    async with AsyncSession(aff_id=1, api_key="bench", wall_code="w", adgate_base_url=base,
                            revu_base_url=base, max_connections=max(concurrency, 1)) as s:
        results = await s.gather_users(_ids(seconds), concurrency=concurrency)
    assert all(r.ok for r in results)
    return len(results)


async def _aiohttp_loop(base: str, seconds: float, concurrency: int,
                        decode: Callable[[bytes], object], keep: bool = True) -> int:
    ids = _ids(seconds)
    kept: list[object] = []
    done = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as client:

        async def worker() -> None:
            nonlocal done
            for user_id in ids:
                async with client.get(base + PATH + user_id) as resp:
                    body = await resp.read()
                assert resp.status == 200
                if keep:
                    kept.append(decode(body))
                else:
                    decode(body)
                done += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done


async def raw_msgspec(base: str, seconds: float, concurrency: int) -> int:
    return await _aiohttp_loop(base, seconds, concurrency, HISTORY_DECODER.decode)


async def raw_msgspec_dropped(base: str, seconds: float, concurrency: int) -> int:
    return await _aiohttp_loop(base, seconds, concurrency, HISTORY_DECODER.decode, keep=False)


async def raw_json(base: str, seconds: float, concurrency: int) -> int:
    return await _aiohttp_loop(base, seconds, concurrency, json.loads)


async def httpx_json(base: str, seconds: float, concurrency: int) -> int:
    ids = _ids(seconds)
    kept: list[object] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:

        async def worker() -> None:
            for user_id in ids:
                resp = await client.get(base + PATH + user_id)
                assert resp.status_code == 200
                kept.append(json.loads(resp.content))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(kept)


FLOOR = "raw aiohttp + msgspec"
DROPPED = "raw aiohttp + msgspec, results dropped"
CLIENTS: dict[str, Client] = {
    "gather_users": library,
    FLOOR: raw_msgspec,
    "raw aiohttp + json.loads": raw_json,
    "httpx + json.loads": httpx_json,
    DROPPED: raw_msgspec_dropped,
}


def _measure(client: Client, base: str, seconds: float, concurrency: int) -> tuple[float, float]:
    """(requests/s, client CPU ms per request) for one round of ``seconds``."""
    cpu, wall = time.process_time(), time.perf_counter()
    done: int = asyncio.run(client(base, seconds, concurrency))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return done / wall, cpu * 1e3 / done


def run(quick: bool = False, offers: int = 200,
        concurrencies: tuple[int, ...] = (1, 16, 64), targets: bool = True) -> Section:
    """One throughput table. ``targets=False`` reports the ratios that DESIGN.md's bars
    would check as notes only (its bars are set on the 200-offer body)."""
    rounds = 3 if quick else 7
    seconds = 0.3 if quick else 1.0  # one client's share of one round
    body = history_body(offers)
    rows = [["concurrency", "client", "req/s", "CPU ms/req", "gather_users vs it"]]
    checks: list[Check] = []
    with server_process(fixed_body=body) as base:
        _measure(raw_msgspec_dropped, base, 0.2, 4)  # warm-up
        for concurrency in concurrencies:
            rates: dict[str, list[float]] = {name: [] for name in CLIENTS}
            cpus: dict[str, list[float]] = {name: [] for name in CLIENTS}
            for _ in range(rounds):
                for name, client in CLIENTS.items():
                    rate, cpu = _measure(client, base, seconds, concurrency)
                    rates[name].append(rate)
                    cpus[name].append(cpu)
            ours = statistics.median(rates["gather_users"])
            for name in CLIENTS:
                rate = statistics.median(rates[name])
                rows.append([str(concurrency), name, f"{rate:,.0f}",
                             f"{statistics.median(cpus[name]):.3f}", f"{ours / rate:.2f}x"])
            floor = statistics.median(rates[FLOOR])
            if concurrency >= 16:
                checks.append(Check(f"{offers} offers, c={concurrency}: gather_users vs raw "
                                    "aiohttp + msgspec",
                                    ours / floor, 0.9))
            if concurrency == 64:
                checks.append(Check(f"{offers} offers, c=64: gather_users vs raw aiohttp + "
                                    "json.loads",
                                    ours / statistics.median(rates["raw aiohttp + json.loads"]),
                                    2.0))
                checks.append(Check(f"{offers} offers, c=64: gather_users vs httpx + json.loads",
                                    ours / statistics.median(rates["httpx + json.loads"]), 3.0))
    notes: list[str] = []
    if not targets:
        notes = ["Ratios on this body (no target: DESIGN.md sets its bars on the 200-offer "
                 "history):", "", *(f"- {c.line().split(' (target')[0]}" for c in checks), ""]
        checks = []
    return Section(
        title=f"Throughput: {offers}-offer history ({len(body):,} bytes), medians of {rounds} "
              "alternating rounds",
        command="python -m benchmarks.throughput" + (" --quick" if quick else "")
                + (f" --offers {offers}" if offers != 200 else ""),
        rows=rows,
        checks=checks,
        notes=[
            *notes,
            "Every client does the job `gather_users` does: fetch every user and return all "
            "the decoded histories (a list kept until the end of the batch). The last row of "
            "each block, results dropped, decodes each body and throws it away at once: it "
            "never has more than one history alive, so its memory stays hot in the CPU "
            "cache. It is shown for reference; no batch API can return results that way.",
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--offers", type=int, default=200)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    args = parser.parse_args()
    print(run(args.quick, args.offers, tuple(args.concurrency)).text())


if __name__ == "__main__":
    main()
