"""Get History: the user id rules, the options (lang, continue_playing, offer_ids),
the query and URL the session sends (examples, then hypothesis round trips).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, quote, unquote, urlsplit

import numpy as np
import pytest
from aioresponses import aioresponses
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from adgate_async._config import OFFER_IDS_MAX
from adgate_async._endpoints.history import history_options
from adgate_async._errors import InvalidParameterError
from adgate_async._middleware import KeyMiddleware
from adgate_async._params import check_user_id
from adgate_async.testing import (
    VENDOR_HISTORY_SAMPLE,
    StandInServer,
    make_history,
)

from ._support import (
    AFF_ID,
    ANY,
    API_KEY,
    PROPERTY,
    URL_API_KEY,
    WALL_CODE,
    any_chars,
    has_surrogate,
    make_session,
    only_url,
    refused,
    tricky_texts,
    url_session,
)


async def test_history_url_carries_credentials_and_user(mock_http: aioresponses) -> None:
    mock_http.get(ANY, payload=make_history("u-1"))
    async with make_session() as s:
        await s.get_history("u-1")
    url = only_url(mock_http)
    assert url.scheme == "https"
    assert url.host == "api.adgatemedia.com"
    assert url.path == "/v1/user-based-api/history"
    assert dict(url.query) == {
        "aff_id": str(AFF_ID), "api_key": API_KEY, "wall_code": WALL_CODE, "user_id": "u-1",
    }


async def test_history_optional_parameters(mock_http: aioresponses) -> None:
    mock_http.get(ANY, payload=VENDOR_HISTORY_SAMPLE)
    async with make_session() as s:
        await s.get_history(
            "user 1/ü", lang="en-US,en;q=0.5", continue_playing=True, offer_ids=[1477425, 148199]
        )
    url = only_url(mock_http)
    assert url.query["user_id"] == "user 1/ü"
    assert url.query["lang"] == "en-US,en;q=0.5"
    assert url.query["continue_playing"] == "true"
    assert url.query["offer_ids"] == "1477425,148199"
    # One comma-joined value, not a repeated parameter.
    assert url.query.getall("offer_ids") == ["1477425,148199"]
    assert "offer_ids=1477425,148199" in url.raw_query_string


async def test_continue_playing_false_is_sent_as_false(mock_http: aioresponses) -> None:
    mock_http.get(ANY, payload=VENDOR_HISTORY_SAMPLE)
    async with make_session() as s:
        await s.get_history("u", continue_playing=False, offer_ids=(x for x in [7]))
    url = only_url(mock_http)
    assert url.query["continue_playing"] == "false"
    assert url.query["offer_ids"] == "7"


async def test_absent_options_are_not_sent(mock_http: aioresponses) -> None:
    mock_http.get(ANY, payload=VENDOR_HISTORY_SAMPLE)
    async with make_session() as s:
        await s.get_history("u")
    assert set(only_url(mock_http).query) == {"aff_id", "api_key", "wall_code", "user_id"}


@pytest.mark.parametrize(
    ("user_id", "kwargs", "param"),
    [
        ("", {}, "user_id"),
        ("x" * 256, {}, "user_id"),
        ("é" * 128, {}, "user_id"),
        ("u", {"offer_ids": ["1"]}, "offer_ids"),
        ("u", {"offer_ids": "1,2"}, "offer_ids"),
        ("u", {"continue_playing": "yes"}, "continue_playing"),
    ],
)
async def test_bad_history_arguments_send_nothing(
    mock_http: aioresponses, user_id: str, kwargs: dict[str, object], param: str
) -> None:
    async with make_session() as s:
        with pytest.raises(InvalidParameterError, match=param):
            await s.get_history(user_id, **kwargs)  # type: ignore[arg-type]
    assert not mock_http.requests


async def test_max_length_user_id_is_sent_unaltered(mock_http: aioresponses) -> None:
    user_id = "é" * 127 + "x"  # 255 bytes in UTF-8
    mock_http.get(ANY, payload=VENDOR_HISTORY_SAMPLE)
    async with make_session() as s:
        await s.get_history(user_id)
    assert only_url(mock_http).query["user_id"] == user_id


@pytest.mark.parametrize(
    "value",
    [
        "user12345",
        "a",
        "a" * 255,
        "é" * 127,  # 254 bytes
        "€" * 85,  # 255 bytes
        "é" * 127 + "a",  # 255 bytes
        "🙂" * 63 + "abc",  # 252 + 3 = 255 bytes
        "user with spaces/and?odd#chars&=",
    ],
)
def test_user_id_accepted(value: str) -> None:
    assert len(value.encode("utf-8")) <= 255
    assert check_user_id(value) == value
    assert check_user_id(value, "uid") == value


@pytest.mark.parametrize(
    "value",
    [
        "a" * 256,
        "é" * 128,  # 256 bytes though only 128 characters
        "€" * 86,  # 258 bytes
        "🙂" * 64,  # 256 bytes
        "é" * 127 + "ab",  # 256 bytes
    ],
)
def test_user_id_over_255_bytes_refused(value: str) -> None:
    assert len(value) <= 256
    exc = refused("user_id", check_user_id, value)
    assert "255 bytes" in str(exc)
    assert f"is {len(value.encode())}" in str(exc)


@pytest.mark.parametrize("value", ["", None, 12345, b"user", ["u"]])
def test_user_id_empty_or_not_str_refused(value: object) -> None:
    refused("user_id", check_user_id, value)


@pytest.mark.parametrize("value", ["\ud800", "abc\udfff", "\udc80user"])
def test_user_id_lone_surrogate_refused(value: str) -> None:
    exc = refused("user_id", check_user_id, value)
    assert "Unicode" in str(exc)


def test_user_id_other_name_is_used_in_message() -> None:
    refused("uid", check_user_id, "", "uid")


@settings(max_examples=200, deadline=None)
@given(
    base=st.text(max_size=300),
    surrogate=st.none() | st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"]),
    at=st.integers(min_value=0, max_value=300),
)
def test_accepted_user_ids_round_trip_through_percent_encoding(
    base: str, surrogate: str | None, at: int
) -> None:
    uid = base if surrogate is None else base[:at] + surrogate + base[at:]
    has_surrogate = any(0xD800 <= ord(c) <= 0xDFFF for c in uid)
    size = len(uid.encode("utf-8", "surrogatepass"))
    if not uid or has_surrogate or size > 255:
        refused("user_id", check_user_id, uid)
        return
    assert check_user_id(uid) == uid
    assert 1 <= len(uid.encode("utf-8")) <= 255
    encoded = quote(uid, safe="")
    assert "/" not in encoded
    assert "?" not in encoded
    assert "#" not in encoded
    assert unquote(encoded) == uid


def test_history_options_empty() -> None:
    assert history_options() == ""


@pytest.mark.parametrize(("value", "text"), [(True, "true"), (False, "false")])
def test_continue_playing(value: bool, text: str) -> None:
    assert history_options(continue_playing=value) == f"&continue_playing={text}"


@pytest.mark.parametrize("value", [1, 0, "true", "yes"])
def test_continue_playing_non_bool_refused(value: object) -> None:
    refused("continue_playing", history_options, continue_playing=value)


def test_lang_percent_encoded() -> None:
    assert history_options(lang="en-US,en;q=0.5") == "&lang=en-US%2Cen%3Bq%3D0.5"
    assert history_options(lang="fr") == "&lang=fr"


@pytest.mark.parametrize("value", ["", 5, b"en", "\udc00"])
def test_lang_refused(value: object) -> None:
    refused("lang", history_options, lang=value)


def test_offer_ids_joined() -> None:
    assert history_options(offer_ids=[1477425, 148199]) == "&offer_ids=1477425,148199"
    assert history_options(offer_ids=(x for x in (1477425, 148199))) == (
        "&offer_ids=1477425,148199"
    )
    assert history_options(offer_ids=range(1, 4)) == "&offer_ids=1,2,3"


@pytest.mark.parametrize(
    "value",
    ["1477425,148199", "1", b"12", [], (), iter(()), 5, ["1"], [True], [0], [-3], [1, 2.0],
     [1, None]],
)
def test_offer_ids_refused(value: object) -> None:
    refused("offer_ids", history_options, offer_ids=value)


def test_history_options_order() -> None:
    assert history_options(lang="de", continue_playing=False, offer_ids=[7]) == (
        "&lang=de&continue_playing=false&offer_ids=7"
    )


class ReprInt(int):
    """An int subclass whose repr is not a number."""

    def __repr__(self) -> str:
        return f"ReprInt({int(self)!r})"


async def test_numpy_offer_ids_are_sent_as_plain_numbers(adgate_server: StandInServer) -> None:
    async with make_session(**adgate_server.session_urls()) as s:
        await s.get_history("u1", offer_ids=[np.int64(1477425), ReprInt(148199)])
    (request,) = adgate_server.requests
    assert request.query["offer_ids"] == "1477425,148199"


@st.composite
def sized_texts(draw: st.DrawFn) -> str:
    """Text whose UTF-8 size lands near a chosen target (often near the 255-byte limit),
    mixing 1- to 4-byte characters, and sometimes a lone surrogate."""
    target = draw(st.integers(250, 260) | st.integers(0, 8) | st.integers(0, 400))
    head = draw(st.text(any_chars, max_size=12))
    pad = draw(st.sampled_from(["a", "é", "€", "🙂"]))  # 1, 2, 3 and 4 bytes
    size = len(head.encode("utf-8", "surrogatepass"))
    tail = pad * max(0, (target - size) // len(pad.encode()))
    return draw(st.sampled_from([head + tail, tail + head]))


@PROPERTY
@given(value=sized_texts() | st.text(any_chars) | tricky_texts)
def test_user_id_domain_is_1_to_255_utf8_bytes(value: str) -> None:
    ok = bool(value) and not has_surrogate(value) and len(value.encode("utf-8")) <= 255
    if ok:
        assert check_user_id(value) is value
        assert check_user_id(value, "uid") is value
    else:
        refused("user_id", check_user_id, value)
        refused("uid", check_user_id, value, "uid")


@PROPERTY
@given(value=st.binary() | st.integers() | st.floats() | st.none() | st.lists(st.text()))
def test_user_id_that_is_not_str_refused(value: object) -> None:
    refused("user_id", check_user_id, value)


accepted_user_ids = (sized_texts() | st.text(any_chars) | tricky_texts).filter(
    lambda v: bool(v) and not has_surrogate(v) and len(v.encode("utf-8")) <= 255
)


@PROPERTY
@given(user_id=accepted_user_ids)
def test_history_url_round_trips_the_user_id(user_id: str) -> None:
    part = quote(user_id, safe="")
    assert unquote(part) == user_id
    assert parse_qs(f"user_id={part}", strict_parsing=True) == {"user_id": [user_id]}
    # The URL the url_session actually sends (the key is put in by its KeyMiddleware).
    request = url_session()._history.request(user_id, "")
    assert request.middlewares is not None
    (middleware,) = request.middlewares
    assert isinstance(middleware, KeyMiddleware)
    url, redacted = str(middleware.keyed_url(URL(request.url, encoded=True))), request.url
    query = parse_qs(urlsplit(url).query, strict_parsing=True)
    assert query == {"aff_id": ["60000"], "api_key": [URL_API_KEY], "wall_code": ["nQ ug&"],
                     "user_id": [user_id]}
    assert parse_qs(urlsplit(redacted).query)["user_id"] == [user_id]
    assert parse_qs(urlsplit(redacted).query)["api_key"] == ["***"]  # the request's own URL
    assert URL(url, encoded=True).query["user_id"] == user_id


@PROPERTY
@given(lang=st.text(any_chars, max_size=40) | tricky_texts)
def test_lang_round_trips(lang: str) -> None:
    if not lang or has_surrogate(lang):
        refused("lang", history_options, lang=lang)
        return
    options = history_options(lang=lang)
    assert options.startswith("&lang=")
    assert parse_qs(options[1:], strict_parsing=True) == {"lang": [lang]}


@PROPERTY
@given(offer_ids=st.lists(st.integers(min_value=1, max_value=2**63 - 1), min_size=1,
                          max_size=20))
def test_offer_ids_round_trip(offer_ids: list[int]) -> None:
    options = history_options(offer_ids=offer_ids)
    (text,) = parse_qs(options[1:], strict_parsing=True)["offer_ids"]
    assert [int(x) for x in text.split(",")] == offer_ids
    assert history_options(offer_ids=iter(offer_ids)) == options


@PROPERTY
@given(offer_ids=st.lists(st.integers(max_value=0) | st.integers(min_value=2**63)
                          | st.booleans() | st.floats()
                          | st.integers(1, 10**6).map(str), min_size=1, max_size=3),
       good=st.lists(st.integers(min_value=1, max_value=2**63 - 1), max_size=3),
       data=st.data())
def test_offer_ids_with_a_bad_item_refused(offer_ids: list[object], good: list[int],
                                           data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(good)), label="at")
    mixed: list[object] = [*good[:at], *offer_ids, *good[at:]]
    refused("offer_ids", history_options, offer_ids=mixed)


def test_an_endless_offer_ids_iterable_is_refused_without_hanging() -> None:
    """``offer_ids`` is read up to its documented bound, never to its end (an endless
    iterator used to hang the call)."""
    taken = 0

    def endless() -> Iterator[int]:
        nonlocal taken
        while True:
            taken += 1
            if taken > 5 * OFFER_IDS_MAX:  # stands in for "forever"
                raise AssertionError("offer_ids was read past its bound")
            yield taken

    with pytest.raises(InvalidParameterError) as info:
        history_options(offer_ids=endless())
    assert info.value.param == "offer_ids"
    assert f"at most {OFFER_IDS_MAX:,} ids" in str(info.value)
    assert taken == OFFER_IDS_MAX + 1
    assert history_options(offer_ids=range(1, OFFER_IDS_MAX + 1)).count(",") == OFFER_IDS_MAX - 1
