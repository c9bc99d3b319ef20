"""The bulk engine behind ``gather_users`` and ``iter_users``: a fixed pool of worker tasks.

One task per user does not scale (each parked task costs memory before any result exists),
so N workers take user ids straight from the input. ``gather_users`` writes each result into
its list; ``iter_users`` hands results to the consumer through a queue, and a semaphore of
``window`` slots bounds everything taken but not yet yielded: a slow consumer pauses the
workers, and memory depends on the concurrency, never on the number of users.

Every input id yields exactly one :class:`UserResult`: the history, or the typed
:class:`AdGateError` that ended that user's call. Anything else (a bug, a closed session,
an input iterator that raises) aborts the batch and is raised to the consumer. Closing or
cancelling the consumer cancels every worker before returning.
"""

from __future__ import annotations

import asyncio
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Sized,
)
from typing import TYPE_CHECKING, Any, Final, cast

import msgspec

from . import _config
from ._errors import AdGateError, APIStatusError, InvalidParameterError
from ._params import check_non_negative, check_positive_int
from .models.history import History

if TYPE_CHECKING:
    from ._session import AsyncSession

#: ``on_progress(done, total, errors)``: ``total`` is None when the input has no length.
ProgressCallback = Callable[[int, "int | None", int], None]

#: Statuses whose Retry-After pauses the whole batch, not just the worker that saw it.
PAUSE_STATUSES: Final = frozenset({429, 503})


class UserResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome for one user of a batch: ``history`` or ``error``, never both."""

    user_id: str
    history: History | None = None
    error: AdGateError | None = None

    @property
    def ok(self) -> bool:
        """True when the history was fetched."""
        return self.error is None


class Throttle:
    """When the next request may start: a shared pause (after a 429/503 with Retry-After)
    and an optional start-rate limit, both for the whole batch."""

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


def check_concurrency(concurrency: object, pool_size: int | None) -> int:
    concurrency = check_positive_int("concurrency", concurrency, _config.BULK_CONCURRENCY_MAX)
    if pool_size is not None and concurrency > pool_size:
        raise InvalidParameterError(
            "concurrency",
            f"must not exceed the connection pool size ({pool_size}); lower it or create "
            "the session with a larger max_connections",
            concurrency,
        )
    return concurrency


def check_rate(max_per_second: object) -> float | None:
    """None, or a finite rate of at least ``MIN_PER_SECOND`` (so that the interval between
    two starts is finite: a rate of 5e-324 would wait forever)."""
    if max_per_second is None:
        return None
    rate = check_non_negative("max_per_second", max_per_second, allow_zero=False)
    floor = _config.MIN_PER_SECOND
    if rate < floor:  # at or above the floor, the interval (at most 1 / floor) is finite
        raise InvalidParameterError(
            "max_per_second",
            f"must be at least {floor} (one user per {1 / floor:.0f} s), or None for no limit",
            rate,
        )
    return rate


_DONE: Final = object()


class _Source:
    """Hands the input out to the workers as ``(index, user_id)``, lazily.

    A plain iterable is advanced without any await (so no two workers can interleave);
    an async iterable behind a lock (async generators refuse concurrent ``__anext__``).
    """

    __slots__ = ("_aiter", "_index", "_iter", "_lock", "total")

    def __init__(self, user_ids: Iterable[str] | AsyncIterable[str]) -> None:
        self.total = len(user_ids) if isinstance(user_ids, Sized) else None
        self._index = 0
        self._iter: Iterator[str] | None = None
        self._aiter: AsyncIterator[str] | None = None
        if isinstance(user_ids, AsyncIterable):
            self._aiter = aiter(user_ids)
            self._lock = asyncio.Lock()
        else:
            self._iter = iter(user_ids)

    async def next(self) -> tuple[int, str] | None:
        """The next id with its input index, or None once the input is exhausted."""
        if self._iter is not None:
            try:
                user_id = next(self._iter)
            except StopIteration:
                return None
        else:
            assert self._aiter is not None
            async with self._lock:
                try:
                    user_id = await anext(self._aiter)
                except StopAsyncIteration:
                    return None
        index = self._index
        self._index = index + 1
        return index, user_id


class _Batch:
    """What one batch's workers share: the input, the throttle, the progress counters."""

    def __init__(
        self,
        session: AsyncSession,
        user_ids: Iterable[str] | AsyncIterable[str],
        *,
        options: str,
        max_per_second: float | None,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.session = session
        self.source = _Source(user_ids)
        self.throttle = Throttle(max_per_second)
        self.options = options
        self.on_progress = on_progress
        self.done = 0
        self.errors = 0
        self._decode = session._decode_history
        self.tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Callable[[], None] | None = None

    async def fetch(self, user_id: str) -> UserResult:
        """One user's call, its failure turned into a result (only AdGateError is)."""
        session = self.session
        try:
            url, redacted = session._history_url(user_id, self.options)
            history: History = await session._send(url, redacted, self._decode)
        except AdGateError as exc:
            return UserResult(user_id=str(user_id), error=exc)
        return UserResult(user_id=user_id, history=history)

    def count(self, result: UserResult) -> None:
        self.done += 1
        if result.error is not None:
            self.errors += 1
        if self.on_progress is not None:
            self.on_progress(self.done, self.source.total, self.errors)

    def start(self, concurrency: int, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        def on_retry_after(exc: APIStatusError) -> None:
            if exc.status in PAUSE_STATUSES and exc.retry_after is not None:
                # Capped like the retry wait: a far-off date must not stall a batch for hours.
                self.throttle.pause(min(exc.retry_after, _config.RETRY_AFTER_CAP))

        self._unsubscribe = self.session._on_retry_after(on_retry_after,
                                                         self.throttle.wait_pause)
        self.tasks = [asyncio.create_task(work(), name=f"adgate_async.bulk.worker-{n}")
                      for n in range(concurrency)]

    async def stop(self) -> None:
        """Cancel every worker and wait until each has finished."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def gather_batch(
    session: AsyncSession,
    user_ids: Iterable[str] | AsyncIterable[str],
    *,
    concurrency: int,
    options: str,
    max_per_second: float | None,
    on_progress: ProgressCallback | None,
) -> list[UserResult]:
    """Every result in input order. Workers write straight into the list: no queues."""
    batch = _Batch(session, user_ids, options=options, max_per_second=max_per_second,
                   on_progress=on_progress)
    out: list[UserResult | None] = []
    source, throttle = batch.source, batch.throttle

    async def work() -> None:
        while (item := await source.next()) is not None:
            if not throttle.ready():
                await throttle.wait()
            index, user_id = item
            result = await batch.fetch(user_id)
            if index >= len(out):
                out.extend([None] * (index + 1 - len(out)))
            out[index] = result
            batch.count(result)

    batch.start(concurrency, work)
    try:
        await asyncio.gather(*batch.tasks)  # the first failure (not a user's) aborts
    finally:
        await batch.stop()
    return cast("list[UserResult]", out)  # every slot is filled by now


async def run_batch(
    session: AsyncSession,
    user_ids: Iterable[str] | AsyncIterable[str],
    *,
    concurrency: int,
    window: int,
    options: str,
    max_per_second: float | None,
    on_progress: ProgressCallback | None,
    ordered: bool = False,
) -> AsyncGenerator[tuple[int, UserResult], None]:
    """Yield ``(input index, result)`` as results complete (or in input order, with
    ``ordered``). At most ``window`` ids are taken but not yet yielded at any time."""
    batch = _Batch(session, user_ids, options=options, max_per_second=max_per_second,
                   on_progress=on_progress)
    slots = asyncio.Semaphore(window)
    results: asyncio.Queue[tuple[int, UserResult] | BaseException | object] = asyncio.Queue()
    source, throttle = batch.source, batch.throttle

    async def work() -> None:
        try:
            while True:
                await slots.acquire()  # before taking an id: a slow consumer stops us here
                item = await source.next()
                if item is None:
                    slots.release()
                    return
                if not throttle.ready():
                    await throttle.wait()
                index, user_id = item
                # No local keeps the result: a worker must not hold the last user's history
                # alive while it waits for the next answer (it costs memory and cache).
                results.put_nowait((index, await batch.fetch(user_id)))
        except Exception as exc:  # the input failed, or a bug: abort the batch
            results.put_nowait(exc)
        finally:
            results.put_nowait(_DONE)

    batch.start(concurrency, work)
    finished = next_index = 0
    pending: dict[int, UserResult] = {}  # ordered mode: finished, waiting for earlier ones
    try:
        while finished < concurrency:
            item = await results.get()
            if item is _DONE:
                finished += 1
                continue
            if isinstance(item, BaseException):
                raise item
            index, result = cast("tuple[int, UserResult]", item)
            del item
            batch.count(result)
            if not ordered:
                yield index, result
                del result  # not held while waiting for the next one
                slots.release()
                continue
            pending[index] = result
            del result
            while next_index in pending:
                yield next_index, pending.pop(next_index)
                next_index += 1
                slots.release()
    finally:
        await batch.stop()
