"""The bulk engine: a fixed pool of worker tasks running one ``fetch(item)`` per input item.

One task per item does not scale (each parked task costs memory before any result exists),
so N workers take items straight from the input. :func:`gather_batch` writes each result
into its list; :class:`BatchIterator` hands results to the consumer through a queue, and a
semaphore of ``window`` slots bounds everything taken but not yet yielded: a slow consumer
pauses the workers, and memory depends on the concurrency, never on the number of items.

The engine knows nothing of endpoints or sessions. The caller gives it ``fetch(item,
throttle)`` (one call, up to its answer, raising :class:`AdGateError` on failure),
``finish(answer)`` (the answer's value, i.e. its decoding, which may raise an AdGateError
too) and ``make(item, index, value, error)`` (the result for one item). Every item yields
exactly one result: the value, or the typed error that ended its call. Anything else (a
bug, a closed session, an input iterator that raises) aborts the batch and is raised to the
consumer; a session closed under a running batch is reported as such (``closed()`` tells).

An iterator's workers hand answers to the consumer unfinished: each is decoded in its task
just before it is yielded, so a result the caller drops is freed while still in the CPU
cache, not after other answers were decoded (on large bodies, that cost grew with the
concurrency).

The workers of an iterator belong to the task that reads the results now (re-tied on each
``__anext__``): when that task is cancelled or fails, they are cancelled with it, and the
iterator then says so instead of ending as if the input were done. A batch's Retry-After pause is
its own: its :class:`Throttle` goes with each of its calls (see ``_retry.Gate``), so no
other call on the session waits for it, and no other call's 429 pauses the batch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import (
    AsyncIterable,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
)
from typing import Any, Final, Generic, Protocol, TypeVar, cast

from ._errors import AdGateError
from ._source import Source
from ._throttle import Throttle

#: ``on_progress(done, total, errors)``: ``total`` is None when the input has no length.
ProgressCallback = Callable[[int, "int | None", int], None]


class BatchResult(Protocol):
    """What the engine reads of a result: its input position, and its error if any."""

    @property
    def index(self) -> int: ...

    @property
    def error(self) -> AdGateError | None: ...


I = TypeVar("I")  # noqa: E741  an input item (a user id)
V = TypeVar("V")  # what fetch returns for one item
R = TypeVar("R", bound=BatchResult)
R_co = TypeVar("R_co", bound=BatchResult, covariant=True)
#: ``fetch(item, throttle)``: one item's call, up to its answer; its failure is an
#: AdGateError.
Fetch = Callable[[I, Throttle], Awaitable[Any]]
#: ``finish(answer)``: the value of an answer ``fetch`` gave (an AdGateError if it has none).
Finish = Callable[[Any], V]
#: ``make(item, index, value, error)``: the result for one item (value or error is None).
MakeResult = Callable[[I, int, "V | None", "AdGateError | None"], R]

_DONE: Final = object()
_MISSING: Final = object()


def _ended_badly(task: asyncio.Task[Any]) -> bool:
    """Whether a finished task was cancelled or raised. Its exception is read without
    ``exception()``, which would mark it retrieved (and silence asyncio's warning about a
    failed task nobody awaited)."""
    if task.cancelled():
        return True
    exc = getattr(task, "_exception", _MISSING)  # both asyncio Task implementations
    if exc is _MISSING:
        exc = task.exception()
    return exc is not None


def orphaned_message(name: str) -> str:
    """What a later ``__anext__`` raises once the task reading a batch was cancelled or
    failed, which stopped its workers: the input was not finished."""
    return (f"the {name} batch was stopped because the task reading its results was "
            "cancelled or failed; it cannot go on (results not yet yielded are lost)")


def closed_message(name: str) -> str:
    """What a batch raises when its session was closed under it (in-flight items get no
    result)."""
    return (f"the AsyncSession was closed while a {name} batch was running; "
            "the batch was stopped")


class Job(Generic[I, V, R]):
    """One batch, before it runs: what to fetch, how to make a result, and when the session
    under it counts as closed (``closed()``; ``name`` is the call, for messages)."""

    __slots__ = ("closed", "fetch", "finish", "items", "make", "max_per_second", "name",
                 "on_progress")

    def __init__(
        self,
        items: Iterable[I] | AsyncIterable[I],
        fetch: Fetch[I],
        finish: Finish[V],
        make: MakeResult[I, V, R],
        *,
        name: str,
        closed: Callable[[], bool],
        max_per_second: float | None,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.items = items
        self.fetch = fetch
        self.finish = finish
        self.make = make
        self.name = name
        self.closed = closed
        self.max_per_second = max_per_second
        self.on_progress = on_progress


class _Batch(Generic[I, V, R]):
    """What one running batch's workers share: the input, the throttle, the progress
    counters, and the worker tasks themselves."""

    def __init__(self, job: Job[I, V, R]) -> None:
        self.job = job
        self.source = Source(job.items)
        self.throttle = Throttle(job.max_per_second)
        self.on_progress = job.on_progress
        self._finish = job.finish
        self._make = job.make
        self.done = 0
        self.errors = 0
        self.tasks: list[asyncio.Task[None]] = []
        self.consumer: asyncio.Task[Any] | None = None
        #: The workers were stopped because the task reading the results was cancelled
        #: or failed: the batch did not end, and must not look as if it had.
        self.orphaned = False

    def finish(self, index: int, item: I, answer: Any) -> R:
        """The result of an item's answer: its value, or the error its finish raised."""
        try:
            value = self._finish(answer)
        except AdGateError as exc:
            return self._make(item, index, None, exc)
        return self._make(item, index, value, None)

    def count(self, result: R) -> None:
        self.done += 1
        if result.error is not None:
            self.errors += 1
        if self.on_progress is not None:
            self.on_progress(self.done, self.source.total, self.errors)

    def start(self, concurrency: int, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.tasks = [asyncio.create_task(work(), name=f"adgate_async.bulk.worker-{n}")
                      for n in range(concurrency)]

    def tie_to(self, consumer: asyncio.Task[Any] | None) -> None:
        """Let the task now asking for a result own the workers: moved on every call, so
        a batch read from short tasks (``wait_for(anext(it))``, ``ensure_future``) belongs
        to whichever task reads it now. When that task ends cancelled or failed (even in
        its loop body, where it never closes the iterator), the workers are cancelled; a
        task that simply returned (``wait_for``'s inner task) lets the batch go on."""
        if consumer is self.consumer:
            return
        self._untie()
        if consumer is not None:
            self.consumer = consumer
            consumer.add_done_callback(self._consumer_done)

    def _untie(self) -> None:
        consumer, self.consumer = self.consumer, None
        if consumer is not None:
            consumer.remove_done_callback(self._consumer_done)

    def _consumer_done(self, task: asyncio.Task[Any]) -> None:
        if task is self.consumer:
            self.consumer = None
        if _ended_badly(task):
            self.orphaned = True
            self.cancel()

    def cancel(self) -> None:
        """Ask every worker to stop (without waiting), and let go of the consumer."""
        self._untie()
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
        if isinstance(exc, RuntimeError) and self.job.closed():
            error = RuntimeError(closed_message(self.job.name))
            error.__cause__ = exc
            return error
        return exc


async def gather_batch(job: Job[I, V, R], concurrency: int) -> list[R]:
    """Every result in input order. Workers write straight into the list: no queues."""
    batch = _Batch(job)
    out: list[R | None] = []
    source, throttle = batch.source, batch.throttle
    take, sync, fetch, finish, make = source.take, source.sync, job.fetch, job.finish, job.make

    async def work() -> None:
        # _Batch.fetch inlined: one coroutine less on every item's way.
        while (taken := take() if sync else await source.next()) is not None:
            if not throttle.ready():
                await throttle.wait()
            index, item = taken
            try:
                value = finish(await fetch(item, throttle))
            except AdGateError as exc:
                result = make(item, index, None, exc)
            else:
                result = make(item, index, value, None)
            if index >= len(out):
                out.extend([None] * (index + 1 - len(out)))
            out[index] = result
            batch.count(result)

    batch.start(concurrency, work)
    try:
        await asyncio.gather(*batch.tasks)  # the first failure (not an item's) aborts
    except RuntimeError as exc:
        error = batch.abort_error(exc)
        if error is exc:
            raise
        raise error from exc
    finally:
        await batch.stop()
    return cast("list[R]", out)  # every slot is filled by now


async def _stream_worker(
    batch: _Batch[Any, Any, Any],
    slots: asyncio.Semaphore,
    results: asyncio.Queue[object],
) -> None:
    """One worker of a :class:`BatchIterator`. It holds no reference to the iterator
    object, so an iterator dropped by its consumer can be collected (and stop the workers)."""
    source, throttle, put = batch.source, batch.throttle, results.put_nowait
    take, sync, fetch, make = source.take, source.sync, batch.job.fetch, batch.job.make
    try:
        while True:
            await slots.acquire()  # before taking an item: a slow consumer stops us here
            taken = take() if sync else await source.next()
            if taken is None:
                slots.release()
                return
            if not throttle.ready():
                await throttle.wait()
            index, item = taken
            # The answer goes to the consumer unfinished, as (index, item, answer): see the
            # module's docstring. No local keeps it while the worker waits for the next one.
            try:
                put((index, item, await fetch(item, throttle)))
            except AdGateError as exc:
                put(make(item, index, None, exc))
    except Exception as exc:  # the input failed, or a bug: abort the batch
        put(_Failure(exc))
    finally:
        put(_DONE)


class _Failure:
    """A failure that ends the batch, on its way from a worker to the consumer."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class BatchIterator(Generic[R_co]):
    """What the ``iter_*`` calls return: an async iterator of results, and an async context
    manager that stops the batch on exit::

        async with session.iter_users(ids) as results:
            async for result in results:
                ...

    Nothing runs until the first result is asked for. The workers belong to the task that
    last asked: when that task is cancelled (anywhere, even in its loop body) or fails,
    every worker is cancelled with it, and a later ``__anext__`` raises a RuntimeError
    saying so. A task that asked and returned (``asyncio.wait_for(anext(it), t)`` runs
    each call in one) hands the batch on to the next task that asks. ``aclose()`` (or
    leaving ``async with``) stops and awaits them; dropping the iterator cancels them.
    """

    __slots__ = ("_batch", "_closed", "_concurrency", "_finished", "_job", "_next_index",
                 "_ordered", "_pending", "_results", "_slots")

    def __init__(self, job: Job[Any, Any, R_co], *, concurrency: int, window: int,
                 ordered: bool = False) -> None:
        self._job = job
        self._concurrency = concurrency
        self._ordered = ordered
        self._batch: _Batch[Any, Any, R_co] | None = None
        self._closed = False
        self._finished = 0
        self._next_index = 0
        self._pending: dict[int, R_co] = {}  # ordered: done, waiting for earlier ones
        self._results: asyncio.Queue[object] = asyncio.Queue()
        self._slots = asyncio.Semaphore(window)

    def __aiter__(self) -> BatchIterator[R_co]:
        return self

    async def __aenter__(self) -> BatchIterator[R_co]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _start(self) -> _Batch[Any, Any, R_co]:
        batch = self._batch = _Batch(self._job)
        batch.tie_to(asyncio.current_task())
        slots, results = self._slots, self._results
        batch.start(self._concurrency, lambda: _stream_worker(batch, slots, results))
        return batch

    async def __anext__(self) -> R_co:
        batch = self._batch
        if batch is None:
            if self._closed:
                raise StopAsyncIteration
            batch = self._start()
        else:
            if batch.orphaned:
                raise RuntimeError(orphaned_message(self._job.name))
            if self._closed:
                raise StopAsyncIteration
            batch.tie_to(asyncio.current_task())
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
                if type(item) is tuple:  # an answer, finished here (see the docstring)
                    result = batch.finish(*item)
                elif item is _DONE:
                    self._finished += 1
                    continue
                elif type(item) is _Failure:
                    raise batch.abort_error(item.exc)
                else:
                    result = cast("R_co", item)
                batch.count(result)
                if not ordered:
                    slots.release()
                    return result
                self._pending[result.index] = result
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                batch.orphaned = True  # stopped half-way: no normal end later
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
