"""What the stand-in server answers with (:class:`Answer`, scripted per user or drawn from
the random faults) and what it records of each request (:class:`RecordedRequest`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from ._faults import Faults

__all__ = ["Answer", "Endpoint", "RecordedRequest", "fault_answer"]

Endpoint = Literal["history", "personalized"]


@dataclass(frozen=True)
class Answer:
    """One scripted answer. ``body=None`` means the normal generated document (for 2xx) or a
    standard error body (otherwise)."""

    status: int = 200
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Seconds to wait before answering (a long delay makes the client time out).
    delay: float = 0.0
    #: Drop the connection (TCP reset) instead of answering.
    reset: bool = False
    #: Send the headers and half the body, then drop the connection.
    truncate: bool = False
    #: With ``truncate``: wait this long after the half body before dropping the connection
    #: (a body that stalls; a long stall makes the client time out).
    stall: float = 0.0
    #: Send the body in four pieces, this many seconds apart (a slow but good answer).
    chunk_delay: float = 0.0
    #: With ``chunk_delay``: announce no length (chunked transfer encoding).
    chunked: bool = False

    @classmethod
    def ok(cls, *, delay: float = 0.0, body: bytes | None = None) -> Answer:
        return cls(delay=delay, body=body)

    @classmethod
    def error(
        cls,
        status: int,
        *,
        code: str | None = None,
        message: str | None = None,
        support_id: int | None = 4242,
        retry_after: str | float | None = None,
        body: bytes | None = None,
        delay: float = 0.0,
    ) -> Answer:
        """A non-2xx answer with the error body shape the vendors use."""
        if body is None:
            error: dict[str, Any] = {}
            if code is not None:
                error["code"] = code
            error["message"] = message or f"stand-in error {status}"
            doc: dict[str, Any] = {"status": "error", "error": error}
            if support_id is not None:
                doc["support_id"] = support_id
            body = msgspec.json.encode(doc)
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return cls(status=status, body=body, headers=headers, delay=delay)

    @classmethod
    def ban(cls, code: str = "USER_BANNED", *, support_id: int | None = 4242) -> Answer:
        """A 403 ban: ``USER_BANNED`` or ``IP_BANNED``."""
        return cls.error(403, code=code, message=f"{code.lower().replace('_', ' ')}",
                         support_id=support_id)

    @classmethod
    def drop(cls) -> Answer:
        """Reset the connection without an answer."""
        return cls(reset=True)

    @classmethod
    def truncated(cls) -> Answer:
        """Headers and half the body, then a dropped connection."""
        return cls(truncate=True)

    @classmethod
    def hang(cls, seconds: float = 3600.0) -> Answer:
        """Accept the request and answer only after ``seconds`` (an hour by default)."""
        return cls(delay=seconds)

    @classmethod
    def stalled(cls, seconds: float = 3600.0) -> Answer:
        """Headers and half the body, then nothing for ``seconds``, then a dropped
        connection."""
        return cls(truncate=True, stall=seconds)

    @classmethod
    def slow(cls, chunk_delay: float = 0.05, *, body: bytes | None = None,
             chunked: bool = False) -> Answer:
        """The normal answer, sent in four pieces ``chunk_delay`` seconds apart (with
        ``chunked``, without a Content-Length)."""
        return cls(chunk_delay=chunk_delay or 1e-9, body=body, chunked=chunked)


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received."""

    endpoint: Endpoint
    user_id: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    #: When it arrived, on the event loop's clock (``loop.time()``).
    time: float = 0.0
    #: The fault it was answered with: "scripted" for a scripted answer, a name from
    #: :data:`FAULT_NAMES` for a random one (see :class:`Faults`), None for a normal answer.
    fault: str | None = None


def fault_answer(faults: Faults, fault: str) -> Answer:
    if fault == "ban":
        return Answer.ban("USER_BANNED")
    if fault == "ip_ban":
        return Answer.ban("IP_BANNED")
    if fault == "error":
        return Answer.error(faults.error_status)
    if fault == "rate_limit":
        return Answer.error(429, retry_after=faults.retry_after)
    if fault == "reset":
        return Answer.drop()
    if fault == "truncate":
        return Answer.truncated()
    if fault == "timeout":
        return Answer.hang(faults.hang_seconds)
    if fault == "slow_body":
        return Answer.slow(faults.chunk_delay)
    raise AssertionError(f"unknown fault {fault!r}")
