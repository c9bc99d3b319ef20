"""AdGate Media Get History: ``GET {adgate}/v1/user-based-api/history`` with the key.

The API key travels in the query, but a request is made with the redacted URL
(``api_key=***``): the key is put in on the wire by the session's :class:`KeyMiddleware`,
out of sight of aiohttp's tracing (see :mod:`.._middleware`). The fixed prefix is built once
per session, in both forms; the user id and the options are appended per call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import islice
from typing import Final, TypedDict, Unpack
from urllib.parse import quote

import aiohttp

from .. import _config
from .._errors import InvalidParameterError
from .._middleware import KeyMiddleware, request_middlewares
from .._params import bool_text, check_int, check_keywords, check_user_id, encode
from .._transport import Request
from ..models.history import HISTORY_DECODER, HISTORY_STRICT_DECODER

__all__ = ["DECODER", "STRICT_DECODER", "HistoryOptions", "HistoryURLs", "history_options"]

#: The answer's decoders: lenient (the default) and strict (``AsyncSession(strict=True)``).
DECODER: Final = HISTORY_DECODER
STRICT_DECODER: Final = HISTORY_STRICT_DECODER

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
    try:  # read no further than the bound: an endless iterable is refused, not consumed
        items = list(islice(offer_ids, _config.OFFER_IDS_MAX + 1))
    except TypeError:  # claims to be iterable but is not (numpy's 0-d array)
        raise InvalidParameterError("offer_ids", rule, offer_ids) from None
    if len(items) > _config.OFFER_IDS_MAX:
        raise InvalidParameterError(
            "offer_ids", f"must hold at most {_config.OFFER_IDS_MAX:,} ids", offer_ids
        )
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
    wall_code) is built once with ``***`` in the key's place, and once with the key, for the
    middleware only. ``client``: the caller's aiohttp session, if any (its own middlewares
    are kept, run before the key's)."""

    __slots__ = ("_middlewares", "_redacted")

    def __init__(self, base_url: str, *, aff_id: int, api_key: str, wall_code: str,
                 client: aiohttp.ClientSession | None = None) -> None:
        fixed = (
            f"{base_url}{_config.HISTORY_PATH}?aff_id={aff_id}&api_key={{}}"
            f"&wall_code={quote(wall_code, safe='')}&user_id="
        )
        self._redacted = fixed.format(_config.REDACTED)
        key = KeyMiddleware(self._redacted, fixed.format(quote(api_key, safe="")))
        self._middlewares = request_middlewares(client, key)

    def request(self, user_id: object, options: str) -> Request:
        """The request for ``user_id``; ``options`` comes from :func:`history_options`."""
        if type(user_id) is str and _PLAIN_ID(user_id):
            url = self._redacted + user_id + options  # the common case: nothing to quote
        else:
            url = self._redacted + quote(check_user_id(user_id), safe="") + options
        return Request(url, endpoint="history", middlewares=self._middlewares)
