"""Items 7(a) and 8 of issue 11: a job stops early when the service looks down (exit 4),
keeps what it did, and resumes later; exit statuses of a job."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from adgate_async.jobs import EXIT_FAIL_FAST, run_bulk_job_async
from adgate_async.testing import Answer, StandInServer

from ._support import free_port
from .test_cli import env_for
from .test_jobs_resume import assert_exactly_once, config_for


async def test_a_100000_id_job_against_a_dead_port_stops_early_with_status_4(
    tmp_path: Path,
) -> None:
    port = free_port()  # nothing listens here
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("".join(f"d{i}\n" for i in range(100_000)))
    out = tmp_path / "out.jsonl"
    base = f"http://127.0.0.1:{port}"
    env = env_for(StandInServer())
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adgate_async", "bulk", str(ids_file), "-o", str(out),
        "--adgate-base-url", base, "--revu-base-url", base, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    elapsed = time.monotonic() - started
    stderr = err.decode()
    assert proc.returncode == EXIT_FAIL_FAST == 4, stderr
    assert elapsed < 30, f"the job took {elapsed:.1f} s to give up"
    reason = [line for line in stderr.splitlines() if "stopped early" in line]
    assert len(reason) == 1, stderr
    assert "the last 50 users all failed" in reason[0]
    assert "--resume" in reason[0]
    lines = [json.loads(line) for line in out.read_bytes().splitlines()]
    assert 50 <= len(lines) < 1000
    assert all(line["error"]["type"] == "TransportError" for line in lines)


async def test_fail_fast_keeps_what_was_done_and_resume_finishes_the_job(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    ids = [f"ok{i}" for i in range(10)] + [f"down{i}" for i in range(200)]
    for user_id in ids[10:]:
        adgate_server.always(user_id, Answer.error(503))
    out = tmp_path / "out.jsonl"
    config = config_for(adgate_server)
    summary = await run_bulk_job_async(config, ids, out, fail_fast=20, concurrency=4)
    assert summary.exit_status == EXIT_FAIL_FAST
    assert summary.stop_reason is not None
    assert "the last 20 users all failed" in summary.stop_reason
    assert "ServerError" in summary.stop_reason
    assert not summary.complete
    assert summary.users < 60  # it stopped instead of writing 200 error lines
    done = {json.loads(line)["index"] for line in out.read_bytes().splitlines()}
    assert set(range(10)) <= done
    for user_id in ids[10:]:  # the service is back
        adgate_server.always(user_id, Answer.ok())
    # The error lines stand (each user has exactly one line); the rest is fetched now.
    summary = await run_bulk_job_async(config, ids, out, resume=True)
    assert summary.exit_status == 0
    assert summary.complete
    assert_exactly_once(out, ids)


async def test_scattered_failures_and_definitive_errors_never_stop_a_job(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    ids = [f"m{i}" for i in range(120)]
    for i, user_id in enumerate(ids):
        if i % 10 == 9:
            continue  # one success in ten breaks every streak of 5xx
        adgate_server.always(user_id, Answer.error(500) if i % 2 else Answer.ban())
    summary = await run_bulk_job_async(config_for(adgate_server), ids, tmp_path / "o.jsonl",
                                       fail_fast=10, ordered=True)
    assert summary.exit_status == 0
    assert summary.users == 120
    failing = [f"x{i}" for i in range(30)]
    for user_id in failing:
        adgate_server.always(user_id, Answer.error(500))
    never = await run_bulk_job_async(config_for(adgate_server), failing, tmp_path / "n.jsonl",
                                     fail_fast=0)
    assert never.exit_status == 0  # 0: never stop early
    assert never.errors == {"ServerError": 30}
