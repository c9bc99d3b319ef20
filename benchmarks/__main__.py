"""Run every benchmark and write benchmarks/RESULTS.md.

    python -m benchmarks            # the full run (several minutes)
    python -m benchmarks --quick    # every benchmark on small inputs (about a minute)
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

from benchmarks import bulk_memory, decode, profile_path, throughput
from benchmarks._report import Section

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
PACKAGES = ("adgate-async", "aiohttp", "msgspec", "tenacity", "orjson", "pydantic", "httpx")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small inputs, about a minute")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    started = time.perf_counter()
    steps: list[tuple[str, Callable[[], Section]]] = [
        ("decode", lambda: decode.run(args.quick)),
        ("throughput, 200 offers", lambda: throughput.run(args.quick, offers=200)),
        ("throughput, 5 offers",
         lambda: throughput.run(args.quick, offers=5, concurrencies=(16, 64))),
        ("bulk memory", lambda: bulk_memory.run(args.quick)),
        ("profile", lambda: profile_path.run(args.quick)),
    ]
    sections: list[Section] = []
    for name, step in steps:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        section = step()
        print(section.text() + "\n", file=sys.stderr, flush=True)
        sections.append(section)
    elapsed = time.perf_counter() - started
    command = "python -m benchmarks" + (" --quick" if args.quick else "")
    checks = [c for s in sections for c in s.checks]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{command}` on {datetime.date.today().isoformat()} in {elapsed:.0f} s. "
        "Every ratio was measured side by side in this one run, on the same bodies and the "
        "same local server; absolute figures move between runs on a shared machine, the "
        "ratios much less.",
        "",
        *machine(),
        "",
        "## Targets (DESIGN.md section 6)",
        "",
        *(f"- {c.line()}" for c in checks),
        "",
    ]
    text = "\n".join(lines) + "\n" + "\n".join(s.markdown() for s in sections)
    args.output.write_text(text)
    met = sum(c.met for c in checks)
    print(f"{met} of {len(checks)} targets met; wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
