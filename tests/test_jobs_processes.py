"""Item 4 of issue 11: --processes N runs the parts in worker processes; the start rate and
the Retry-After pause hold across all of them; a killed job resumes exactly once."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from pathlib import Path

from adgate_async.testing import Answer, StandInServer

from .test_cli import env_for, run_cli, urls
from .test_jobs_shards import check_parts, cli_parts_job


async def test_two_processes_write_every_part_once(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    await cli_parts_job(adgate_server, tmp_path, "w", 600, str(tmp_path / "parts"),
                        "--processes", "2")


async def test_the_rate_holds_across_processes(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    ids = [f"r{i}" for i in range(60)]
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    rc, _, stderr = await run_cli("bulk", str(tmp_path / "ids.txt"), "-o",
                                  str(tmp_path / "parts"), "--shard-size", "10",
                                  "--processes", "2", "--rate", "20", *urls(adgate_server),
                                  env=env_for(adgate_server))
    assert rc == 0, stderr
    times = sorted(r.time for r in adgate_server.requests)
    # 60 starts at 20/s across both processes take at least 59/20 = 2.95 s; a per-process
    # budget would have let them through in half that.
    assert times[-1] - times[0] >= 0.9 * 59 / 20


async def test_a_retry_after_seen_by_one_process_pauses_the_other(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    ids = [f"p{i}" for i in range(120)]
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    # p65 sits in the second part (shard size 60), so the process that gets the 429 is not
    # the only one running.
    adgate_server.script("p65", Answer.error(429, retry_after=3))
    rc, _, stderr = await run_cli("bulk", str(tmp_path / "ids.txt"), "-o",
                                  str(tmp_path / "parts"), "--shard-size", "60",
                                  "--processes", "2", "--rate", "30", *urls(adgate_server),
                                  env=env_for(adgate_server))
    assert rc == 0, stderr
    first = next(r.time for r in adgate_server.requests if r.user_id == "p65")
    others = [r for r in adgate_server.requests if r.user_id != "p65"]
    # Requests already under way may land just after the 429; then nothing, from either
    # process, until the pause is over (3 s; 2 s checked, generous margins on both ends).
    quiet = [r.user_id for r in others if first + 0.5 < r.time < first + 2.5]
    assert quiet == []
    assert any(r.time > first + 2.5 for r in others)  # and then the job went on
    assert adgate_server.count("p65") == 2


async def test_kill_9_of_a_two_process_job_then_resume_writes_each_id_once(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    rng = random.Random(4)
    ids = [f"k{i}" for i in range(2000)]
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    out = tmp_path / "parts"
    args = ("-m", "adgate_async", "bulk", str(ids_file), "-o", str(out), "--shard-size",
            "100", "--processes", "2", "--resume", "--rate", "500", *urls(adgate_server))
    for _ in range(20):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *args, env=env_for(adgate_server), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            start_new_session=True)
        count = adgate_server.total_requests
        for _ in range(3000):  # until its workers are fetching
            if proc.returncode is not None or adgate_server.total_requests > count + 20:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(rng.uniform(0.0, 0.5))
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the job and its workers, as a container
        await asyncio.wait_for(proc.communicate(), timeout=60)
        check_parts(out, ids, 100, complete=False)
    rc, _, stderr = await run_cli(*args[2:], env=env_for(adgate_server))  # drops "-m adgate_async"
    assert rc == 0, stderr
    check_parts(out, ids, 100, complete=True)


def _workers(pid: int) -> list[int]:
    """The job's worker processes (not multiprocessing's resource tracker)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:  # a thread or a child may end between being listed and being read
            children = (task / "children").read_text().split()
        except FileNotFoundError:
            continue
        for child in children:
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            except FileNotFoundError:
                continue
            if b"spawn_main" in cmdline:
                found.append(int(child))
    return found


async def test_a_worker_killed_mid_part_is_reported_and_its_part_redone(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    ids = [f"x{i}" for i in range(1200)]
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    out = tmp_path / "parts"
    args = ("bulk", str(ids_file), "-o", str(out), "--shard-size", "100", "--processes", "2",
            "--resume", "--rate", "400", *urls(adgate_server))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adgate_async", *args, env=env_for(adgate_server),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, start_new_session=True)
    try:
        for _ in range(3000):
            workers = _workers(proc.pid) if proc.returncode is None else []
            if len(workers) == 2 and adgate_server.total_requests > 150:
                break
            await asyncio.sleep(0.01)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
    assert proc.returncode == 1, err.decode()
    assert "a worker process died" in err.decode()
    assert "Traceback" not in err.decode()
    check_parts(out, ids, 100, complete=False)
    rc, _, stderr = await run_cli(*args, env=env_for(adgate_server))
    assert rc == 0, stderr
    check_parts(out, ids, 100, complete=True)


async def test_processes_need_parts_and_a_session_config(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    rc, _, stderr = await run_cli("bulk", "-", "-o", str(tmp_path / "o.jsonl"),
                                  "--processes", "2", *urls(adgate_server),
                                      env=env_for(adgate_server),
                                  stdin=b"u1\n")
    assert rc == 2, stderr
    assert "directory of parts" in stderr
    assert adgate_server.count() == 0
    kept = tmp_path / "kept.jsonl"
    kept.write_bytes(b"older results\n")
    rc, _, stderr = await run_cli("bulk", "-", "-o", str(kept), "--overwrite", "--processes",
                                  "2", *urls(adgate_server), env=env_for(adgate_server),
                                      stdin=b"u1\n")
    assert rc == 2, stderr
    assert kept.read_bytes() == b"older results\n"  # refused before the output is opened


async def test_sigterm_over_stdin_never_writes_a_cut_short_part(
    adgate_server: StandInServer, tmp_path: Path
) -> None:
    ids = [f"t{i}" for i in range(200)]
    out = tmp_path / "parts"
    args = ("bulk", "-", "-o", str(out), "--shard-size", "50", "--processes", "2",
            "--resume", *urls(adgate_server))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adgate_async", *args, env=env_for(adgate_server),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdin is not None
        # Two whole parts and 30 ids of the third; stdin stays open (more to come).
        proc.stdin.write("".join(f"{u}\n" for u in ids[:130]).encode())
        await proc.stdin.drain()
        for _ in range(3000):
            if adgate_server.total_requests >= 100:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
    assert proc.returncode == 143, err.decode()
    check_parts(out, ids, 50, complete=False)
    assert not (out / "part-00002.jsonl").exists()  # its ids were cut short by the stop
    rc, _, stderr = await run_cli(*args, env=env_for(adgate_server),
                                  stdin="".join(f"{u}\n" for u in ids).encode())
    assert rc == 0, stderr
    check_parts(out, ids, 50, complete=True)
