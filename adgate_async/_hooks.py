"""The ``on_attempt`` hook: told of each HTTP attempt's end, for metrics.

It gets one small frozen :class:`AttemptInfo`: which endpoint, which attempt, how long it
took, the status or the error type, and why it may be retried. Never the key, the URL or
the user id (high-cardinality labels have no place in metrics anyway). It runs on the event
loop, right after the attempt, so it must be quick and must not block. Whatever it raises
(an ``Exception``) is caught: the call goes on as if there were no hook; the first such
failure of a session is logged at WARNING, later ones at DEBUG.
"""

from __future__ import annotations

import inspect
import logging
from typing import Final, Protocol

import msgspec

from . import _config
from ._errors import AdGateError, InvalidParameterError
from ._redact import Redactor, scrub_text
from ._retry import retry_reason

__all__ = ["AttemptHook", "AttemptInfo", "AttemptReporter", "check_on_attempt"]

_log: Final = logging.getLogger(_config.LOGGER_NAME)


class AttemptInfo(msgspec.Struct, frozen=True, gc=False):
    """The end of one HTTP attempt, as told to ``on_attempt``."""

    #: ``"history"`` (AdGate Get History) or ``"personalized"`` (RevU Get Personalized).
    endpoint: str
    #: 1 for the first attempt of a call, 2 for its first retry, ...
    attempt: int
    #: Seconds from sending the request to the whole body read, or to the failure.
    seconds: float
    #: The HTTP status of a whole answer (any status, 2xx included); None when the attempt
    #: failed before one (a timeout, a transport fault, a body over the size cap).
    status: int | None
    #: The class name of the error the attempt ended with (``"ServerError"``,
    #: ``"UserBannedError"``, ``"APITimeoutError"``, ``"TransportError"``, ...); None for a
    #: 2xx (a 2xx body that does not decode fails the call later, not the attempt).
    error: str | None
    #: Why the failure may be retried (``"http_503"``, ``"timeout"``, ``"transport"``, as in
    #: ``stats.retries_by_reason``); None for a success or a failure never retried (a ban,
    #: a 4xx). Whether a retry does follow depends on the retries left: if it does, the next
    #: attempt of the call reports ``attempt + 1``.
    retry_reason: str | None


class AttemptHook(Protocol):
    """What ``on_attempt`` is: a plain (not async) callable taking an :class:`AttemptInfo`."""

    def __call__(self, info: AttemptInfo, /) -> object: ...


def check_on_attempt(hook: object) -> AttemptHook | None:
    """``on_attempt`` checked: None, or a plain callable (a coroutine function would never
    be awaited)."""
    if hook is None:
        return None
    if (not callable(hook) or inspect.iscoroutinefunction(hook)
            or inspect.iscoroutinefunction(type(hook).__call__)):
        raise InvalidParameterError(
            "on_attempt", "must be a plain (not async) callable taking an AttemptInfo, or None",
            hook,
        )
    return hook  # any callable; its return value is ignored


class AttemptReporter:
    """Calls one session's hook, catching and logging what it raises."""

    __slots__ = ("_hook", "_redactor", "_warned")

    def __init__(self, hook: AttemptHook, redactor: Redactor) -> None:
        self._hook = hook
        self._redactor = redactor
        self._warned = False

    def __call__(self, endpoint: str, attempt: int, seconds: float, status: int | None,
                 error: AdGateError | None) -> None:
        info = AttemptInfo(
            endpoint, attempt, seconds, status,
            None if error is None else type(error).__name__,
            None if error is None else retry_reason(error),
        )
        try:
            self._hook(info)
        except Exception as exc:
            text = scrub_text(self._redactor, f"{type(exc).__name__}: {exc}")
            if not self._warned:
                self._warned = True
                _log.warning("the on_attempt hook raised %s; ignored (and logged at DEBUG "
                             "from now on)", text)
            else:
                _log.debug("the on_attempt hook raised %s; ignored", text)
