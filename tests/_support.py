"""Constants and helpers shared by the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from adgate_async import AsyncSession

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
