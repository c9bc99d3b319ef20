"""Writing whole JSON lines to a file descriptor on a thread of its own.

A pipe or a terminal that stalls must not stall the event loop (answers that already arrived
would then time out), so lines are written by a thread behind a bounded queue. Lines are
written whole: after a failed write to a regular file, the file is cut back to the end of
the last whole line. ``GzipLineWriter`` compresses on the same thread.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import re
import stat
import threading
import zlib

#: Characters a terminal may act on: C0 (except newline), DEL, C1, and the bidi controls.
_TERMINAL_CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e"
                                "\u2066-\u2069]")


def escape_controls(text: str) -> str:
    """``text`` with every terminal control character shown as ``\\uXXXX`` (in JSON, the
    same string)."""
    return _TERMINAL_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def escape_line(line: bytes) -> bytes:
    """A JSON line made safe for a terminal: control characters inside its strings become
    ``\\uXXXX`` escapes (the same JSON value); the final newline stays."""
    text = line.decode("utf-8", "surrogateescape")
    return escape_controls(text).encode("utf-8", "surrogateescape")


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


class LineWriter:
    """Writes whole lines to a file descriptor on a thread, behind a bounded queue.

    ``await put(line)`` waits only when the queue is full: ``maxsize`` lines, or
    :attr:`MAX_BYTES` bytes (a 200-offer history is a line of ~350 KB; one line is always
    taken when the queue is empty). After a failed write, the error is kept (``failure``), a
    regular file is cut back to its last whole line, and every later line is dropped;
    ``written`` counts the lines fully written.
    """

    _CHUNK = 1 << 16
    #: Bytes queued at most in front of the writer's thread (besides the line being taken).
    MAX_BYTES = 16 << 20

    def __init__(self, fd: int, path: str, *, maxsize: int = 1024,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._fd = fd
        self._path = path
        self._max = maxsize
        self._lines: collections.deque[bytes | None] = collections.deque()
        self._queued = 0  # bytes in self._lines (changed under self._ready)
        self._ready = threading.Condition()
        self._space = asyncio.Event()
        self._loop = loop or asyncio.get_running_loop()
        self.written = 0
        self.failure: OutputError | None = None
        self._finished = False
        self._abandoned = False
        self._thread = threading.Thread(target=self._run, name="adgate-async-writer",
                                        daemon=True)
        self._thread.start()

    async def put(self, line: bytes) -> None:
        if self.failure is not None:
            raise self.failure
        while len(self._lines) >= self._max or (self._lines and self._queued >= self.MAX_BYTES):
            self._space.clear()
            await self._space.wait()
            if self.failure is not None:
                raise self.failure
        with self._ready:
            self._lines.append(line)
            self._queued += len(line)
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

    @property
    def finished(self) -> bool:
        """The thread has ended: nothing will be written to the descriptor any more."""
        return self._finished

    def abandon(self) -> None:
        """Give up on the lines still queued (the output stalled and the run must end): the
        thread writes nothing more once its current write returns, and ends."""
        self._abandoned = True
        with self._ready:
            self._lines.clear()
            self._queued = 0
            self._lines.append(None)
            self._ready.notify()

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
                    self._queued -= size
                self._wake()
                if chunk and self.failure is None and not self._abandoned:
                    self._write(chunk)
            if self.failure is None and not self._abandoned:
                self._finish()
        finally:
            self._finished = True
            self._wake()

    def _finish(self) -> None:
        """Called on the thread once every line is written (no failure so far)."""

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


class GzipLineWriter(LineWriter):
    """A LineWriter whose output is one gzip stream, compressed on the writer's thread.

    A gzip stream cut short (a killed run) cannot be resumed line by line, so a single
    ``.gz`` output is never resumed; sharded ``.gz`` parts are (each part is renamed into
    place only once whole).
    """

    def __init__(self, fd: int, path: str, *, maxsize: int = 1024, level: int = 6,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._zip = zlib.compressobj(level, zlib.DEFLATED, 31)  # 31: a gzip header
        super().__init__(fd, path, maxsize=maxsize, loop=loop)

    def _write(self, chunk: list[bytes]) -> None:
        self._send(self._zip.compress(b"".join(chunk)), len(chunk))

    def _finish(self) -> None:
        self._send(self._zip.flush(), 0)

    def _send(self, data: bytes, lines: int) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as exc:
            self.failure = OutputError(self._path, reason(exc), self.written,
                                       broken_pipe=isinstance(exc, BrokenPipeError))
            return
        self.written += lines
