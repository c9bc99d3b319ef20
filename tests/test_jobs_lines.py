"""The line writer of bulk jobs (``adgate_async/jobs/_lines.py``): what it holds in memory
while the output is slower than the results."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from adgate_async.jobs._lines import LineWriter

from ._support import HANG


async def test_a_stalled_output_holds_a_bounded_number_of_bytes() -> None:
    """The queue in front of the writer's thread is bounded in bytes, not only in lines:
    with 256 KiB lines (a 200-offer history is ~350 KB) and an output that takes nothing,
    ``put`` waits once about ``max_bytes`` are queued (it used to take 1,024 lines: 256 MiB)."""
    read_end, write_end = os.pipe()  # nobody reads: the output stalls once its buffer is full
    line = b"x" * (256 * 1024 - 1) + b"\n"
    writer = LineWriter(write_end, "<pipe>")
    accepted = 0
    try:
        for _ in range(1024):
            put = asyncio.ensure_future(writer.put(line))
            for _ in range(3):  # a put with room finishes in its first step
                await asyncio.sleep(0)
            if not put.done():
                put.cancel()
                break
            accepted += 1
        # max_bytes of queue, plus what the thread holds in its write and the pipe's buffer
        assert accepted <= LineWriter.MAX_BYTES // len(line) + 4
        assert accepted >= 2
    finally:
        writer.abandon()
        os.close(read_end)  # the blocked write fails (EPIPE) and the thread ends
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.close(), HANG)
        os.close(write_end)


async def test_one_line_larger_than_the_byte_bound_still_goes_through(tmp_path: Path) -> None:
    """The byte bound never blocks a lone line, however long."""
    path = tmp_path / "out.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    writer = LineWriter(fd, str(path))
    big = b"y" * (LineWriter.MAX_BYTES + 10) + b"\n"
    await asyncio.wait_for(writer.put(big), HANG)
    await asyncio.wait_for(writer.put(b"small\n"), HANG)
    await asyncio.wait_for(writer.close(), HANG)
    os.close(fd)
    assert writer.written == 2
    assert fd_size(path) == len(big) + len(b"small\n")


def fd_size(path: Path) -> int:
    return path.stat().st_size
