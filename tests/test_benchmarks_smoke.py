"""The benchmark harnesses still run (tiny inputs; no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(script: str, *args: str) -> str:
    result = subprocess.run([sys.executable, f"benchmarks/{script}", *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_bulk_throughput_runs() -> None:
    out = run("bulk_throughput.py", "--users", "200", "--rounds", "1", "--concurrency", "4")
    assert "iter_users" in out
    assert "ratio" in out


def test_bulk_memory_runs() -> None:
    out = run("bulk_memory.py", "--counts", "100", "300", "--concurrency", "4")
    assert "peak RSS ratio" in out
