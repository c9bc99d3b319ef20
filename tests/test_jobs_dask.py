"""Item 5 of issue 11: --dask ADDRESS runs the parts as tasks on a Dask distributed cluster.

A real LocalCluster of two worker processes on 127.0.0.1 (one thread each); the stand-in
server runs in the test's loop, which the job's driver leaves free while the tasks run, so the
workers reach it over TCP like any service.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adgate_async.jobs import run_bulk_job_async
from adgate_async.testing import Answer, StandInServer

from .test_jobs_resume import config_for
from .test_jobs_shards import check_parts, cli_parts_job, part_lines


def _distributed() -> Any:
    # Imported only when a test here runs, not when pytest collects this file: importing
    # dask into the test process shifts the timing of
    # test_bulk_cancel.py::test_cancelling_a_consumer_busy_in_its_loop_body_stops_the_workers
    # enough for it to fail (a request counted after the workers were gone).
    return pytest.importorskip("distributed", reason="the 'dask' extra is not installed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with _distributed().LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  host="127.0.0.1", dashboard_address=None) as local:
        yield local


@pytest.fixture(scope="module")
def client(cluster: Any) -> Iterator[Any]:
    with _distributed().Client(cluster) as connected:
        yield connected


async def wait_for_requests(server: StandInServer, count: int) -> None:
    """Poll the server's request count (it offers no event to wait on)."""
    while True:
        if server.count() >= count:
            return
        await asyncio.sleep(0.05)


def indexes(directory: Path) -> Counter[int]:
    return Counter(int(str(line["index"])) for part in directory.glob("part-*")
                   for line in part_lines(part))


async def test_cli_dask_writes_every_part_once(
    adgate_server: StandInServer, tmp_path: Path, cluster: Any
) -> None:
    await cli_parts_job(adgate_server, tmp_path, "d", 300, str(tmp_path / "parts"),
                        "--dask", cluster.scheduler_address)


async def test_resume_on_dask_fetches_only_the_missing_parts(
    adgate_server: StandInServer, tmp_path: Path, client: Any
) -> None:
    ids = [f"r{i}" for i in range(200)]
    out = tmp_path / "parts"
    summary = await run_bulk_job_async(config_for(adgate_server), ids, out, shard_size=40,
                                       dask=client)
    assert summary.complete
    assert summary.shards == 5
    # As if the job had been killed: two parts missing, a half-written one left behind.
    for k in (1, 3):
        (out / f"part-0000{k}.jsonl").unlink()
    (out / "_SUCCESS").unlink()
    (out / ".part-00003.jsonl.12345.tmp").write_text('{"index": 120}\n')
    before = adgate_server.count()
    summary = await run_bulk_job_async(config_for(adgate_server), ids, out, shard_size=40,
                                       resume=True, dask=client)
    assert summary.complete
    assert summary.shards == 2
    assert summary.resumed == 120
    assert adgate_server.count() - before == 80
    check_parts(out, ids, 40, complete=True)


async def test_a_retry_after_seen_by_one_task_pauses_the_other(
    adgate_server: StandInServer, tmp_path: Path, client: Any
) -> None:
    ids = [f"p{i}" for i in range(120)]
    # p65 sits in the second part, so the task that gets the 429 is not the only one running.
    adgate_server.script("p65", Answer.error(429, retry_after=3))
    summary = await run_bulk_job_async(config_for(adgate_server), ids, tmp_path / "parts",
                                       shard_size=60, max_per_second=30, dask=client)
    assert summary.complete
    assert summary.exit_status == 0
    first = next(r.time for r in adgate_server.requests if r.user_id == "p65")
    others = [r for r in adgate_server.requests if r.user_id != "p65"]
    # Tasks read the shared pause at most every 0.5 s, and requests under way may land just
    # after the 429; then nothing from either task until the pause (3 s) is nearly over.
    quiet = [r.user_id for r in others if first + 1.0 < r.time < first + 2.5]
    assert quiet == []
    assert any(r.time > first + 2.5 for r in others)
    assert adgate_server.count("p65") == 2


async def test_a_worker_killed_mid_part_has_its_part_redone_once(
    adgate_server: StandInServer, tmp_path: Path, client: Any
) -> None:
    ids = [f"k{i}" for i in range(120)]
    out = tmp_path / "parts"
    # 40/s split over two tasks: a part of 40 users takes about 2 s.
    job = asyncio.create_task(run_bulk_job_async(
        config_for(adgate_server), ids, out, shard_size=40, max_per_second=40, dask=client))
    async with asyncio.timeout(60):
        await wait_for_requests(adgate_server, 10)  # both tasks are in the middle of a part
    pids = await asyncio.to_thread(client.run, os.getpid)
    victim = sorted(pids.values())[0]
    os.kill(victim, signal.SIGKILL)
    async with asyncio.timeout(120):
        summary = await job
    assert summary.complete, summary
    assert summary.exit_status == 0
    check_parts(out, ids, 40, complete=True)  # every part whole, no leftover .tmp
    assert indexes(out) == Counter(range(len(ids)))  # no duplicate, no gap
    assert adgate_server.count() > len(ids)  # the killed part was fetched again


async def test_the_rate_is_one_budget_for_the_whole_cluster(
    adgate_server: StandInServer, tmp_path: Path, client: Any
) -> None:
    ids = [f"t{i}" for i in range(60)]
    summary = await run_bulk_job_async(config_for(adgate_server), ids, tmp_path / "parts",
                                       shard_size=10, max_per_second=20, dask=client)
    assert summary.complete
    times = sorted(r.time for r in adgate_server.requests)
    # 60 starts at 20/s take at least 59/20 = 2.95 s; a budget per task would have let them
    # through in half that.
    assert times[-1] - times[0] >= 0.9 * 59 / 20


async def test_dask_needs_parts_a_session_config_and_not_processes(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    config = config_for(adgate_server)
    out = tmp_path / "single.jsonl"
    with pytest.raises(ValueError, match="directory of parts"):
        await run_bulk_job_async(config, ["u1"], out, dask="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match="not both"):
        await run_bulk_job_async(config, ["u1"], tmp_path / "p", shard_size=1, processes=2,
                                 dask="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match="one process only"):  # more: test_jobs_fsspec.py
        await run_bulk_job_async(config, ["u1"], "memory://bucket/out/", shard_size=1,
                                 dask="tcp://127.0.0.1:1")
    async with config.open() as session:
        with pytest.raises(ValueError, match="SessionConfig"):
            await run_bulk_job_async(session, ["u1"], tmp_path / "p", shard_size=1,
                                     dask="tcp://127.0.0.1:1")
    assert not out.exists()
    assert not (tmp_path / "p").exists()
    assert adgate_server.count() == 0
