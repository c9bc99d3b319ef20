"""The jobs layer against findings of the outside review of issue 9 (run_bulk_job_async
called directly, no CLI): each test's docstring names its finding."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import pytest

from adgate_async import AsyncSession, InvalidParameterError
from adgate_async.jobs import JobControl, SessionConfig, run_bulk_job_async
from adgate_async.testing import StandInServer

from ._support import AFF_ID, API_KEY, WALL_CODE


def config_for(adgate_server: StandInServer) -> SessionConfig:
    return SessionConfig(aff_id=AFF_ID, api_key=API_KEY, wall_code=WALL_CODE,
                         retry_backoff=0.001, retry_backoff_max=0.005,
                         **adgate_server.session_urls())


@pytest.mark.parametrize("session_kind", ["config", "session"])
@pytest.mark.parametrize("output", ["results.jsonl", "parts/"])
@pytest.mark.parametrize("bad", [{"max_per_second": 1e-300}, {"offer_ids": [0]},
                                 {"offer_ids": iter([0])}, {"concurrency": 10**6}],
                         ids=["rate", "offer_ids", "offer_ids iterator", "concurrency"])
async def test_bad_batch_arguments_leave_an_overwritable_output_alone(
    adgate_server: StandInServer, tmp_path: Path, session_kind: str, output: str,
    bad: dict[str, object],
) -> None:
    """Review finding 8: the batch's arguments were checked by ``iter_users``, after the
    output had been opened (``overwrite=True``: truncated, or a directory's parts
    removed)."""
    target = tmp_path / output
    if output.endswith("/"):
        target.mkdir()
        (target / "part-00000.jsonl").write_bytes(b"kept\n")
        kept = target / "part-00000.jsonl"
    else:
        target.write_bytes(b"yesterday's results\n")
        kept = target
    before = kept.read_bytes()
    session: SessionConfig | AsyncSession = config_for(adgate_server)
    if session_kind == "session":
        session = config_for(adgate_server).open()
    async with contextlib.AsyncExitStack() as stack:
        if isinstance(session, AsyncSession):
            await stack.enter_async_context(session)
        with pytest.raises(InvalidParameterError):
            await run_bulk_job_async(session, ["u1"], str(tmp_path / output),
                                     overwrite=True, **bad)  # type: ignore[arg-type]
    assert kept.read_bytes() == before
    assert adgate_server.count() == 0


async def test_a_stop_ends_a_job_whose_output_fifo_has_no_reader(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    """Review finding 5: the output was opened on the event loop thread; a FIFO with no
    reader blocked the whole loop, so nothing (a signal handler, JobControl.stop) could end
    the job."""
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    control = JobControl()
    job = asyncio.ensure_future(run_bulk_job_async(config_for(adgate_server), ["u1"],
                                                   str(fifo), control=control))
    try:
        await asyncio.sleep(0.5)
        control.stop(grace=0.1)
        summary = await asyncio.wait_for(job, timeout=20)
        assert (summary.users, summary.exit_status, summary.complete) == (0, 130, False)
    finally:
        # Give the left-behind open a reader, so its thread ends.
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        if not job.done():
            job.cancel()
    assert adgate_server.count() == 0


async def test_a_stop_ends_a_final_flush_into_a_stalled_pipe(
    adgate_server: StandInServer,
) -> None:
    """Review finding 6: a stop during the final flush (a reader that stalled) was not
    heard: the job waited on the output forever. Now the flush gets the grace, then the
    lines still queued are dropped and the summary comes back."""
    n = 1000  # fits the writer's queue; its bytes do not fit a pipe
    read_end, write_end = os.pipe()
    control = JobControl()
    try:
        job = asyncio.ensure_future(run_bulk_job_async(
            config_for(adgate_server), [f"u{i}" for i in range(n)],
            f"/proc/self/fd/{write_end}", concurrency=8, control=control))
        for _ in range(1200):  # every answer sent; nobody reads the pipe
            if adgate_server.count() >= n:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1)
        assert not job.done()
        control.stop(grace=0.5)
        summary = await asyncio.wait_for(job, timeout=20)
        assert summary.exit_status == 130
        assert summary.users == n
        assert summary.lines_written < n
    finally:
        os.close(read_end)  # the abandoned writer's write fails (EPIPE) and its thread ends
        os.close(write_end)
