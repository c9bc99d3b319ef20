"""The exception tree, and the caps on what an error keeps.

Every exception the client raises on purpose derives from :class:`AdGateError`::

    AdGateError
    ├── InvalidParameterError (also a ValueError)   bad argument, raised before any request
    ├── APIStatusError                               any non-2xx answer
    │   ├── BadRequestError          400
    │   ├── BannedError              403 (alias PermissionDeniedError)
    │   │   ├── UserBannedError      403 + error.code USER_BANNED
    │   │   └── IPBannedError        403 + error.code IP_BANNED
    │   ├── NotFoundError            404
    │   ├── RateLimitError           429
    │   └── ServerError              5xx
    ├── TransportError                               connection failed, reset, body cut short
    │   ├── APITimeoutError          the request timed out
    │   └── ResponseTooLargeError    the body is over max_response_bytes
    └── DecodeError                                  a 2xx body that does not match the model

None of them ever holds the API key: URLs are stored with ``api_key=***``, and any text that
came from the server or from aiohttp is scrubbed (see :mod:`._redact`) before it is stored.
Every error is built whole: its request (method, redacted URL, attempt number) is given to
its constructor, and nothing is filled in afterwards.
None of them holds much either: ``message`` is at most ``MAX_ERROR_MESSAGE_CHARS`` characters
and a kept ``body`` at most ``MAX_ERROR_BODY_BYTES`` bytes (both in :mod:`._config`).
"""

from __future__ import annotations

import math
from typing import Any, Final

from multidict import CIMultiDict, CIMultiDictProxy

from ._config import MAX_ERROR_MESSAGE_CHARS

__all__ = [
    "APIStatusError",
    "APITimeoutError",
    "AdGateError",
    "BadRequestError",
    "BannedError",
    "DecodeError",
    "IPBannedError",
    "InvalidParameterError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseTooLargeError",
    "ServerError",
    "TransportError",
    "UserBannedError",
]

_EMPTY_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())


class AdGateError(Exception):
    """Base class of every error this package raises on purpose."""

    def __init__(self, message: str) -> None:
        message = clip_text(message)
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors do not survive the default Exception pickling; rebuild
        # from the instance dict instead (useful when results cross process boundaries).
        state = {
            k: CIMultiDict(v) if isinstance(v, CIMultiDictProxy) else v
            for k, v in self.__dict__.items()
        }
        return (_rebuild, (type(self), self.args, state))


def clip_text(text: str, limit: int = MAX_ERROR_MESSAGE_CHARS, total: int | None = None) -> str:
    """``text`` if it fits in ``limit`` characters, else its start and how long it was
    (``total``, when ``text`` is already a cut of a longer one)."""
    total = len(text) if total is None else total
    if total <= limit:
        return text
    note = f" [... cut, {total:,} characters in all]"
    return text[: max(0, limit - len(note))] + note


def _rebuild(cls: type[AdGateError], args: tuple[Any, ...], state: dict[str, Any]) -> AdGateError:
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(
        {k: CIMultiDictProxy(v) if isinstance(v, CIMultiDict) else v for k, v in state.items()}
    )
    return exc


class InvalidParameterError(AdGateError, ValueError):
    """An argument broke a documented rule; raised before any request is sent.

    ``param`` names the parameter. It is also a :class:`ValueError`.
    """

    def __init__(self, param: str, rule: str, value: object = None, *, show: bool = True) -> None:
        text = f"{param} {rule}"
        if show:
            text += f" (got {_describe(value)})"
        super().__init__(text)
        self.param = param
        self.rule = rule


# Ints up to this many bits (about 77 digits) are shown as they are; a longer one is
# described by its size (turning it into text can fail, and would print thousands of digits).
_SHOWN_INT_BITS: Final = 256
_SHOWN_CHARS: Final = 80


def _describe(value: object) -> str:
    """``value`` as an error may show it, whatever it is: never raises, never long."""
    kind = type(value).__name__
    if isinstance(value, int) and int(value).bit_length() > _SHOWN_INT_BITS:
        number = int(value)
        digits = int(math.log10(abs(number))) + 1  # math.log10 takes ints of any size
        return f"{'a negative' if number < 0 else 'an'} int of about {digits} digits"
    try:
        text = repr(value)
    except Exception:  # e.g. a container holding a huge int, or a broken __repr__
        return f"a {kind} that cannot be shown"
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 3] + "..."
    return f"{text}: {kind}"


class _RequestError(AdGateError):
    """An error tied to one request: carries its method, redacted URL and attempt count."""

    def __init__(self, message: str, *, method: str, url: str, attempts: int = 1) -> None:
        super().__init__(message)
        self.method = method
        #: The request URL with the API key replaced by ``***``.
        self.url = url
        #: How many attempts were made before this error was raised.
        self.attempts = attempts

    def _suffix(self) -> str:
        tail = f" [{self.method} {self.url}"
        if self.attempts > 1:
            tail += f", {self.attempts} attempts"
        return tail + "]"

    def __str__(self) -> str:
        return self.message + self._suffix()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class APIStatusError(_RequestError):
    """The server answered with a non-2xx status.

    Attributes: ``status``, ``code`` and ``message`` (from the body, when present),
    ``support_id`` (quote it to the vendor's support), ``retry_after`` (seconds, from the
    ``Retry-After`` header), ``headers`` and the raw ``body``.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        support_id: int | None = None,
        retry_after: float | None = None,
        method: str,
        url: str,
        headers: CIMultiDictProxy[str] = _EMPTY_HEADERS,
        body: bytes = b"",
        attempts: int = 1,
    ) -> None:
        super().__init__(message, method=method, url=url, attempts=attempts)
        self.status = status
        self.code = code
        self.support_id = support_id
        self.retry_after = retry_after
        self.headers = headers
        self.body = body

    def __str__(self) -> str:
        text = f"HTTP {self.status}"
        if self.code:
            text += f" {self.code}"
        if self.message:
            text += f": {self.message}"
        if self.support_id is not None:
            text += f" (support_id={self.support_id})"
        if self.retry_after is not None:
            text += f" (Retry-After: {self.retry_after:g} s)"
        return text + self._suffix()


class BadRequestError(APIStatusError):
    """400: a parameter is missing or invalid. Never retried."""


class BannedError(APIStatusError):
    """403: forbidden. Never retried. The two subclasses name the kind of ban."""


PermissionDeniedError = BannedError


class UserBannedError(BannedError):
    """403 with ``error.code == "USER_BANNED"``: a definitive "do not serve this user"."""


class IPBannedError(BannedError):
    """403 with ``error.code == "IP_BANNED"``: the IP the request came from is banned."""


class NotFoundError(APIStatusError):
    """404: not found, or nothing eligible. Never retried."""


class RateLimitError(APIStatusError):
    """429: the server asked us to slow down and the retries ran out."""


class ServerError(APIStatusError):
    """5xx: a server fault that persisted through the retries."""


class TransportError(_RequestError):
    """The request did not get a complete answer: connection refused or reset, DNS failure,
    TLS failure, or a body cut short. Raised once the retries run out.

    ``retryable`` is False for faults that a retry cannot fix (a TLS certificate that does
    not verify, an invalid URL); those are raised at once.
    """

    def __init__(
        self, message: str, *, method: str, url: str, attempts: int = 1, retryable: bool = True
    ) -> None:
        super().__init__(message, method=method, url=url, attempts=attempts)
        self.retryable = retryable


class APITimeoutError(TransportError):
    """The request took longer than the session's ``timeout``."""


class ResponseTooLargeError(TransportError):
    """The body is larger than the session's ``max_response_bytes``; it was not read.
    Never retried. ``limit`` and ``size`` (the announced length, when known) say by how much.
    """

    def __init__(self, limit: int, size: int | None, *, method: str, url: str,
                 attempts: int = 1) -> None:
        told = f"{size:,} bytes announced" if size is not None else "no length announced"
        super().__init__(
            f"response body exceeds max_response_bytes={limit:,} ({told}); not read",
            method=method, url=url, attempts=attempts, retryable=False,
        )
        self.limit = limit
        self.size = size


class DecodeError(_RequestError):
    """A 2xx body that is not valid JSON or does not match the model.

    ``path`` is where in the document it went wrong (e.g. ``$.data[0].offer_id``), when known;
    ``body`` is the raw body and ``status`` the HTTP status. Never retried.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None,
        status: int,
        body: bytes,
        method: str,
        url: str,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, method=method, url=url, attempts=attempts)
        self.path = path
        self.status = status
        self.body = body
