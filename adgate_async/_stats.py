"""Counters kept by a session: plain numbers, updated in place, cheap to read at any time."""

from __future__ import annotations

from typing import Any

from ._errors import AdGateError


class SessionStats:
    """What a session has done so far. Read ``session.stats`` at any time; all counters
    are plain ints (and one float) updated in the event loop, so no lock is needed.

    - ``requests``: calls made (one per ``get_history``/``get_personalized``)
    - ``attempts``: HTTP attempts, retries included
    - ``successes`` / ``failures``: calls that returned / raised
    - ``retries`` and ``retries_by_reason`` (``"timeout"``, ``"transport"``, ``"http_503"``, ...)
    - ``retries_skipped``: retryable failures of a batch not retried because the batch's
      retry budget was spent (``retry_budget=``); each one is also a failure
    - ``seconds_slept``: time spent waiting between attempts
    - ``bans``: 403 answers with ``USER_BANNED`` or ``IP_BANNED``
    - ``decode_errors``: 2xx bodies that did not match the model
    - ``errors_by_type``: failed calls by exception class name
    """

    __slots__ = (
        "attempts",
        "bans",
        "decode_errors",
        "errors_by_type",
        "failures",
        "requests",
        "retries",
        "retries_by_reason",
        "retries_skipped",
        "seconds_slept",
        "successes",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.attempts = 0
        self.successes = 0
        self.failures = 0
        self.retries = 0
        self.retries_by_reason: dict[str, int] = {}
        self.retries_skipped = 0
        self.seconds_slept = 0.0
        self.bans = 0
        self.decode_errors = 0
        self.errors_by_type: dict[str, int] = {}

    def count_retry(self, reason: str, delay: float) -> None:
        self.retries += 1
        self.retries_by_reason[reason] = self.retries_by_reason.get(reason, 0) + 1
        self.seconds_slept += delay

    def count_skip(self) -> None:
        self.retries_skipped += 1

    def count_failure(self, error: AdGateError) -> None:
        self.failures += 1
        name = type(error).__name__
        self.errors_by_type[name] = self.errors_by_type.get(name, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        """A snapshot (copies of the dicts), e.g. for JSON output."""
        return {
            name: dict(value) if isinstance(value, dict) else value
            for name in self.__slots__
            for value in (getattr(self, name),)
        }

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items())
        return f"SessionStats({body})"
