"""Client CPU per request of a raw aiohttp + msgspec loop, with and without request tricks.

    python -m benchmarks.request_tricks [--quick] [--offers 5] [--concurrency 64]

The tricks a client could play on every request, each measured alone on the raw loop (no
package code), so that only what measures goes into the package:

- the URL as a ``str`` from a cached prefix (what the package does: aiohttp then parses
  and re-quotes it with ``yarl`` on every request), against ``yarl.URL(str, encoded=True)``
  built from the same already-quoted string (split, but not re-quoted or re-validated);
- aiohttp's default headers, against ``skip_auto_headers`` for ``User-Agent`` and
  ``Accept-Encoding`` (fewer headers to build and send; the server answers uncompressed);
- aiohttp's default total timeout (a timer armed and cancelled on the event loop for every
  request), against none: what the package saves by keeping its attempts' limits with one
  periodic check per session (``adgate_async/_deadline.py``).

The bodies are small (5 offers by default), where per-request costs show most. The clients
alternate in rounds of equal length against the fixed-body server in its own process; the
table shows the medians of requests/s and of the client's CPU µs per request.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
from yarl import URL

from adgate_async.models import HISTORY_DECODER
from benchmarks._payloads import history_body
from benchmarks._report import Section
from benchmarks._server import server_process
from benchmarks.throughput import PATH, _ids, _measure

Client = Callable[[str, float, int], Coroutine[Any, Any, int]]


def _loop(encoded: bool, skip: bool, total: bool = True) -> Client:
    async def client(base: str, seconds: float, concurrency: int) -> int:
        ids = _ids(seconds)
        done = 0
        prefix = base + PATH
        headers = ("User-Agent", "Accept-Encoding") if skip else ()
        connector = aiohttp.TCPConnector(limit=concurrency)
        timeout = aiohttp.ClientTimeout(total=300) if total else aiohttp.ClientTimeout()
        async with aiohttp.ClientSession(connector=connector, skip_auto_headers=headers,
                                         timeout=timeout) as session:

            async def worker() -> None:
                nonlocal done
                for user_id in ids:
                    url: str | URL = (URL(prefix + user_id, encoded=True) if encoded
                                      else prefix + user_id)
                    async with session.get(url) as resp:
                        body = await resp.read()
                    assert resp.status == 200
                    HISTORY_DECODER.decode(body)
                    done += 1

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done

    return client


PLAIN = "str URL, default headers"
CLIENTS: dict[str, Client] = {
    PLAIN: _loop(encoded=False, skip=False),
    "yarl.URL(..., encoded=True)": _loop(encoded=True, skip=False),
    "skip_auto_headers (User-Agent, Accept-Encoding)": _loop(encoded=False, skip=True),
    "both": _loop(encoded=True, skip=True),
    "no total timeout (no timer per request)": _loop(encoded=False, skip=False, total=False),
}


def section(quick: bool, offers: int = 5, concurrency: int = 64) -> Section:
    rounds, seconds = (1, 0.25) if quick else (9, 1.0)
    body = history_body(offers)
    rates: dict[str, list[float]] = {name: [] for name in CLIENTS}
    cpus: dict[str, list[float]] = {name: [] for name in CLIENTS}
    with server_process(fixed_body=body) as base:
        _measure(CLIENTS[PLAIN], base, 0.2, 4)  # warm-up
        for _ in range(rounds):
            for name, client in CLIENTS.items():
                rate, cpu = _measure(client, base, seconds, concurrency)
                rates[name].append(rate)
                cpus[name].append(cpu)
    rows = [["client", "req/s", "CPU µs/req", "CPU vs str URL, default headers"]]
    plain_cpu = statistics.median(cpus[PLAIN])
    for name in CLIENTS:
        cpu = statistics.median(cpus[name])
        rows.append([name, f"{statistics.median(rates[name]):,.0f}", f"{cpu * 1e3:.0f}",
                     f"{cpu / plain_cpu:.2f}x"])
    command = "python -m benchmarks.request_tricks" + (" --quick" if quick else "")
    if offers != 5:
        command += f" --offers {offers}"
    if concurrency != 64:
        command += f" --concurrency {concurrency}"
    return Section(
        title=f"Request tricks on a raw aiohttp + msgspec loop: {offers}-offer history, "
              f"concurrency {concurrency}, "
              + (f"medians of {rounds} alternating rounds" if rounds > 1 else "one round"),
        command=command,
        rows=rows,
        notes=["No package code runs here: each row is the raw loop with one trick, to "
               "decide what the package should adopt. Lower CPU per request is better; "
               "the server (a Python process on the other core) bounds the requests/s."],
    )


def run(quick: bool) -> Section:
    return section(quick)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--offers", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    print(section(args.quick, args.offers, args.concurrency).text())


if __name__ == "__main__":
    main()
