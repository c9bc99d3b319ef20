"""``adgate-async bulk`` and ``demo``: a thin layer over :mod:`adgate_async.jobs`.

Ids are read by a thread (see ``_io``), lines written by another (the jobs' writer). SIGINT
and SIGTERM stop the run cleanly: no more ids are taken, answers already received are
written, requests in flight get a short grace (a second signal ends it), and the summary is
printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import stat
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .. import _config
from .._session import AsyncSession
from ..jobs import (
    DEFAULT_FAIL_FAST,
    EXIT_ERRORS,
    EXIT_FAIL_FAST,
    EXIT_OK,
    JobControl,
    JobSummary,
    SessionConfig,
    error_record,
    result_line,
    run_bulk_job_async,
)
from ._args import UsageError, session_and_config
from ._io import IdReader, count_ids, escape_controls, is_regular, reason, same_file

__all__ = ["Stopper", "Tally", "bulk", "demo", "error_record", "history_kwargs",
           "result_line", "script_demo_faults"]

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

Tally = JobSummary  # the older name of what the summary reports


class _Progress:
    """A tqdm bar when tqdm is installed and wanted; otherwise nothing at all.

    The run only records the counts (on the loop); the bar is drawn by a thread of its own,
    so a stderr that stalls (a terminal paused with Ctrl-S, ``2>&1 | less``) never stalls
    the loop.
    """

    INTERVAL = 0.2

    def __init__(self, total: int | None, enabled: bool) -> None:
        self._bar: Any = None
        self._counts = (0, 0)  # done, errors: replaced whole, read by the thread
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if not enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            print("adgate-async: install the 'cli' extra (tqdm) for a progress bar",
                  file=sys.stderr)
            return
        self._bar = tqdm(total=total, unit="user", file=sys.stderr, dynamic_ncols=True,
                         mininterval=self.INTERVAL, smoothing=0.1)
        self._bar.set_postfix_str("errors 0", refresh=False)
        self._thread = threading.Thread(target=self._draw, name="adgate-async-progress",
                                        daemon=True)
        self._thread.start()

    def __call__(self, done: int, total: int | None, errors: int) -> None:
        self._counts = (done, errors)

    def _draw(self) -> None:
        with contextlib.suppress(Exception):  # a bar that cannot be drawn is no error
            self._draw_until_closed()

    def _draw_until_closed(self) -> None:
        shown_errors = 0
        while True:
            last = self._stop.wait(self.INTERVAL)
            done, errors = self._counts
            if errors != shown_errors:
                shown_errors = errors
                self._bar.set_postfix_str(f"errors {errors}", refresh=False)
            if done != self._bar.n:
                self._bar.update(done - self._bar.n)
            if last:
                self._bar.close()
                return

    def close(self) -> None:
        """Draw the final counts and end the bar (waits for a stalled stderr, as the
        summary printed next would)."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()


# ------------------------------------------------------------------------------ run


def job_options(args: argparse.Namespace) -> dict[str, Any]:
    """The job's options from the bulk command line."""
    return {
        "resume": getattr(args, "resume", False),
        "overwrite": getattr(args, "overwrite", False),
        "format": getattr(args, "format", None),
        "compress": getattr(args, "compress", None),
        "shard_size": getattr(args, "shard_size", None),
        "fail_fast": getattr(args, "fail_fast", DEFAULT_FAIL_FAST),
        **({} if getattr(args, "retry_budget", False) is False
           else {"retry_budget": args.retry_budget}),
        "strict": getattr(args, "strict", False),
        "concurrency": args.concurrency,
        "ordered": args.ordered,
        "max_per_second": args.rate,
        "processes": getattr(args, "processes", 1),
        "dask": getattr(args, "dask", None),
    }


async def run_bulk(
    session: AsyncSession | SessionConfig,
    ids: Iterable[str] | IdReader,
    output: str | None,
    *,
    total: int | None,
    args: argparse.Namespace,
    history_kwargs: dict[str, Any],
    stopper: Stopper,
    overwrite: bool = False,
) -> JobSummary:
    """Run the job with a progress bar; SIGINT/SIGTERM stop it (see ``Stopper``)."""
    progress = _Progress(total, sys.stderr.isatty() if args.progress is None else args.progress)
    control = JobControl()

    def on_signal(first: bool) -> None:
        if first:
            if isinstance(ids, IdReader):
                ids.stop()  # wakes the batch even while a read is blocked
            in_flight = control.taken - control.users
            print(f"\nadgate-async: {stopper.name}: taking no more ids; waiting up to "
                  f"{STOP_GRACE:g} s for {in_flight} request(s) in flight (signal again "
                  "to stop at once)", file=sys.stderr)
        control.stop(grace=STOP_GRACE, exit_status=128 + (stopper.signum or 0))

    options = job_options(args)
    if overwrite:
        options["overwrite"] = True
    stopper.install(on_signal)
    try:
        return await run_bulk_job_async(
            session, ids, "/dev/null" if output is None else output, on_progress=progress,
            total=total, control=control, **options, **history_kwargs)
    finally:
        stopper.remove()
        progress.close()


def report(summary: JobSummary, stopper: Stopper, note: str = "") -> int:
    """Print the summary (and why the run stopped early); return the exit status."""
    if summary.broken_pipe:
        return EXIT_OK  # `adgate-async bulk ... | head`: the reader has all it wanted
    print(escape_controls(summary.line() + note), file=sys.stderr)
    if summary.stop_reason is not None and summary.exit_status != EXIT_FAIL_FAST:
        print(f"adgate-async: stopped: {escape_controls(summary.stop_reason)}; "
              f"{summary.users} users done; --resume continues the job", file=sys.stderr)
    elif summary.stop_reason is not None:
        print(f"adgate-async: stopped early (exit status {EXIT_FAIL_FAST}): "
              f"{escape_controls(summary.stop_reason)}; {summary.users} users done, "
              f"{summary.lines_written} lines written; --resume continues the job",
              file=sys.stderr)
    if stopper.signum is not None:
        print(f"adgate-async: stopped by {stopper.name}: {summary.users} users done, "
              f"{summary.lines_written} lines written; the rest of the input was not read",
              file=sys.stderr)
    if summary.output_error is not None:
        print(f"adgate-async: {escape_controls(summary.output_error)} (wrote "
              f"{summary.lines_written} lines; the results after them are lost)",
              file=sys.stderr)
    return summary.exit_status


# ------------------------------------------------------------------ files and pipes


def _open_input(path: str, stack: contextlib.ExitStack) -> tuple[int | str, int | None]:
    """The ids' file descriptor (or, for a FIFO, its path: the reader's thread opens it)
    and, for a regular file, how many ids it holds."""
    if path == "-":
        return 0, None
    with contextlib.suppress(OSError):
        if stat.S_ISFIFO(os.stat(path).st_mode):
            if not os.access(path, os.R_OK):
                raise UsageError(f"cannot read {path}: Permission denied")
            return path, None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {reason(exc)}") from None
    stack.callback(os.close, fd)
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        raise UsageError(f"cannot read {path}: Is a directory")
    return fd, count_ids(path)


def _check_output(path: str, input_fd: int | None) -> None:
    """Refuse an output that is the input file (its lines would be gone before they are
    read), before anything is opened for writing."""
    if input_fd is None:
        return
    name = "standard output" if path == "-" else path
    try:
        in_stat = os.fstat(input_fd)
        out_stat = os.fstat(1) if path == "-" else os.stat(path)
    except OSError:  # no such output yet: it cannot be the input
        return
    if is_regular(in_stat) and same_file(in_stat, out_stat):
        raise UsageError(f"the output {name} is the input file; write somewhere else")


async def bulk(args: argparse.Namespace, stopper: Stopper) -> int:
    kwargs = history_kwargs(args)
    session, config = session_and_config(args, need_adgate=True)
    with contextlib.ExitStack() as stack:
        in_fd, total = _open_input(args.file, stack)
        _check_output(args.output, in_fd if isinstance(in_fd, int) else None)
        if args.file == "-" and os.isatty(0):
            print("adgate-async: reading user ids from standard input, one per line "
                  "(end with Ctrl-D)", file=sys.stderr)
        reader = IdReader(in_fd)
        async with session:
            summary = await run_bulk(config if args.processes > 1 or args.dask else session, reader,
                                     args.output, total=total, args=args,
                                     history_kwargs=kwargs, stopper=stopper)
    note = f"  (skipped {reader.skipped} blank lines)" if reader.skipped else ""
    return report(summary, stopper, note)


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

    async with StandInServer(record=False) as server:
        script_demo_faults(server, args.users)
        concurrency = args.concurrency or _config.BULK_CONCURRENCY
        session = AsyncSession(
            aff_id=60000, api_key="demo-key", wall_code="demo", retry_backoff=0.01,
            retry_backoff_max=0.1, max_connections=max(concurrency, _config.MAX_CONNECTIONS),
            **server.session_urls(),
        )
        async with session:
            summary = await run_bulk(session, demo_ids(args.users), args.output,
                                     total=args.users, args=args, history_kwargs={},
                                     stopper=stopper, overwrite=True)
        stats = session.stats
    print(f"demo against the stand-in server at {server.url}", file=sys.stderr)
    status = report(summary, stopper)
    print(f"requests {stats.requests}  attempts {stats.attempts}  retries {stats.retries}  "
          f"bans {stats.bans}", file=sys.stderr)
    if status == EXIT_OK and summary.users != args.users:  # every user accounted for
        status = EXIT_ERRORS
    return status
