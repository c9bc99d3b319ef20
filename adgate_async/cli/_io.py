"""The command's input and output, kept off the event loop.

A pipe or a terminal that stalls must not stall the loop (answers that already arrived would
then time out), so ids are read by a thread and lines written by another, each behind a
bounded queue. Lines are written whole: after a failed write to a regular file, the file is
cut back to the end of the last whole line.
"""

from __future__ import annotations

import asyncio
import os
import stat
import threading
from collections.abc import AsyncIterator, Iterator

from ..jobs._lines import (
    LineWriter,
    OutputError,
    escape_controls,
    is_regular,
    reason,
    same_file,
)

_BOM = b"\xef\xbb\xbf"

__all__ = ["IdReader", "LineWriter", "OutputError", "count_ids", "escape_controls",
           "is_regular", "reason", "same_file"]


def count_ids(path: str) -> int | None:
    """Ids in a regular file; None for anything else (a pipe can be read only once)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, "rb") as fh:
            return sum(1 for line in fh if line.removeprefix(_BOM).decode(
                "utf-8", "surrogateescape").strip())
    except OSError:
        return None


# ---------------------------------------------------------------------------- input


class IdReader:
    """Reads ids on a thread, one per line; iterate it (async) on the loop.

    A UTF-8 byte order mark at the start is dropped; lines that are empty or only
    whitespace are skipped and counted; any other line is an id, minus its line ending.
    Bytes that are not UTF-8 are kept as surrogates (the library rejects that id alone).
    """

    def __init__(self, fd: int | str, *, maxsize: int = 1024) -> None:
        # A path (a FIFO) is opened on the thread: that open waits for a writer, and the
        # loop (signal handlers included) must go on meanwhile.
        self._path = fd if isinstance(fd, str) else None
        self._fd = fd if isinstance(fd, int) else -1
        self._queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
        self._slots = threading.Semaphore(maxsize)
        self._loop = asyncio.get_running_loop()
        self._stopped = False
        self.skipped = 0
        self.taken = 0
        # A daemon thread: a read blocked on a pipe must not keep the process alive.
        self._thread = threading.Thread(target=self._run, name="adgate-async-reader",
                                        daemon=True)
        self._thread.start()

    def _hand_over(self, item: str | BaseException | None) -> bool:
        while not self._slots.acquire(timeout=0.5):
            if self._stopped:
                return False
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            return False
        return True

    def _lines(self) -> Iterator[bytes]:
        """The raw lines of the input, read with plain os.read: a buffered reader blocked
        on this thread would keep its lock at interpreter exit."""
        pending = b""
        while data := os.read(self._fd, 1 << 16):
            pending += data
            *lines, pending = pending.split(b"\n")
            yield from lines
        if pending:
            yield pending

    def _run(self) -> None:
        try:
            if self._path is not None:
                try:
                    self._fd = os.open(self._path, os.O_RDONLY)
                except OSError as exc:
                    self._hand_over(exc)
                    return
            self._read()
        finally:
            if self._path is not None and self._fd >= 0:
                os.close(self._fd)

    def _read(self) -> None:
        first = True
        try:
            for raw in self._lines():
                if first:
                    raw = raw.removeprefix(_BOM)
                    first = False
                line = raw.rstrip(b"\r").decode("utf-8", "surrogateescape")
                if not line.strip():
                    self.skipped += 1
                    continue
                if self._stopped or not self._hand_over(line):
                    return
        except OSError as exc:
            self._hand_over(exc)
            return
        self._hand_over(None)

    def stop(self) -> None:
        """Take no more ids: the iteration ends now, even while a read is blocked."""
        self._stopped = True
        self._queue.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[str]:
        while not self._stopped:
            item = await self._queue.get()
            if item is None or self._stopped:
                return
            self._slots.release()
            if isinstance(item, BaseException):
                raise item
            self.taken += 1
            yield item
