"""The time limit on an attempt, enforced by one periodic check per session.

aiohttp (like ``asyncio.timeout``) arms a timer for every request: a handle pushed on the
event loop's timer heap, then cancelled. Measured here on the 5-offer history at
concurrency 16, that costs about 15 µs of CPU per request, close to a tenth of the whole
request (``python -m benchmarks.request_tricks``, row "no total timeout"). The attempts of
one session share one limit, so one check does the same work for all of them: while any
attempt is running, :class:`Deadlines` looks every ``period`` seconds for attempts past
their deadline and cancels their task; the attempt's :class:`Limit` then turns that
cancellation into a :class:`TimeoutError`, with the same rules as ``asyncio.timeout``
(``Task.uncancel``): a cancellation that came from elsewhere too is never taken for a
timeout, nor swallowed.

An attempt times out between ``seconds`` and ``seconds + period`` after it started; the
period is a twentieth of the limit, between 10 ms and 250 ms (aiohttp itself rounds limits
of 5 s and more up to the next whole second). Only the total limit is kept here: the other
limits of an ``aiohttp.ClientTimeout`` (``connect``, ``sock_read``, ``sock_connect``) stay
with aiohttp, which arms them only when they are set.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Final

__all__ = ["Deadlines", "Limit", "no_limit"]

_MIN_PERIOD: Final = 0.01
_MAX_PERIOD: Final = 0.25
_NO_LIMIT: Final = contextlib.nullcontext()


def no_limit() -> contextlib.AbstractContextManager[None]:
    """The limit of a session without one (``timeout=None``): nothing to do."""
    return _NO_LIMIT


class Deadlines:
    """The running attempts of one session and their deadlines, checked every
    :attr:`period` seconds, and only while there is at least one."""

    __slots__ = ("_handle", "_limits", "_loop", "period", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.period = min(max(seconds / 20, _MIN_PERIOD), _MAX_PERIOD)
        self._limits: set[Limit] = set()
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return (f"Deadlines(seconds={self.seconds}, period={self.period}, "
                f"running={len(self._limits)})")

    def limit(self) -> Limit:
        """The limit of one attempt: ``with deadlines.limit(): ...`` raises TimeoutError
        when the attempt runs past ``seconds``."""
        return Limit(self)

    def _add(self, limit: Limit, loop: asyncio.AbstractEventLoop) -> None:
        self._limits.add(limit)
        # A check pending on another loop (one closed before the check ran) checks nothing.
        if self._handle is None or loop is not self._loop:
            self._loop = loop
            self._handle = loop.call_later(self.period, self._check)

    def _remove(self, limit: Limit) -> None:
        self._limits.discard(limit)

    def _check(self) -> None:
        loop = self._loop
        assert loop is not None
        now = loop.time()
        for limit in tuple(self._limits):
            if limit.deadline <= now and not limit.expired:
                limit.expired = True
                limit.task.cancel()
        self._handle = loop.call_later(self.period, self._check) if self._limits else None


class Limit:
    """One attempt's deadline (a context manager, entered once, in the attempt's task)."""

    __slots__ = ("_cancelling", "_deadlines", "deadline", "expired", "task")

    def __init__(self, deadlines: Deadlines) -> None:
        self._deadlines = deadlines
        self.expired = False

    def __enter__(self) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("an attempt must run in an asyncio task")
        loop = task.get_loop()
        self.task = task
        self._cancelling = task.cancelling()
        self.deadline = loop.time() + self._deadlines.seconds
        self._deadlines._add(self, loop)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._deadlines._remove(self)
        # As asyncio.timeout: our cancellation is taken back; it becomes a TimeoutError
        # only when no other cancellation was asked for meanwhile.
        if (self.expired and self.task.uncancel() <= self._cancelling
                and exc_type is asyncio.CancelledError):
            raise TimeoutError from exc
