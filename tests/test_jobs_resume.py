"""Item 1 and 6 of issue 11: resumable bulk jobs, from Python and from the command line.

The kill test runs the real command in a subprocess against the stand-in adgate_server in this
test's loop, kills it with SIGKILL at random points, resumes, and checks the final output
holds every input position exactly once.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import random
import signal
import sys
from pathlib import Path

import pytest

from adgate_async.jobs import (
    DoneSet,
    JobSetupError,
    SessionConfig,
    run_bulk_job,
    run_bulk_job_async,
)
from adgate_async.testing import Answer, StandInServer

from ._support import AFF_ID, API_KEY, WALL_CODE
from .test_cli import env_for, run_cli, urls


def config_for(adgate_server: StandInServer) -> SessionConfig:
    return SessionConfig(aff_id=AFF_ID, api_key=API_KEY, wall_code=WALL_CODE,
                         retry_backoff=0.001, retry_backoff_max=0.005,
                         **adgate_server.session_urls())


def read_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def assert_exactly_once(path: Path, ids: list[str]) -> None:
    lines = read_lines(path)
    positions = sorted(int(str(line["index"])) for line in lines)
    assert positions == list(range(len(ids))), "a position is missing or written twice"
    for line in lines:
        assert line["user_id"] == ids[int(str(line["index"]))]


# ------------------------------------------------------------------------- the bitmap


def test_done_set_is_a_bitmap_of_one_bit_per_position() -> None:
    done = DoneSet()
    assert 0 not in done
    assert 10 not in done
    assert done.add(9_999_999)
    assert not done.add(9_999_999)
    assert done.add(0)
    assert 9_999_999 in done
    assert 0 in done
    assert 1 not in done
    assert len(done) == 2
    assert done.nbytes <= 2 * 1_250_000  # 10**7 positions: 1.25 MB (grown by doubling)


# --------------------------------------------------------------------- Python entry point


def test_session_config_hides_the_key_and_pickles() -> None:
    config = SessionConfig(aff_id=AFF_ID, api_key=API_KEY, wall_code=WALL_CODE)
    assert API_KEY not in repr(config)
    assert pickle.loads(pickle.dumps(config)) == config


async def test_run_bulk_job_async_returns_a_summary(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    adgate_server.always("banned", Answer.ban())
    adgate_server.always("gone", Answer.error(404))
    ids = ["u1", "banned", "u2", "gone", "u1"]
    out = tmp_path / "out.jsonl"
    summary = await run_bulk_job_async(config_for(adgate_server), ids, out)
    assert (summary.users, summary.ok, summary.errors) == (
        5, 3, {"UserBannedError": 1, "NotFoundError": 1})
    assert summary.exit_status == 0  # every user has a line
    assert summary.complete
    assert summary.resumed == 0
    assert_exactly_once(out, ids)
    strict = await run_bulk_job_async(config_for(adgate_server), ids, out, overwrite=True,
                                      strict=True)
    assert strict.exit_status == 1
    again = await run_bulk_job_async(config_for(adgate_server), ids, out, resume=True)
    assert (again.users, again.resumed) == (0, 5)
    assert_exactly_once(out, ids)


def test_run_bulk_job_blocks_and_reads_a_file(tmp_path: Path) -> None:
    async def serve_and_run() -> None:
        async with StandInServer() as adgate_server:
            ids_file = tmp_path / "ids.txt"
            ids_file.write_text("\ufeffa\n\n  \nb\r\nc")
            out = tmp_path / "o.jsonl"
            summary = await asyncio.to_thread(run_bulk_job, config_for(adgate_server),
                                              str(ids_file), out)
            assert summary.users == 3
            assert summary.exit_status == 0
            assert_exactly_once(out, ["a", "b", "c"])

    asyncio.run(serve_and_run())


async def test_an_existing_output_is_refused_untouched(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"precious\n")
    with pytest.raises(JobSetupError, match="exists and is not empty"):
        await run_bulk_job_async(config_for(adgate_server), ["u1"], out)
    assert out.read_bytes() == b"precious\n"
    assert adgate_server.count() == 0
    summary = await run_bulk_job_async(config_for(adgate_server), ["u1"], out, overwrite=True)
    assert summary.users == 1
    assert_exactly_once(out, ["u1"])


async def test_resume_cuts_a_partial_last_line_and_refuses_foreign_lines(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    ids = [f"u{i}" for i in range(10)]
    out = tmp_path / "out.jsonl"
    await run_bulk_job_async(config_for(adgate_server), ids[:4], out)
    with out.open("ab") as fh:
        fh.write(b'{"index":7,"user_id":"u7","hist')  # a write torn by a kill
    summary = await run_bulk_job_async(config_for(adgate_server), ids, out, resume=True)
    assert (summary.resumed, summary.users) == (4, 6)
    assert_exactly_once(out, ids)
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_bytes(b'{"user_id":"x"}\n')
    with pytest.raises(JobSetupError, match=r'line 1 .* "index"'):
        await run_bulk_job_async(config_for(adgate_server), ids, foreign, resume=True)
    with pytest.raises(JobSetupError, match="gzip"):
        await run_bulk_job_async(config_for(adgate_server), ids, tmp_path / "o.jsonl.gz",
                                 resume=True)


async def test_bad_settings_are_refused_before_the_output_is_touched(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"older results\n")
    bad = SessionConfig(aff_id=0, api_key=API_KEY, wall_code=WALL_CODE)
    with pytest.raises(ValueError, match="aff_id"):
        await run_bulk_job_async(bad, ["u1"], out, overwrite=True)
    assert out.read_bytes() == b"older results\n"
    with pytest.raises(TypeError, match="SessionConfig"):
        await run_bulk_job_async("not a session", ["u1"], out)  # type: ignore[arg-type]


# -------------------------------------------------------------------- command line


async def test_cli_refuses_an_existing_output_with_status_2(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"keep me\n")
    rc, _, stderr = await run_cli("bulk", "-", "-o", str(out), *urls(adgate_server),
                                  env=env_for(adgate_server), stdin=b"u1\n")
    assert rc == 2, stderr
    assert "--resume" in stderr
    assert "--overwrite" in stderr
    assert out.read_bytes() == b"keep me\n"
    assert adgate_server.count() == 0
    rc, _, stderr = await run_cli("bulk", "-", "-o", str(out), "--overwrite", *urls(adgate_server),
                                  env=env_for(adgate_server), stdin=b"u1\n")
    assert rc == 0, stderr
    assert_exactly_once(out, ["u1"])


async def test_cli_resume_over_replayed_stdin(adgate_server: StandInServer, tmp_path: Path) -> None:
    ids = [f"s{i}" for i in range(40)]
    out = tmp_path / "out.jsonl"
    first = "".join(f"{u}\n" for u in ids[:15]).encode()
    rc, _, stderr = await run_cli("bulk", "-", "-o", str(out), *urls(adgate_server),
                                  env=env_for(adgate_server), stdin=first)
    assert rc == 0, stderr
    rc, _, stderr = await run_cli("bulk", "-", "-o", str(out), "--resume", *urls(adgate_server),
                                  env=env_for(adgate_server),
                                  stdin="".join(f"{u}\n" for u in ids).encode())
    assert rc == 0, stderr
    assert "resumed: 15 already done" in stderr
    assert_exactly_once(out, ids)
    assert adgate_server.count() == 40


async def _start_bulk(adgate_server: StandInServer, ids_file: Path, out: Path,
                      *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adgate_async", "bulk", str(ids_file), "-o", str(out),
        "--resume", "--concurrency", "8", "--rate", "600", *extra, *urls(adgate_server),
        env=env_for(adgate_server), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )


async def test_kill_9_at_random_points_then_resume_writes_each_id_exactly_once(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    rng = random.Random(11)
    # Duplicates (by text) on purpose: exactly once is per input position.
    ids = [f"k{i % 2900}" for i in range(3000)]
    for i in range(0, 3000, 37):
        adgate_server.always(ids[i], Answer.ban())  # error lines count as done too
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    out = tmp_path / "out.jsonl"
    kills = 0
    while kills < 20:
        size = out.stat().st_size if out.exists() else 0
        proc = await _start_bulk(adgate_server, ids_file, out)
        # Wait until this run has written something, then kill it at a random moment.
        for _ in range(3000):
            if proc.returncode is not None or (out.exists() and out.stat().st_size > size):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(rng.uniform(0.0, 0.25))
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode in (0, -signal.SIGKILL), err.decode()
        if proc.returncode == 0:
            break  # the job finished before the kill landed
    proc = await _start_bulk(adgate_server, ids_file, out)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    assert_exactly_once(out, ids)
    assert kills == 20
