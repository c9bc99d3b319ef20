"""Issue 11, item 7(b) at the job level: ``retry_budget`` of a job and ``bulk --retry-budget``.

The budget itself is the library's (tests/test_retry_budget.py); here: a job passes it on
(in one process and to each part of worker processes), and the command line takes it, with
0 or ``none`` for no cap and a usage error (exit 2) naming the flag and its rule.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from adgate_async.jobs import run_bulk_job_async
from adgate_async.testing import Answer, StandInServer

from .test_cli import env_for, run_cli, urls
from .test_jobs_resume import config_for

USERS = 40
RETRIES = 2  # three attempts a user without a budget


def all_down(server: StandInServer, ids: list[str]) -> None:
    for user_id in ids:
        server.always(user_id, Answer.error(503))


@pytest.mark.parametrize("processes", [1, 2])
async def test_a_job_passes_its_retry_budget_on(
    adgate_server: StandInServer, tmp_path: Path, processes: int
) -> None:
    ids = [f"b{i}" for i in range(USERS)]
    all_down(adgate_server, ids)
    config = dataclasses.replace(config_for(adgate_server), max_retries=RETRIES)
    how = {"shard_size": USERS // 2, "processes": processes}
    summary = await run_bulk_job_async(config, ids, tmp_path / "capped", fail_fast=0, **how)
    assert summary.complete
    assert sum(summary.errors.values()) == USERS
    capped = adgate_server.count()
    # The default budget: retries add at most 10 + 20 % of its users to a batch (a part, with
    # worker processes); without a cap every user would be tried RETRIES + 1 times.
    assert capped <= USERS + 10 * processes + 0.2 * USERS
    summary = await run_bulk_job_async(config, ids, tmp_path / "free", fail_fast=0,
                                       retry_budget=None, **how)
    assert summary.complete
    assert adgate_server.count() - capped == USERS * (RETRIES + 1)


async def test_cli_retry_budget_none_and_zero_lift_the_cap(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    ids = [f"c{i}" for i in range(USERS)]
    all_down(adgate_server, ids)
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    before = 0
    for value in ("none", "0"):
        rc, _, stderr = await run_cli(
            "bulk", str(tmp_path / "ids.txt"), "-o", str(tmp_path / f"out-{value}.jsonl"),
            "--retry-budget", value, "--fail-fast", "0", "--max-retries", str(RETRIES),
            *urls(adgate_server), env=env_for(adgate_server))
        assert rc == 0, stderr
        assert adgate_server.count() - before == USERS * (RETRIES + 1), value
        before = adgate_server.count()


@pytest.mark.parametrize("value", ["2", "-0.1", "nan", "lots", ""])
async def test_cli_bad_retry_budget_is_a_usage_error(
    adgate_server: StandInServer, tmp_path: Path, value: str
) -> None:
    (tmp_path / "ids.txt").write_text("u1\n")
    rc, _, stderr = await run_cli("bulk", str(tmp_path / "ids.txt"), "--retry-budget", value,
                                  *urls(adgate_server), env=env_for(adgate_server))
    assert rc == 2, stderr
    assert "--retry-budget: must be a number from 0 to 1, or none" in stderr
    assert adgate_server.count() == 0
