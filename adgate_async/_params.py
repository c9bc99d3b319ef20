"""Client-side validation and query building for both endpoints (pure functions).

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
from collections.abc import Callable, Iterable
from typing import Final
from urllib.parse import quote

from yarl import URL

from . import _config
from ._errors import InvalidParameterError


def _encode(name: str, value: str) -> str:
    try:
        return quote(value, safe="")
    except UnicodeEncodeError:
        raise invalid(name, "must be valid Unicode text", value) from None


def _bool(value: bool) -> str:
    return "true" if value else "false"


# ------------------------------------------------------------------------ constructor


def invalid(
    name: str, rule: str, value: object = None, *, show: bool = True
) -> InvalidParameterError:
    """The error for a broken rule, showing ``value`` only in a form that is safe to build:
    an int too long to print is described by its size, never converted to text."""
    note = _unshowable(value) if show else None
    if note is None:
        return InvalidParameterError(name, rule, value, show=show)
    error = InvalidParameterError(name, rule, show=False)
    error.message = f"{error.message} (got {note})"
    error.args = (error.message,)
    return error


def _unshowable(value: object) -> str | None:
    """How to describe a value whose repr is unsafe (None: its repr is fine)."""
    if isinstance(value, int) and int(value).bit_length() > _SHOWN_INT_BITS:
        number = int(value)
        digits = int(math.log10(abs(number))) + 1  # math.log10 takes ints of any size
        return f"{'a negative' if number < 0 else 'an'} int of about {digits} digits"
    try:
        repr(value)
    except Exception:  # e.g. a container holding a huge int
        return f"a {type(value).__name__} that cannot be shown"
    return None


# Ints up to this many bits (about 77 digits) are shown as they are.
_SHOWN_INT_BITS: Final = 256


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
        raise invalid(name, rule, value)
    return number


def check_positive_int(name: str, value: object, maximum: int = _config.INT64_MAX) -> int:
    return check_int(name, value, 1, maximum, f"must be a positive int, at most {maximum}")


def check_nonempty_str(name: str, value: object, *, secret: bool = False) -> str:
    if not isinstance(value, str) or not value:
        raise invalid(name, "must be a non-empty str", value, show=not secret)
    return value


def check_non_negative(name: str, value: object, *, allow_zero: bool = True) -> float:
    number = as_finite_float(value)
    if number is None or number < 0 or (not allow_zero and number == 0):
        rule = "must be a finite number >= 0" if allow_zero else "must be a finite number > 0"
        raise invalid(name, rule, value)
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
        raise invalid(name, "must be a non-empty str URL", value)
    shown = scrub(value)
    if not value.isascii() or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise invalid(
            name, "must be ASCII with no spaces or control characters (give an international "
            "host in its xn-- form, and percent-encode the path)", shown,
        )
    if "?" in value or "#" in value or "@" in value.split("/", 3)[2 if "//" in value else 0]:
        # Never shown, even scrubbed: a query or userinfo is where secrets live.
        raise invalid(
            name, "must not carry a query, a fragment or credentials", show=False
        )
    try:
        url = URL(value)
    except (ValueError, TypeError):
        raise invalid(name, "must be a valid URL", shown) from None
    if url.scheme not in ("https", "http") or not url.host:
        raise invalid(name, "must be an absolute http(s) URL with a host", shown)
    if url.scheme == "http" and not _is_loopback(url.host):
        raise invalid(
            name, "must use https (plain http is allowed only for a loopback host)", shown
        )
    if url.user or url.password:
        raise invalid(
            name, "must not carry a query, a fragment or credentials", show=False
        )
    return value.rstrip("/")


# --------------------------------------------------------------------- Get History


def check_user_id(value: object, name: str = "user_id") -> str:
    """A publisher user id: a non-empty str of at most 255 bytes in UTF-8."""
    if not isinstance(value, str):
        raise invalid(name, "must be a str", value)
    if not value:
        raise invalid(name, "must not be empty", value)
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise invalid(name, "must be valid Unicode text", value) from None
    if size > _config.USER_ID_MAX_BYTES:
        raise invalid(
            name, f"must be at most {_config.USER_ID_MAX_BYTES} bytes in UTF-8 (is {size})",
            value,
        )
    return value


def history_options(
    *,
    lang: str | None = None,
    continue_playing: bool | None = None,
    offer_ids: Iterable[int] | None = None,
) -> str:
    """The optional part of a history query, validated: ``""`` or ``"&lang=..&..."``.

    Built once per call (or once per batch), independent of the user id.
    """
    parts: list[str] = []
    if lang is not None:
        if not isinstance(lang, str) or not lang:
            raise invalid("lang", "must be a non-empty str or None", lang)
        parts.append("&lang=" + _encode("lang", lang))
    if continue_playing is not None:
        if not isinstance(continue_playing, bool):
            raise invalid("continue_playing", "must be a bool or None",
                                        continue_playing)
        parts.append("&continue_playing=" + _bool(continue_playing))
    if offer_ids is not None:
        parts.append("&offer_ids=" + _offer_ids(offer_ids))
    return "".join(parts)


def _offer_ids(offer_ids: object) -> str:
    rule = "must be an iterable of positive ints below 2**63 (e.g. [1477425, 148199]) or None"
    if isinstance(offer_ids, str | bytes) or not isinstance(offer_ids, Iterable):
        raise invalid("offer_ids", rule, offer_ids)
    items = list(offer_ids)
    if not items:
        raise invalid(
            "offer_ids", "must not be empty (pass None for no filter)", offer_ids
        )
    ids = [
        check_int("offer_ids", item, 1, _config.INT64_MAX, f"{rule}; bad item at index {i}")
        for i, item in enumerate(items)
    ]
    return ",".join(map(str, ids))


# ---------------------------------------------------------------- Get Personalized


def personalized_path(uid: object) -> str:
    """The path for one user: the uid percent-encoded as exactly one segment.

    ``/``, ``?`` and ``#`` are encoded; a uid of only dots (``.``, ``..``) has its dots
    encoded too, so no normaliser can read it as a relative step.
    """
    check_user_id(uid, "uid")
    assert isinstance(uid, str)
    if not uid.isascii():
        raise invalid("uid", "must be ASCII (the vendor takes ASCII user ids)", uid)
    segment = _encode("uid", uid)
    if segment.strip(".") == "":
        segment = segment.replace(".", "%2E")
    return _config.PERSONALIZED_PATH_PREFIX + segment + _config.PERSONALIZED_PATH_SUFFIX


def _number(name: str, value: object) -> str:
    """A number as plain decimal text: an integer exactly (``str(int(v))``), any other real
    as ``repr(float(v))``; never the repr of the value's own type (numpy's shows its type)."""
    number = as_finite_float(value)
    if number is None or math.copysign(1.0, number) < 0:  # -0.0 too
        raise invalid(name, "must be a finite number >= 0 or None", value)
    integer = as_int(value)
    text = repr(number) if integer is None else str(integer)
    return _encode(name, text)  # repr(1e20) is "1e+20": the "+" must be encoded


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise invalid(name, "must be a non-empty str or None", value)
    return _encode(name, value)


def personalized_query(
    *,
    numoffers: object,
    wall: object,
    sid3: object = None,
    device: object = None,
    ip: object = None,
    os_version: object = None,
    include_sortmetric: object = None,
    bid_floor: object = None,
    experiment_id: object = None,
) -> str:
    """The query string (without ``?``) for Get Personalized, validated."""
    numoffers = check_int(
        "numoffers", numoffers, _config.NUMOFFERS_MIN, _config.NUMOFFERS_MAX,
        f"must be an int in {_config.NUMOFFERS_MIN}..{_config.NUMOFFERS_MAX}",
    )
    if wall is None:
        raise invalid(
            "wall", "is required: pass wall=... or create the session with wall_id=...",
            show=False,
        )
    wall = check_positive_int("wall", wall)
    query = f"wall={wall}&numoffers={numoffers}"
    if sid3 is not None:
        query += "&sid3=" + _text("sid3", sid3)
    if device is not None:
        if not isinstance(device, str) or device not in _config.DEVICES:
            raise invalid(
                "device", "must be one of 'desktop', 'ios', 'android' ('mobile' is refused "
                "by the vendor)", device,
            )
        query += "&device=" + str(device)
    if ip is not None:
        if not isinstance(ip, str):
            raise invalid("ip", "must be an IPv4 address as a str", ip)
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            raise invalid(
                "ip", "must be a dotted-quad IPv4 address such as '203.0.113.7'", ip
            ) from None
        query += "&ip=" + ip
    if os_version is not None:
        query += "&os_version=" + _number("os_version", os_version)
    if include_sortmetric is not None:
        if not isinstance(include_sortmetric, bool):
            raise invalid(
                "include_sortmetric", "must be a bool or None", include_sortmetric
            )
        query += "&include_sortmetric=" + _bool(include_sortmetric)
    if bid_floor is not None:
        query += "&bid_floor=" + _number("bid_floor", bid_floor)
    if experiment_id is not None:
        query += "&experiment_id=" + _text("experiment_id", experiment_id)
    return query
