"""Constants and helpers shared by the tests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import adgate_async
from adgate_async import AsyncSession

PACKAGE_DIR = str(Path(adgate_async.__file__).parent)

#: A key that is easy to spot in any text, with characters that change when percent-encoded.
API_KEY = "941bd1fe-SECRET/key+=&"
AFF_ID = 60000
WALL_CODE = "nQug"
WALL_ID = 567



def make_session(**overrides: Any) -> AsyncSession:
    kwargs: dict[str, Any] = {
        "aff_id": AFF_ID,
        "api_key": API_KEY,
        "wall_code": WALL_CODE,
        "wall_id": WALL_ID,
        "retry_backoff": 0.001,
        "retry_backoff_max": 0.005,
    }
    kwargs.update(overrides)
    return AsyncSession(**kwargs)


async def wait_until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Poll ``condition`` until it holds; fail the test after ``within`` seconds."""
    for _ in range(int(within / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"condition not met within {within} s")


def package_tasks() -> list[asyncio.Task[object]]:
    """Tasks still alive whose coroutine was written in this package."""
    current = asyncio.current_task()
    return [
        t
        for t in asyncio.all_tasks()
        if t is not current
        and not t.done()
        and getattr(t.get_coro(), "cr_code", None) is not None
        and t.get_coro().cr_code.co_filename.startswith(PACKAGE_DIR)  # type: ignore[union-attr]
    ]


def free_port() -> int:
    """A local port nobody listens on (for "connection refused", or a server started later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
