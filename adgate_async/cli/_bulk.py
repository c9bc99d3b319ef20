"""``adgate-async bulk`` and ``demo``: many users, JSON Lines out, a summary at the end.

Ids are read by a thread and lines written by another (see ``_io``). SIGINT and SIGTERM
stop the run cleanly: no more ids are taken, answers already received are written, requests
in flight get a short grace (a second signal ends it), and the summary is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import stat
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

import msgspec

from .. import _config
from .._errors import AdGateError, APIStatusError
from .._results import UserResult
from .._session import AsyncSession
from ._args import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_OUTPUT,
    UsageError,
    session_from,
)
from ._io import IdReader, LineWriter, OutputError, count_ids, is_regular, reason, same_file

_encoder = msgspec.json.Encoder()

#: Seconds a signalled run waits for the requests in flight before dropping them.
STOP_GRACE = 2.0


def history_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "lang": args.lang,
        "continue_playing": True if args.continue_playing else None,
        "offer_ids": args.offer_ids,
    }


class Stopper:
    """SIGINT and SIGTERM for one run: remembers the first signal, tells the run."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self.handler: Callable[[bool], None] | None = None  # argument: first signal?
        self._installed: list[int] = []

    def install(self, on_signal: Callable[[bool], None]) -> None:
        self.handler = on_signal
        loop = asyncio.get_running_loop()
        for signum in self.SIGNALS:
            try:
                loop.add_signal_handler(signum, self._fire, signum)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                continue
            self._installed.append(signum)

    def remove(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in self._installed:
            loop.remove_signal_handler(signum)
        self._installed.clear()

    def _fire(self, signum: int) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
        if self.handler is not None:
            self.handler(first)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""


# --------------------------------------------------------------------------- output


def error_record(error: AdGateError) -> dict[str, Any]:
    """The JSON shape of one user's error in the bulk output."""
    record: dict[str, Any] = {"type": type(error).__name__,
                              "status": getattr(error, "status", None), "code": None,
                              "message": error.message}
    if isinstance(error, APIStatusError):
        record.update(status=error.status, code=error.code, support_id=error.support_id)
    attempts = getattr(error, "attempts", None)
    if attempts is not None:
        record["attempts"] = attempts
    return record


def result_line(result: UserResult) -> bytes:
    if result.error is None:
        doc: dict[str, Any] = {"user_id": result.user_id, "history": result.history}
    else:
        doc = {"user_id": _printable(result.user_id), "error": error_record(result.error)}
    return _encoder.encode(doc) + b"\n"


def _printable(user_id: str) -> str:
    """An id read from bytes that were not UTF-8, with those bytes shown as ``\\xNN``."""
    if user_id.isascii():
        return user_id
    return user_id.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class Tally:
    """What the summary reports."""

    def __init__(self) -> None:
        self.users = 0
        self.ok = 0
        self.errors: Counter[str] = Counter()
        self.started = time.perf_counter()
        self.elapsed = 0.0
        self.output_error: OutputError | None = None

    def add(self, result: UserResult) -> None:
        self.users += 1
        if result.error is None:
            self.ok += 1
        else:
            self.errors[type(result.error).__name__] += 1

    def summary(self) -> str:
        rate = self.users / self.elapsed if self.elapsed > 0 else 0.0
        errors = ", ".join(f"{name} {n}" for name, n in self.errors.most_common()) or "none"
        return (f"users {self.users}  ok {self.ok}  errors {sum(self.errors.values())} "
                f"({errors})  elapsed {self.elapsed:.2f} s  users/s {rate:,.0f}")


class _Progress:
    """A tqdm bar when tqdm is installed and wanted; otherwise nothing at all."""

    def __init__(self, total: int | None, enabled: bool) -> None:
        self._bar: Any = None
        self._errors = 0
        if not enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            print("adgate-async: install the 'cli' extra (tqdm) for a progress bar",
                  file=sys.stderr)
            return
        self._bar = tqdm(total=total, unit="user", file=sys.stderr, dynamic_ncols=True,
                         mininterval=0.2, smoothing=0.1)
        self._bar.set_postfix_str("errors 0", refresh=False)

    def __call__(self, done: int, total: int | None, errors: int) -> None:
        if self._bar is None:
            return
        if errors != self._errors:
            self._errors = errors
            self._bar.set_postfix_str(f"errors {errors}", refresh=False)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


# ------------------------------------------------------------------------------ run


class _Feed:
    """The ids handed to the batch: stops at the first signal, counts what it handed out."""

    def __init__(self, ids: Iterable[str] | IdReader) -> None:
        self._ids = ids
        self.stopped = False
        self.taken = 0

    def stop(self) -> None:
        self.stopped = True
        if isinstance(self._ids, IdReader):
            self._ids.stop()  # wakes the batch even while a read is blocked

    async def __aiter__(self) -> AsyncIterator[str]:
        if isinstance(self._ids, IdReader):
            async for user_id in self._ids:
                if self.stopped:
                    return
                self.taken += 1
                yield user_id
        else:
            for user_id in self._ids:
                if self.stopped:
                    return
                self.taken += 1
                yield user_id


async def run_bulk(
    session: AsyncSession,
    ids: Iterable[str] | IdReader,
    writer: LineWriter | None,
    *,
    total: int | None,
    args: argparse.Namespace,
    history_kwargs: dict[str, Any],
    stopper: Stopper,
) -> Tally:
    """Fetch every id, write one JSON line per user; return the tally. Stops early on an
    output that cannot be written (``tally.output_error``) or on a signal (``stopper``)."""
    tally = Tally()
    progress = _Progress(total, sys.stderr.isatty() if args.progress is None else args.progress)
    feed = _Feed(ids)

    def on_progress(done: int, _total: int | None, errors: int) -> None:
        progress(done, total, errors)

    loop = asyncio.get_running_loop()
    deadline = asyncio.timeout(None)

    def on_signal(first: bool) -> None:
        if first:
            feed.stop()
            in_flight = feed.taken - tally.users
            deadline.reschedule(loop.time() + STOP_GRACE)
            print(f"\nadgate-async: {stopper.name}: taking no more ids; waiting up to "
                  f"{STOP_GRACE:g} s for {in_flight} request(s) in flight (signal again "
                  "to stop at once)", file=sys.stderr)
        else:
            deadline.reschedule(loop.time())

    stopper.install(on_signal)
    try:
        async with deadline, contextlib.aclosing(session.iter_users(
            feed, concurrency=args.concurrency, ordered=args.ordered,
            max_per_second=args.rate, on_progress=on_progress, **history_kwargs,
        )) as results:
            async for result in results:
                tally.add(result)
                if writer is not None:
                    await writer.put(result_line(result))
    except OutputError as exc:
        tally.output_error = exc
    except TimeoutError:
        if stopper.signum is None:
            raise
    finally:
        stopper.remove()
        progress.close()
    if writer is not None:
        try:
            await writer.close()
        except OutputError as exc:
            tally.output_error = exc
    tally.elapsed = time.perf_counter() - tally.started
    return tally


def report(tally: Tally, writer: LineWriter | None, stopper: Stopper, note: str = "") -> int:
    """Print the summary (and why the run stopped early); return the exit status."""
    if tally.output_error is not None and tally.output_error.broken_pipe:
        return EXIT_OK  # `adgate-async bulk ... | head`: the reader has all it wanted
    print(tally.summary() + note, file=sys.stderr)
    status = EXIT_OK if tally.users == tally.ok else EXIT_FAILED
    if stopper.signum is not None:
        print(f"adgate-async: stopped by {stopper.name}: {tally.users} users done"
              + (f", {writer.written} lines written" if writer is not None else "")
              + "; the rest of the input was not read", file=sys.stderr)
        status = 128 + stopper.signum
    if tally.output_error is not None:
        exc = tally.output_error
        print(f"adgate-async: {exc} (wrote {exc.written} lines; the results after them are "
              "lost)", file=sys.stderr)
        status = EXIT_OUTPUT
    return status


# ------------------------------------------------------------------ files and pipes


def _open_input(path: str, stack: contextlib.ExitStack) -> tuple[int, int | None]:
    """The ids' file descriptor and, for a regular file, how many ids it holds."""
    if path == "-":
        return 0, None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {reason(exc)}") from None
    stack.callback(os.close, fd)
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        raise UsageError(f"cannot read {path}: Is a directory")
    return fd, count_ids(path)


def _open_output(path: str | None, input_fd: int | None,
                 stack: contextlib.ExitStack) -> tuple[int, str] | None:
    """The output's file descriptor and name for messages; refuses the input file itself
    (its lines would be gone before they are read) before opening anything for writing."""
    if path is None:
        return None
    name = "standard output" if path == "-" else path
    if input_fd is not None:
        try:
            in_stat = os.fstat(input_fd)
            out_stat = os.fstat(1) if path == "-" else os.stat(path)
        except OSError:  # no such output yet: it cannot be the input
            out_stat = None
        if is_regular(in_stat) and out_stat is not None and same_file(in_stat, out_stat):
            raise UsageError(f"the output {name} is the input file; write somewhere else")
    if path == "-":
        sys.stdout.flush()
        return 1, name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    except OSError as exc:
        raise OutputError(path, reason(exc)) from None
    stack.callback(os.close, fd)
    return fd, name


async def bulk(args: argparse.Namespace, stopper: Stopper) -> int:
    kwargs = history_kwargs(args)
    session = session_from(args, need_adgate=True)
    with contextlib.ExitStack() as stack:
        in_fd, total = _open_input(args.file, stack)
        fd, name = _open_output(args.output, in_fd, stack) or (1, "")
        if args.file == "-" and os.isatty(in_fd):
            print("adgate-async: reading user ids from standard input, one per line "
                  "(end with Ctrl-D)", file=sys.stderr)
        writer = LineWriter(fd, name)
        reader = IdReader(in_fd)
        async with session:
            tally = await run_bulk(session, reader, writer, total=total, args=args,
                                   history_kwargs=kwargs, stopper=stopper)
    note = f"  (skipped {reader.skipped} blank lines)" if reader.skipped else ""
    return report(tally, writer, stopper, note)


# ------------------------------------------------------------------------------ demo


def demo_ids(users: int) -> Iterator[str]:
    return (f"demo-{i:07d}" for i in range(users))


def script_demo_faults(server: Any, users: int) -> None:
    """1 in 25 banned, 1 in 10 answering 500 once (then recovering), 1 in 97 unknown."""
    from ..testing import Answer

    ban = Answer.ban("USER_BANNED")
    missing = Answer.error(404, message="no such user")
    flaky = Answer.error(500)
    for i, user_id in enumerate(demo_ids(users)):
        if i % 25 == 7:
            server.always(user_id, ban)
        elif i % 97 == 5:
            server.always(user_id, missing)
        elif i % 10 == 3:
            server.script(user_id, flaky)


async def demo(args: argparse.Namespace, stopper: Stopper) -> int:
    from ..testing import StandInServer

    with contextlib.ExitStack() as stack:
        opened = _open_output(args.output, None, stack)
        async with StandInServer(record=False) as server:
            script_demo_faults(server, args.users)
            concurrency = args.concurrency or _config.BULK_CONCURRENCY
            session = AsyncSession(
                aff_id=60000, api_key="demo-key", wall_code="demo", retry_backoff=0.01,
                retry_backoff_max=0.1, max_connections=max(concurrency,
                                                           _config.MAX_CONNECTIONS),
                **server.session_urls(),
            )
            writer = LineWriter(*opened) if opened is not None else None
            async with session:
                tally = await run_bulk(session, demo_ids(args.users), writer,
                                       total=args.users, args=args, history_kwargs={},
                                       stopper=stopper)
            stats = session.stats
    print(f"demo against the stand-in server at {server.url}", file=sys.stderr)
    status = report(tally, writer, stopper)
    print(f"requests {stats.requests}  attempts {stats.attempts}  retries {stats.retries}  "
          f"bans {stats.bans}", file=sys.stderr)
    if status == EXIT_FAILED:  # the demo's errors are on purpose
        status = EXIT_OK if tally.users == args.users else EXIT_FAILED
    return status
