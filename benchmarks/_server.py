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


def _serve_fixed(conn: Connection, body: bytes, cpu: int) -> None:
    """The cheapest server aiohttp makes: the same bytes for every history request."""
    _pin(cpu)
    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/v1/user-based-api/history", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        conn.send(f"http://127.0.0.1:{runner.addresses[0][1]}")
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await runner.cleanup()

    asyncio.run(main())


@contextmanager
def server_process(
    offers: int = 5, server_cpu: int = 1, client_cpu: int = 0, fixed_body: bytes | None = None
) -> Iterator[str]:
    """Start a server in a child process; yield its base URL; stop it afterwards.

    With ``fixed_body`` it is a minimal server answering that body to every history request;
    otherwise the stand-in server with ``offers`` offers per generated user.
    """
    parent, child = mp.Pipe()
    target, arg = (_serve, offers) if fixed_body is None else (_serve_fixed, fixed_body)
    proc = mp.get_context("spawn").Process(target=target, args=(child, arg, server_cpu))
    proc.start()
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    try:
        url: str = parent.recv()
        _pin(client_cpu)
        yield url
    finally:
        if affinity is not None:
            os.sched_setaffinity(0, affinity)
        parent.send("stop")
        proc.join(10)
        if proc.is_alive():
            proc.kill()
