"""The bulk engine behind ``gather_users`` and ``iter_users``: a fixed pool of worker tasks.

One task per user does not scale (each parked task costs memory before any result exists),
so N workers pull user ids from a feeder and push results back. A semaphore of ``window``
slots bounds everything in the pipeline at once (queued ids, requests in flight, results not
yet taken by the consumer): a slow consumer pauses the workers, and memory depends on the
concurrency, never on the number of users.

Every input id yields exactly one :class:`UserResult`: the history, or the typed
:class:`AdGateError` that ended that user's call. Anything else (a bug, a closed session,
an input iterator that raises) aborts the batch and is raised to the consumer. Closing or
cancelling the consumer cancels every worker before returning.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable, Sized
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, cast

from . import _config
from ._errors import AdGateError, APIStatusError, InvalidParameterError
from .models.history import History

if TYPE_CHECKING:
    from ._session import AsyncSession

#: ``on_progress(done, total, errors)``: ``total`` is None when the input has no length.
ProgressCallback = Callable[[int, "int | None", int], None]

#: Statuses whose Retry-After pauses the whole batch, not just the worker that saw it.
PAUSE_STATUSES: Final = frozenset({429, 503})


@dataclass(frozen=True, slots=True)
class UserResult:
    """The outcome for one user of a batch: ``history`` or ``error``, never both."""

    user_id: str
    history: History | None = None
    error: AdGateError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Throttle:
    """When the next request may start: a shared pause (after a 429/503 with Retry-After)
    and an optional start-rate limit, both for the whole batch."""

    __slots__ = ("_interval", "_next_slot", "_pause_until")

    def __init__(self, max_per_second: float | None) -> None:
        self._interval = 1.0 / max_per_second if max_per_second else 0.0
        self._next_slot = 0.0
        self._pause_until = 0.0

    def pause(self, seconds: float) -> None:
        """Hold every new request for ``seconds`` from now (extends, never shortens)."""
        until = asyncio.get_running_loop().time() + seconds
        self._pause_until = max(self._pause_until, until)

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        slot_taken = self._interval == 0.0
        while True:
            now = loop.time()
            if self._pause_until > now:
                await asyncio.sleep(self._pause_until - now)
                continue
            if slot_taken:
                return
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
            slot_taken = True
            if slot > now:
                await asyncio.sleep(slot - now)  # then look at the pause once more


def check_concurrency(concurrency: object, pool_size: int | None) -> int:
    if type(concurrency) is not int or concurrency < 1:
        raise InvalidParameterError("concurrency", "must be a positive int", concurrency)
    if pool_size is not None and concurrency > pool_size:
        raise InvalidParameterError(
            "concurrency",
            f"must not exceed the connection pool size ({pool_size}); lower it or create "
            "the session with a larger max_connections",
            concurrency,
        )
    return concurrency


def check_rate(max_per_second: object) -> float | None:
    if max_per_second is None:
        return None
    if (not isinstance(max_per_second, int | float) or isinstance(max_per_second, bool)
            or not 0 < max_per_second < float("inf")):
        raise InvalidParameterError(
            "max_per_second", "must be a finite number > 0 or None", max_per_second
        )
    return float(max_per_second)


_DONE: Final = object()


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
    ``ordered``). Arguments are pre-validated."""
    total = len(user_ids) if isinstance(user_ids, Sized) else None
    throttle = Throttle(max_per_second)
    slots = asyncio.Semaphore(window)
    work: asyncio.Queue[tuple[int, str] | object] = asyncio.Queue()
    results: asyncio.Queue[tuple[int, UserResult] | BaseException | object] = asyncio.Queue()

    async def feed() -> None:
        index = 0
        try:
            if isinstance(user_ids, AsyncIterable):
                async for user_id in user_ids:
                    await slots.acquire()
                    work.put_nowait((index, user_id))
                    index += 1
            else:
                for user_id in user_ids:
                    await slots.acquire()
                    work.put_nowait((index, user_id))
                    index += 1
        except Exception as exc:  # the input itself failed: abort the batch
            results.put_nowait(exc)
        for _ in range(concurrency):
            work.put_nowait(_DONE)

    async def fetch(user_id: str) -> UserResult:
        try:
            history = await session._get_history_prepared(user_id, options)
        except AdGateError as exc:
            return UserResult(user_id=str(user_id), error=exc)
        return UserResult(user_id=user_id, history=history)

    async def work_loop() -> None:
        try:
            while (item := await work.get()) is not _DONE:
                index, user_id = cast("tuple[int, str]", item)
                await throttle.wait()
                # No local keeps the result: a worker must not hold the last user's history
                # alive while it waits for the next answer (it costs memory and cache).
                results.put_nowait((index, await fetch(user_id)))
        except Exception as exc:  # a bug or a closed session: abort the batch
            results.put_nowait(exc)
        finally:
            results.put_nowait(_DONE)

    def on_retry_after(exc: APIStatusError) -> None:
        if exc.status in PAUSE_STATUSES and exc.retry_after is not None:
            # Capped like the retry wait: a far-off date must not stall the batch for hours.
            throttle.pause(min(exc.retry_after, _config.RETRY_AFTER_CAP))

    tasks = [asyncio.create_task(feed(), name="adgate_async.bulk.feeder")]
    tasks += [asyncio.create_task(work_loop(), name=f"adgate_async.bulk.worker-{n}")
              for n in range(concurrency)]
    unsubscribe = session._on_retry_after(on_retry_after)
    done = errors = finished = next_index = 0
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
            done += 1
            errors += result.error is not None
            if on_progress is not None:
                on_progress(done, total, errors)
            if not ordered:
                del item
                yield index, result
                del result  # not held while waiting for the next one
                slots.release()
                continue
            pending[index] = result
            while next_index in pending:
                yield next_index, pending.pop(next_index)
                next_index += 1
                slots.release()
    finally:
        unsubscribe()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
