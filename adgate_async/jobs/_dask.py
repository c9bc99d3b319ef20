"""Many machines: the parts of a job run as tasks on a Dask distributed cluster.

The driver (this process) reads the ids, cuts them into parts, skips the parts already in
place and submits each remaining part as one task, at most K at a time, where K is the number
of worker threads of the cluster when the job starts. Each task runs ``asyncio.run`` in the
worker thread that Dask gives it (never in an actor) with its own aiohttp client and session,
writes its part under a temporary name in the output directory (a path every worker can
reach, or an fsspec URL: see ``_store``) and renames it into place once whole. A task lost
with its worker (killed, out of memory) is run again by Dask; a redo writes a new temporary
file, so a part is never doubled.

Shared through Dask primitives, no server of our own:

- the pause after a 429 or 503 with ``Retry-After`` (capped at 60 s): a ``distributed.Variable``
  holds the wall-clock time until which no task starts a user; tasks read it at most every
  0.5 s (so a pause reaches the other tasks within about half a second);
- stop (fail fast in one task): another ``Variable``, read the same way;
- the start rate (``max_per_second``): split evenly, each of the K tasks in flight starts at
  most ``max_per_second / K`` users a second. The sum never exceeds the budget and no shared
  state is touched per user; the cost is that while fewer than K tasks run (the job's tail) the
  job runs below its budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

from ._input import IdSource
from ._parallel import _MAX_PAUSE, ParallelOutcome, PartResult, PartTask, run_part_async
from ._parts import Parts
from ._shards import ShardSink
from ._store import LocalStore

#: How long a task trusts what it read of the shared pause and stop.
_CACHE = 0.5
#: Times Dask runs a task again after an error raised by the task itself (not a lost worker,
#: which Dask redoes on its own up to ``distributed.scheduler.allowed-failures``).
_RETRIES = 2
#: A Variable's get waits for a value; the driver deletes the job's Variables only when no
#: task of it runs, so a get that times out means the job is over.
_GET_TIMEOUT = 30.0


class _DaskGate:
    """The gate of one task: its own pace, the shared pause and stop read through Variables."""

    def __init__(self, client: Any, names: tuple[str, str], max_per_second: float | None) -> None:
        from distributed import Variable

        # distributed is untyped: its objects are Any here.
        self._pause: Any = Variable(names[0], client=client)  # type: ignore[no-untyped-call]
        self._stop: Any = Variable(names[1], client=client)  # type: ignore[no-untyped-call]
        self._interval = 1.0 / max_per_second if max_per_second else 0.0
        self._next = 0.0
        self._read_at = -_CACHE
        self._pause_until = 0.0
        self._stopped = False

    async def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._read_at < _CACHE:
            return
        # Blocking calls of the worker's client: made off this task's loop.
        try:
            pause, stop = await asyncio.to_thread(
                lambda: (self._pause.get(timeout=_GET_TIMEOUT),
                         self._stop.get(timeout=_GET_TIMEOUT)))
        except Exception:  # the job's Variables are gone: its driver is done
            self._stopped = True
            return
        self._pause_until = max(self._pause_until, float(pause))
        self._stopped = self._stopped or bool(stop)
        self._read_at = time.monotonic()

    async def wait_turn(self) -> bool:
        while True:
            await self._refresh()
            if self._stopped:
                return False
            wait = self._pause_until - time.time()
            if wait <= 0:
                break
            await asyncio.sleep(min(wait, _CACHE))
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)
        return True

    def pause(self, seconds: float) -> None:
        until = time.time() + min(seconds, _MAX_PAUSE)
        self._pause_until = max(self._pause_until, until)
        # Read, then set the later time (two tasks setting at once: both pause anyway).
        with contextlib.suppress(Exception):
            self._pause.set(max(float(self._pause.get(timeout=_GET_TIMEOUT)), until))

    def stop(self) -> None:
        self._stopped = True
        with contextlib.suppress(Exception):
            self._stop.set(1)

    def alive(self) -> bool:
        return True  # the driver gone: Dask releases the task's result; the part stays whole


def dask_part(task: PartTask, names: tuple[str, str],
              max_per_second: float | None) -> PartResult:
    """A cluster task: one part, on a loop of its own in the worker's thread."""
    from distributed import get_client

    gate = _DaskGate(get_client(), names, max_per_second)
    tag = uuid.uuid4().int % 10**12  # unique across machines (pids are not)
    return asyncio.run(run_part_async(task, gate, tag))


def _connect(dask: Any) -> tuple[Any, bool]:
    if isinstance(dask, str):
        from distributed import Client

        connected: Any = Client(dask)  # type: ignore[no-untyped-call]
        return connected, True
    return dask, False


async def run_on_dask(
    dask: Any, config: Any, ids: IdSource, sink: ShardSink, *,
    max_per_second: float | None, concurrency: int | None, ordered: bool, fail_fast: int,
    history: dict[str, Any], stopped: Any, on_part: Any,
) -> ParallelOutcome:
    """Run the parts of ``sink`` not yet in place as tasks of the cluster ``dask`` (an
    address, or a ``distributed.Client``)."""
    from distributed import Variable

    client, own = await asyncio.to_thread(_connect, dask)
    try:
        return await _drive(client, config, ids, sink, max_per_second=max_per_second,
                            concurrency=concurrency, ordered=ordered, fail_fast=fail_fast,
                            history=history, stopped=stopped, on_part=on_part,
                            variable=Variable)
    finally:
        if own:
            await asyncio.to_thread(client.close)


async def _drive(
    client: Any, config: Any, ids: IdSource, sink: ShardSink, *,
    max_per_second: float | None, concurrency: int | None, ordered: bool, fail_fast: int,
    history: dict[str, Any], stopped: Any, on_part: Any, variable: Any,
) -> ParallelOutcome:
    job = uuid.uuid4().hex
    names = (f"adgate-pause-{job}", f"adgate-stop-{job}")
    pause, stop = variable(names[0], client=client), variable(names[1], client=client)
    await asyncio.to_thread(lambda: (pause.set(0.0), stop.set(0)))
    slots = max(1, sum((await asyncio.to_thread(client.nthreads)).values()))
    rate = max_per_second / slots if max_per_second else None
    where = sink.where()
    outcome = ParallelOutcome()
    running: list[Any] = []

    def halt() -> None:
        stop.set(1)

    async def collect(block: bool) -> None:
        while running:
            done = [f for f in running if f.done()]
            if not done:
                if not block or len(running) < slots:
                    return
                if stopped():
                    await asyncio.to_thread(halt)
                await asyncio.sleep(0.1)
                continue
            for future in done:
                running.remove(future)
                try:
                    part: PartResult = await asyncio.to_thread(future.result)
                except Exception as exc:  # the task failed for good (e.g. KilledWorker)
                    outcome.died = True
                    outcome.stop_reason = outcome.stop_reason or (
                        f"a part failed on the cluster ({type(exc).__name__}); it is redone "
                        "on resume")
                    await asyncio.to_thread(halt)
                    continue
                outcome.add(part, sink)
                on_part(outcome)
            return

    async def submit(shard: int, chunk: list[str]) -> None:
        await collect(block=True)
        if outcome.died or outcome.stop_reason is not None:
            return
        task = PartTask(config, shard, shard * sink.size, chunk, where, concurrency, ordered,
                        fail_fast, history)
        running.append(client.submit(dask_part, task, names, rate, key=f"adgate-part-{job}-"
                                     f"{shard}", pure=False, retries=_RETRIES))

    parts = Parts(ids, sink, lambda: bool(stopped() or outcome.died
                                          or outcome.stop_reason is not None))
    try:
        async for shard, chunk in parts:
            await submit(shard, chunk)
        outcome.skipped = parts.skipped
        outcome.ended = parts.ended
        while running:
            if stopped():
                await asyncio.to_thread(halt)
            await collect(block=True)
            if running:
                await asyncio.sleep(0.1)
    except BaseException:
        with contextlib.suppress(Exception):
            halt()
            client.cancel(running)
        raise
    finally:
        if not running:  # else tasks still read them: left set (stop = 1)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(lambda: (pause.delete(), stop.delete()))
    if outcome.ended and outcome.stop_reason is None:  # else a resume deletes them
        await asyncio.to_thread(_clean_leftovers, sink.store)
    return outcome


def _clean_leftovers(store: LocalStore) -> None:
    """Temporary files of tasks lost with their worker (their part was redone elsewhere)."""
    for entry in store.listdir():
        if entry.startswith(".part-") and entry.endswith(".tmp"):
            with contextlib.suppress(OSError):
                store.remove(entry)
