"""Every benchmark the runner lists runs on its quick inputs and hands back a Section.

Each runs in its own process from the repo root, as ``python -m benchmarks --quick`` runs it,
so its server process, CPU pinning and garbage stay out of the test process. No timing is
asserted: the quick inputs are small, and the figures of a smoke run mean nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The runner's list (benchmarks/__main__.py, BENCHMARKS), in its order.
LISTED = ("decode", "throughput, 200 offers", "throughput, 5 offers", "throughput, nginx",
          "keeping results", "bulk memory", "profile", "request tricks", "bulk jobs")

RUN_ONE = """
import sys
from benchmarks.__main__ import BENCHMARKS, report
from benchmarks._report import Section

section = BENCHMARKS[sys.argv[1]](True)
assert isinstance(section, Section), type(section)
assert len(section.rows) > 1, section.rows
print(report([section], "python -m benchmarks --quick", 0.0))
"""

LIST_MODULES = """
import json
from benchmarks.__main__ import BENCHMARKS

print(json.dumps({"names": list(BENCHMARKS),
                  "modules": sorted({run.__module__ for run in BENCHMARKS.values()})}))
"""


def python(code: str, *args: str) -> str:
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_runner_lists_every_benchmark_module() -> None:
    listed = json.loads(python(LIST_MODULES))
    assert tuple(listed["names"]) == LISTED
    modules = sorted(f"benchmarks.{p.stem}" for p in (ROOT / "benchmarks").glob("*.py")
                     if not p.stem.startswith("_"))
    assert listed["modules"] == modules


@pytest.mark.parametrize("name", LISTED)
def test_listed_benchmark_runs_quick(name: str) -> None:
    out = python(RUN_ONE, name)
    assert out.startswith("# Benchmark results")
    assert "\n## " in out.split("## Targets", 1)[1]  # the benchmark's own table follows
