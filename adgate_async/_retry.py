"""The retry policy: what is retried, how long to wait, and the tenacity loop that does it.

Retried: transport faults (connection refused or reset, DNS, timeouts, a body cut short),
408, 429 and every 5xx. Never retried: any other status (above all a 403 ban), a body that
does not decode, a bad argument, a cancellation.

The first attempt is made by the session directly; only after a retryable failure does the
tenacity loop start, so the success path carries none of the retry machinery.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import random as _random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from . import _config
from ._errors import AdGateError, APIStatusError, APITimeoutError, TransportError

T = TypeVar("T")

#: Statuses worth another try: request timeout, too many requests, and every 5xx.
RETRY_STATUSES = frozenset({408, 429, *range(500, 600)})


def retry_reason(exc: BaseException) -> str | None:
    """A short label for why ``exc`` may be retried (``"timeout"``, ``"transport"``,
    ``"http_503"``, ...), or None when it must not be retried."""
    if isinstance(exc, APIStatusError):
        return f"http_{exc.status}" if exc.status in RETRY_STATUSES else None
    if isinstance(exc, APITimeoutError):
        return "timeout"
    if isinstance(exc, TransportError) and exc.retryable:
        return "transport"
    return None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP-date.

    Returns None when the header is absent or unreadable (the backoff applies then).
    A date in the past gives 0.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # not a valid HTTP-date (those are always GMT)
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


class RetryPolicy:
    """How many times, and how long to wait between tries.

    The wait before retry *n* (1-based) is ``backoff * 2**(n-1)``, capped at ``backoff_max``,
    less a random jitter of up to 25 %. A ``Retry-After`` from the server replaces it, even
    above ``backoff_max``; a ``Retry-After`` above ``retry_after_cap`` (60 s) is not slept on:
    the error is raised at once, carrying ``retry_after`` for the caller to schedule.
    """

    __slots__ = ("backoff", "backoff_max", "max_retries", "random", "retry_after_cap", "sleep")

    def __init__(
        self,
        *,
        max_retries: int = _config.MAX_RETRIES,
        backoff: float = _config.RETRY_BACKOFF,
        backoff_max: float = _config.RETRY_BACKOFF_MAX,
        retry_after_cap: float = _config.RETRY_AFTER_CAP,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.max_retries = max_retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.retry_after_cap = retry_after_cap
        self.sleep: Callable[[float], Awaitable[None]] = sleep
        self.random: Callable[[], float] = random

    def should_retry(self, exc: BaseException) -> bool:
        if retry_reason(exc) is None:
            return False
        retry_after: float | None = getattr(exc, "retry_after", None)
        return retry_after is None or retry_after <= self.retry_after_cap

    def delay(self, exc: BaseException, retry_number: int) -> float:
        """Seconds to sleep before retry ``retry_number`` (1-based) after ``exc``."""
        retry_after: float | None = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(retry_after, self.retry_after_cap)
        base = min(self.backoff * 2.0 ** (retry_number - 1), self.backoff_max)
        return base * (1.0 - _config.RETRY_JITTER * self.random())

    async def retry(
        self,
        first: AdGateError,
        attempt: Callable[[int], Awaitable[T]],
        on_retry: Callable[[BaseException, float, int], None],
    ) -> T:
        """Go on after ``first`` (the failure of attempt 1) until success or the budget ends.

        ``attempt(n)`` makes attempt number ``n``; ``on_retry(exc, delay, n)`` is told of each
        sleep before attempt ``n``. The error raised in the end is the typed one of the last
        attempt, never tenacity's ``RetryError``.
        """
        replay: list[AdGateError] = [first]
        number = 1

        async def call() -> T:
            nonlocal number
            if replay:  # attempt 1 already ran: let tenacity see its outcome first
                raise replay.pop()
            number += 1
            return await attempt(number)

        def before_sleep(state: RetryCallState) -> None:
            assert state.outcome is not None
            assert state.next_action is not None
            exc = state.outcome.exception()
            assert exc is not None
            on_retry(exc, state.next_action.sleep, state.attempt_number + 1)

        def wait(state: RetryCallState) -> float:
            assert state.outcome is not None
            exc = state.outcome.exception()
            assert exc is not None
            return self.delay(exc, state.attempt_number)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=wait,
            retry=retry_if_exception(self.should_retry),
            before_sleep=before_sleep,
            sleep=self.sleep,
            reraise=True,
        )
        return await retrying(call)
