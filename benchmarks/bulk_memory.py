"""Peak RSS of ``iter_users`` over a generator of N ids: flat in N, growing with concurrency.

    python benchmarks/bulk_memory.py [--counts 10000 100000] [--concurrency 64]

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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


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


def child(base: str, count: int, concurrency: int) -> None:
    ok, elapsed = asyncio.run(_one(base, count, concurrency))
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{count} {ok} {elapsed:.2f} {peak_kib}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
        return
    from benchmarks._server import server_process

    rows = []
    with server_process(offers=1) as base:
        for count in args.counts:
            out = subprocess.run(
                [sys.executable, __file__, "--child", base, str(count), str(args.concurrency)],
                capture_output=True, text=True, check=True, cwd=ROOT,
            ).stdout.split()
            rows.append((int(out[0]), int(out[1]), float(out[2]), int(out[3])))
    print(f"concurrency={args.concurrency}")
    print(f"{'users':>10} {'ok':>10} {'seconds':>8} {'users/s':>8} {'peak RSS MiB':>13}")
    for count, ok, elapsed, peak in rows:
        print(f"{count:>10,} {ok:>10,} {elapsed:>8.1f} {count / elapsed:>8,.0f} "
              f"{peak / 1024:>13.1f}")
    if len(rows) > 1:
        print(f"peak RSS ratio, largest/smallest count: {rows[-1][3] / rows[0][3]:.2f}")


if __name__ == "__main__":
    main()
