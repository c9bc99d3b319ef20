"""Opening a job's output: one JSON Lines file or a directory of parts, off the event loop
(opening a FIFO blocks until it has a peer)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable

from ._errors import JobSetupError
from ._shards import DEFAULT_SHARD_SIZE, ShardSink
from ._single import FileSink
from ._store import is_url
from ._summary import JobControl


def sharded(output: str, format: str | None, shard_size: int | None) -> bool:
    """A directory of parts, or one file?"""
    return format is not None or shard_size is not None or output.endswith(os.sep)


def open_sink(output: str, *, resume: bool, overwrite: bool, format: str | None,
               compress: str | None, shard_size: int | None,
               loop: asyncio.AbstractEventLoop | None = None) -> FileSink | ShardSink:
    if format not in (None, "jsonl", "parquet"):
        raise JobSetupError(f"format must be 'jsonl' or 'parquet', not {format!r}")
    if compress not in (None, "gzip"):
        raise JobSetupError(f"compress must be 'gzip' or None, not {compress!r}")
    if shard_size is not None and (isinstance(shard_size, bool) or
                                   not isinstance(shard_size, int) or shard_size < 1):
        raise JobSetupError("shard_size must be a positive int")
    if resume and overwrite:
        raise JobSetupError("resume and overwrite exclude each other")
    if not sharded(output, format, shard_size):
        if is_url(output):
            raise JobSetupError(f"an output URL ({output}) must name a directory of parts "
                                "(give --shard-size or --format, or end it with /): one "
                                "file is written to a local path only")
        return FileSink(output, resume=resume, overwrite=overwrite, compress=compress,
                        loop=loop)
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


async def open_off_loop(open_sink: Callable[[], FileSink | ShardSink],
                         control: JobControl) -> FileSink | ShardSink | None:
    """``open_sink()`` run on a thread of its own: opening a FIFO blocks until it has a
    reader, and the loop (signal handlers included) must go on meanwhile. None when the job
    was stopped first; the thread is then left behind (a daemon), and a sink it opens later
    is dropped."""
    if control.stopped:
        return None
    loop = asyncio.get_running_loop()
    opened: asyncio.Future[FileSink | ShardSink] = loop.create_future()
    stopped: asyncio.Future[None] = loop.create_future()

    def settle(sink: FileSink | ShardSink | None, exc: BaseException | None) -> None:
        if opened.done():  # abandoned
            if sink is not None:
                sink.discard()
        elif exc is not None:
            opened.set_exception(exc)
        else:
            opened.set_result(sink)  # type: ignore[arg-type]

    def run() -> None:
        sink: FileSink | ShardSink | None = None
        error: BaseException | None = None
        try:
            sink = open_sink()
        except BaseException as exc:  # handed to the loop
            error = exc
        try:
            loop.call_soon_threadsafe(settle, sink, error)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            if sink is not None:
                with contextlib.suppress(Exception):
                    sink.discard()

    def on_stop(first: bool, grace: float) -> None:
        if not stopped.done():
            stopped.set_result(None)

    control._on_stop = on_stop
    threading.Thread(target=run, name="adgate-async-open", daemon=True).start()
    try:
        await asyncio.wait((opened, stopped), return_when=asyncio.FIRST_COMPLETED)
    finally:
        control._on_stop = None
        if not opened.done():
            opened.cancel()  # a sink that arrives later is discarded by settle()
    return None if opened.cancelled() else opened.result()
