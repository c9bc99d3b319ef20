"""Fail fast: stop a job when the service looks down instead of writing an error per user."""

from __future__ import annotations

from .. import APIStatusError, ResponseTooLargeError, TransportError, UserResult

#: Consecutive users failing with a transport error or a 5xx (after their retries) that
#: stop a job by default.
DEFAULT_FAIL_FAST = 50


def looks_down(result: UserResult) -> bool:
    """A failure that says the service (or the way to it) is down, not this user: a
    connection error or timeout, or a 5xx, each after its retries."""
    error = result.error
    if isinstance(error, TransportError):
        return not isinstance(error, ResponseTooLargeError)
    return isinstance(error, APIStatusError) and error.status >= 500


class FailFast:
    """Counts consecutive "service down" results; ``add`` says when to stop."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.streak = 0
        self.last: UserResult | None = None

    def add(self, result: UserResult) -> bool:
        if not looks_down(result):
            self.streak = 0
            return False
        self.streak += 1
        self.last = result
        return 0 < self.window <= self.streak

    def reason(self) -> str:
        error = self.last.error if self.last is not None else None
        last = f"; the last: {type(error).__name__}: {error.message}" if error else ""
        return (f"the service looks down: the last {self.streak} users all failed with "
                f"transport errors or 5xx after their retries{last}")
