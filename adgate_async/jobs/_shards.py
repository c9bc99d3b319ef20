"""A job's output as a directory of parts: ``part-00000.jsonl`` (``.jsonl.gz``, ``.parquet``).

Part ``k`` holds the users at input positions ``k * shard_size`` to ``(k + 1) * shard_size
- 1``. It is written as ``.part-k.<ext>.tmp``, flushed to disk (fsync) and renamed into
place only once every user of its range has a result, so a part that exists is whole. When
every part is in place, ``_SUCCESS`` is written. ``_job.json`` records the layout (format,
compression, shard size) so that a resume with another layout is refused. Resume skips the
parts that exist and redoes the others from their start (a leftover ``.tmp`` is deleted).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import re
from typing import IO, Any, Protocol

from .. import UserResult
from ._errors import JobSetupError
from ._lines import OutputError, reason
from ._records import result_line
from ._store import EarlyWriteback, LocalStore, store_for

DEFAULT_SHARD_SIZE = 100_000
MANIFEST = "_job.json"
SUCCESS = "_SUCCESS"
_OURS = re.compile(r"(\.?part-\d{5,}\.(jsonl|jsonl\.gz|parquet)(\.\d+)?(\.tmp)?"
                   r"|_SUCCESS|_job\.json)")


class PartWriter(Protocol):
    def write(self, position: int, result: UserResult) -> None: ...
    def close(self) -> None: ...  # flushed, made durable and closed


class _JsonlPart:
    def __init__(self, store: LocalStore, name: str, gz: bool) -> None:
        self._store = store
        self._raw = store.open_write(name)
        self._out: IO[bytes] | gzip.GzipFile = self._raw
        if gz:
            self._out = gzip.GzipFile(fileobj=self._raw, mode="wb", mtime=0)
        self._writeback = EarlyWriteback(self._raw)

    def write(self, position: int, result: UserResult) -> None:
        line = result_line(result, position)
        self._out.write(line)
        self._writeback.wrote(len(line))  # counted before compression: a trigger only

    def close(self) -> None:
        try:
            if self._out is not self._raw:
                self._out.close()
        finally:
            try:
                self._writeback.wait()
            finally:
                self._store.finish(self._raw)


def new_part(store: LocalStore, name: str, fmt: str, gz: bool) -> PartWriter:
    """A part written to ``name`` in ``store``."""
    if fmt == "parquet":
        from ._parquet import ParquetPart

        return ParquetPart(store, name)
    return _JsonlPart(store, name, gz)


def part_name(shard: int, ext: str) -> str:
    return f"part-{shard:05d}.{ext}"


def tmp_name(shard: int, ext: str, tag: str = "") -> str:
    """The temporary name of a part (``tag``: one per writer, where several may write it)."""
    return f".part-{shard:05d}.{ext}{tag}.tmp"


class ShardSink:
    """Results routed to the part of their input position."""

    def __init__(self, directory: str, *, resume: bool, overwrite: bool, fmt: str,
                 compress: str | None, shard_size: int) -> None:
        self.dir = directory
        self.store = store_for(directory)
        self.fmt = fmt
        self.gz = compress == "gzip"
        self.size = shard_size
        self.ext = "parquet" if fmt == "parquet" else "jsonl.gz" if self.gz else "jsonl"
        self.layout = {"format": fmt, "compress": compress, "shard_size": shard_size}
        self.written = 0
        self.shards_written = 0
        self.complete = False
        self._open: dict[int, PartWriter] = {}
        self._sealing: dict[asyncio.Task[None], int] = {}  # parts being closed and renamed
        self._failure: OutputError | None = None
        self._fed: dict[int, int] = {}
        self._got: dict[int, int] = {}
        self._fed_below = 0  # every shard below this one has had all its ids handed out
        self._count: int | None = None
        try:
            self._prepare(resume, overwrite)
        except OSError as exc:
            raise OutputError(directory, reason(exc)) from None
        self.shards_skipped = len(self.existing)

    # ----------------------------------------------------------------- set-up
    def name(self, shard: int) -> str:
        return part_name(shard, self.ext)

    def _tmp(self, shard: int) -> str:
        return tmp_name(shard, self.ext)

    def _prepare(self, resume: bool, overwrite: bool) -> None:
        store = self.store
        store.makedirs()
        entries = store.listdir()
        if resume and MANIFEST in entries:
            found = json.loads(store.read_text(MANIFEST))
            if found != self.layout:
                raise JobSetupError(f"cannot resume {self.dir}: it was written with "
                                    f"{found}, not {self.layout}")
        elif entries and not resume and not overwrite:
            raise JobSetupError(f"the output directory {self.dir} is not empty: --resume to "
                                "continue the job that wrote it, or --overwrite to start over "
                                "(it is left untouched)")
        elif resume and any(_OURS.fullmatch(e) for e in entries):
            raise JobSetupError(f"cannot resume {self.dir}: its {MANIFEST} is missing")
        for entry in entries:  # leftovers of a killed run, or everything on overwrite
            if _OURS.fullmatch(entry) and ((overwrite and not resume) or entry.endswith(".tmp")):
                store.remove(entry)
        pattern = re.compile(rf"part-(\d{{5,}})\.{re.escape(self.ext)}")
        self.existing = {int(m[1]) for e in store.listdir() if (m := pattern.fullmatch(e))}
        if not store.exists(MANIFEST):
            store.write_text(MANIFEST, json.dumps(self.layout))

    def where(self) -> dict[str, Any]:
        """What a worker needs to write a part here (picklable)."""
        return {"store": self.store, "ext": self.ext, "fmt": self.fmt, "gz": self.gz}

    # -------------------------------------------------------------- the run
    def is_done(self, position: int) -> bool:
        shard = position // self.size
        self._fed_below = shard
        return shard in self.existing

    def fed(self, position: int) -> None:
        shard = position // self.size
        self._fed[shard] = self._fed.get(shard, 0) + 1

    def input_ended(self, count: int) -> None:
        self._count = count
        self._fed_below = count // self.size + 1

    async def put(self, position: int, result: UserResult) -> None:
        if self._failure is not None:
            raise self._failure
        shard = position // self.size
        part = self._open.get(shard)
        try:
            if part is None:
                part = self._open[shard] = self._new_part(shard)
            part.write(position, result)
        except OSError as exc:
            raise OutputError(self.store.path(self._tmp(shard)), reason(exc),
                              self.written) from None
        self.written += 1
        self._got[shard] = self._got.get(shard, 0) + 1
        self._finish_ready()  # this part, or an earlier one the input has since moved past

    def _new_part(self, shard: int) -> PartWriter:
        return new_part(self.store, self._tmp(shard), self.fmt, self.gz)

    def _finish_ready(self) -> None:
        """Seal every part that has all its users, on a thread: syncing a large part to
        disk takes a while, and the job goes on meanwhile."""
        loop = asyncio.get_running_loop()
        for shard in sorted(self._open):
            if shard < self._fed_below and self._got[shard] == self._fed[shard]:
                part = self._open.pop(shard)
                task = loop.create_task(asyncio.to_thread(self._seal, shard, part))
                self._sealing[task] = shard
                task.add_done_callback(self._sealed)

    def _seal(self, shard: int, part: PartWriter) -> None:
        try:
            part.close()
            self.store.rename(self._tmp(shard), self.name(shard))
        except OSError as exc:
            raise OutputError(self.store.path(self.name(shard)), reason(exc),
                              self.written) from None

    def _sealed(self, task: asyncio.Task[None]) -> None:
        shard = self._sealing.pop(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            self.existing.add(shard)
            self.shards_written += 1
        elif self._failure is None:
            self._failure = exc if isinstance(exc, OutputError) else OutputError(
                self.store.path(self.name(shard)), repr(exc), self.written)

    def discard(self) -> None:
        """Drop a sink opened too late (the job had stopped while it was being opened)."""

    async def close(self, complete: bool) -> None:
        try:
            if complete:
                self._finish_ready()
            while self._sealing:  # whole parts: let them land
                await asyncio.wait(list(self._sealing))
        finally:
            for shard, part in self._open.items():  # unfinished: redone on resume
                discard(part, self.store, self._tmp(shard))
            self._open.clear()
        if self._failure is not None:
            raise self._failure
        if complete and self._count is not None:
            self._mark_success(self._count)

    def _mark_success(self, count: int) -> None:
        shards = -(-count // self.size)
        if not all(k in self.existing for k in range(shards)):
            return
        summary: dict[str, Any] = {"users": count, "parts": shards, **self.layout}
        try:
            self.store.write_text(SUCCESS, json.dumps(summary))
        except OSError as exc:
            raise OutputError(self.store.path(SUCCESS), reason(exc), self.written) from None
        self.complete = True


def discard(part: PartWriter, store: LocalStore, tmp: str) -> None:
    """Drop an unfinished part: closed, and its temporary file deleted."""
    with contextlib.suppress(Exception):  # a half part is deleted whatever went wrong
        part.close()
    with contextlib.suppress(OSError):
        store.remove(tmp)
