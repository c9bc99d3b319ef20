"""Run the stand-in server in a child process (pinned to its own core where allowed)."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection

from adgate_async.testing import StandInServer


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {cpu})


def _serve(conn: Connection, offers: int, cpu: int) -> None:
    _pin(cpu)

    async def main() -> None:
        async with StandInServer(offers_per_user=offers, record=False) as server:
            conn.send(server.url)
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until told

    asyncio.run(main())


@contextmanager
def server_process(offers: int = 5, server_cpu: int = 1, client_cpu: int = 0) -> Iterator[str]:
    """Start the server in a child process; yield its base URL; stop it afterwards."""
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=_serve, args=(child, offers, server_cpu))
    proc.start()
    try:
        url: str = parent.recv()
        _pin(client_cpu)
        yield url
    finally:
        parent.send("stop")
        proc.join(10)
        if proc.is_alive():
            proc.kill()
