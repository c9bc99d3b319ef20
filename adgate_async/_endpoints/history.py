"""AdGate Media Get History: ``GET {adgate}/v1/user-based-api/history`` with the key.

The API key travels in the query, so every URL has a redacted twin built alongside it;
both share one fixed prefix, built once per session, to which the user id and the
options are appended per call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final, TypedDict, Unpack
from urllib.parse import quote

from .. import _config
from .._errors import InvalidParameterError
from .._params import bool_text, check_int, check_keywords, check_user_id, encode
from .._transport import Request
from ..models.history import HISTORY_DECODER

__all__ = ["DECODER", "HistoryOptions", "HistoryURLs", "history_options"]

DECODER: Final = HISTORY_DECODER

# An id of 1 to 255 characters that ``quote(id, safe="")`` leaves as it is (URL-unreserved
# ASCII, one byte each): valid as it stands, sent without checking or quoting it again.
_PLAIN_ID: Final = re.compile(rf"[A-Za-z0-9_.~-]{{1,{_config.USER_ID_MAX_BYTES}}}").fullmatch


class HistoryOptions(TypedDict, total=False):
    """The options of Get History, each optional (None: not sent)."""

    #: The user's browser Accept-Language value, e.g. ``"en-US,en;q=0.9"``.
    lang: str | None
    #: True: ask for the "Continue playing" offers only.
    continue_playing: bool | None
    #: Only these offers (positive ints below 2**63; not empty).
    offer_ids: Iterable[int] | None


OPTION_NAMES: Final = frozenset(HistoryOptions.__optional_keys__)


def history_options(**options: Unpack[HistoryOptions]) -> str:
    """The optional part of a history query, validated: ``""`` or ``"&lang=..&..."``.

    Built once per call (or once per batch), independent of the user id. An unknown
    option is a TypeError naming it.
    """
    check_keywords(options, OPTION_NAMES, "Get History")
    parts: list[str] = []
    lang = options.get("lang")
    if lang is not None:
        if not isinstance(lang, str) or not lang:
            raise InvalidParameterError("lang", "must be a non-empty str or None", lang)
        parts.append("&lang=" + encode("lang", lang))
    continue_playing = options.get("continue_playing")
    if continue_playing is not None:
        if not isinstance(continue_playing, bool):
            raise InvalidParameterError("continue_playing", "must be a bool or None",
                                        continue_playing)
        parts.append("&continue_playing=" + bool_text(continue_playing))
    offer_ids = options.get("offer_ids")
    if offer_ids is not None:
        parts.append("&offer_ids=" + _offer_ids(offer_ids))
    return "".join(parts)


def _offer_ids(offer_ids: object) -> str:
    rule = "must be an iterable of positive ints below 2**63 (e.g. [1477425, 148199]) or None"
    if isinstance(offer_ids, str | bytes) or not isinstance(offer_ids, Iterable):
        raise InvalidParameterError("offer_ids", rule, offer_ids)
    try:
        items = list(offer_ids)
    except TypeError:  # claims to be iterable but is not (numpy's 0-d array)
        raise InvalidParameterError("offer_ids", rule, offer_ids) from None
    if not items:
        raise InvalidParameterError(
            "offer_ids", "must not be empty (pass None for no filter)", offer_ids
        )
    ids = [
        check_int("offer_ids", item, 1, _config.INT64_MAX, f"{rule}; bad item at index {i}")
        for i, item in enumerate(items)
    ]
    return ",".join(map(str, ids))


class HistoryURLs:
    """The URLs of one session's history calls. The fixed part (base URL, aff_id, key,
    wall_code) is built once, with the key and with ``***`` in its place."""

    __slots__ = ("_prefix", "_redacted")

    def __init__(self, base_url: str, *, aff_id: int, api_key: str, wall_code: str) -> None:
        fixed = (
            f"{base_url}{_config.HISTORY_PATH}?aff_id={aff_id}&api_key={{}}"
            f"&wall_code={quote(wall_code, safe='')}&user_id="
        )
        self._prefix = fixed.format(quote(api_key, safe=""))
        self._redacted = fixed.format(_config.REDACTED)

    def request(self, user_id: object, options: str) -> Request:
        """The request for ``user_id``; ``options`` comes from :func:`history_options`."""
        if type(user_id) is str and _PLAIN_ID(user_id):
            tail = user_id + options  # the common case, quoted or not the same text
        else:
            tail = quote(check_user_id(user_id), safe="") + options
        return Request(self._prefix + tail, self._redacted + tail)
