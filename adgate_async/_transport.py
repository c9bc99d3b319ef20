"""One HTTP attempt: a 2xx :class:`Answer`, or the typed error for what went wrong.

Every error leaves here whole, built with the request it belongs to (method, redacted URL,
attempt number): a transport fault, a timeout, a body over the size cap, or a non-2xx
status (mapped by :mod:`._status`). Nothing is added to an error afterwards. Retrying is
not done here (see :mod:`._retry`), and neither is decoding (see :mod:`._response`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Final

import aiohttp
from aiohttp.client_middlewares import ClientMiddlewareType
from multidict import CIMultiDictProxy
from yarl import URL

from . import _config
from ._deadline import Deadlines, no_limit
from ._errors import (
    AdGateError,
    APITimeoutError,
    IPBannedError,
    ResponseTooLargeError,
    TransportError,
    UserBannedError,
)
from ._hooks import AttemptReporter
from ._redact import Redactor, scrub_text
from ._stats import SessionStats
from ._status import error_for_status

__all__ = ["GET", "Answer", "Request", "Transport", "timeout_seconds"]

_log: Final = logging.getLogger(_config.LOGGER_NAME)
_DEBUG: Final = logging.DEBUG
GET: Final = "GET"
# Faults a retry cannot fix: raised at once as a non-retryable TransportError.
_PERMANENT_TRANSPORT_ERRORS: Final = (
    aiohttp.ClientSSLError,
    aiohttp.InvalidURL,
    aiohttp.ServerFingerprintMismatch,
)


# How aiohttp's parser reports bytes where no answer should start: after a complete answer
# (more than its Content-Length), or instead of one.
_EXTRA_BYTES_SIGNS: Final = ("Bad status line", "Data after `Connection: close`")


class Request:
    """What to send: the URL, never holding the key (``api_key=***`` where the endpoint
    needs one: the only form requests, errors, logs and raw responses ever show), the
    endpoint's name, and the client middlewares to send it with (for Get History, the one
    that puts the key in on the wire: see :mod:`._middleware`; None: the pool's own)."""

    __slots__ = ("endpoint", "middlewares", "url")

    method: Final = GET

    def __init__(self, url: str, *, endpoint: str,
                 middlewares: Sequence[ClientMiddlewareType] | None = None) -> None:
        self.url = url
        self.endpoint = endpoint
        self.middlewares = middlewares


class Answer:
    """A 2xx answer, as received: its status, headers and body bytes, the seconds the
    attempt took, and which attempt of which request it answers."""

    __slots__ = ("attempt", "body", "elapsed", "headers", "request", "status")

    def __init__(self, request: Request, attempt: int, status: int,
                 headers: CIMultiDictProxy[str], body: bytes, elapsed: float) -> None:
        self.request = request
        self.attempt = attempt
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed


class Transport:
    """Makes attempts through an aiohttp session, with the session's timeout, size cap and
    headers, counting attempts and bans in its stats.

    The total time limit of an attempt is kept by :mod:`._deadline` (one check for all the
    session's attempts, not one timer each); aiohttp keeps the other limits of the
    ``ClientTimeout``, if any."""

    __slots__ = ("_headers", "_limit", "_max_bytes", "_on_attempt", "_redactor", "_stats",
                 "_timeout", "_timeout_seconds")

    def __init__(
        self,
        *,
        timeout: aiohttp.ClientTimeout,
        timeout_seconds: float | None,
        max_response_bytes: int,
        headers: dict[str, str] | None,
        redactor: Redactor,
        stats: SessionStats,
        on_attempt: AttemptReporter | None = None,
    ) -> None:
        self._timeout = aiohttp.ClientTimeout(
            connect=timeout.connect, sock_read=timeout.sock_read,
            sock_connect=timeout.sock_connect, ceil_threshold=timeout.ceil_threshold,
        )  # the total is ours
        self._limit = no_limit if timeout.total is None else Deadlines(timeout.total).limit
        self._timeout_seconds = timeout_seconds
        self._max_bytes = max_response_bytes
        self._headers = headers  # None: the pool sends them already (it is ours)
        self._redactor = redactor
        self._stats = stats
        self._on_attempt = on_attempt  # None: no hook, no cost

    async def attempt(self, client: aiohttp.ClientSession, request: Request,
                      number: int) -> Answer:
        """Attempt ``number`` (1-based) of ``request``: the answer if 2xx, else raise."""
        self._stats.attempts += 1
        redacted = request.url
        started = time.perf_counter()
        error: AdGateError | None = None
        try:
            with self._limit():
                async with client.get(
                    URL(request.url, encoded=True),
                    allow_redirects=False,
                    timeout=self._timeout,
                    raise_for_status=False,
                    headers=self._headers,
                    middlewares=request.middlewares,
                ) as resp:
                    status = resp.status
                    headers = resp.headers
                    reason = resp.reason
                    length = resp.content_length
                    if (length is not None and length <= self._max_bytes
                            and "Content-Encoding" not in headers):
                        body = await resp.read()  # the common case: size known and fine
                    else:
                        body = await self._read_capped(resp, request, number)
        except ResponseTooLargeError as exc:
            error = exc
        except TimeoutError:
            error = APITimeoutError(
                f"request timed out after {self._timeout_seconds} s",
                method=GET, url=redacted, attempts=number,
            )
        except (aiohttp.ClientError, OSError) as exc:
            redactor = self._redactor
            error = TransportError(
                # Redacted and cut to the cap; an HTTP parse failure without the bytes dump.
                scrub_text(redactor, http_parse_message(exc.message, redactor)
                           if isinstance(exc, aiohttp.ClientResponseError)
                           else f"{type(exc).__name__}: {exc}"),
                method=GET, url=redacted, attempts=number,
                retryable=not isinstance(exc, _PERMANENT_TRANSPORT_ERRORS),
            )
        elapsed = time.perf_counter() - started
        if error is not None:
            if _log.isEnabledFor(_DEBUG):
                _log.debug("GET %s -> %s in %.1f ms (attempt %d)",
                           redacted, type(error).__name__, elapsed * 1e3, number)
            if self._on_attempt is not None:
                self._on_attempt(request.endpoint, number, elapsed, None, error)
            raise error
        if _log.isEnabledFor(_DEBUG):
            _log.debug("GET %s -> %d in %.1f ms (attempt %d)",
                       redacted, status, elapsed * 1e3, number)
        if 200 <= status < 300:
            if self._on_attempt is not None:
                self._on_attempt(request.endpoint, number, elapsed, status, None)
            return Answer(request, number, status, headers, body, elapsed)
        status_error = error_for_status(
            status=status, reason=reason, body=body, headers=headers, method=GET,
            url=redacted, redactor=self._redactor, attempts=number,
        )
        if isinstance(status_error, UserBannedError | IPBannedError):
            self._stats.bans += 1
        if self._on_attempt is not None:
            self._on_attempt(request.endpoint, number, elapsed, status, status_error)
        raise status_error

    async def _read_capped(self, resp: aiohttp.ClientResponse, request: Request,
                           number: int) -> bytes:
        """Read a body of unknown (or too large) size, stopping past the size cap."""
        limit = self._max_bytes
        length = resp.content_length
        if length is not None and length > limit:  # compressed or not: already too big
            raise ResponseTooLargeError(limit, length, method=GET, url=request.url,
                                        attempts=number)
        # Counted after decompression: a small gzip body can unpack to gigabytes.
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_any():
            size += len(chunk)
            if size > limit:
                raise ResponseTooLargeError(limit, None, method=GET, url=request.url,
                                            attempts=number)
            chunks.append(chunk)
        return b"".join(chunks)


def http_parse_message(message: str, redactor: Redactor) -> str:
    """What aiohttp's HTTP parser says went wrong, without the dump of the bytes it could
    not read: its description, then a short excerpt around the point it marks with ``^``.

    Seen, for example, when a server sends more bytes than its Content-Length announced:
    the parser reads the answer, fails on the extra bytes, and the answer is lost with them.
    """
    head, _, dump = message.partition("\n\n")
    text = "invalid HTTP from the server: " + " ".join(head.split()).rstrip(":")
    lines = dump.strip("\n").split("\n")
    if len(lines) >= 2 and "^" in lines[1]:
        start = max(0, lines[1].index("^") - 10)
        excerpt = redactor.excerpt(lines[0], start, 60).strip()
        if excerpt:
            text += f"; near where it failed: {excerpt}"
    if head.startswith(_EXTRA_BYTES_SIGNS):
        text += ("; the server sent more bytes than the Content-Length of its answer "
                 "(the answer is lost with them), or something that is not an HTTP answer")
    return redactor.text(text)


def timeout_seconds(timeout: aiohttp.ClientTimeout) -> float | None:
    """The time limit a ClientTimeout puts on an attempt, for messages: its total, else
    its shortest other limit (None: no limit at all)."""
    if timeout.total is not None:
        return timeout.total
    limits = [t for t in (timeout.connect, timeout.sock_connect, timeout.sock_read) if t]
    return min(limits) if limits else None
