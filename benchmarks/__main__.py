"""Run every benchmark and write benchmarks/RESULTS.md.

    python -m benchmarks            # the full run (several minutes): rewrites RESULTS.md
    python -m benchmarks --quick    # a smoke run on small inputs; writes no file by default

Every benchmark is a module with ``run(quick: bool) -> Section``, listed in ``BENCHMARKS``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from benchmarks import (
    bulk_memory,
    decode,
    gc_cost,
    jobs,
    nginx_throughput,
    profile_path,
    request_tricks,
    throughput,
)
from benchmarks._report import Section

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
BENCHMARKS: dict[str, Callable[[bool], Section]] = {
    "decode": decode.run,
    "throughput, 200 offers": throughput.run,
    "throughput, 5 offers": throughput.run_small,
    "throughput, nginx": nginx_throughput.run,
    "keeping results": gc_cost.run,
    "bulk memory": bulk_memory.run,
    "profile": profile_path.run,
    "request tricks": request_tricks.run,
    "bulk jobs": jobs.run,
}
PACKAGES = ("adgate-async", "aiohttp", "msgspec", "tenacity", "orjson", "pydantic", "httpx")


READING = """\
## Reading these figures

- **Throughput compares like with like.** `gather_users` returns every history of the batch,
  so the baselines set against it keep their decoded results until the batch ends too.
  `iter_users` streams; with each result dropped as it arrives, its baseline is the raw loop
  that decodes each body and drops it at once. That loop never holds more than one history,
  so its memory stays hot in the CPU cache and the garbage collector has almost nothing to
  walk. The gap between the two kinds of rows is the cost of keeping results (mostly the
  collector walking every history kept), which any batch that returns results pays; stream
  with `iter_users` when the results need not all be in memory.
- **Small bodies.** On a 5-offer history the decode is a small share of each request, so
  the 2x bar against `json.loads` cannot apply there; the library's own cost per request
  (see the profile: a few microseconds of package code) is what separates it from the raw
  loop, and round-to-round noise on this shared machine is of the same order. Against
  nginx (a server cheaper per request than any Python one) that cost shows most.
- **Keeping results.** With list fields, every list of every kept history is tracked by the
  cyclic garbage collector, which walks them again and again as a batch grows; tuples of
  untracked items are untracked. The "keeping results" table measures it on decode alone.
- **Memory.** Peak RSS of a streaming batch depends on the concurrency, not the number of
  users: the input is read lazily and at most `buffer` results are in flight.
"""


def machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in PACKAGES)
    return [
        f"- Machine: {os.cpu_count()} cores ({usable} usable), {cpu}, {platform.system()} "
        f"{platform.release()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}); "
        f"{versions}",
    ]


def report(sections: list[Section], command: str, seconds: float) -> str:
    """RESULTS.md: when, where and how it was measured, every check, then every table."""
    checks = [c for s in sections for c in s.checks]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{command}` on {datetime.date.today().isoformat()} in {seconds:.0f} s. "
        "Every ratio was measured side by side in this one run, on the same bodies and the "
        "same local server; absolute figures move between runs on a shared machine, the "
        "ratios much less.",
        "",
        *machine(),
        "",
        "## Targets",
        "",
        "The bars the project holds itself to (why each is where it is: benchmarks/README.md).",
        "",
        *(f"- {c.line()}" for c in checks),
        "",
    ]
    text = ("\n".join(lines) + "\n" + "\n".join(s.markdown() for s in sections)
            + "\n" + READING)
    return text.replace("\n## ", "\n\n## ").replace("\n\n\n## ", "\n\n## ")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small inputs, a smoke run")
    parser.add_argument("--output", type=Path,
                        help="where to write the report (default: RESULTS.md for a full run, "
                             "nowhere for --quick)")
    args = parser.parse_args()
    output: Path | None = args.output or (None if args.quick else RESULTS)
    started = time.perf_counter()
    sections: list[Section] = []
    for name, run in BENCHMARKS.items():
        print(f"running {name} ...", file=sys.stderr, flush=True)
        section = run(args.quick)
        print(section.text() + "\n", file=sys.stderr, flush=True)
        sections.append(section)
    command = "python -m benchmarks" + (" --quick" if args.quick else "")
    checks = [c for s in sections for c in s.checks]
    met = sum(c.met for c in checks)
    print(f"{met} of {len(checks)} targets met", file=sys.stderr)
    if output is None:
        print("quick run: no report written (pass --output FILE to keep one)", file=sys.stderr)
        return
    output.write_text(report(sections, command, time.perf_counter() - started))
    print(f"wrote {output}", file=sys.stderr)


if __name__ == "__main__":
    main()
