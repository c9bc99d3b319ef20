"""Client-side validation and query building for both endpoints (pure functions).

Every rule is checked before a request is sent, and a broken rule raises
:class:`InvalidParameterError` (a ``ValueError``) that names the parameter and the rule.
Values are never altered: they are either sent exactly as given (percent-encoded) or refused.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Iterable
from urllib.parse import quote

from yarl import URL

from . import _config
from ._errors import InvalidParameterError


def _encode(name: str, value: str) -> str:
    try:
        return quote(value, safe="")
    except UnicodeEncodeError:
        raise InvalidParameterError(name, "must be valid Unicode text", value) from None


def _bool(value: bool) -> str:
    return "true" if value else "false"


# ------------------------------------------------------------------------ constructor


def check_positive_int(name: str, value: object) -> int:
    if type(value) is not int or value < 1:
        raise InvalidParameterError(name, "must be a positive int", value)
    return value


def check_nonempty_str(name: str, value: object, *, secret: bool = False) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidParameterError(name, "must be a non-empty str", value, show=not secret)
    return value


def _finite(value: object) -> bool:
    """A real number (not a bool) that is finite as a float."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def check_non_negative(name: str, value: object, *, allow_zero: bool = True) -> float:
    ok = _finite(value)
    if not ok or value < 0 or (not allow_zero and value == 0):  # type: ignore[operator]
        rule = "must be a finite number >= 0" if allow_zero else "must be a finite number > 0"
        raise InvalidParameterError(name, rule, value)
    return float(value)  # type: ignore[arg-type]


def check_max_retries(value: object) -> int:
    if type(value) is not int or value < 0:
        raise InvalidParameterError("max_retries", "must be an int >= 0", value)
    return value


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


# --------------------------------------------------------------------- Get History


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
            raise InvalidParameterError("lang", "must be a non-empty str or None", lang)
        parts.append("&lang=" + _encode("lang", lang))
    if continue_playing is not None:
        if not isinstance(continue_playing, bool):
            raise InvalidParameterError("continue_playing", "must be a bool or None",
                                        continue_playing)
        parts.append("&continue_playing=" + _bool(continue_playing))
    if offer_ids is not None:
        parts.append("&offer_ids=" + _offer_ids(offer_ids))
    return "".join(parts)


def _offer_ids(offer_ids: object) -> str:
    rule = "must be an iterable of positive ints below 2**63 (e.g. [1477425, 148199]) or None"
    if isinstance(offer_ids, str | bytes) or not isinstance(offer_ids, Iterable):
        raise InvalidParameterError("offer_ids", rule, offer_ids)
    items = list(offer_ids)
    if not items:
        raise InvalidParameterError(
            "offer_ids", "must not be empty (pass None for no filter)", offer_ids
        )
    for item in items:
        if type(item) is not int or not 1 <= item < 2**63:
            raise InvalidParameterError("offer_ids", rule + f"; bad item {item!r}", show=False)
    return ",".join(map(str, items))


# ---------------------------------------------------------------- Get Personalized


def personalized_path(uid: object) -> str:
    """The path for one user: the uid percent-encoded as exactly one segment.

    ``/``, ``?`` and ``#`` are encoded; a uid of only dots (``.``, ``..``) has its dots
    encoded too, so no normaliser can read it as a relative step.
    """
    check_user_id(uid, "uid")
    assert isinstance(uid, str)
    if not uid.isascii():
        raise InvalidParameterError("uid", "must be ASCII (the vendor takes ASCII user ids)", uid)
    segment = _encode("uid", uid)
    if segment.strip(".") == "":
        segment = segment.replace(".", "%2E")
    return _config.PERSONALIZED_PATH_PREFIX + segment + _config.PERSONALIZED_PATH_SUFFIX


def _number(name: str, value: object) -> str:
    if not _finite(value) or math.copysign(1.0, value) < 0:  # type: ignore[arg-type]  # -0.0 too
        raise InvalidParameterError(name, "must be a finite number >= 0 or None", value)
    return _encode(name, repr(value))  # repr(1e20) is "1e+20": the "+" must be encoded


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidParameterError(name, "must be a non-empty str or None", value)
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
    if type(numoffers) is not int or not (
        _config.NUMOFFERS_MIN <= numoffers <= _config.NUMOFFERS_MAX
    ):
        raise InvalidParameterError(
            "numoffers",
            f"must be an int in {_config.NUMOFFERS_MIN}..{_config.NUMOFFERS_MAX}", numoffers,
        )
    if wall is None:
        raise InvalidParameterError(
            "wall", "is required: pass wall=... or create the session with wall_id=...",
            show=False,
        )
    if type(wall) is not int or wall < 1:
        raise InvalidParameterError("wall", "must be a positive int", wall)
    query = f"wall={wall}&numoffers={numoffers}"
    if sid3 is not None:
        query += "&sid3=" + _text("sid3", sid3)
    if device is not None:
        if not isinstance(device, str) or device not in _config.DEVICES:
            raise InvalidParameterError(
                "device", "must be one of 'desktop', 'ios', 'android' ('mobile' is refused "
                "by the vendor)", device,
            )
        query += "&device=" + str(device)
    if ip is not None:
        if not isinstance(ip, str):
            raise InvalidParameterError("ip", "must be an IPv4 address as a str", ip)
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            raise InvalidParameterError(
                "ip", "must be a dotted-quad IPv4 address such as '203.0.113.7'", ip
            ) from None
        query += "&ip=" + ip
    if os_version is not None:
        query += "&os_version=" + _number("os_version", os_version)
    if include_sortmetric is not None:
        if not isinstance(include_sortmetric, bool):
            raise InvalidParameterError(
                "include_sortmetric", "must be a bool or None", include_sortmetric
            )
        query += "&include_sortmetric=" + _bool(include_sortmetric)
    if bid_floor is not None:
        query += "&bid_floor=" + _number("bid_floor", bid_floor)
    if experiment_id is not None:
        query += "&experiment_id=" + _text("experiment_id", experiment_id)
    return query
