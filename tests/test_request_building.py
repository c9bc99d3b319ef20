"""Request building, checked with aioresponses: URLs, query strings, headers, no key leaks."""

from __future__ import annotations

import re

import pytest
from aioresponses import aioresponses
from yarl import URL

from adgate_async import AsyncSession, InvalidParameterError
from adgate_async.testing import VENDOR_HISTORY_SAMPLE, VENDOR_PERSONALIZED_SAMPLE, make_history

from ._support import AFF_ID, API_KEY, WALL_CODE, WALL_ID, make_session

ANY = re.compile(r".*")


def only_url(mocked: aioresponses) -> URL:
    (key,) = mocked.requests.keys()
    method, url = key
    assert method == "GET"
    return url


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


async def test_personalized_url_and_query(mock_http: aioresponses) -> None:
    mock_http.get(ANY, payload=VENDOR_PERSONALIZED_SAMPLE)
    async with make_session() as s:
        result = await s.get_personalized(
            "user12345", numoffers=25, sid3="abc", device="ios", ip="203.0.113.7",
            os_version=17.1, include_sortmetric=True, bid_floor=0.5, experiment_id="exp 1",
        )
    assert result.offers[0].hot_offers_order == 1
    url = only_url(mock_http)
    assert url.host == "publishers.revenueuniverse.com"
    assert url.scheme == "https"
    assert url.raw_path == "/api/v1/users/user12345/personalized"
    assert dict(url.query) == {
        "wall": str(WALL_ID), "numoffers": "25", "sid3": "abc", "device": "ios",
        "ip": "203.0.113.7", "os_version": "17.1", "include_sortmetric": "true",
        "bid_floor": "0.5", "experiment_id": "exp 1",
    }


async def test_personalized_never_sends_the_api_key(mock_http: aioresponses) -> None:
    mock_http.get(ANY, payload=VENDOR_PERSONALIZED_SAMPLE)
    async with make_session() as s:
        await s.get_personalized("u", numoffers=1, include_sortmetric=False)
    url = only_url(mock_http)
    assert "api_key" not in url.query
    assert API_KEY not in str(url)
    assert url.query["include_sortmetric"] == "false"


async def test_explicit_wall_overrides_session_wall_id(mock_http: aioresponses) -> None:
    mock_http.get(ANY, payload=VENDOR_PERSONALIZED_SAMPLE)
    async with make_session() as s:
        await s.get_personalized("u", numoffers=1, wall=999)
    assert only_url(mock_http).query["wall"] == "999"


@pytest.mark.parametrize(
    ("uid", "segment"),
    [
        ("a/b", "a%2Fb"),
        ("a?b=1", "a%3Fb%3D1"),
        ("a#frag", "a%23frag"),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("../../admin", "..%2F..%2Fadmin"),
        ("a b%", "a%20b%25"),
    ],
)
async def test_uid_is_exactly_one_path_segment(
    mock_http: aioresponses, uid: str, segment: str
) -> None:
    mock_http.get(ANY, payload=VENDOR_PERSONALIZED_SAMPLE)
    async with make_session() as s:
        await s.get_personalized(uid, numoffers=1)
    url = only_url(mock_http)
    assert url.raw_path == f"/api/v1/users/{segment}/personalized"
    assert dict(url.query) == {"wall": str(WALL_ID), "numoffers": "1"}


async def test_base_urls_are_configurable(mock_http: aioresponses) -> None:
    mock_http.get(ANY, payload=VENDOR_HISTORY_SAMPLE)
    mock_http.get(ANY, payload=VENDOR_PERSONALIZED_SAMPLE)
    async with make_session(
        adgate_base_url="https://proxy.example.test/adgate/",
        revu_base_url="https://proxy.example.test/revu",
    ) as s:
        await s.get_history("u")
        await s.get_personalized("u", numoffers=1)
    paths = sorted(url.path for _, url in mock_http.requests)
    assert paths == [
        "/adgate/v1/user-based-api/history", "/revu/api/v1/users/u/personalized",
    ]


async def test_user_agent_and_accept_headers(mock_http: aioresponses) -> None:
    mock_http.get(ANY, payload=VENDOR_HISTORY_SAMPLE)
    async with make_session() as s:
        await s.get_history("u")
    (call,) = next(iter(mock_http.requests.values()))
    headers = call.kwargs["headers"]
    assert headers["User-Agent"].startswith("adgate-async/")
    assert headers["Accept"] == "application/json"
    assert API_KEY not in str(headers)
    # Redirects are never followed: the key must not travel to another host.
    assert call.kwargs["allow_redirects"] is False


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"numoffers": 0}, "numoffers"),
        ({"numoffers": 501}, "numoffers"),
        ({"numoffers": 5, "device": "mobile"}, "device"),
        ({"numoffers": 5, "ip": "01.2.3.4"}, "ip"),
        ({"numoffers": 5, "ip": "1.2.3"}, "ip"),
    ],
)
async def test_bad_personalized_arguments_send_nothing(
    mock_http: aioresponses, kwargs: dict[str, object], param: str
) -> None:
    mock_http.get(ANY, payload=VENDOR_PERSONALIZED_SAMPLE)
    async with make_session() as s:
        with pytest.raises(InvalidParameterError) as info:
            await s.get_personalized("u", **kwargs)  # type: ignore[arg-type]
    assert info.value.param == param
    assert param in str(info.value)
    assert isinstance(info.value, ValueError)
    assert not mock_http.requests
    assert s.stats.requests == 0


async def test_wall_required_without_session_wall_id(mock_http: aioresponses) -> None:
    async with make_session(wall_id=None) as s:
        with pytest.raises(ValueError, match="wall"):
            await s.get_personalized("u", numoffers=5)
    assert not mock_http.requests


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


def test_session_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        AsyncSession(AFF_ID, API_KEY, WALL_CODE)  # type: ignore[misc]
