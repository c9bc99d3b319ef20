"""The retry policy: what is retried, how long to wait, and the tenacity loop that does it.

Retried: transport faults (connection refused or reset, DNS, timeouts, a body cut short),
408, 429 and every 5xx. Never retried: any other status (above all a 403 ban), a body that
does not decode, a bad argument, a cancellation.

The first attempt is made by the session directly; only after a retryable failure does the
tenacity loop start, so the success path carries none of the retry machinery. A batch may
pass its :class:`Gate`: its shared pause then holds each retry, and each failure may set it.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from . import _config
from ._errors import AdGateError, APIStatusError, APITimeoutError, TransportError

T = TypeVar("T")

_log = logging.getLogger(_config.LOGGER_NAME)

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


class Gate(Protocol):
    """A batch's shared pause, as the retry loop sees it (``_throttle.Throttle`` is one): each
    failed attempt is shown to it, and each retry first waits until it opens."""

    def note(self, error: AdGateError) -> None: ...

    async def wait_pause(self) -> None: ...


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

    async def send(
        self,
        attempt: Callable[[int], Awaitable[T]],
        *,
        label: str,
        on_retry: Callable[[str, float], None],
        on_failure: Callable[[AdGateError], None],
        gate: Gate | None = None,
        check: Callable[[], None] | None = None,
    ) -> T:
        """One call: attempt 1 made directly (no retry machinery on the success path), then,
        only after a retryable failure, :meth:`retry`.

        ``label`` names the call in the log (the redacted URL); ``on_retry(reason, delay)``
        is told of each retry, ``on_failure(error)`` of the error the call ends with;
        ``check()``, called before each retry, may raise to stop the call (e.g. its session
        was closed meanwhile).
        """
        try:
            return await attempt(1)
        except AdGateError as exc:
            error = exc
        # Outside the except block from here on: nothing gets chained onto the error.
        if gate is not None:
            gate.note(error)
        if self.max_retries and self.should_retry(error):

            async def again(number: int) -> T:
                if check is not None:
                    check()
                return await attempt(number)

            def told(exc: BaseException, delay: float, number: int) -> None:
                reason = retry_reason(exc) or "other"
                on_retry(reason, delay)
                _log.info("retrying GET %s in %.2f s (attempt %d of %d) after %s",
                          label, delay, number, self.max_retries + 1, reason)

            try:
                return await self.retry(error, again, told, gate)
            except AdGateError as exc:
                error = exc
        on_failure(error)
        raise error

    async def retry(
        self,
        first: AdGateError,
        attempt: Callable[[int], Awaitable[T]],
        on_retry: Callable[[BaseException, float, int], None],
        gate: Gate | None = None,
    ) -> T:
        """Go on after ``first`` (the failure of attempt 1) until success or the budget ends.

        ``attempt(n)`` makes attempt number ``n``; ``on_retry(exc, delay, n)`` is told of each
        sleep before attempt ``n``. With a ``gate``, each retry first waits out its pause, and
        each failure is noted by it. The error raised in the end is the typed one of the last
        attempt, never tenacity's ``RetryError``.
        """
        replay: list[AdGateError] = [first]
        number = 1

        async def call() -> T:
            nonlocal number
            if replay:  # attempt 1 already ran: let tenacity see its outcome first
                raise replay.pop()
            number += 1
            if gate is None:
                return await attempt(number)
            await gate.wait_pause()
            try:
                return await attempt(number)
            except AdGateError as exc:
                gate.note(exc)
                raise

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
