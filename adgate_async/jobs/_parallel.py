"""Many cores: the parts of a job run in N worker processes, each with its own event loop
and session, built inside the worker from the picklable :class:`SessionConfig`.

The parent reads the ids, cuts them into parts (position ranges), skips the parts already
in place, and hands each remaining part to a worker, at most N + 1 at a time (so memory holds
a few parts of ids, never the input). A worker writes its part under a temporary name and
renames it into place once whole, like a single-process job.

Shared across the processes (one lock, a few shared doubles):

- the start rate (``max_per_second``): one schedule of start times for all workers;
- the pause after a 429 or 503 with ``Retry-After`` (capped at 60 s): seen by one worker,
  it holds the start of new users in every worker (the retries inside one process follow that
  process's own batch pause, as in a single-process job);
- stop: a worker that fails fast, or the parent on a signal, stops them all taking ids.

A worker notices when its parent is gone (killed) and stops without renaming its part.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import multiprocessing
import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

import aiohttp

from .. import AsyncSession
from ._input import IdSource
from ._parts import Parts
from ._settings import SessionConfig
from ._shards import ShardSink, discard, new_part, part_name, tmp_name
from ._store import LocalStore
from ._tally import Tally

#: Seconds of Retry-After honoured at most (as the session does).
_MAX_PAUSE = 60.0
#: The session's documented default per-attempt timeout (passed explicitly, since the
#: worker hands the session its own aiohttp ClientSession).
_TIMEOUT = 30.0


class Shared:
    """State shared by the parent and every worker (inherited at the worker's start)."""

    def __init__(self, ctx: Any, max_per_second: float | None) -> None:
        self.lock = ctx.Lock()
        self.next_start = ctx.Value("d", 0.0, lock=False)
        self.pause_until = ctx.Value("d", 0.0, lock=False)
        self.stop = ctx.Value("b", 0, lock=False)
        self.interval = 1.0 / max_per_second if max_per_second else 0.0

    def pause(self, seconds: float) -> None:
        with self.lock:
            until = time.monotonic() + min(seconds, _MAX_PAUSE)
            self.pause_until.value = max(self.pause_until.value, until)

    async def wait_turn(self) -> bool:
        """Wait for this worker's turn to start a user; False when the job stops."""
        while True:
            if self.stop.value:
                return False
            now = time.monotonic()
            with self.lock:
                pause = self.pause_until.value
                if pause <= now:
                    slot = max(now, self.next_start.value)
                    self.next_start.value = slot + self.interval
                    break
            await asyncio.sleep(min(pause - now, 0.5))
        if slot > now:
            await asyncio.sleep(slot - now)
        return True


_shared: Shared | None = None
_parent_pid = 0


def _init_worker(shared: Shared, parent_pid: int) -> None:
    global _shared, _parent_pid
    # The parent decides how to stop (a terminal's Ctrl-C or a service manager's SIGTERM
    # reaches the whole process group); a worker whose parent is gone stops by itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _shared = shared
    _parent_pid = parent_pid


@dataclasses.dataclass(frozen=True)
class PartTask:
    config: SessionConfig
    shard: int
    first: int  # input position of ids[0]
    ids: list[str]
    sink: dict[str, Any]  # store, ext, fmt, gz
    concurrency: int | None
    ordered: bool
    fail_fast: int
    history: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class PartResult:
    shard: int
    users: int
    ok: int
    errors: dict[str, int]
    complete: bool
    stop_reason: str | None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Gate(Protocol):
    """What a part's run shares with the other runs of its job (processes, or cluster tasks)."""

    async def wait_turn(self) -> bool: ...  # False: the job stops, take no more ids
    def pause(self, seconds: float) -> None: ...  # a Retry-After seen here holds every run
    def stop(self) -> None: ...  # fail fast: every run stops taking ids
    def alive(self) -> bool: ...  # False: whoever runs the job is gone, rename nothing


def _trace(gate: Gate) -> aiohttp.TraceConfig:
    async def on_request_end(session: Any, context: Any,
                             params: aiohttp.TraceRequestEndParams) -> None:
        response = params.response
        if response.status in (429, 503):
            seconds = _retry_after(response.headers.get("Retry-After"))
            if seconds is not None:
                gate.pause(seconds)

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_request_end)
    return trace


class _ProcessGate:
    def __init__(self, shared: Shared, parent_pid: int) -> None:
        self._shared, self._parent = shared, parent_pid

    async def wait_turn(self) -> bool:
        return self.alive() and await self._shared.wait_turn()

    def pause(self, seconds: float) -> None:
        self._shared.pause(seconds)

    def stop(self) -> None:
        self._shared.stop.value = 1

    def alive(self) -> bool:
        return os.getppid() == self._parent


def run_part(task: PartTask) -> PartResult:
    """A worker's entry point: one part, on a loop of its own."""
    assert _shared is not None
    return asyncio.run(run_part_async(task, _ProcessGate(_shared, _parent_pid), os.getpid()))


async def _paced(ids: Iterable[str], gate: Gate) -> AsyncIterator[str]:
    for user_id in ids:
        if not await gate.wait_turn():
            return
        yield user_id


async def run_part_async(task: PartTask, gate: Gate, tag: int) -> PartResult:
    """One part on the running loop: its own aiohttp client and session; written under a
    temporary name ending with ``tag`` and renamed into place only once whole."""
    kwargs = task.config.kwargs()
    limit = kwargs.pop("max_connections", 100)
    kwargs.setdefault("timeout", _TIMEOUT)
    trace = _trace(gate)
    store: LocalStore = task.sink["store"]
    ext = task.sink["ext"]
    tmp = tmp_name(task.shard, ext, f".{tag}")
    tally = Tally(task.fail_fast)
    complete = False
    part = new_part(store, tmp, task.sink["fmt"], task.sink["gz"])
    try:
        async with (
            aiohttp.ClientSession(trace_configs=[trace],
                                  connector=aiohttp.TCPConnector(limit=limit)) as client,
            AsyncSession(**kwargs, session=client) as session,
            contextlib.aclosing(session.iter_users(
                _paced(task.ids, gate), concurrency=task.concurrency, ordered=task.ordered,
                **task.history)) as results,
        ):
            async for result in results:
                part.write(task.first + result.index, result)
                if tally.add(result):
                    gate.stop()
                    break
        if tally.users == len(task.ids) and gate.alive():
            part.close()
            store.rename(tmp, part_name(task.shard, ext))
            complete = True
    finally:
        if not complete:
            discard(part, store, tmp)
    return PartResult(task.shard, tally.users, tally.ok, dict(tally.errors), complete,
                      tally.stop_reason)


@dataclasses.dataclass
class ParallelOutcome:
    users: int = 0
    ok: int = 0
    errors: Counter[str] = dataclasses.field(default_factory=Counter)
    skipped: int = 0
    stop_reason: str | None = None
    ended: bool = False
    died: bool = False  #: a worker process died: the pool is broken

    def add(self, part: PartResult, sink: ShardSink) -> None:
        """Count a part's result; a whole part is now in place."""
        self.users += part.users
        self.ok += part.ok
        self.errors.update(part.errors)
        if part.stop_reason is not None and self.stop_reason is None:
            self.stop_reason = part.stop_reason
        if part.complete:
            sink.existing.add(part.shard)
            sink.shards_written += 1


async def run_parallel(
    config: SessionConfig, ids: IdSource, sink: ShardSink, *, processes: int,
    max_per_second: float | None, concurrency: int | None, ordered: bool, fail_fast: int,
    history: dict[str, Any], stopped: Any, on_part: Any,
) -> ParallelOutcome:
    """Run the parts of ``sink`` not yet in place in ``processes`` workers."""
    ctx = multiprocessing.get_context("spawn")
    shared = Shared(ctx, max_per_second)
    outcome = ParallelOutcome()
    loop = asyncio.get_running_loop()
    running: set[asyncio.Future[PartResult]] = set()
    where = sink.where()

    def collect(done: set[asyncio.Future[PartResult]]) -> None:
        for future in done:
            try:
                part = future.result()
            except BrokenProcessPool:
                shared.stop.value = 1
                outcome.died = True
                continue
            outcome.add(part, sink)
            on_part(outcome)

    with ProcessPoolExecutor(processes, mp_context=ctx, initializer=_init_worker,
                             initargs=(shared, os.getpid())) as pool:

        async def submit(shard: int, chunk: list[str]) -> None:
            while len(running) > processes:
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                running.difference_update(done)
                collect(done)
            if outcome.died:
                return
            task = PartTask(config, shard, shard * sink.size, chunk, where, concurrency,
                            ordered, fail_fast, history)
            running.add(loop.run_in_executor(pool, run_part, task))

        parts = Parts(ids, sink, lambda: bool(stopped() or shared.stop.value or outcome.died))
        try:
            async for shard, chunk in parts:
                await submit(shard, chunk)
            outcome.skipped = parts.skipped
            outcome.ended = parts.ended
            if not parts.ended:
                shared.stop.value = 1
            while running:
                if stopped():
                    shared.stop.value = 1
                done, _ = await asyncio.wait(running, timeout=0.2,
                                             return_when=asyncio.FIRST_COMPLETED)
                running.difference_update(done)
                collect(done)
        except BaseException:
            shared.stop.value = 1
            for future in running:  # retrieved, so none is reported as never retrieved
                future.cancel()
            raise
    if outcome.died and outcome.stop_reason is None:
        outcome.stop_reason = ("a worker process died (killed, or out of memory); its part "
                               "is redone on resume")
    return outcome
