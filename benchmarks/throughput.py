"""Requests/s of ``gather_users`` and ``iter_users`` against raw aiohttp and httpx loops.

    python -m benchmarks.throughput [--quick] [--offers 200] [--concurrency 1 16 64]

One server process answers the same history body to every request (pinned to the second
core where the OS allows; the client on the first). At each concurrency the clients run in
alternating rounds of equal length; the table shows the median requests/s, the client's CPU
milliseconds per request, and how each baseline compares with the call it stands for.

The baselines come in two kinds, each set against the call that does the same job.
``gather_users`` returns every decoded history of the batch, so the raw aiohttp
(+ msgspec, + ``json.loads``) and httpx loops keep theirs until the end too. ``iter_users``
streams: here the caller drops each result as it arrives, so its baseline is the raw
aiohttp + msgspec loop that decodes each body and drops it at once.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import aiohttp
import httpx

from adgate_async import AsyncSession
from adgate_async.models import HISTORY_DECODER
from benchmarks import _list_models
from benchmarks._payloads import history_body
from benchmarks._report import Check, Section
from benchmarks._server import server_process

PATH = "/v1/user-based-api/history?aff_id=1&api_key=bench&wall_code=w&user_id="
Client = Callable[[str, float, int], Coroutine[Any, Any, int]]

CHECKED_OFFERS = 200  # the targets are checked on this body, where decoding dominates


def _ids(seconds: float) -> Iterator[str]:
    """User ids until ``seconds`` have passed: every client runs for the same time."""
    deadline = time.perf_counter() + seconds
    for i in itertools.count():
        if time.perf_counter() >= deadline:
            return
        yield f"user-{i}"


def _session(base: str, concurrency: int) -> AsyncSession:
    return AsyncSession(aff_id=1, api_key="bench", wall_code="w", adgate_base_url=base,
                        revu_base_url=base, max_connections=max(concurrency, 1))


async def gather(base: str, seconds: float, concurrency: int) -> int:
    async with _session(base, concurrency) as session:
        results = await session.gather_users(_ids(seconds), concurrency=concurrency)
    assert all(r.ok for r in results)
    return len(results)


async def stream(base: str, seconds: float, concurrency: int) -> int:
    done = 0
    async with _session(base, concurrency) as session:
        async for result in session.iter_users(_ids(seconds), concurrency=concurrency):
            assert result.ok
            done += 1
    return done


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


async def raw_msgspec_lists(base: str, seconds: float, concurrency: int) -> int:
    return await _aiohttp_loop(base, seconds, concurrency, _list_models.HISTORY_DECODER.decode)


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


GATHER = "gather_users"
ITER = "iter_users, results dropped"
FLOOR = "raw aiohttp + msgspec (same types)"
LISTS = "raw aiohttp + msgspec (list models, kept)"
JSON = "raw aiohttp + json.loads"
HTTPX = "httpx + json.loads"
DROPPED = "raw aiohttp + msgspec, results dropped"
CLIENTS: dict[str, Client] = {
    GATHER: gather,
    FLOOR: raw_msgspec,
    LISTS: raw_msgspec_lists,
    JSON: raw_json,
    HTTPX: httpx_json,
    ITER: stream,
    DROPPED: raw_msgspec_dropped,
}
# baseline -> our call
OURS = {FLOOR: GATHER, LISTS: GATHER, JSON: GATHER, HTTPX: GATHER, DROPPED: ITER}
# offers -> (baseline, lowest ratio of gather_users to it, concurrencies it is checked at).
# Every target sets gather_users against the baseline, including the dropped loop: keeping
# every result should cost gather_users at most a tenth over a loop that keeps none.
TARGETS: dict[int, tuple[tuple[str, float, tuple[int, ...]], ...]] = {
    CHECKED_OFFERS: ((FLOOR, 0.9, (16, 64)), (LISTS, 1.5, (16,)), (DROPPED, 0.9, (16,)),
                     (JSON, 2.0, (64,)), (HTTPX, 3.0, (64,))),
    5: ((FLOOR, 0.95, (16, 64)),),
}


def _measure(client: Client, base: str, seconds: float, concurrency: int) -> tuple[float, float]:
    """(requests/s, client CPU ms per request) for one round of ``seconds``."""
    cpu, wall = time.process_time(), time.perf_counter()
    done: int = asyncio.run(client(base, seconds, concurrency))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return done / wall, cpu * 1e3 / done


def section(quick: bool, offers: int, concurrencies: tuple[int, ...],
            seconds: float | None = None) -> Section:
    """One table: every client at every concurrency, in alternating rounds."""
    rounds, default_seconds = (1, 0.25) if quick else (7, 1.0)
    seconds = seconds or default_seconds  # one client's round: sets how many results are kept
    body = history_body(offers)
    rows = [["concurrency", "client", "req/s", "CPU ms/req", "our call vs it"]]
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
            median = {name: statistics.median(rates[name]) for name in CLIENTS}
            for name in CLIENTS:
                ratio = f"{median[OURS[name]] / median[name]:.2f}x" if name in OURS else ""
                rows.append([str(concurrency), name, f"{median[name]:,.0f}",
                             f"{statistics.median(cpus[name]):.3f}", ratio])
            checks += [Check(f"{offers} offers, c={concurrency}: {GATHER} vs {name}",
                             median[GATHER] / median[name], target)
                        for name, target, where in TARGETS.get(offers, ()) if concurrency in where]
    command = "python -m benchmarks.throughput" + (" --quick" if quick else "")
    if offers != CHECKED_OFFERS:
        command += f" --offers {offers}"
    if concurrencies != (1, 16, 64):
        command += " --concurrency " + " ".join(map(str, concurrencies))
    if seconds != default_seconds:
        command += f" --seconds {seconds:g}"
    rounds_text = f"medians of {rounds} alternating rounds" if rounds > 1 else "one round"
    notes = [] if offers == CHECKED_OFFERS else [
        "On this body decoding is a small share of a request, so the library's own few "
        "microseconds per request weigh more, and so does the noise of a shared machine; "
        "the one target here is against the raw aiohttp + msgspec loop with the same types.",
        "",
    ]
    return Section(
        title=f"Throughput: {offers}-offer history ({len(body):,} bytes), {rounds_text}",
        command=command,
        rows=rows,
        checks=checks,
        notes=[
            *notes,
            "\"Our call vs it\" sets each baseline against the call doing the same job. "
            "`gather_users` returns every decoded history of the batch, so the first four "
            "baselines keep theirs until the batch ends too: \"same types\" decodes into the "
            "package's own models, \"list models\" into a copy of them with list fields "
            "(benchmarks/_list_models.py, what a careful user writes today). `iter_users` "
            "streams, and here "
            "each result is dropped as it arrives, so its baseline is the raw loop that "
            "decodes each body and drops it at once: that loop never has more than one "
            "history alive, so its memory stays hot in the CPU cache. The targets also set "
            "`gather_users` against that loop: what keeping every result costs.",
        ],
    )


def run(quick: bool) -> Section:
    """Large bodies, where the targets are checked: concurrency 1, 16 and 64."""
    return section(quick, CHECKED_OFFERS, (1, 16, 64))


def run_small(quick: bool) -> Section:
    """Small bodies, where the per-request cost of the library shows most."""
    return section(quick, 5, (16, 64))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round (a smoke run)")
    parser.add_argument("--offers", type=int, default=CHECKED_OFFERS)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--seconds", type=float,
                        help="length of one client's round (default 1; quick 0.25): the "
                             "longer, the more results a keeping client holds at its end")
    args = parser.parse_args()
    print(section(args.quick, args.offers, tuple(args.concurrency), args.seconds).text())


if __name__ == "__main__":
    main()
