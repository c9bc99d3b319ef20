"""A job's outcome (``JobSummary``, the ``EXIT_*`` statuses) and its outside stop
(``JobControl``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

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


def exit_status_of(control: JobControl, *, output_error: bool, stop_reason: str | None,
                   strict: bool, errors: bool, died: bool = False) -> int:
    """A job's exit status, the first that applies: the output failed, a worker or part was
    lost, fail fast, an outside stop, strict with an error line, else success."""
    if output_error:
        return EXIT_OUTPUT
    if died:
        return EXIT_ERRORS
    if stop_reason is not None:
        return EXIT_FAIL_FAST
    if control.stopped:
        return control.exit_status
    return EXIT_ERRORS if strict and errors else EXIT_OK
