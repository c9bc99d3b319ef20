"""The bulk engine behind ``gather_users`` and ``iter_users``: a fixed pool of worker tasks.

One task per user does not scale (each parked task costs memory before any result exists),
so N workers take user ids straight from the input. ``gather_users`` writes each result into
its list; ``iter_users`` hands results to the consumer through a queue, and a semaphore of
``window`` slots bounds everything taken but not yet yielded: a slow consumer pauses the
workers, and memory depends on the concurrency, never on the number of users.

Every input id yields exactly one :class:`UserResult`: the history, or the typed
:class:`AdGateError` that ended that user's call. Anything else (a bug, a closed session,
an input iterator that raises) aborts the batch and is raised to the consumer; a session
closed under a running batch is reported as such (``SESSION_CLOSED_MESSAGE``).

The workers of ``iter_users`` belong to the task that reads the results: when that task
finishes, however it finishes, they are cancelled with it. A batch's Retry-After pause is
its own: the batch passes its :class:`Throttle` with each of its calls, so no other call on
the session waits for it, and no other call's 429 pauses the batch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import (
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
    """The outcome for one user of a batch: ``history`` or ``error``, never both.

    ``index`` is the id's position in the input (0-based): it tells apart results whose
    ``user_id`` text is the same (a duplicate, or ``5`` and ``"5"``), and maps a result of
    an unordered :meth:`~AsyncSession.iter_users` back to its input.
    """

    user_id: str
    #: The position of this id in the batch's input, counting from 0. Every result of
    #: ``gather_users`` and ``iter_users`` carries it; -1 only on a result built by hand.
    index: int = -1
    history: History | None = None
    error: AdGateError | None = None

    @property
    def ok(self) -> bool:
        """True when the history was fetched."""
        return self.error is None


class Throttle:
    """When the next request may start: a shared pause (after a 429/503 with Retry-After)
    and an optional start-rate limit, both for the whole batch.

    The batch hands it to the session with each of its own calls (see ``AsyncSession._send``):
    only those calls set the pause (:meth:`note`) or wait for it before a retry; every other
    call on the session ignores it.
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

#: What a batch raises when its session was closed under it (in-flight users get no result).
SESSION_CLOSED_MESSAGE: Final = (
    "the AsyncSession was closed while a gather_users/iter_users batch was running; "
    "the batch was stopped"
)


class _Source:
    """Hands the input out to the workers as ``(index, user_id)``, lazily.

    A plain iterable is advanced without any await (so no two workers can interleave); it
    runs on the event loop, so its ``next()`` must not block. An async iterable is advanced
    behind a lock (async generators refuse concurrent ``__anext__``).
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
                index = self._index  # taken under the lock: indexes follow the input
                self._index = index + 1
                return index, user_id
        index = self._index
        self._index = index + 1
        return index, user_id


class _Batch:
    """What one batch's workers share: the input, the throttle, the progress counters,
    and the worker tasks themselves."""

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
        self.consumer: asyncio.Task[Any] | None = None

    async def fetch(self, index: int, user_id: str) -> UserResult:
        """One user's call, its failure turned into a result (only AdGateError is).

        The batch's throttle goes with the call: its 429/503 pauses this batch, and its
        retries wait for this batch's pause; no other call on the session is affected.
        """
        session = self.session
        try:
            url, redacted = session._history_url(user_id, self.options)
            history: History = await session._send(url, redacted, self._decode, self.throttle)
        except AdGateError as exc:
            return UserResult(user_id=str(user_id), index=index, error=exc)
        return UserResult(user_id=user_id, index=index, history=history)

    def count(self, result: UserResult) -> None:
        self.done += 1
        if result.error is not None:
            self.errors += 1
        if self.on_progress is not None:
            self.on_progress(self.done, self.source.total, self.errors)

    def start(self, concurrency: int, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.tasks = [asyncio.create_task(work(), name=f"adgate_async.bulk.worker-{n}")
                      for n in range(concurrency)]

    def tie_to(self, consumer: asyncio.Task[Any] | None) -> None:
        """Cancel the workers when ``consumer`` finishes, however it finishes (a consumer
        cancelled in its loop body never closes the iterator it was reading)."""
        if consumer is not None:
            self.consumer = consumer
            consumer.add_done_callback(self._consumer_done)

    def _consumer_done(self, _task: asyncio.Task[Any]) -> None:
        self.cancel()

    def cancel(self) -> None:
        """Ask every worker to stop (without waiting), and let go of the consumer."""
        consumer, self.consumer = self.consumer, None
        if consumer is not None:
            consumer.remove_done_callback(self._consumer_done)
        for task in self.tasks:
            if not task.done():
                task.cancel()

    async def stop(self) -> None:
        """Cancel every worker and wait until each has finished."""
        self.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def abort_error(self, exc: BaseException) -> BaseException:
        """What to raise for a failure that ends the batch: the session's closing is told
        as such, not as the HTTP library's bare "Session is closed"."""
        if isinstance(exc, RuntimeError) and self.session.closed:
            error = RuntimeError(SESSION_CLOSED_MESSAGE)
            error.__cause__ = exc
            return error
        return exc


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
    source, throttle, fetch = batch.source, batch.throttle, batch.fetch

    async def work() -> None:
        while (item := await source.next()) is not None:
            if not throttle.ready():
                await throttle.wait()
            index, user_id = item
            result = await fetch(index, user_id)
            if index >= len(out):
                out.extend([None] * (index + 1 - len(out)))
            out[index] = result
            batch.count(result)

    batch.start(concurrency, work)
    try:
        await asyncio.gather(*batch.tasks)  # the first failure (not a user's) aborts
    except RuntimeError as exc:
        error = batch.abort_error(exc)
        if error is exc:
            raise
        raise error from exc
    finally:
        await batch.stop()
    return cast("list[UserResult]", out)  # every slot is filled by now


async def _stream_worker(
    batch: _Batch,
    slots: asyncio.Semaphore,
    results: asyncio.Queue[UserResult | BaseException | object],
) -> None:
    """One worker of ``iter_users``. It holds no reference to the iterator object, so an
    iterator dropped by its consumer can be collected (and stop the workers)."""
    source, throttle, fetch, put = batch.source, batch.throttle, batch.fetch, results.put_nowait
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
            put(await fetch(index, user_id))
    except Exception as exc:  # the input failed, or a bug: abort the batch
        put(exc)
    finally:
        put(_DONE)


class UserResultIterator:
    """What :meth:`AsyncSession.iter_users` returns: an async iterator of
    :class:`UserResult`, and an async context manager that stops the batch on exit::

        async with session.iter_users(ids) as results:
            async for result in results:
                ...

    Nothing runs until the first result is asked for. The workers belong to the task that
    asked: when that task finishes (cancelled anywhere, even in its loop body), every worker
    is cancelled with it. ``aclose()`` (or leaving ``async with``) stops and awaits them;
    dropping the iterator cancels them.
    """

    __slots__ = ("_args", "_batch", "_closed", "_concurrency", "_finished", "_next_index",
                 "_ordered", "_pending", "_results", "_slots", "_window")

    def __init__(
        self,
        session: AsyncSession,
        user_ids: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int,
        window: int,
        options: str,
        max_per_second: float | None,
        on_progress: ProgressCallback | None,
        ordered: bool = False,
    ) -> None:
        self._args = (session, user_ids, options, max_per_second, on_progress)
        self._concurrency = concurrency
        self._window = window
        self._ordered = ordered
        self._batch: _Batch | None = None
        self._closed = False
        self._finished = 0
        self._next_index = 0
        self._pending: dict[int, UserResult] = {}  # ordered: done, waiting for earlier ones
        self._results: asyncio.Queue[UserResult | BaseException | object] = asyncio.Queue()
        self._slots = asyncio.Semaphore(window)

    def __aiter__(self) -> UserResultIterator:
        return self

    async def __aenter__(self) -> UserResultIterator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _start(self) -> _Batch:
        session, user_ids, options, max_per_second, on_progress = self._args
        batch = self._batch = _Batch(session, user_ids, options=options,
                                     max_per_second=max_per_second, on_progress=on_progress)
        batch.tie_to(asyncio.current_task())
        slots, results = self._slots, self._results
        batch.start(self._concurrency, lambda: _stream_worker(batch, slots, results))
        return batch

    async def __anext__(self) -> UserResult:
        batch = self._batch
        if batch is None:
            if self._closed:
                raise StopAsyncIteration
            batch = self._start()
        elif self._closed:
            raise StopAsyncIteration
        results, slots, ordered = self._results, self._slots, self._ordered
        try:
            while True:
                if ordered:
                    result = self._pending.pop(self._next_index, None)
                    if result is not None:
                        self._next_index += 1
                        slots.release()
                        return result
                if self._finished == self._concurrency:
                    break
                item = await results.get()
                if type(item) is UserResult:
                    batch.count(item)
                    if not ordered:
                        slots.release()
                        return item
                    self._pending[item.index] = item
                elif item is _DONE:
                    self._finished += 1
                else:
                    raise batch.abort_error(cast("BaseException", item))
        except BaseException:
            self._closed = True
            await batch.stop()
            raise
        self._closed = True
        await batch.stop()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Stop the batch: cancel every worker and wait until each has finished."""
        self._closed = True
        if self._batch is not None:
            await self._batch.stop()

    def __del__(self) -> None:
        batch = self._batch
        if batch is not None:
            with contextlib.suppress(RuntimeError):  # the event loop may be closed by now
                batch.cancel()
