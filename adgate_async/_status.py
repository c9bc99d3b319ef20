"""A non-2xx answer turned into its typed error: the error body read field by field, the
status mapped to its class, and the ``Retry-After`` header read into seconds."""

from __future__ import annotations

import email.utils
import math
import time

import msgspec
from multidict import CIMultiDictProxy

from ._errors import (
    APIStatusError,
    BadRequestError,
    BannedError,
    IPBannedError,
    NotFoundError,
    RateLimitError,
    ServerError,
    UserBannedError,
)
from ._redact import Redactor, scrub_body, scrub_text
from ._retry import RETRY_STATUSES

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
    attempts: int = 1,
) -> APIStatusError:
    """Build the typed error for a non-2xx answer, whole: the body, message, code and headers
    are scrubbed of the key, the message and the kept body are cut to their caps, and a
    retryable status carries the wait its ``Retry-After`` asks for."""
    code, message, support_id = parse_error_body(body)
    retry_after = (parse_retry_after(headers.get("Retry-After"))
                   if status in RETRY_STATUSES else None)
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
        attempts=attempts,
    )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP-date.

    Returns None when the header is absent or unreadable (the backoff applies then),
    a date beyond what the platform's clock can represent included. A date in the past
    gives 0.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:  # not a valid HTTP-date (those are always GMT)
            return None
        stamp = when.timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    current = time.time() if now is None else now
    return max(0.0, stamp - current)
