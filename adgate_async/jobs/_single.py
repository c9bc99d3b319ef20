"""A job's output as one JSON Lines file (or standard output), and resuming it.

Resume reads the file back: every whole line's ``"index"`` goes into a :class:`DoneSet`, a
trailing partial line (a run killed mid-write) is cut off, and the rest of the job is
appended. A single ``.gz`` file is not resumable (a gzip stream cut short cannot be read to
its end); use sharded output with gzip parts for that.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys

import msgspec

from .. import UserResult
from ._done import DoneSet
from ._errors import JobSetupError
from ._lines import GzipLineWriter, LineWriter, OutputError, escape_line, reason
from ._records import result_line

#: Our own lines start with the index; anything else is parsed as JSON.
_INDEX_AT_START = re.compile(rb'\{"index":(\d+)[,}]')
_INDEX_AT_LINE_START = re.compile(rb'(?m)^\{"index":(\d+)[,}]')
_BLOCK = 1 << 20


class _Indexed(msgspec.Struct):
    index: int


_index_decoder = msgspec.json.Decoder(_Indexed)


def scan_done(path: str) -> tuple[DoneSet, int]:
    """The positions recorded in the JSON Lines file ``path``, and how many bytes of a
    trailing partial line were cut off it.

    Read in blocks of 1 MiB: our own lines start with ``{"index":N,`` (JSON never holds a
    raw newline inside a line), so one regular expression pass per block finds them all; a
    block with any other line is parsed line by line.
    """
    done = DoneSet()
    whole = 0  # bytes of whole lines
    number = 0  # whole lines so far
    with open(path, "rb") as fh:
        pending = b""
        while block := fh.read(_BLOCK):
            data = pending + block
            end = data.rfind(b"\n") + 1
            lines, pending = data[:end], data[end:]
            if not lines:
                continue
            found = [int(m) for m in _INDEX_AT_LINE_START.findall(lines)]
            count = lines.count(b"\n")
            if len(found) != count:
                found = [_index_of(line, number + i + 1, path)
                         for i, line in enumerate(lines.splitlines())]
            for position in found:
                done.add(position)
            number += count
            whole += end
    size = os.path.getsize(path)
    if size > whole:
        os.truncate(path, whole)  # a partial last line: the run stopped while writing it
    return done, size - whole


def _index_of(line: bytes, number: int, path: str) -> int:
    match = _INDEX_AT_START.match(line)
    if match is not None:
        return int(match[1])
    try:
        position = _index_decoder.decode(line).index
    except msgspec.DecodeError:
        raise JobSetupError(f"cannot resume: line {number} of {path} is not a result line "
                            'with an "index" (was it written by a bulk job?)') from None
    if position < 0:
        raise JobSetupError(f"cannot resume: line {number} of {path} has a negative index")
    return position


class FileSink:
    """Results as JSON lines appended to one file descriptor, written on a thread."""

    def __init__(self, output: str, *, resume: bool, overwrite: bool,
                 compress: str | None, loop: asyncio.AbstractEventLoop | None = None) -> None:
        gz = compress == "gzip" or (compress is None and output.endswith(".gz"))
        self.done = DoneSet()
        self.cut = 0
        self.shards_written = 0
        self.shards_skipped = 0
        self.complete = False
        if output == "-":
            if resume:
                raise JobSetupError("resume needs an output file or directory, not "
                                    "standard output")
            sys.stdout.flush()
            self._fd, name, self._own = 1, "standard output", False
        else:
            self._fd, name, self._own = self._open(output, resume, overwrite, gz), output, True
        # A terminal acts on control characters (DEL, C1, bidi overrides) that JSON keeps
        # raw: they are escaped there (the same JSON value); files and pipes get the bytes.
        self._terminal = not gz and os.isatty(self._fd)
        self._writer = (GzipLineWriter if gz else LineWriter)(self._fd, name, loop=loop)

    def _open(self, path: str, resume: bool, overwrite: bool, gz: bool) -> int:
        try:
            st: os.stat_result | None = os.stat(path)
        except OSError:
            st = None
        regular = st is not None and st.st_size > 0 and os.path.isfile(path)
        flags = os.O_WRONLY | os.O_CREAT
        if resume:
            if gz:
                raise JobSetupError(f"cannot resume a single gzip file ({path}): a gzip "
                                    "stream cut short cannot be read back; write sharded "
                                    "gzip parts to a directory to resume")
            if regular:
                self.done, self.cut = scan_done(path)
            flags |= os.O_APPEND
        elif regular and not overwrite:
            raise JobSetupError(f"the output {path} exists and is not empty: --resume to "
                                "continue the job that wrote it, or --overwrite to start over "
                                "(it is left untouched)")
        else:
            flags |= os.O_TRUNC
        try:
            return os.open(path, flags, 0o666)
        except OSError as exc:
            raise OutputError(path, reason(exc)) from None

    @property
    def written(self) -> int:
        return self._writer.written

    def is_done(self, position: int) -> bool:
        return position in self.done

    def fed(self, position: int) -> None:
        pass

    def input_ended(self, count: int) -> None:
        pass

    async def put(self, position: int, result: UserResult) -> None:
        line = result_line(result, position)
        await self._writer.put(escape_line(line) if self._terminal else line)

    async def close(self, complete: bool) -> None:
        """Write what is queued; if this is cancelled (a stalled output and a stopped run),
        the lines still queued are dropped."""
        try:
            await self._writer.close()
            self.complete = complete
        except BaseException:
            if not self._writer.finished:
                # Its thread may still be in a write to the descriptor: the descriptor stays
                # open (closing it could let a reused number receive that thread's bytes).
                self._writer.abandon()
                self._own = False
            raise
        finally:
            if self._own:
                os.close(self._fd)

    def discard(self) -> None:
        """Drop a sink opened too late (the job had stopped while it was being opened)."""
        self._writer.abandon()
        if self._own:
            os.close(self._fd)
