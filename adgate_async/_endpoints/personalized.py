"""RevU Get Personalized: ``GET {revu}/api/v1/users/{uid}/personalized``, no key.

The user id is the one path segment; the options form the query. A batch checks its
options once and reuses the query for every user.
"""

from __future__ import annotations

import ipaddress
from typing import Final, NotRequired, Required, TypedDict, Unpack

from .. import _config
from .._errors import InvalidParameterError
from .._params import (
    bool_text,
    check_int,
    check_keywords,
    check_positive_int,
    check_user_id,
    encode,
    number_text,
    text_param,
)
from .._transport import Request
from ..models.personalized import PERSONALIZED_DECODER, PERSONALIZED_STRICT_DECODER

__all__ = ["DECODER", "STRICT_DECODER", "PersonalizedOptions", "PersonalizedURLs",
           "personalized_path", "personalized_query"]

#: The answer's decoders: lenient (the default) and strict (``AsyncSession(strict=True)``).
DECODER: Final = PERSONALIZED_DECODER
STRICT_DECODER: Final = PERSONALIZED_STRICT_DECODER


class PersonalizedOptions(TypedDict, total=False):
    """The options of Get Personalized: ``numoffers`` is required, the rest optional
    (None: not sent)."""

    #: How many offers to return, 1..500, best first.
    numoffers: Required[int]
    #: The offer wall id; default: the session's ``wall_id``.
    wall: NotRequired[int | None]
    #: A session/correlation token, put into each ``click_url`` and echoed on the postback.
    sid3: NotRequired[str | None]
    #: ``"desktop"``, ``"ios"`` or ``"android"``.
    device: NotRequired[str | None]
    #: The user's IPv4 address (dotted quad).
    ip: NotRequired[str | None]
    #: The device's OS version, e.g. ``17.1``.
    os_version: NotRequired[float | None]
    #: True: offers also carry ``sortmetric`` and ``conversion_rate``.
    include_sortmetric: NotRequired[bool | None]
    #: Drop offers whose reward is below this.
    bid_floor: NotRequired[float | None]
    #: An experiment id, echoed back in the response.
    experiment_id: NotRequired[str | None]


OPTION_NAMES: Final = frozenset(PersonalizedOptions.__required_keys__
                                | PersonalizedOptions.__optional_keys__)


def personalized_path(uid: object) -> str:
    """The path for one user: the uid percent-encoded as exactly one segment.

    ``/``, ``?`` and ``#`` are encoded; a uid of only dots (``.``, ``..``) has its dots
    encoded too, so no normaliser can read it as a relative step.
    """
    check_user_id(uid, "uid")
    assert isinstance(uid, str)
    if not uid.isascii():
        raise InvalidParameterError("uid", "must be ASCII (the vendor takes ASCII user ids)", uid)
    segment = encode("uid", uid)
    if segment.strip(".") == "":
        segment = segment.replace(".", "%2E")
    return _config.PERSONALIZED_PATH_PREFIX + segment + _config.PERSONALIZED_PATH_SUFFIX



def personalized_query(*, default_wall: int | None = None,
                       **options: Unpack[PersonalizedOptions]) -> str:
    """The query string (without ``?``) for Get Personalized, validated. ``wall`` falls
    back to ``default_wall`` (the session's ``wall_id``); an unknown option, or no
    ``numoffers``, is a TypeError."""
    check_keywords(options, OPTION_NAMES, "Get Personalized")
    if "numoffers" not in options:
        raise TypeError("missing required keyword argument: 'numoffers'")
    numoffers = check_int(
        "numoffers", options["numoffers"], _config.NUMOFFERS_MIN, _config.NUMOFFERS_MAX,
        f"must be an int in {_config.NUMOFFERS_MIN}..{_config.NUMOFFERS_MAX}",
    )
    wall = options.get("wall")
    if wall is None:
        wall = default_wall
    if wall is None:
        raise InvalidParameterError(
            "wall", "is required: pass wall=... or create the session with wall_id=...",
            show=False,
        )
    wall = check_positive_int("wall", wall)
    query = f"wall={wall}&numoffers={numoffers}"
    sid3 = options.get("sid3")
    if sid3 is not None:
        query += "&sid3=" + text_param("sid3", sid3)
    device = options.get("device")
    if device is not None:
        if not isinstance(device, str) or device not in _config.DEVICES:
            raise InvalidParameterError(
                "device", "must be one of 'desktop', 'ios', 'android' ('mobile' is refused "
                "by the vendor)", device,
            )
        query += "&device=" + str(device)
    ip = options.get("ip")
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
    os_version = options.get("os_version")
    if os_version is not None:
        query += "&os_version=" + number_text("os_version", os_version)
    include_sortmetric = options.get("include_sortmetric")
    if include_sortmetric is not None:
        if not isinstance(include_sortmetric, bool):
            raise InvalidParameterError(
                "include_sortmetric", "must be a bool or None", include_sortmetric
            )
        query += "&include_sortmetric=" + bool_text(include_sortmetric)
    bid_floor = options.get("bid_floor")
    if bid_floor is not None:
        query += "&bid_floor=" + number_text("bid_floor", bid_floor)
    experiment_id = options.get("experiment_id")
    if experiment_id is not None:
        query += "&experiment_id=" + text_param("experiment_id", experiment_id)
    return query


class PersonalizedURLs:
    """The URLs of one session's personalized calls (no key: the URL is its own redacted
    twin)."""

    __slots__ = ("_base",)

    def __init__(self, base_url: str) -> None:
        self._base = base_url

    def request(self, uid: object, query: str) -> Request:
        """The request for ``uid``; ``query`` comes from :func:`personalized_query`."""
        url = f"{self._base}{personalized_path(uid)}?{query}"
        return Request(url, endpoint="personalized")
