"""Bulk jobs (``adgate_async.jobs``): users/s on one core and more, resume cost, parts overhead.

    python -m benchmarks.jobs [--quick]

Three tables in one section, all on the 200-offer history (a fixed body, as in the
throughput benchmark) unless said otherwise:

1. **Cores.** The same job (``run_bulk_job``, a directory of JSON Lines parts) run in this
   process, with ``processes=2``, and on a Dask ``LocalCluster`` of 2 worker processes (one
   thread each, 127.0.0.1). The server runs in its own process and nothing is pinned: with
   two workers on a 2-core machine, the server competes with them for the cores.
2. **Resume.** A job over 10^6 ids whose output already holds every one of them, resumed:
   seconds to find out that nothing is left, and the memory that takes (peak RSS over the
   RSS before the job, and the tracemalloc peak of a second, untimed run), each in a fresh
   process, for one JSON Lines file (read back line by line into the bitmap of done
   positions) and for a directory of parts (listed; the ids still read to count positions).
3. **Parts overhead.** The same ids through the library's ``iter_users`` loop writing each
   line to a file, through a job writing one file, and through a job writing parts, in
   alternating rounds (the server pinned to the second core, the client to the first).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from benchmarks._payloads import history_body
from benchmarks._report import Check, Section

ROOT = Path(__file__).resolve().parent.parent
OFFERS = 200
CONCURRENCY = 16
#: Sharded output may cost at most this share of the plain loop's users/s.
OVERHEAD_TARGET = 0.05


def _config(base: str) -> Any:
    from adgate_async.jobs import SessionConfig

    return SessionConfig(aff_id=1, api_key="bench", wall_code="w", adgate_base_url=base,
                         revu_base_url=base, max_connections=CONCURRENCY)


def _ids(count: int, tag: str) -> list[str]:
    return [f"{tag}-{i}" for i in range(count)]


# ---------------------------------------------------------------- 1. cores
def _cores(quick: bool) -> tuple[list[list[str]], list[str]]:
    from benchmarks._server import server_process

    users, shard = (200, 50) if quick else (4000, 500)
    rows = [["job", "users", "seconds", "users/s", "vs 1 process"]]
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, \
            server_process(server_cpu=1 << 16, client_cpu=1 << 16,
                           fixed_body=history_body(OFFERS)) as base:
        config = _config(base)
        from adgate_async.jobs import run_bulk_job

        def job(name: str, **how: Any) -> None:
            os.sync()  # nothing left to write back from the run before (see _overhead)
            summary = run_bulk_job(config, _ids(users, name[:4]), Path(tmp, name),
                                   shard_size=shard, concurrency=CONCURRENCY, **how)
            assert summary.complete, summary
            assert summary.ok == users, summary
            rates[name] = users / summary.seconds
            rows.append([name, f"{users:,}", f"{summary.seconds:.2f}",
                         f"{rates[name]:,.0f}", ""])

        run_bulk_job(config, _ids(50, "warm"), Path(tmp, "warm"), shard_size=50)
        job("1 process")
        job("processes=2", processes=2)
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                          host="127.0.0.1", dashboard_address=None) as cluster, \
                Client(cluster) as client:
            # The workers import the package on their first task: not part of the figure.
            run_bulk_job(config, _ids(100, "dwarm"), Path(tmp, "dwarm"), shard_size=50,
                         dask=client)
            job("dask, 2 workers", dask=client)
    for row in rows[1:]:
        row[4] = f"{rates[row[0]] / rates['1 process']:.2f}x"
    notes = [
        f"Cores: {users:,} users in parts of {shard}, concurrency {CONCURRENCY} per process "
        "(per task on Dask). The seconds are the job's own (`JobSummary.seconds`): for "
        "`processes=2` they include starting the 2 worker processes (spawned per job); the "
        "Dask workers were already running and had run a small job first. The server is a "
        "process of its own answering the same body to every request, and nothing is "
        f"pinned: on this {os.cpu_count()}-core machine the server shares the cores with "
        "the workers, so 2 workers cannot reach 2x here.",
    ]
    return rows, notes


# --------------------------------------------------------------- 2. resume
def _vm(field: str) -> int:
    """A /proc/self/status figure, in KiB (0 where there is none)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def resume_child(kind: str, directory: str) -> None:
    """Resume the job in ``directory`` (everything done); print seconds, peak RSS delta KiB,
    tracemalloc peak bytes, and the positions skipped."""
    from adgate_async.jobs import run_bulk_job

    config = _config("http://127.0.0.1:9")  # never asked: nothing is left to fetch
    ids = os.path.join(directory, "ids.txt")
    out = os.path.join(directory, "out.jsonl" if kind == "file" else "parts")
    how: dict[str, Any] = {} if kind == "file" else {"shard_size": _SHARD}

    def resume() -> Any:
        summary = run_bulk_job(config, ids, out, resume=True, **how)
        assert summary.users == 0, summary
        assert summary.complete, summary
        return summary

    before = _vm("VmRSS")
    started = time.perf_counter()
    summary = resume()
    seconds = time.perf_counter() - started
    peak = _vm("VmHWM") - before
    tracemalloc.start()
    resume()
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{seconds:.3f} {peak} {traced} {summary.resumed}")


_SHARD = 10_000


def _write_done_job(directory: Path, count: int) -> None:
    """The ids, and both kinds of output holding all of them (as a finished job's)."""
    with open(directory / "ids.txt", "w") as fh:
        fh.writelines(f"user-{i}\n" for i in range(count))
    with open(directory / "out.jsonl", "w") as fh:  # our line shape, an empty history
        fh.writelines(f'{{"index":{i},"user_id":"user-{i}","history":{{"data":[]}}}}\n'
                      for i in range(count))
    parts = directory / "parts"
    parts.mkdir()
    (parts / "_job.json").write_text('{"format": "jsonl", "compress": null, '
                                     f'"shard_size": {_SHARD}}}')
    for k in range(-(-count // _SHARD)):  # in place, so never read: left empty here
        (parts / f"part-{k:05d}.jsonl").touch()


def _resume(quick: bool) -> tuple[list[list[str]], list[str]]:
    count = 20_000 if quick else 1_000_000
    rows = [["resume of", "ids (all done)", "seconds", "peak RSS delta MiB",
             "tracemalloc peak MiB"]]
    with tempfile.TemporaryDirectory() as tmp:
        _write_done_job(Path(tmp), count)
        for kind, name in (("file", "one JSON Lines file"), ("parts", "a directory of parts")):
            out = subprocess.run([sys.executable, "-m", "benchmarks.jobs", "--resume-child",
                                  kind, tmp], capture_output=True, text=True, check=True,
                                 cwd=ROOT).stdout.split()
            assert int(out[3]) == count, out
            rows.append([name, f"{count:,}", out[0], f"{int(out[1]) / 1024:.1f}",
                         f"{int(out[2]) / 2**20:.1f}"])
    notes = [
        f"Resume: each in a fresh process; the file holds {count:,} short lines of our shape "
        "(an empty history: resume reads only the `index` at the start of a line, 1 MiB at "
        f"a time), the directory {-(-count // _SHARD)} parts of {_SHARD:,}. The ids are read "
        "from a file either way. What grows with the ids is the bitmap of done positions, "
        "one bit each: 10^7 ids take 1.25 MB (10^8: 12.5 MB); the rest is a constant "
        "(buffers, the session), so 10^7 ids resume in about the memory shown here plus "
        "1.1 MB, in about ten times the seconds.",
    ]
    return rows, notes


# ------------------------------------------------------------ 3. overhead
async def _loop(base: str, ids: list[str], out: Path) -> float:
    """The library's loop writing each result's line: the baseline of a job."""
    from adgate_async.jobs import result_line

    started = time.perf_counter()
    async with _config(base).open() as session:
        with open(out, "wb") as fh:  # noqa: ASYNC230 (written as the results come, as a job)
            async for result in session.iter_users(ids, concurrency=CONCURRENCY):
                assert result.ok
                fh.write(result_line(result))
    return time.perf_counter() - started


async def _job(base: str, ids: list[str], out: Path, **how: Any) -> float:
    from adgate_async.jobs import run_bulk_job_async

    summary = await run_bulk_job_async(_config(base), ids, out, overwrite=True,
                                       concurrency=CONCURRENCY, **how)
    assert summary.complete, summary
    assert summary.ok == len(ids), summary
    return summary.seconds


LOOP = "iter_users loop writing lines"
FILE = "job, -o file.jsonl"
PARTS = "job, -o DIR --format jsonl"


def _overhead(quick: bool) -> tuple[list[list[str]], list[Check], list[str]]:
    from benchmarks._server import server_process

    users, rounds = (200, 1) if quick else (3000, 5)
    runs: dict[str, Callable[[str, list[str], Path], Coroutine[Any, Any, float]]] = {
        LOOP: _loop,
        FILE: _job,
        PARTS: lambda base, ids, out: _job(base, ids, out, format="jsonl",
                                           shard_size=max(1, users // 4)),
    }
    rates: dict[str, list[float]] = {name: [] for name in runs}
    with tempfile.TemporaryDirectory() as tmp, \
            server_process(fixed_body=history_body(OFFERS)) as base:
        asyncio.run(_loop(base, _ids(50, "warm"), Path(tmp, "warm.jsonl")))
        for r in range(rounds):
            for i, (name, run) in enumerate(runs.items()):
                out = Path(tmp, f"out{i}" + ("" if name == PARTS else ".jsonl"))
                # Each run starts with nothing left to write back: without this, the dirty
                # pages of the run before are flushed by the next fsync (ext4's ordered
                # mode commits them with it), and the parts run pays for the loop's file.
                os.sync()
                seconds = asyncio.run(run(base, _ids(users, f"o{r}"), out))
                rates[name].append(users / seconds)
    median = {name: statistics.median(values) for name, values in rates.items()}
    rows = [["writer", "users/s (median)", "vs the loop"]]
    rows += [[name, f"{median[name]:,.0f}", f"{median[name] / median[LOOP]:.3f}x"]
             for name in runs]
    checks = [Check(f"sharded output vs the plain iter_users loop (users/s; overhead under "
                    f"{OVERHEAD_TARGET:.0%})", median[PARTS] / median[LOOP],
                    1 - OVERHEAD_TARGET)]
    rounds_text = f"medians of {rounds} alternating rounds" if rounds > 1 else "one round"
    notes = [f"Parts overhead: {users:,} users per run, {rounds_text}, concurrency "
             f"{CONCURRENCY}; the parts run writes 4 parts. The job counts its own set-up "
             "(opening the output, the session) in its seconds; the loop counts its "
             "session's. Before each run, `os.sync()` writes back what earlier runs left "
             "in the page cache (outside the timed window), so that a run's fsyncs pay "
             "for its own parts only."]
    return rows, checks, notes


def _merge(*tables: list[list[str]]) -> list[list[str]]:
    """One table from several: each one's header becomes a bold row, under a blank header."""
    width = max(len(t[0]) for t in tables)
    merged: list[list[str]] = [["", *([""] * (width - 1))]]
    for table in tables:
        for i, row in enumerate(table):
            cells = [f"**{c}**" if i == 0 and c else c for c in row]
            merged.append(cells + [""] * (width - len(cells)))
    return merged


def run(quick: bool) -> Section:
    cores, cores_notes = _cores(quick)
    resume, resume_notes = _resume(quick)
    overhead, checks, overhead_notes = _overhead(quick)
    return Section(
        title=f"Bulk jobs: cores, resume, parts overhead ({OFFERS}-offer history)",
        command="python -m benchmarks.jobs" + (" --quick" if quick else ""),
        rows=_merge(cores, resume, overhead),
        checks=checks,
        notes=[*cores_notes, "", *resume_notes, "", *overhead_notes],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small inputs (a smoke run)")
    parser.add_argument("--resume-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.resume_child:
        resume_child(*args.resume_child)
        return
    print(run(args.quick).text())


if __name__ == "__main__":
    main()
