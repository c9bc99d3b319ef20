"""Every benchmark still runs (tiny inputs, one pass each; no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> str:
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                            timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize(
    ("module", "args", "expect"),
    [
        ("benchmarks.decode", ["--quick"], "ours vs pydantic"),
        ("benchmarks.throughput", ["--quick", "--offers", "5", "--concurrency", "4"],
         "httpx + json.loads"),
        ("benchmarks.bulk_memory", ["--counts", "100", "300", "--concurrency", "4"],
         "peak RSS at 100 / at 300 users"),
        ("benchmarks.profile_path", ["--quick"], "all package functions"),
    ],
)
def test_benchmark_runs(module: str, args: list[str], expect: str) -> None:
    assert expect in run("-m", module, *args)


def test_bulk_throughput_script_runs() -> None:
    out = run("benchmarks/bulk_throughput.py", "--users", "200", "--rounds", "1",
              "--concurrency", "4")
    assert "ratio" in out
