"""Turning a 2xx body into a model, and the raw response for callers who want the bytes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import msgspec
from multidict import CIMultiDictProxy

from ._errors import DecodeError, decode_error_path

T = TypeVar("T")

#: What a decoder can raise on a bad body: msgspec's own errors (ValidationError included),
#: a str field holding bytes that are not UTF-8, and nesting deeper than the C stack allows.
DECODE_FAILURES = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"a string is not valid UTF-8 (byte {exc.start})"
    if isinstance(exc, RecursionError):
        return "the document is nested too deeply"
    return str(exc)


def decode_body(
    decoder: msgspec.json.Decoder[T],
    body: bytes,
    *,
    status: int,
    method: str,
    url: str,
    attempts: int,
    scrub: Callable[[bytes], bytes] | None = None,
) -> T:
    """Decode ``body`` with ``decoder``; a mismatch raises our :class:`DecodeError` (holding
    the body passed through ``scrub``, which takes secrets out)."""
    try:
        return decoder.decode(body)
    except DECODE_FAILURES as exc:
        message = _describe(exc)
    # Raised outside the except block, so no msgspec exception is chained onto ours.
    raise DecodeError(
        f"response body does not match {decoder.type.__name__}: {message}",
        path=decode_error_path(message),
        status=status,
        body=body if scrub is None else scrub(body),
        method=method,
        url=url,
        attempts=attempts,
    )


class RawResponse(Generic[T]):
    """The undecoded answer to one successful (2xx) call.

    Returned by ``session.with_raw_response.get_history(...)`` and
    ``...get_personalized(...)``: the status, headers and body bytes as received, ``json()``
    for an untyped view (every field, known to the models or not), and ``parse()`` for the
    model. Non-2xx answers still raise the typed errors, and retries still apply.
    """

    __slots__ = ("_decoder", "_scrub", "attempts", "content", "elapsed", "headers", "method",
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
        scrub: Callable[[bytes], bytes] | None = None,
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
        self._scrub = scrub

    def json(self) -> Any:
        """The body as plain Python objects (dicts, lists, ...)."""
        try:
            return msgspec.json.decode(self.content)
        except DECODE_FAILURES as exc:
            message = _describe(exc)
        body = self.content if self._scrub is None else self._scrub(self.content)
        raise DecodeError(
            f"response body is not valid JSON: {message}", path=None, status=self.status,
            body=body, method=self.method, url=self.url, attempts=self.attempts,
        )

    def parse(self) -> T:
        """The body decoded into the model (raises :class:`DecodeError` on a mismatch)."""
        return decode_body(
            self._decoder, self.content, status=self.status, method=self.method, url=self.url,
            attempts=self.attempts, scrub=self._scrub,
        )

    def __repr__(self) -> str:
        return (f"<RawResponse {self.status} {self.method} {self.url} "
                f"({len(self.content)} bytes)>")
