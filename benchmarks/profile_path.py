"""Where the time of one bulk request goes: cProfile over ``iter_users``, package frames only.

    python -m benchmarks.profile_path [--quick] [--offers 5]

Reports the package's own time (tottime summed over its functions) as a share of the run,
and its top functions, so that per-request overhead can be seen and kept small.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
from pathlib import Path

import adgate_async
from adgate_async import AsyncSession
from benchmarks._payloads import history_body
from benchmarks._report import Section
from benchmarks._server import server_process

PACKAGE = str(Path(adgate_async.__file__).parent)


async def _batch(base: str, users: int) -> None:
    async with AsyncSession(aff_id=1, api_key="bench", wall_code="w", adgate_base_url=base,
                            revu_base_url=base) as session:
        async for result in session.iter_users((f"u{i}" for i in range(users)),
                                               concurrency=16):
            assert result.ok


def run(quick: bool) -> Section:
    return section(quick, offers=5)


def section(quick: bool, offers: int) -> Section:
    users = 1_000 if quick else 10_000
    with server_process(fixed_body=history_body(offers)) as base:
        asyncio.run(_batch(base, 500))  # warm-up
        profiler = cProfile.Profile()
        profiler.enable()
        asyncio.run(_batch(base, users))
        profiler.disable()
    stats = pstats.Stats(profiler)
    entries = stats.stats  # type: ignore[attr-defined]
    # Each entry: (primitive calls, calls, own time, cumulative time, callers).
    total = sum(entry[2] for entry in entries.values())
    ours = [(key, entry[2], entry[1]) for key, entry in entries.items()
            if key[0].startswith(PACKAGE)]
    own = sum(tt for _, tt, _ in ours)
    rows = [["function", "calls", "own µs per request", "share of run"]]
    for (path, line, name), tt, calls in sorted(ours, key=lambda x: -x[1])[:8]:
        where = f"{Path(path).name}:{line}({name})"
        rows.append([where, f"{calls:,}", f"{tt / users * 1e6:.2f}", f"{tt / total:.1%}"])
    rows.append(["all package functions", "", f"{own / users * 1e6:.2f}", f"{own / total:.1%}"])
    return Section(
        title=f"Profile: package time per request, iter_users over {users:,} users "
              f"({offers}-offer histories, concurrency 16, under cProfile)",
        command="python -m benchmarks.profile_path" + (" --quick" if quick else "")
                + (f" --offers {offers}" if offers != 5 else ""),
        rows=rows,
        notes=[f"Whole run under cProfile: {total:.2f} s of function time for {users:,} "
               "requests; the rest is aiohttp, asyncio, the socket calls and msgspec's decode."],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--offers", type=int, default=5)
    args = parser.parse_args()
    print(section(args.quick, args.offers).text())


if __name__ == "__main__":
    main()
