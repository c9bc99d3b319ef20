"""The adgate-async command under signals and stalls: SIGTERM and SIGINT at every stage
(reading, opening a FIFO, the final flush), and input, output or progress that stall;
real subprocesses against the stand-in server.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import sys
import threading
from pathlib import Path

import pytest

from adgate_async.testing import Answer, StandInServer

from .test_cli import env_for, urls
from .test_cli_hardening import start_cli


async def _read_lines(stream: asyncio.StreamReader, n: int) -> list[bytes]:
    return [await asyncio.wait_for(stream.readline(), timeout=30) for _ in range(n)]


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
async def test_a_signal_writes_what_arrived_and_prints_the_summary(
    adgate_server: StandInServer, tmp_path: Path, signum: int, status: int
) -> None:
    adgate_server.always("slow", Answer.hang(3600))
    proc = await start_cli("bulk", "-", "--concurrency", "4", *urls(adgate_server),
                           env=env_for(adgate_server))
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(b"u1\nslow\nu2\nu3\nu4\n")
    await proc.stdin.drain()
    got = await _read_lines(proc.stdout, 4)  # the input pipe stays open: more could come
    assert sorted(json.loads(line)["user_id"] for line in got) == ["u1", "u2", "u3", "u4"]
    proc.send_signal(signum)
    rest, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    stderr = err.decode()
    assert proc.returncode == status, stderr
    assert rest == b""  # the hung user is dropped, not reported as anything
    assert "users 4  ok 4  errors 0" in stderr
    assert signal.Signals(signum).name in stderr
    assert "4 users done" in stderr
    assert "Traceback" not in stderr


async def test_sigterm_flushes_a_file_output(adgate_server: StandInServer, tmp_path: Path) -> None:
    adgate_server.always("slow", Answer.hang(3600))
    out = tmp_path / "out.jsonl"
    proc = await start_cli("bulk", "-", "-o", str(out), "--progress", *urls(adgate_server),
                           env=env_for(adgate_server))
    assert proc.stdin is not None
    proc.stdin.write(b"a\nb\nslow\nc\n")
    await proc.stdin.drain()
    for _ in range(3000):  # the bar shows 3 done: their lines are with the writer
        if out.exists() and out.read_bytes().count(b"\n") == 3:
            break
        await asyncio.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 143, err.decode()
    assert sorted(json.loads(line)["user_id"] for line in out.read_bytes().splitlines()) == [
        "a", "b", "c"]


async def test_input_that_stalls_times_out_nobody(adgate_server: StandInServer) -> None:
    for i in range(8):
        adgate_server.always(f"d{i}", Answer.ok(delay=0.2))
    proc = await start_cli("bulk", "-", "--timeout", "1.5", "--max-retries", "0",
                           "--concurrency", "8", *urls(adgate_server), env=env_for(adgate_server))
    assert proc.stdin is not None
    proc.stdin.write(b"".join(b"d%d\n" % i for i in range(8)))
    await proc.stdin.drain()
    await asyncio.sleep(0.1)
    proc.stdin.write(b"x")  # half a line: a line reader now blocks on the pipe
    await proc.stdin.drain()
    await asyncio.sleep(3.5)
    proc.stdin.write(b"1\nx2\n")
    proc.stdin.close()
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    stderr = err.decode()
    assert proc.returncode == 0, stderr
    docs = [json.loads(line) for line in out.splitlines()]
    assert sorted(doc["user_id"] for doc in docs) == sorted(
        [f"d{i}" for i in range(8)] + ["x1", "x2"])
    assert all("history" in doc for doc in docs), [d for d in docs if "error" in d]
    assert "APITimeoutError" not in stderr


async def test_output_that_stalls_times_out_nobody(adgate_server: StandInServer) -> None:
    n = 400
    proc = await start_cli("bulk", "-", "--timeout", "1.5", "--max-retries", "0",
                           "--concurrency", "8", *urls(adgate_server), env=env_for(adgate_server))
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(b"".join(b"u%d\n" % i for i in range(n)))
    proc.stdin.close()
    first = await proc.stdout.readline()
    await asyncio.sleep(3.5)  # nobody reads: the pipe fills and the writes block
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    stderr = err.decode()
    assert proc.returncode == 0, stderr
    docs = [json.loads(line) for line in (first + out).splitlines()]
    assert len(docs) == n
    assert all("history" in doc for doc in docs), [d for d in docs if "error" in d][:3]
    assert f"users {n}  ok {n}  errors 0" in stderr

# ------------------------------------------------ findings of the outside review (issue 9)


async def _wait_or_kill(
    proc: asyncio.subprocess.Process, within: float
) -> tuple[int | None, bytes, bytes]:
    """The exit status (None if the process still ran after ``within`` s: it is then
    killed), and what it wrote to stdout and stderr."""
    status: int | None
    try:
        status = await asyncio.wait_for(proc.wait(), timeout=within)
    except TimeoutError:
        proc.kill()
        status = None
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    return status, out, err


async def _blocked_on_fifo(pid: int, within: float = 20.0) -> None:
    """Wait until ``pid`` sleeps in the kernel's FIFO open (no peer yet), or, on a kernel
    without that wchan, until it has had time to get there."""
    for _ in range(int(within / 0.05)):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/wchan") as fh:  # noqa: ASYNC230
            if fh.read() in ("wait_for_partner", "fifo_open"):
                return
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("side", ["input", "output"])
async def test_sigterm_stops_a_run_blocked_opening_a_fifo(
    adgate_server: StandInServer, tmp_path: Path, side: str
) -> None:
    """Review finding 5: the input and output were opened with a blocking ``os.open`` on
    the event loop thread; a FIFO with no peer blocked there and SIGTERM was ignored until
    SIGKILL."""
    fifo = tmp_path / "ids.fifo"
    os.mkfifo(fifo)
    if side == "input":
        args = ["bulk", str(fifo), "-o", str(tmp_path / "out.jsonl")]
    else:
        args = ["bulk", "-", "-o", str(fifo)]
    proc = await start_cli(*args, *urls(adgate_server), env=env_for(adgate_server))
    await _blocked_on_fifo(proc.pid)
    proc.send_signal(signal.SIGTERM)
    status, _, err = await _wait_or_kill(proc, within=20)
    assert status == 143, err.decode()
    assert "stopped by SIGTERM" in err.decode()


async def test_sigterm_while_the_output_is_stalled_still_prints_the_summary(
    adgate_server: StandInServer,
) -> None:
    """Review finding 6: the signal handlers were removed before the final flush; SIGTERM
    while a stalled reader held up that flush killed the process with no summary."""
    n = 1000  # fits the writer's queue; its bytes do not fit a pipe
    proc = await start_cli("bulk", "-", "--concurrency", "8", *urls(adgate_server),
                           env=env_for(adgate_server))
    assert proc.stdin is not None
    proc.stdin.write(b"".join(b"u%d\n" % i for i in range(n)))
    proc.stdin.close()
    for _ in range(1200):  # every answer sent; nobody reads stdout
        if adgate_server.count() >= n:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(2)
    proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), timeout=5)
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)  # "signal again to stop at once"
    status, _, err = await _wait_or_kill(proc, within=20)
    stderr = err.decode()
    assert status == 143, stderr
    assert "stopped by SIGTERM" in stderr


async def test_a_stalled_progress_bar_times_out_nobody(adgate_server: StandInServer) -> None:
    """Review finding 7: the progress bar was written to stderr on the event loop thread; a
    stderr that stalls (a paused terminal, ``2>&1 | less``) froze the loop and answers in
    flight timed out."""
    adgate_server.delay = 0.02
    n = 2000
    read_end, write_end = os.pipe()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c",
            "import sys; from adgate_async.cli import main; sys.exit(main())",
            "bulk", "-", "--concurrency", "8", "--progress", "--timeout", "2",
            "--max-retries", "0", *urls(adgate_server), env=env_for(adgate_server),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=write_end,
        )
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write(b"".join(b"u%d\n" % i for i in range(n)))
        proc.stdin.close()
        out = asyncio.ensure_future(proc.stdout.read())
        for _ in range(1200):  # the run is under way
            if adgate_server.count() >= 100:
                break
            await asyncio.sleep(0.05)
        # Fill the stderr pipe (a blocking write of its whole capacity, on a thread): the
        # next progress update blocks.
        os.set_blocking(read_end, False)
        with contextlib.suppress(BlockingIOError):
            while os.read(read_end, 1 << 16):
                pass
        capacity = fcntl.fcntl(write_end, 1032)  # F_GETPIPE_SZ
        filler = threading.Thread(target=os.write, args=(write_end, b"x" * capacity),
                                  daemon=True)
        filler.start()
        await asyncio.sleep(5)  # the stall: longer than --timeout
        os.close(write_end)
        write_end = -1

        async def drain() -> None:
            while True:
                try:
                    if not os.read(read_end, 1 << 16):
                        return
                except BlockingIOError:
                    await asyncio.sleep(0.02)

        drainer = asyncio.ensure_future(drain())
        stdout = await asyncio.wait_for(out, timeout=120)
        await asyncio.wait_for(proc.wait(), timeout=60)
        drainer.cancel()
    finally:
        for fd in (read_end, write_end):
            if fd >= 0:
                os.close(fd)
    docs = [json.loads(line) for line in stdout.splitlines()]
    assert len(docs) == n
    timed_out = [d["user_id"] for d in docs
                 if d.get("error", {}).get("type") == "APITimeoutError"]
    assert timed_out == []
