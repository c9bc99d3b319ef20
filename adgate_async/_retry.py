"""The retry policy: what is retried, how long to wait, and the tenacity loop that does it.

Retried: transport faults (connection refused or reset, DNS, timeouts, a body cut short),
408, 429 and every 5xx. Never retried: any other status (above all a 403 ban), a body that
does not decode, a bad argument, a cancellation.

The first attempt is made by the session directly; only after a retryable failure does the
tenacity loop start, so the success path carries none of the retry machinery. A batch may
pass its :class:`Gate`: its shared pause then holds each retry, and each failure may set it;
and its :class:`RetryBudget`: each retry then spends from it, and once it is spent a
retryable failure is returned as is instead of being retried.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.stop import StopBaseT

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


class RetryBudget:
    """How many more retries one batch may make (a retry budget, as in Finagle or Envoy).

    Each user's first attempt earns ``ratio`` of a retry (:meth:`RetryPolicy.send` adds 1 to
    :attr:`started`, the only work on the success path); each retry spends one (:meth:`take`).
    ``minimum`` retries are granted up front, so a small batch can still retry; the unspent
    balance never exceeds ``max_balance``, so hours of healthy traffic do not save up a
    storm for when the service falters. Over the whole batch, retries stay at or below
    ``minimum + ratio * started``: with the default 0.2, a batch where every attempt fails
    sends at most about 1.2 requests per user instead of ``max_retries + 1``.

    When :meth:`take` says no, the failure is not retried: the caller gets the typed error of
    the attempt just made (its ``attempts`` tells how many were made), and ``on_skip()`` is
    told (the session counts it in ``stats.retries_skipped``).
    """

    __slots__ = ("_balance", "_counted", "_max_balance", "_on_skip", "ratio", "skipped",
                 "started")

    def __init__(
        self,
        ratio: float,
        *,
        on_skip: Callable[[], None],
        minimum: int = _config.RETRY_BUDGET_MIN,
        max_balance: float = _config.RETRY_BUDGET_MAX_BALANCE,
    ) -> None:
        self.ratio = ratio
        #: First attempts made by the batch (each earns ``ratio`` of a retry).
        self.started = 0
        #: Retries refused so far.
        self.skipped = 0
        self._counted = 0  # the part of ``started`` already credited to the balance
        self._balance = float(minimum)
        self._max_balance = max(float(minimum), max_balance)
        self._on_skip = on_skip

    def take(self) -> bool:
        """Spend one retry and say True, or, when less than one is left, say False."""
        started = self.started
        # Credit the first attempts made since the last call, in one step: capping the sum
        # once is the same as capping after each one, as nothing was spent in between.
        balance = min(self._max_balance,
                      self._balance + self.ratio * (started - self._counted))
        self._counted = started
        if balance >= 1.0 - 1e-9:  # the tolerance absorbs float rounding of the credits
            self._balance = balance - 1.0
            return True
        self._balance = balance
        self.skipped += 1
        if self.skipped == 1:
            _log.warning("retry budget of a batch spent after %d users: retryable failures "
                         "are returned without retry until more users have been started",
                         started)
        self._on_skip()
        return False


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
        budget: RetryBudget | None = None,
    ) -> T:
        """One call: attempt 1 made directly (no retry machinery on the success path), then,
        only after a retryable failure, :meth:`retry`.

        ``label`` names the call in the log (the redacted URL); ``on_retry(reason, delay)``
        is told of each retry, ``on_failure(error)`` of the error the call ends with;
        ``check()``, called before each retry, may raise to stop the call (e.g. its session
        was closed meanwhile). With a ``budget``, each retry must first be granted by it;
        one that is not leaves the call with the error of its last attempt.
        """
        if budget is not None:
            budget.started += 1  # the one thing a budget costs the success path
        try:
            return await attempt(1)
        except AdGateError as exc:
            error = exc
        # Outside the except block from here on: nothing gets chained onto the error.
        if gate is not None:
            gate.note(error)
        if (self.max_retries and self.should_retry(error)
                and (budget is None or budget.take())):

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
                return await self.retry(error, again, told, gate, budget)
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
        budget: RetryBudget | None = None,
    ) -> T:
        """Go on after ``first`` (the failure of attempt 1) until success or ``max_retries``.

        ``attempt(n)`` makes attempt number ``n``; ``on_retry(exc, delay, n)`` is told of each
        sleep before attempt ``n``. With a ``gate``, each retry first waits out its pause, and
        each failure is noted by it. With a ``budget``, retries after the first (whose share
        the caller has already taken) each take one, and the call ends when one is refused.
        The error raised in the end is the typed one of the last attempt, never tenacity's
        ``RetryError``.
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

        limit = stop_after_attempt(self.max_retries + 1)
        stop: StopBaseT = limit
        if budget is not None:
            take = budget.take

            def stop_or_spent(state: RetryCallState) -> bool:
                # Asked only once a retry is due; the first one was granted by the caller.
                return limit(state) or (state.attempt_number > 1 and not take())

            stop = stop_or_spent

        retrying = AsyncRetrying(
            stop=stop,
            wait=wait,
            retry=retry_if_exception(self.should_retry),
            before_sleep=before_sleep,
            sleep=self.sleep,
            reraise=True,
        )
        return await retrying(call)
