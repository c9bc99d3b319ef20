"""``run_bulk_job``: fetch the history of every id of an input into an output that a killed
run can resume, exactly once per input position."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator
from typing import Any, Literal, ParamSpec, TypeVar

from .. import AsyncSession, _config
from ._errors import JobSetupError
from ._failfast import DEFAULT_FAIL_FAST
from ._input import IdSource, as_async
from ._lines import OutputError, reason
from ._parallel import ParallelOutcome, run_parallel
from ._settings import SessionConfig
from ._shards import ShardSink
from ._single import FileSink
from ._sinks import open_off_loop, open_sink, sharded
from ._store import check_url_for_workers
from ._summary import (
    JobControl,
    JobSummary,
    ProgressCallback,
    exit_status_of,
)
from ._tally import Tally


class _Feed:
    """The ids handed to the session: skips positions already done, remembers each handed
    id's input position (only while its result is pending, so memory stays bounded)."""

    def __init__(self, ids: IdSource, sink: FileSink | ShardSink, control: JobControl):
        self._ids = ids
        self._sink = sink
        self._control = control
        self.origin: dict[int, int] = {}
        self.skipped = 0
        self.ended = False

    async def __aiter__(self) -> AsyncIterator[str]:
        position = -1
        handed = 0
        async for user_id in as_async(self._ids):
            if self._control.stopped:
                return
            position += 1
            if self._sink.is_done(position):
                self.skipped += 1
                continue
            self.origin[handed] = position
            handed += 1
            self._control.taken = handed
            self._sink.fed(position)
            yield user_id
        if not self._control.stopped:
            self.ended = True
            self._sink.input_ended(position + 1)


async def run_bulk_job_async(
    session: SessionConfig | AsyncSession,
    ids: IdSource,
    output: str | os.PathLike[str],
    *,
    resume: bool = False,
    overwrite: bool = False,
    format: Literal["jsonl", "parquet"] | None = None,
    compress: Literal["gzip"] | None = None,
    shard_size: int | None = None,
    concurrency: int | None = None,
    ordered: bool = False,
    max_per_second: float | None = None,
    fail_fast: int = DEFAULT_FAIL_FAST,
    retry_budget: float | None = _config.RETRY_BUDGET_RATIO,
    strict: bool = False,
    lang: str | None = None,
    continue_playing: bool | None = None,
    offer_ids: Iterable[int] | None = None,
    on_progress: ProgressCallback | None = None,
    total: int | None = None,
    control: JobControl | None = None,
    processes: int = 1,
    dask: Any = None,
) -> JobSummary:
    """Fetch the history of every id of ``ids`` into ``output``; see :func:`run_bulk_job`."""
    if not isinstance(session, SessionConfig | AsyncSession):
        raise TypeError("session must be a SessionConfig or an AsyncSession")
    if isinstance(fail_fast, bool) or not isinstance(fail_fast, int) or fail_fast < 0:
        raise JobSetupError("fail_fast must be an int >= 0 (0: never stop early)")
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise JobSetupError("processes must be an int >= 1")
    if dask is not None and processes > 1:
        raise JobSetupError("give processes or dask, not both")
    if dask is not None and not isinstance(session, SessionConfig):
        raise JobSetupError("dask needs a SessionConfig (each task opens its own session)")
    if dask is not None or processes > 1:
        check_url_for_workers(os.fspath(output))
    if dask is not None and not sharded(os.fspath(output), format, shard_size):
        raise JobSetupError("dask needs a directory of parts (--shard-size or --format)")
    if dask is not None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise JobSetupError("dask needs the extra 'dask': pip install "
                                "'adgate_async[dask]'") from None
    if processes > 1 and not isinstance(session, SessionConfig):
        raise JobSetupError("processes > 1 needs a SessionConfig (each worker opens its own "
                            "session)")
    if processes > 1 and not sharded(os.fspath(output), format, shard_size):
        raise JobSetupError("processes > 1 needs a directory of parts (--shard-size or "
                            "--format)")
    started = time.perf_counter()
    control = control or JobControl()
    # Built (not opened) before the output is touched: its checks refuse bad settings first.
    own_session = _config_session(session) if isinstance(session, SessionConfig) else None
    if isinstance(offer_ids, Iterator):
        offer_ids = list(offer_ids)  # checked below, then used: read it once
    # The batch's own checks (concurrency, rate, history options), also before the output
    # is touched: an InvalidParameterError must leave an existing output as it was.
    checker = own_session if own_session is not None else session
    assert isinstance(checker, AsyncSession)
    options: dict[str, Any] = {"retry_budget": retry_budget}
    if lang is not None:
        options["lang"] = lang
    if continue_playing is not None:
        options["continue_playing"] = continue_playing
    if offer_ids is not None:
        options["offer_ids"] = offer_ids
    # iter_users checks every argument when called; nothing runs until it is iterated.
    await checker.iter_users((), concurrency=concurrency, max_per_second=max_per_second,
                             on_progress=on_progress, **options).aclose()
    loop = asyncio.get_running_loop()
    sink = await open_off_loop(functools.partial(
        open_sink, os.fspath(output), resume=resume, overwrite=overwrite, format=format,
        compress=compress, shard_size=shard_size, loop=loop), control)
    if sink is None:  # stopped while the output was being opened (a FIFO with no reader)
        return JobSummary(users=0, ok=0, errors={}, resumed=0, shards=0, shards_skipped=0,
                          seconds=time.perf_counter() - started, complete=False,
                          exit_status=control.exit_status)
    if processes > 1 or dask is not None:
        assert isinstance(session, SessionConfig)
        assert isinstance(sink, ShardSink)
        return await _run_processes(
            session, ids, sink, started=started, control=control, processes=processes,
            dask=dask,
            max_per_second=max_per_second, concurrency=concurrency, ordered=ordered,
            fail_fast=fail_fast, strict=strict, on_progress=on_progress,
            history={"lang": lang, "continue_playing": continue_playing,
                     "retry_budget": retry_budget,
                     "offer_ids": None if offer_ids is None else list(offer_ids)})
    feed = _Feed(ids, sink, control)
    tally = Tally(fail_fast)
    output_error: OutputError | None = None
    deadline = asyncio.timeout(None)

    def on_stop(first: bool, grace: float) -> None:
        deadline.reschedule(loop.time() + (grace if first else 0.0))

    left = None if total is None or isinstance(sink, ShardSink) else max(
        0, total - len(sink.done))

    def progress(done: int, _total: int | None, failed: int) -> None:
        if on_progress is not None:
            on_progress(done, left, failed)

    control._on_stop = on_stop
    try:
        async with contextlib.AsyncExitStack() as stack:
            if own_session is not None:
                live = await stack.enter_async_context(own_session)
            else:
                assert isinstance(session, AsyncSession)
                live = session
            await stack.enter_async_context(deadline)
            results = await stack.enter_async_context(contextlib.aclosing(live.iter_users(
                feed, concurrency=concurrency, ordered=ordered, max_per_second=max_per_second,
                on_progress=progress, lang=lang, continue_playing=continue_playing,
                offer_ids=offer_ids, retry_budget=retry_budget)))
            async for result in results:
                await sink.put(feed.origin.pop(result.index), result)
                control.users += 1
                if tally.add(result):
                    control.stopped = True  # take no more ids; the rest is dropped
                    break
    except OutputError as exc:
        output_error = exc
    except TimeoutError:
        if not control.stopped:
            raise
    finally:
        complete = feed.ended and not control.stopped and output_error is None
        # The final flush can wait on a stalled reader; a stop() then gives it the grace,
        # a second stop() ends it at once (the lines still queued are dropped).
        flush = asyncio.timeout(None)

        def on_stop_flush(first: bool, grace: float) -> None:
            flush.reschedule(loop.time() + (grace if first else 0.0))

        control._on_stop = on_stop_flush
        try:
            async with flush:
                await sink.close(complete)
        except OutputError as exc:
            output_error = output_error or exc
        except TimeoutError:
            if not control.stopped:
                raise
        finally:
            control._on_stop = None

    status = exit_status_of(control, output_error=output_error is not None,
                            stop_reason=tally.stop_reason, strict=strict,
                            errors=bool(tally.errors))
    return JobSummary(
        users=control.users, ok=tally.ok, errors=dict(tally.errors), resumed=feed.skipped,
        shards=sink.shards_written, shards_skipped=sink.shards_skipped,
        seconds=time.perf_counter() - started, complete=sink.complete, exit_status=status,
        stop_reason=tally.stop_reason,
        output_error=None if output_error is None else str(output_error),
        broken_pipe=output_error is not None and output_error.broken_pipe,
        lines_written=sink.written,
    )


async def _run_processes(
    config: SessionConfig, ids: IdSource, sink: ShardSink, *, started: float,
    control: JobControl, processes: int, dask: Any, max_per_second: float | None,
    concurrency: int | None, ordered: bool, fail_fast: int, strict: bool,
    on_progress: ProgressCallback | None, history: dict[str, Any],
) -> JobSummary:
    if sink.fmt == "parquet":
        from ._parquet import schema

        schema()  # pyarrow is there, or JobSetupError now rather than in a worker

    def on_part(done: ParallelOutcome) -> None:
        control.users = done.users
        if on_progress is not None:
            on_progress(done.users, None, sum(done.errors.values()))

    output_error: OutputError | None = None
    try:
        if dask is not None:
            from ._dask import run_on_dask

            done = await run_on_dask(
                dask, config, ids, sink, max_per_second=max_per_second,
                concurrency=concurrency, ordered=ordered, fail_fast=fail_fast,
                history=history, stopped=lambda: control.stopped, on_part=on_part)
        else:
            done = await run_parallel(
                config, ids, sink, processes=processes, max_per_second=max_per_second,
                concurrency=concurrency, ordered=ordered, fail_fast=fail_fast,
                history=history, stopped=lambda: control.stopped, on_part=on_part)
        if done.ended and done.stop_reason is None and not control.stopped:
            await sink.close(True)
    except OSError as exc:  # a worker could not write its part
        output_error = OutputError(sink.dir, reason(exc))
        done = ParallelOutcome()

    except OutputError as exc:
        output_error = exc
        done = ParallelOutcome()
    status = exit_status_of(control, output_error=output_error is not None,
                            stop_reason=done.stop_reason, strict=strict,
                            errors=bool(done.errors), died=done.died)
    return JobSummary(
        users=done.users, ok=done.ok, errors=dict(done.errors), resumed=done.skipped,
        shards=sink.shards_written, shards_skipped=sink.shards_skipped,
        seconds=time.perf_counter() - started, complete=sink.complete, exit_status=status,
        stop_reason=done.stop_reason,
        output_error=None if output_error is None else str(output_error),
        lines_written=done.users,
    )


def _config_session(config: SessionConfig) -> AsyncSession:
    return config.open()


_P = ParamSpec("_P")
_T = TypeVar("_T")


def _blocking(fn: Callable[_P, Coroutine[Any, Any, _T]]) -> Callable[_P, _T]:
    @functools.wraps(fn)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        return asyncio.run(fn(*args, **kwargs))

    return run


run_bulk_job = _blocking(run_bulk_job_async)
run_bulk_job.__doc__ = """Fetch the history of every id of ``ids`` into ``output``; return a
:class:`JobSummary`. Blocks (it runs its own event loop); from async code, await
:func:`run_bulk_job_async` with the same arguments.

- ``session``: a :class:`SessionConfig` (the job opens and closes its own session: the form
  that can travel to a worker process), or an open :class:`~adgate_async.AsyncSession`
  (used as is, not closed).
- ``ids``: a path to a file of ids, one per line (UTF-8; blank lines skipped), or any
  iterable or async iterable of ``str``. Positions count the ids from 0; a resumed job must
  get the same ids in the same order.
- ``output``: a file (``-`` for standard output; ``.gz``: gzip), or, with ``format`` or
  ``shard_size`` given (or a path ending with ``/``), a directory of parts: a path or an
  fsspec URL (``file://``, ``s3://``, ...; extra ``dask``).
- ``resume``: continue the job that wrote ``output``: positions already there are skipped.
  Without it, an existing non-empty output is refused (:class:`JobSetupError`, nothing
  touched) unless ``overwrite``.
- ``fail_fast``: stop (exit status 4) after this many consecutive users failed with a
  transport error or a 5xx after their retries (0: never).
- ``retry_budget``: the share of retries a batch may add to its requests (see
  :meth:`~adgate_async.AsyncSession.iter_users`; None: no cap). With ``processes`` or
  ``dask`` each part is a batch with its own budget.
- ``strict``: exit status 1 when any user's line is an error (default: 0 when every user
  has a line, errors included; the errors are counted in the summary).
- ``concurrency``, ``ordered``, ``max_per_second``, ``lang``, ``continue_playing``,
  ``offer_ids``: as for :meth:`~adgate_async.AsyncSession.iter_users`; ``on_progress``
  too, with ``total`` (if you give it) less the ids already done.
- ``control``: a :class:`JobControl` to stop the job from elsewhere.
- ``processes``: run the parts in this many worker processes (needs a directory of parts and
  a ``SessionConfig``); ``max_per_second`` and Retry-After pauses hold across all of them.
- ``dask``: run the parts as tasks on a Dask distributed cluster: its scheduler address or a
  ``distributed.Client`` (extra ``dask``; needs a directory of parts every worker can reach,
  a shared path or an fsspec URL, and a ``SessionConfig``). ``max_per_second`` is split
  evenly between the tasks in flight (one per worker thread); a Retry-After seen by one task
  pauses them all.

Raises :class:`JobSetupError` (a ``ValueError``) before anything is fetched when the
arguments or the output cannot work; errors of single users never raise, they are lines.
"""


