"""Peak RSS of ``iter_users`` over a generator of N ids: flat in N, growing with concurrency.

    python -m benchmarks.bulk_memory [--quick] [--counts 10000 100000] [--concurrency 64]

Each count runs in a fresh process (so each peak is its own), against the stand-in server in
another process; results are discarded as they arrive, as a streaming batch job would.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._report import Check, Section

ROOT = Path(__file__).resolve().parent.parent


async def _one(base: str, count: int, concurrency: int) -> tuple[int, float]:
    from adgate_async import AsyncSession

    async with AsyncSession(aff_id=1, api_key="bench", wall_code="w", adgate_base_url=base,
                            revu_base_url=base, max_connections=concurrency) as session:
        ok = 0
        started = time.perf_counter()
        ids = (f"mem-{i % 1000}-{i}" for i in range(count))  # distinct ids, lazily made
        async for result in session.iter_users(ids, concurrency=concurrency):
            ok += result.ok
        return ok, time.perf_counter() - started


def _peak_rss_kib() -> int:
    """This process's own peak RSS. Linux's ru_maxrss is inherited across fork, so a child
    of a large parent would report the parent's peak; VmHWM is reset by exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(base: str, count: int, concurrency: int) -> None:
    ok, elapsed = asyncio.run(_one(base, count, concurrency))
    print(f"{count} {ok} {elapsed:.2f} {_peak_rss_kib()}")


def _peaks(counts: list[int], concurrency: int) -> list[tuple[int, int, float, int]]:
    """(users, ok, seconds, peak RSS KiB) per count, each in a fresh process."""
    from benchmarks._server import server_process  # here: the children need not load it

    rows = []
    with server_process(offers=1) as base:
        for count in counts:
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.bulk_memory", "--child", base, str(count),
                 str(concurrency)],
                capture_output=True, text=True, check=True, cwd=ROOT,
            ).stdout.split()
            rows.append((int(out[0]), int(out[1]), float(out[2]), int(out[3])))
    return rows


def _counts(quick: bool) -> list[int]:
    return [1_000, 3_000] if quick else [10_000, 100_000, 1_000_000]


def run(quick: bool) -> Section:
    return section(quick, _counts(quick), concurrency=64)


def section(quick: bool, counts: list[int], concurrency: int) -> Section:
    rows = _peaks(counts, concurrency)
    table = [["users", "ok", "seconds", "users/s", "peak RSS MiB"]]
    for count, ok, elapsed, peak in rows:
        table.append([f"{count:,}", f"{ok:,}", f"{elapsed:.1f}", f"{count / elapsed:,.0f}",
                      f"{peak / 1024:.1f}"])
    smallest, largest = rows[0][3], rows[-1][3]
    command = "python -m benchmarks.bulk_memory" + (" --quick" if quick else "")
    if counts != _counts(quick):
        command += " --counts " + " ".join(map(str, counts))
    if concurrency != 64:
        command += f" --concurrency {concurrency}"
    return Section(
        title=f"Bulk memory: peak RSS of iter_users over a generator of ids "
              f"(concurrency {concurrency})",
        command=command,
        rows=table,
        # Lower is better here: the check is smallest/largest, which must stay >= 1/1.5.
        checks=[Check(f"peak RSS at {rows[0][0]:,} / at {rows[-1][0]:,} users",
                      smallest / largest, 1 / 1.5)],
        notes=["Each count runs in a fresh process against the stand-in server (1-offer "
               "histories) in another; results are dropped as they arrive. The check reads "
               "'peak RSS at the largest count is within 1.5x of that at the smallest'."],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", help="default: 10^4, 10^5, 10^6")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
        return
    print(section(args.quick, args.counts or _counts(args.quick), args.concurrency).text())


if __name__ == "__main__":
    main()
