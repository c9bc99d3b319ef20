"""Turning a 2xx body into a model, and the raw response for callers who want the bytes."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Final, Generic, TypeVar, Unpack

import msgspec
from multidict import CIMultiDictProxy

from . import _drift
from ._config import MAX_ERROR_BODY_BYTES
from ._endpoints import history as _history
from ._endpoints import personalized as _personalized
from ._endpoints.history import HistoryOptions
from ._endpoints.personalized import PersonalizedOptions
from ._errors import DecodeError
from ._redact import Redactor, scrub_body, scrub_text
from ._transport import GET, Answer, Request
from .models.history import History
from .models.personalized import Personalized

T = TypeVar("T")

#: What a decoder can raise on a bad body: msgspec's own errors (ValidationError included),
#: a str field holding bytes that are not UTF-8, and nesting deeper than the C stack allows.
DECODE_FAILURES = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


_DEBUG: Final = logging.DEBUG
_TRAILING = re.compile(r"JSON is malformed: trailing characters \(byte (\d+)\)")
_WHITESPACE = b" \t\r\n"


def _failure_text(exc: BaseException, body: bytes, redactor: Redactor | None) -> str:
    """What went wrong decoding ``body``, in words (never the exception's type name)."""
    if isinstance(exc, UnicodeDecodeError):
        return f"a string is not valid UTF-8 (byte {exc.start})"
    if isinstance(exc, RecursionError):
        return "the document is nested too deeply"
    text = str(exc)
    trailing = _TRAILING.fullmatch(text)
    if trailing is not None:
        return _trailing_text(body, int(trailing.group(1)), redactor)
    return text


def _trailing_text(body: bytes, at: int, redactor: Redactor | None) -> str:
    """Say exactly what is wrong with a complete JSON document followed by other bytes.
    The excerpt of those bytes is redacted before it is cut (a key the cut would split is
    not shown in part) and before its ``repr`` (whose escapes would hide the key)."""
    # msgspec reports the position just past the first stray byte.
    start = at - 1 if 0 < at <= len(body) and body[at - 1] not in _WHITESPACE else at
    end = len(body[:start].rstrip(_WHITESPACE))
    excerpt = (body[start:start + 40] if redactor is None
               else redactor.data_excerpt(body, start, 40))
    return (f"JSON is malformed: a complete JSON document ends at byte {end}, followed by "
            f"{len(body) - end:,} more bytes that are not only whitespace "
            f"(from byte {start}: {excerpt!r})")


def decode_error_path(message: str) -> str | None:
    """The ``$.a[0].b`` path msgspec puts at the end of a validation message, if any."""
    marker = " - at `"
    at = message.rfind(marker)
    if at < 0 or not message.endswith("`"):
        return None
    return message[at + len(marker) : -1]


def decode_body(
    decoder: msgspec.json.Decoder[T],
    body: bytes,
    *,
    status: int,
    method: str,
    url: str,
    attempts: int,
    redactor: Redactor | None = None,
) -> T:
    """Decode ``body`` with ``decoder``; a mismatch raises our :class:`DecodeError`.
    At DEBUG, fields the model does not know are logged (see :mod:`._drift`)."""
    try:
        value = decoder.decode(body)
    except DECODE_FAILURES as exc:
        message = _failure_text(exc, body, redactor)
    else:
        if _drift.LOGGER.isEnabledFor(_DEBUG):
            _drift.check(decoder.type, body, str if redactor is None else redactor.text)
        return value
    # Raised outside the except block, so no msgspec exception is chained onto ours.
    raise _decode_error(f"response body does not match {decoder.type.__name__}: {message}",
                        decode_error_path(message), status, body, method, url, attempts,
                        redactor)


def _decode_error(message: str, path: str | None, status: int, body: bytes, method: str,
                  url: str, attempts: int, redactor: Redactor | None) -> DecodeError:
    """The error for a 2xx body that does not decode: message and body scrubbed of the key
    (when a redactor is given) and cut to their caps."""
    if redactor is not None:
        message, body = scrub_text(redactor, message), scrub_body(redactor, body)
        path = None if path is None else scrub_text(redactor, path)
    else:
        body = body[:MAX_ERROR_BODY_BYTES]
    return DecodeError(message, path=path, status=status, body=body, method=method, url=url,
                       attempts=attempts)


class RawResponse(Generic[T]):
    """The undecoded answer to one successful (2xx) call.

    Returned by ``session.with_raw_response.get_history(...)`` and
    ``...get_personalized(...)``: the status, headers and body bytes as received, ``json()``
    for an untyped view (every field, known to the models or not), and ``parse()`` for the
    model. Non-2xx answers still raise the typed errors, and retries still apply.
    """

    __slots__ = ("_decoder", "_redactor", "attempts", "content", "elapsed", "headers", "method",
                 "status", "url")

    def __init__(
        self,
        *,
        status: int,
        headers: CIMultiDictProxy[str],
        content: bytes,
        method: str,
        url: str,
        attempts: int,
        elapsed: float,
        decoder: msgspec.json.Decoder[T],
        redactor: Redactor | None = None,
    ) -> None:
        self.status = status
        self.headers = headers
        #: The body bytes as received (after content decoding such as gzip).
        self.content = content
        self.method = method
        #: The request URL with the API key replaced by ``***``.
        self.url = url
        #: Attempts it took, retries included.
        self.attempts = attempts
        #: Seconds the successful attempt took.
        self.elapsed = elapsed
        self._decoder = decoder
        self._redactor = redactor

    @classmethod
    def of(cls, answer: Answer, decoder: msgspec.json.Decoder[T],
           redactor: Redactor) -> RawResponse[T]:
        """The raw response for a 2xx answer (its headers scrubbed of the key)."""
        return cls(status=answer.status, headers=redactor.headers(answer.headers.items()),
                   content=answer.body, method=GET, url=answer.request.url,
                   attempts=answer.attempt, elapsed=answer.elapsed, decoder=decoder,
                   redactor=redactor)

    def json(self) -> Any:
        """The body as plain Python objects (dicts, lists, ...)."""
        try:
            return msgspec.json.decode(self.content)
        except DECODE_FAILURES as exc:
            message = _failure_text(exc, self.content, self._redactor)
        raise _decode_error(f"response body is not valid JSON: {message}", None, self.status,
                            self.content, self.method, self.url, self.attempts, self._redactor)

    def parse(self) -> T:
        """The body decoded into the model (raises :class:`DecodeError` on a mismatch)."""
        return decode_body(
            self._decoder, self.content, status=self.status, method=self.method, url=self.url,
            attempts=self.attempts, redactor=self._redactor,
        )

    def __repr__(self) -> str:
        return (f"<RawResponse {self.status} {self.method} {self.url} "
                f"({len(self.content)} bytes)>")


class RawResponseCalls:
    """``session.with_raw_response``: each call returns a :class:`RawResponse`.

    Built by the session with its own request builders, its decoders (lenient or strict)
    and ``raw(request, decoder)``, the call that sends a request (retries included) and
    keeps the answer undecoded.
    """

    __slots__ = ("_history", "_history_decoder", "_personalized", "_personalized_decoder",
                 "_raw")

    def __init__(
        self,
        raw: Callable[[Request, msgspec.json.Decoder[Any]], Awaitable[RawResponse[Any]]],
        history: Callable[[object, HistoryOptions], Request],
        personalized: Callable[[object, PersonalizedOptions], Request],
        history_decoder: msgspec.json.Decoder[History] = _history.DECODER,
        personalized_decoder: msgspec.json.Decoder[Personalized] = _personalized.DECODER,
    ) -> None:
        self._raw = raw
        self._history = history
        self._personalized = personalized
        self._history_decoder = history_decoder
        self._personalized_decoder = personalized_decoder

    async def get_history(
        self, user_id: str, **options: Unpack[HistoryOptions]
    ) -> RawResponse[History]:
        """Like :meth:`AsyncSession.get_history`, but undecoded."""
        return await self._raw(self._history(user_id, options), self._history_decoder)

    async def get_personalized(
        self, uid: str, **options: Unpack[PersonalizedOptions]
    ) -> RawResponse[Personalized]:
        """Like :meth:`AsyncSession.get_personalized`, but undecoded."""
        return await self._raw(self._personalized(uid, options), self._personalized_decoder)
