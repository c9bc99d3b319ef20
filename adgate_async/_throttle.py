"""A batch's pace: when its next request may start.

Two things hold a batch back, both shared by all its workers: a pause (after one of its
calls got a 429/503 with Retry-After, every new request and retry of the batch waits it
out) and an optional start rate (``max_per_second``).
"""

from __future__ import annotations

import asyncio
from typing import Final

from . import _config
from ._errors import AdGateError, APIStatusError

__all__ = ["PAUSE_STATUSES", "Throttle"]

#: Statuses whose Retry-After pauses the whole batch, not just the worker that saw it.
PAUSE_STATUSES: Final = frozenset({429, 503})


class Throttle:
    """When the next request may start: a shared pause (after a 429/503 with Retry-After)
    and an optional start-rate limit, both for the whole batch.

    The batch hands it to ``fetch`` with each of its own calls, and the session's retry
    loop takes it as its gate (``_retry.Gate``): only those calls set the pause
    (:meth:`note`) or wait for it before a retry; every other call on the session ignores it.
    """

    __slots__ = ("_interval", "_loop", "_next_slot", "_pause_until")

    def __init__(self, max_per_second: float | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._interval = 1.0 / max_per_second if max_per_second else 0.0
        self._next_slot = 0.0
        self._pause_until = 0.0

    def pause(self, seconds: float) -> None:
        """Hold every new request for ``seconds`` from now (extends, never shortens)."""
        until = self._loop.time() + seconds
        self._pause_until = max(self._pause_until, until)

    def note(self, error: AdGateError) -> None:
        """Pause the batch when one of its calls got a 429/503 carrying Retry-After."""
        if (isinstance(error, APIStatusError) and error.status in PAUSE_STATUSES
                and error.retry_after is not None):
            # Capped like the retry wait: a far-off date must not stall a batch for hours.
            self.pause(min(error.retry_after, _config.RETRY_AFTER_CAP))

    def ready(self) -> bool:
        """True when a request may start now without waiting (the common case)."""
        return not self._interval and self._pause_until <= self._loop.time()

    async def wait_pause(self) -> None:
        """Wait out the shared pause only (a retry is not a new start for the rate)."""
        while True:  # a pause may be extended while we sleep
            left = self._pause_until - self._loop.time()
            if left <= 0:
                return
            await asyncio.sleep(left)

    async def wait(self) -> None:
        """Wait out the pause, then take the next start slot of the rate limit."""
        await self.wait_pause()
        if not self._interval:
            return
        now = self._loop.time()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)
            await self.wait_pause()  # a pause may have begun meanwhile
