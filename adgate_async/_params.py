"""Generic argument checks (pure functions); each endpoint's own rules are in its module.

Every rule is checked before a request is sent, and a broken rule raises
:class:`InvalidParameterError` (a ``ValueError``) that names the parameter and the rule.
Values are never altered: they are either sent exactly as given (percent-encoded) or refused.
A number of any numeric type (an int or float subclass, numpy's int64 or float64) is sent as
the plain decimal text of its value; a bool is never taken for a number. Integers are bounded
(see :mod:`._config`), and an error never converts an unbounded int to text.
"""

from __future__ import annotations

import ipaddress
import math
import numbers
from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence
from urllib.parse import quote

import aiohttp
from yarl import URL

from . import _config
from ._errors import InvalidParameterError


def encode(name: str, value: str) -> str:
    """``value`` percent-encoded for a URL (every reserved character included)."""
    try:
        return quote(value, safe="")
    except UnicodeEncodeError:
        raise InvalidParameterError(name, "must be valid Unicode text", value) from None


def bool_text(value: bool) -> str:
    return "true" if value else "false"


def as_int(value: object) -> int | None:
    """``value`` as a plain int if it is an integer of any type (int, an int subclass,
    numpy's int64, ...), except a bool; else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return None
    return int(value)


def as_finite_float(value: object) -> float | None:
    """``value`` as a plain float if it is a real number (not a bool) that is finite as a
    float; else None (an int too large for a float included)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError, TypeError):
        return None
    return number if math.isfinite(number) else None


def check_int(name: str, value: object, low: int, high: int, rule: str) -> int:
    """``value`` as a plain int if it is an integer in ``low..high``; else the ``rule``."""
    number = as_int(value)
    if number is None or not low <= number <= high:
        raise InvalidParameterError(name, rule, value)
    return number


def check_positive_int(name: str, value: object, maximum: int = _config.INT64_MAX) -> int:
    return check_int(name, value, 1, maximum, f"must be a positive int, at most {maximum}")


def check_id_int(name: str, value: object) -> int:
    """A session's positive-int id (``aff_id``, ``wall_id``). A str given there is never
    shown: swapped arguments would put the API key in this very message."""
    if isinstance(value, str):
        rule = f"must be a positive int, at most {_config.INT64_MAX}"
        raise InvalidParameterError(
            name, f"{rule} (got a str of {len(value)} characters, not shown: it may be a "
            "credential given in the wrong place)", value, show=False,
        )
    return check_positive_int(name, value)


def check_nonempty_str(name: str, value: object, *, secret: bool = False) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidParameterError(name, "must be a non-empty str", value, show=not secret)
    return value


def check_non_negative(name: str, value: object, *, allow_zero: bool = True) -> float:
    number = as_finite_float(value)
    if number is None or number < 0 or (not allow_zero and number == 0):
        rule = "must be a finite number >= 0" if allow_zero else "must be a finite number > 0"
        raise InvalidParameterError(name, rule, value)
    return number


def check_max_retries(value: object) -> int:
    high = _config.MAX_RETRIES_MAX
    return check_int("max_retries", value, 0, high, f"must be an int in 0..{high}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(name: str, value: object, scrub: Callable[[str], str] = str) -> str:
    """A base URL: https, or http to a loopback host only; no query, fragment or credentials.

    Returned without a trailing slash, ready for a path to be appended. ``scrub`` redacts
    the value before an error shows it (a URL may carry a secret).
    """
    if not isinstance(value, str) or not value:
        raise InvalidParameterError(name, "must be a non-empty str URL", value)
    shown = scrub(value)
    if not value.isascii() or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidParameterError(
            name, "must be ASCII with no spaces or control characters (give an international "
            "host in its xn-- form, and percent-encode the path)", shown,
        )
    if "?" in value or "#" in value or "@" in value.split("/", 3)[2 if "//" in value else 0]:
        # Never shown, even scrubbed: a query or userinfo is where secrets live.
        raise InvalidParameterError(
            name, "must not carry a query, a fragment or credentials", show=False
        )
    try:
        url = URL(value)
    except (ValueError, TypeError):
        raise InvalidParameterError(name, "must be a valid URL", shown) from None
    if url.scheme not in ("https", "http") or not url.host:
        raise InvalidParameterError(name, "must be an absolute http(s) URL with a host", shown)
    if url.scheme == "http" and not _is_loopback(url.host):
        raise InvalidParameterError(
            name, "must use https (plain http is allowed only for a loopback host)", shown
        )
    if url.user or url.password:
        raise InvalidParameterError(
            name, "must not carry a query, a fragment or credentials", show=False
        )
    return value.rstrip("/")


# Header names whose values are never shown in an error (they tend to hold secrets).
_SECRET_HEADER_WORDS = ("auth", "key", "token", "cookie", "secret", "pass", "signature")
# An HTTP header name: a token (RFC 9110, section 5.6.2).
_TCHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def check_headers(value: object) -> dict[str, str]:
    """``headers=``: a mapping of str header names (HTTP tokens) to str values without CR,
    LF or NUL. A value is never shown when its name looks like it holds a secret."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidParameterError("headers", "must be a mapping of str to str, or None",
                                    value)
    checked: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not name or not _TCHARS.issuperset(name):
            # Not shown: a key given where a name belongs would be in this very message.
            raise InvalidParameterError(
                "headers", "names must be non-empty str HTTP tokens (letters, digits and "
                "!#$%&'*+-.^_`|~; no spaces, colons, CR, LF or NUL); the bad name is not shown",
                show=False)
        secret = any(word in name.lower() for word in _SECRET_HEADER_WORDS)
        if not isinstance(item, str) or any(c in item for c in "\r\n\0"):
            raise InvalidParameterError(
                "headers", f"value of {name!r} must be a str without CR, LF or NUL"
                + (" (not shown: the name says it may be a secret)" if secret else ""),
                item, show=not secret)
        checked[name] = item
    return checked


def check_proxy(value: object) -> str | None:
    """``proxy=``: an absolute http(s) URL of a proxy with a host, or None. It may carry
    credentials (``http://user:pass@host:port``), so no error ever shows it."""
    if value is None:
        return None
    rule = ("must be an http:// or https:// URL with a host and no query or fragment "
            "(not shown: it may carry credentials)")
    if not isinstance(value, str) or not value.isascii():
        raise InvalidParameterError("proxy", rule, show=False)
    try:
        url = URL(value)
    except (ValueError, TypeError):
        raise InvalidParameterError("proxy", rule, show=False) from None
    if (url.scheme not in ("http", "https") or not url.host or url.query_string
            or url.fragment or any(c.isspace() or ord(c) < 32 for c in value)):
        raise InvalidParameterError("proxy", rule, show=False)
    return value


# ------------------------------------------------------------- shared by the endpoints


def check_user_id(value: object, name: str = "user_id") -> str:
    """A publisher user id: a non-empty str of at most 255 bytes in UTF-8."""
    if not isinstance(value, str):
        raise InvalidParameterError(name, "must be a str", value)
    if not value:
        raise InvalidParameterError(name, "must not be empty", value)
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidParameterError(name, "must be valid Unicode text", value) from None
    if size > _config.USER_ID_MAX_BYTES:
        raise InvalidParameterError(
            name, f"must be at most {_config.USER_ID_MAX_BYTES} bytes in UTF-8 (is {size})",
            value,
        )
    return value


def number_text(name: str, value: object) -> str:
    """A number as plain decimal text: an integer exactly (``str(int(v))``), any other real
    as ``repr(float(v))``; never the repr of the value's own type (numpy's shows its type)."""
    number = as_finite_float(value)
    if number is None or math.copysign(1.0, number) < 0:  # -0.0 too
        raise InvalidParameterError(name, "must be a finite number >= 0 or None", value)
    integer = as_int(value)
    text = repr(number) if integer is None else str(integer)
    return encode(name, text)  # repr(1e20) is "1e+20": the "+" must be encoded


def text_param(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidParameterError(name, "must be a non-empty str or None", value)
    return encode(name, value)


def check_keywords(given: Iterable[str], allowed: frozenset[str], what: str) -> None:
    """Refuse an unknown keyword the way Python does (a TypeError naming it): options are
    taken as ``**options``, so nothing else would stop a misspelt one at run time."""
    for name in given:
        if name not in allowed:
            raise TypeError(
                f"got an unexpected keyword argument {name!r} "
                f"(the {what} options are: {', '.join(sorted(allowed))})"
            )


# ------------------------------------------------------------------------ batches


def check_batch(
    items: object,
    *,
    name: str,
    concurrency: object,
    max_per_second: object,
    on_progress: object,
    retry_budget: object,
    pool_size: int | None,
) -> tuple[int, float | None, float | None]:
    """The checks every batch makes before any request: ``(concurrency, rate, budget)``.

    ``items`` (called ``name``) must be an iterable or async iterable (not a str);
    ``concurrency`` (default ``min(16, pool_size)``) must fit in the connection pool.
    """
    if isinstance(items, str | bytes) or not isinstance(items, Iterable | AsyncIterable):
        raise InvalidParameterError(
            name, "must be an iterable or async iterable of str ids", items
        )
    if concurrency is None:
        concurrency = min(_config.BULK_CONCURRENCY, pool_size or _config.BULK_CONCURRENCY)
    if on_progress is not None and not callable(on_progress):
        raise InvalidParameterError("on_progress", "must be callable or None", on_progress)
    return (check_concurrency(concurrency, pool_size), check_rate(max_per_second),
            check_retry_budget(retry_budget))


def check_retry_budget(value: object) -> float | None:
    """``retry_budget``: None (no budget) or the share of retries a batch may add, 0..1."""
    if value is None:
        return None
    number = as_finite_float(value)
    if number is None or not 0.0 <= number <= 1.0:
        raise InvalidParameterError("retry_budget", "must be a number from 0 to 1, or None",
                                    value)
    return number


def check_stream(concurrency: int, *, buffer: object, ordered: object) -> int:
    """The extra checks of a streaming batch: the window (``buffer``, default
    ``4 * concurrency``), after checking ``ordered``."""
    if buffer is None:
        window = 4 * concurrency
    else:
        window = check_int(
            "buffer", buffer, concurrency, _config.BULK_BUFFER_MAX,
            f"must be an int from concurrency ({concurrency}) to {_config.BULK_BUFFER_MAX}",
        )
    if not isinstance(ordered, bool):
        raise InvalidParameterError("ordered", "must be a bool", ordered)
    return window


def check_concurrency(concurrency: object, pool_size: int | None) -> int:
    concurrency = check_positive_int("concurrency", concurrency, _config.BULK_CONCURRENCY_MAX)
    if pool_size is not None and concurrency > pool_size:
        raise InvalidParameterError(
            "concurrency",
            f"must not exceed the connection pool size ({pool_size}); lower it or create "
            "the session with a larger max_connections",
            concurrency,
        )
    return concurrency


def check_rate(max_per_second: object) -> float | None:
    """None, or a finite rate of at least ``MIN_PER_SECOND`` (so that the interval between
    two starts is finite: a rate of 5e-324 would wait forever)."""
    if max_per_second is None:
        return None
    rate = check_non_negative("max_per_second", max_per_second, allow_zero=False)
    floor = _config.MIN_PER_SECOND
    if rate < floor:  # at or above the floor, the interval (at most 1 / floor) is finite
        raise InvalidParameterError(
            "max_per_second",
            f"must be at least {floor} (one user per {1 / floor:.0f} s), or None for no limit",
            rate,
        )
    return rate


def check_trace_configs(value: object, session: object) -> list[aiohttp.TraceConfig] | None:
    """``trace_configs`` checked: None, or a sequence of ``aiohttp.TraceConfig`` for
    the session's own pool (refused with a caller's ``session=``: those go on that one)."""
    if value is None:
        return None
    if session is not None:
        raise InvalidParameterError(
            "trace_configs", "cannot be given with session= (set them on that "
            "aiohttp.ClientSession: trace_configs=[...])", value, show=False,
        )
    rule = "must be a sequence (a list, a tuple) of aiohttp.TraceConfig, or None"
    if not isinstance(value, Sequence):
        raise InvalidParameterError("trace_configs", rule, value)
    for i, item in enumerate(value):
        if not isinstance(item, aiohttp.TraceConfig):
            raise InvalidParameterError("trace_configs", f"{rule}; bad item at index {i}", item)
    return list(value)
