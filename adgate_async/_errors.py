"""The exception tree, the status-to-exception mapping, and the caps on what an error keeps.

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
None of them holds much either: ``message`` is at most ``MAX_ERROR_MESSAGE_CHARS`` characters
and a kept ``body`` at most ``MAX_ERROR_BODY_BYTES`` bytes (both in :mod:`._config`).
"""

from __future__ import annotations

from typing import Any

import msgspec
from multidict import CIMultiDict, CIMultiDictProxy

from ._config import MAX_ERROR_BODY_BYTES, MAX_ERROR_MESSAGE_CHARS
from ._redact import Redactor

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
    "Redactor",
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


def scrub_text(redactor: Redactor, text: str, limit: int = MAX_ERROR_MESSAGE_CHARS) -> str:
    """``text`` without the key, cut to ``limit`` characters (only the part kept is
    scanned, plus enough to catch a spelling that starts inside it)."""
    window = text[: limit + redactor.longest]
    clean = redactor.text(window)
    if len(window) == len(text):
        return clip_text(clean, limit)
    return clip_text(clean, limit, total=len(text))


def scrub_body(redactor: Redactor, body: bytes, limit: int = MAX_ERROR_BODY_BYTES) -> bytes:
    """The first ``limit`` bytes of ``body``, without the key."""
    if len(body) <= limit:
        return redactor.data(body)
    return redactor.data(body[: limit + redactor.longest])[:limit]


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


def _describe(value: object) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text}: {type(value).__name__}"


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

    def __init__(self, limit: int, size: int | None, *, method: str = "GET", url: str = "",
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


# --------------------------------------------------------------------- status mapping

_BAN_CODES: dict[str, type[BannedError]] = {
    "USER_BANNED": UserBannedError,
    "IP_BANNED": IPBannedError,
}
_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    403: BannedError,
    404: NotFoundError,
    429: RateLimitError,
}


# A support id is a plain decimal number of at most this many digits; anything else is
# dropped (None) rather than trusted.
_SUPPORT_ID_DIGITS = 18
_SUPPORT_ID_LIMIT = 10**_SUPPORT_ID_DIGITS
# A code longer than this is not a code the client knows; it is kept cut to this length.
_CODE_CHARS = 100


def _as_support_id(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not value.is_integer():  # NaN and the infinities included
            return None
        value = int(value)
    if isinstance(value, int):
        return value if 0 <= value < _SUPPORT_ID_LIMIT else None
    if isinstance(value, str):
        # isdigit() alone also accepts "²", "①" and other digits int() refuses or misreads.
        text = value.strip()
        if 0 < len(text) <= _SUPPORT_ID_DIGITS and text.isascii() and text.isdigit():
            return int(text)
    return None


def _as_text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_error_body(body: bytes) -> tuple[str | None, str | None, int | None]:
    """``(code, message, support_id)`` from an error body; ``None`` for each part missing.

    Field by field: a part of an unexpected type or value is ignored on its own (becomes
    None), so a stray ``"status": 403`` or a list-valued message never hides a ban's
    ``error.code``. Never raises, whatever the bytes.
    """
    try:
        doc = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError, ValueError):
        return None, None, None
    if not isinstance(doc, dict):
        return None, None, None
    message = _as_text(doc.get("message"))
    support_id = _as_support_id(doc.get("support_id"))
    code: str | None = None
    detail = doc.get("error")
    if isinstance(detail, dict):
        code = _as_text(detail.get("code"))
        message = _as_text(detail.get("message")) or message
        if support_id is None:
            support_id = _as_support_id(detail.get("support_id"))
    elif isinstance(detail, str):
        message = message or _as_text(detail)
    return code, message, support_id


def error_for_status(
    *,
    status: int,
    reason: str | None,
    body: bytes,
    headers: CIMultiDictProxy[str],
    method: str,
    url: str,
    redactor: Redactor,
    retry_after: float | None = None,
) -> APIStatusError:
    """Build the typed error for a non-2xx answer: the body, message, code and headers are
    scrubbed of the key, and the message and the kept body are cut to their caps."""
    code, message, support_id = parse_error_body(body)
    if 300 <= status < 400:
        location = headers.get("Location")
        message = message or (f"unexpected redirect to {location}" if location else None)
    cls: type[APIStatusError]
    if status == 403 and code in _BAN_CODES:
        cls = _BAN_CODES[code]
    elif 500 <= status <= 599:
        cls = ServerError
    else:
        cls = _STATUS_CLASSES.get(status, APIStatusError)
    return cls(
        scrub_text(redactor, message or reason or "error"),
        status=status,
        code=None if code is None else scrub_text(redactor, code, _CODE_CHARS),
        support_id=support_id,
        retry_after=retry_after,
        method=method,
        url=url,
        headers=redactor.headers(headers.items()),
        body=scrub_body(redactor, body),
    )


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
    return redactor.text(text)


def decode_error_path(message: str) -> str | None:
    """The ``$.a[0].b`` path msgspec puts at the end of a validation message, if any."""
    marker = " - at `"
    at = message.rfind(marker)
    if at < 0 or not message.endswith("`"):
        return None
    return message[at + len(marker) : -1]
