"""``run_bulk_job``: fetch the history of every id of an input into an output that a killed
run can resume, exactly once per input position."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from typing import Any, Literal, ParamSpec, TypeVar

from .. import AsyncSession
from ._errors import JobSetupError
from ._failfast import DEFAULT_FAIL_FAST, FailFast
from ._input import IdSource, as_async
from ._lines import OutputError, reason
from ._parallel import ParallelOutcome, run_parallel
from ._settings import SessionConfig
from ._shards import DEFAULT_SHARD_SIZE, ShardSink
from ._single import FileSink

#: Exit statuses of a job (the CLI's too).
EXIT_OK = 0  #: every user of the input has its line (errors included, unless strict)
EXIT_ERRORS = 1  #: strict only: at least one user's line is an error
EXIT_OUTPUT = 3  #: the output could not be written
EXIT_FAIL_FAST = 4  #: stopped early: the service looked down
EXIT_INTERRUPTED = 130  #: stopped through JobControl.stop (the CLI: SIGINT; SIGTERM is 143)

ProgressCallback = Callable[[int, int | None, int], None]


class JobControl:
    """Stops a running job from the outside (a signal handler, another task).

    ``stop()`` takes no more ids; the requests in flight get ``grace`` seconds, then are
    dropped (those users are fetched again on resume). A second ``stop()`` drops them now.
    ``users`` and ``taken`` tell how far the job is (for a message).
    """

    def __init__(self) -> None:
        self.stopped = False
        self.exit_status = EXIT_INTERRUPTED
        self.users = 0  #: results written by this run
        self.taken = 0  #: ids handed to the session by this run
        self._on_stop: Callable[[bool, float], None] | None = None

    def stop(self, *, grace: float = 2.0, exit_status: int = EXIT_INTERRUPTED) -> None:
        first = not self.stopped
        if first:
            self.stopped = True
            self.exit_status = exit_status
        if self._on_stop is not None:
            self._on_stop(first, grace)


@dataclasses.dataclass(frozen=True, kw_only=True)
class JobSummary:
    """What a job did: this run's users, and where the whole job stands."""

    users: int  #: users fetched by this run (each has its line or row)
    ok: int  #: of them, with a history
    errors: dict[str, int]  #: of them, failed, by error type (UserBannedError, ...)
    resumed: int  #: input ids skipped because the output already held them
    shards: int  #: parts written by this run (0 for a single file)
    shards_skipped: int  #: parts that were already in place
    seconds: float
    complete: bool  #: the whole input is in the output (sharded: _SUCCESS written)
    exit_status: int  #: see the EXIT_* constants
    stop_reason: str | None = None  #: why the job stopped early (fail fast)
    output_error: str | None = None  #: why the output could not be written
    broken_pipe: bool = False  #: the output was a pipe whose reader went away
    lines_written: int = 0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def line(self) -> str:
        """A one-line summary."""
        rate = self.users / self.seconds if self.seconds > 0 else 0.0
        errors = ", ".join(f"{name} {n}" for name, n in
                           sorted(self.errors.items(), key=lambda kv: -kv[1])) or "none"
        text = (f"users {self.users}  ok {self.ok}  errors {self.error_count} ({errors})  "
                f"elapsed {self.seconds:.2f} s  users/s {rate:,.0f}")
        if self.resumed:
            text += f"  (resumed: {self.resumed} already done)"
        if self.shards or self.shards_skipped:
            text += f"  parts {self.shards} written, {self.shards_skipped} already there"
        return text


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


def _sharded(output: str, format: str | None, shard_size: int | None) -> bool:
    """A directory of parts, or one file?"""
    return format is not None or shard_size is not None or output.endswith(os.sep)


def _open_sink(output: str, *, resume: bool, overwrite: bool, format: str | None,
               compress: str | None, shard_size: int | None) -> FileSink | ShardSink:
    if format not in (None, "jsonl", "parquet"):
        raise JobSetupError(f"format must be 'jsonl' or 'parquet', not {format!r}")
    if compress not in (None, "gzip"):
        raise JobSetupError(f"compress must be 'gzip' or None, not {compress!r}")
    if shard_size is not None and (isinstance(shard_size, bool) or
                                   not isinstance(shard_size, int) or shard_size < 1):
        raise JobSetupError("shard_size must be a positive int")
    if resume and overwrite:
        raise JobSetupError("resume and overwrite exclude each other")
    if not _sharded(output, format, shard_size):
        return FileSink(output, resume=resume, overwrite=overwrite, compress=compress)
    if output == "-":
        raise JobSetupError("sharded output needs a directory, not standard output")
    if format == "parquet" and compress is not None:
        raise JobSetupError("Parquet parts are compressed inside (snappy); compress applies "
                            "to jsonl")
    if compress is None and output.rstrip(os.sep).endswith(".gz"):
        compress = "gzip"
    return ShardSink(output.rstrip(os.sep) or os.sep, resume=resume, overwrite=overwrite,
                     fmt=format or "jsonl", compress=compress,
                     shard_size=shard_size or DEFAULT_SHARD_SIZE)


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
    if dask is not None and "://" in os.fspath(output):
        raise JobSetupError("dask writes -o as a directory path every worker can reach (a "
                            "shared file system); URLs (fsspec) are not supported yet")
    if dask is not None and not _sharded(os.fspath(output), format, shard_size):
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
    if processes > 1 and not _sharded(os.fspath(output), format, shard_size):
        raise JobSetupError("processes > 1 needs a directory of parts (--shard-size or "
                            "--format)")
    started = time.perf_counter()
    control = control or JobControl()
    # Built (not opened) before the output is touched: its checks refuse bad settings first.
    own_session = _config_session(session) if isinstance(session, SessionConfig) else None
    sink = _open_sink(os.fspath(output), resume=resume, overwrite=overwrite, format=format,
                      compress=compress, shard_size=shard_size)
    if processes > 1 or dask is not None:
        assert isinstance(session, SessionConfig)
        assert isinstance(sink, ShardSink)
        return await _run_processes(
            session, ids, sink, started=started, control=control, processes=processes,
            dask=dask,
            max_per_second=max_per_second, concurrency=concurrency, ordered=ordered,
            fail_fast=fail_fast, strict=strict, on_progress=on_progress,
            history={"lang": lang, "continue_playing": continue_playing,
                     "offer_ids": None if offer_ids is None else list(offer_ids)})
    feed = _Feed(ids, sink, control)
    ok = 0
    errors: Counter[str] = Counter()
    fail = FailFast(fail_fast)
    stop_reason: str | None = None
    output_error: OutputError | None = None
    loop = asyncio.get_running_loop()
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
                offer_ids=offer_ids)))
            async for result in results:
                await sink.put(feed.origin.pop(result.index), result)
                control.users += 1
                if result.error is None:
                    ok += 1
                else:
                    errors[type(result.error).__name__] += 1
                if fail.add(result):
                    stop_reason = fail.reason()
                    control.stopped = True  # take no more ids; the rest is dropped
                    break
    except OutputError as exc:
        output_error = exc
    except TimeoutError:
        if not control.stopped:
            raise
    finally:
        control._on_stop = None
        complete = feed.ended and not control.stopped and output_error is None
        try:
            await sink.close(complete)
        except OutputError as exc:
            output_error = output_error or exc

    if output_error is not None:
        status = EXIT_OUTPUT
    elif stop_reason is not None:
        status = EXIT_FAIL_FAST
    elif control.stopped:
        status = control.exit_status
    elif strict and errors:
        status = EXIT_ERRORS
    else:
        status = EXIT_OK
    return JobSummary(
        users=control.users, ok=ok, errors=dict(errors), resumed=feed.skipped,
        shards=sink.shards_written, shards_skipped=sink.shards_skipped,
        seconds=time.perf_counter() - started, complete=sink.complete, exit_status=status,
        stop_reason=stop_reason,
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
    if output_error is not None:
        status = EXIT_OUTPUT
    elif done.died:
        status = EXIT_ERRORS
    elif done.stop_reason is not None:
        status = EXIT_FAIL_FAST
    elif control.stopped:
        status = control.exit_status
    elif strict and done.errors:
        status = EXIT_ERRORS
    else:
        status = EXIT_OK
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
  ``shard_size`` given (or a path ending with ``/``), a directory of parts.
- ``resume``: continue the job that wrote ``output``: positions already there are skipped.
  Without it, an existing non-empty output is refused (:class:`JobSetupError`, nothing
  touched) unless ``overwrite``.
- ``fail_fast``: stop (exit status 4) after this many consecutive users failed with a
  transport error or a 5xx after their retries (0: never).
- ``strict``: exit status 1 when any user's line is an error (default: 0 when every user
  has a line, errors included; the errors are counted in the summary).
- ``concurrency``, ``ordered``, ``max_per_second``, ``lang``, ``continue_playing``,
  ``offer_ids``: as for :meth:`~adgate_async.AsyncSession.iter_users`; ``on_progress``
  too, with ``total`` (if you give it) less the ids already done.
- ``control``: a :class:`JobControl` to stop the job from elsewhere.
- ``processes``: run the parts in this many worker processes (needs a directory of parts and
  a ``SessionConfig``); ``max_per_second`` and Retry-After pauses hold across all of them.
- ``dask``: run the parts as tasks on a Dask distributed cluster: its scheduler address or a
  ``distributed.Client`` (extra ``dask``; needs a directory of parts every worker can reach
  and a ``SessionConfig``). ``max_per_second`` is split evenly between the tasks in flight
  (one per worker thread); a Retry-After seen by one task pauses them all.

Raises :class:`JobSetupError` (a ``ValueError``) before anything is fetched when the
arguments or the output cannot work; errors of single users never raise, they are lines.
"""


