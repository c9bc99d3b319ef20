"""The command's input and output, kept off the event loop.

A pipe or a terminal that stalls must not stall the loop (answers that already arrived would
then time out), so ids are read by a thread and lines written by another, each behind a
bounded queue. Lines are written whole: after a failed write to a regular file, the file is
cut back to the end of the last whole line.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import re
import stat
import threading
from collections.abc import AsyncIterator, Iterator

_BOM = b"\xef\xbb\xbf"

#: Characters a terminal may act on: C0 (except newline), DEL, C1, and the bidi controls.
_TERMINAL_CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e"
                                "\u2066-\u2069]")


def escape_controls(text: str) -> str:
    """``text`` with every terminal control character shown as ``\\uXXXX`` (in JSON, the
    same string)."""
    return _TERMINAL_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class OutputError(Exception):
    """The output could not be opened or written (exit status 3)."""

    def __init__(self, path: str, reason: str, written: int = 0, *,
                 broken_pipe: bool = False) -> None:
        super().__init__(f"cannot write {path}: {reason}")
        self.written = written
        #: The reader of a pipe went away (``| head``): the run ends quietly.
        self.broken_pipe = broken_pipe


def reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def is_regular(st: os.stat_result | None) -> bool:
    return st is not None and stat.S_ISREG(st.st_mode)


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

    def __init__(self, fd: int, *, maxsize: int = 1024) -> None:
        self._fd = fd
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


# --------------------------------------------------------------------------- output


class LineWriter:
    """Writes whole lines to a file descriptor on a thread, behind a bounded queue.

    ``await put(line)`` waits only when the queue is full. After a failed write, the error is
    kept (``failure``), a regular file is cut back to its last whole line, and every later
    line is dropped; ``written`` counts the lines fully written.
    """

    _CHUNK = 1 << 16

    def __init__(self, fd: int, path: str, *, maxsize: int = 1024) -> None:
        self._fd = fd
        self._path = path
        self._max = maxsize
        self._lines: collections.deque[bytes | None] = collections.deque()
        self._ready = threading.Condition()
        self._space = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.written = 0
        self.failure: OutputError | None = None
        self._finished = False
        self._thread = threading.Thread(target=self._run, name="adgate-async-writer",
                                        daemon=True)
        self._thread.start()

    async def put(self, line: bytes) -> None:
        if self.failure is not None:
            raise self.failure
        while len(self._lines) >= self._max:
            self._space.clear()
            await self._space.wait()
            if self.failure is not None:
                raise self.failure
        with self._ready:
            self._lines.append(line)
            self._ready.notify()

    async def close(self) -> None:
        """Write everything queued, then stop the thread; raise the failure, if any."""
        with self._ready:
            self._lines.append(None)
            self._ready.notify()
        while not self._finished:
            self._space.clear()
            await self._space.wait()
        if self.failure is not None:
            raise self.failure

    def _wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed
            self._loop.call_soon_threadsafe(self._space.set)

    def _run(self) -> None:
        try:
            done = False
            while not done:
                with self._ready:
                    while not self._lines:
                        self._ready.wait()
                    chunk: list[bytes] = []
                    size = 0
                    while self._lines and size < self._CHUNK:
                        line = self._lines.popleft()
                        if line is None:
                            done = True
                            break
                        chunk.append(line)
                        size += len(line)
                self._wake()
                if chunk and self.failure is None:
                    self._write(chunk)
        finally:
            self._finished = True
            self._wake()

    def _write(self, chunk: list[bytes]) -> None:
        data = memoryview(b"".join(chunk))
        sent = 0
        try:
            while sent < len(data):
                sent += os.write(self._fd, data[sent:])
        except OSError as exc:
            # Keep the lines that went out whole; cut a regular file back to the last one.
            whole = lines = 0
            for line in chunk:
                if whole + len(line) > sent:
                    break
                whole += len(line)
                lines += 1
            self.written += lines
            if sent > whole:
                self._cut(sent - whole)
            self.failure = OutputError(self._path, reason(exc), self.written,
                                       broken_pipe=isinstance(exc, BrokenPipeError))
            return
        self.written += len(chunk)

    def _cut(self, partial: int) -> None:
        """Remove the last ``partial`` bytes (half a line) from a regular file. Measured
        from the end, so a file opened for appending keeps what it held before."""
        with contextlib.suppress(OSError):  # not a file that can be cut
            st = os.fstat(self._fd)
            if is_regular(st) and st.st_size >= partial:
                os.ftruncate(self._fd, st.st_size - partial)
