"""The generic argument checks, seen through the constructor and every call: types,
ranges, huge and non-finite numbers, base URLs; a refusal names the parameter, sends
nothing and never echoes the key.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import aiohttp
import numpy as np
import pytest

from adgate_async import AsyncSession, _config
from adgate_async._errors import InvalidParameterError
from adgate_async.testing import StandInServer

from ._support import (
    AFF_ID,
    API_KEY,
    HANG,
    WALL_CODE,
    assert_logs_clean,
    assert_pickle_clean,
    assert_session_clean,
    assert_walk_clean,
    make_session,
    refused,
)

PLAIN_KEY = "941bd1fe-s3cr3t-k3y"


def session(**kwargs: Any) -> AsyncSession:
    kwargs.setdefault("aff_id", 60000)
    kwargs.setdefault("api_key", PLAIN_KEY)
    kwargs.setdefault("wall_code", "nQug")
    return AsyncSession(**kwargs)


def test_constructor_accepts_defaults_and_sends_nothing() -> None:
    s = session(wall_id=567)
    assert s.closed is False
    assert not s._pool.created  # the pool is created lazily, inside a running loop


@pytest.mark.parametrize("aff_id", [0, -1, "60000", True, 60000.0, None])
def test_aff_id_refused(aff_id: object) -> None:
    refused("aff_id", session, aff_id=aff_id)


@pytest.mark.parametrize("api_key", ["", None, 12345, b"941bd1fe-s3cr3t-k3y"])
def test_api_key_refused_without_echoing_it(api_key: object) -> None:
    exc = refused("api_key", session, api_key=api_key)
    assert "s3cr3t" not in str(exc)
    assert "12345" not in str(exc)
    assert "got" not in str(exc)


@pytest.mark.parametrize("wall_code", ["", None, 5])
def test_wall_code_refused(wall_code: object) -> None:
    refused("wall_code", session, wall_code=wall_code)


@pytest.mark.parametrize("wall_id", [0, -1, "567", True])
def test_wall_id_refused(wall_id: object) -> None:
    refused("wall_id", session, wall_id=wall_id)


@pytest.mark.parametrize("value", [-1, "3", True, 1.0])
def test_max_retries_refused(value: object) -> None:
    refused("max_retries", session, max_retries=value)


@pytest.mark.parametrize("name", ["retry_backoff", "retry_backoff_max"])
@pytest.mark.parametrize("value", [-1, -0.1, math.nan, math.inf, True, "1"])
def test_backoff_refused(name: str, value: object) -> None:
    refused(name, session, **{name: value})


@pytest.mark.parametrize("value", [0, 0.0, -1, math.nan, math.inf, True, "30"])
def test_timeout_refused(value: object) -> None:
    refused("timeout", session, timeout=value)


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "100"])
def test_max_connections_refused(value: object) -> None:
    refused("max_connections", session, max_connections=value)


def test_constructor_accepts_edge_values() -> None:
    session(max_retries=0, retry_backoff=0, retry_backoff_max=0, timeout=None,
            max_connections=1, wall_id=None)
    session(timeout=0.001, retry_backoff=1, wall_id=1, aff_id=1)


@pytest.mark.parametrize("name", ["adgate_base_url", "revu_base_url"])
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://localhost:1",
        "http://[::1]:1",
        "http://127.0.0.2",
        "https://api.example.com",
        "https://api.example.com/",
        "https://api.example.com:8443/prefix",
    ],
)
def test_base_url_accepted(name: str, url: str) -> None:
    session(**{name: url})


@pytest.mark.parametrize("name", ["adgate_base_url", "revu_base_url"])
@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.com",
        "http://0.0.0.0",
        "http://localhost.example.com",
        "ftp://x",
        "https://x/?q=1",
        "https://x/#frag",
        "https://user:pw@x",
        "/relative/path",
        "api.example.com",
        "",
        None,
    ],
)
def test_base_url_refused(name: str, url: object) -> None:
    refused(name, session, **{name: url})


@pytest.mark.parametrize("url", ["https://x/?", "https://x?", "https://x/#", "https://x#"])
def test_base_url_with_empty_query_or_fragment_refused(url: str) -> None:
    # A bare "?" or "#" would swallow the path appended to the base URL
    # ("https://x/?/v1/user-based-api/history?...").
    refused("adgate_base_url", session, adgate_base_url=url)


def test_base_url_trailing_slash_is_dropped() -> None:
    s = session(revu_base_url="https://revu.example/", wall_id=1)
    assert s._settings.revu_base_url == "https://revu.example"


def test_plain_http_refusal_explains_why() -> None:
    exc = refused("adgate_base_url", session, adgate_base_url="http://api.example.com")
    assert "https" in str(exc)


@pytest.mark.parametrize(
    "url",
    ["https://api.example.com/a b", "https://exämple.invalid", "https://api.example.com/\r\nX: y",
     "https://api.example.com/\x7f"],
)
def test_base_url_must_be_plain_ascii(url: str) -> None:
    with pytest.raises(InvalidParameterError, match="ASCII"):
        AsyncSession(aff_id=1, api_key="k", wall_code="w", adgate_base_url=url)


def test_numpy_ints_are_accepted_by_the_constructor() -> None:
    s = make_session(aff_id=np.int64(60000), wall_id=np.int64(567), max_retries=np.int64(2))
    assert "aff_id=60000" in repr(s)
    assert "wall_id=567" in repr(s)


@pytest.mark.parametrize("flag", [True, False, np.bool_(True)])
async def test_a_bool_is_still_refused_as_a_number(adgate_server: StandInServer, flag: Any) -> None:
    async with make_session(**adgate_server.session_urls()) as s:
        for name in ("os_version", "bid_floor", "numoffers", "wall"):
            kwargs: dict[str, Any] = {"numoffers": 5, name: flag}
            with pytest.raises(InvalidParameterError) as info:
                await s.get_personalized("u1", **kwargs)
            assert info.value.param == name
        with pytest.raises(InvalidParameterError):
            await s.get_history("u1", offer_ids=[flag])
    assert adgate_server.count() == 0


_BAD_VALUES: dict[str, object] = {
    "huge": 10**5000,
    "huge-negative": -(10**5000),
    "inf": float("inf"),
    "nan": float("nan"),
    "true": True,
}


_CONSTRUCTOR_ARGS = [
    "aff_id", "api_key", "wall_code", "wall_id", "adgate_base_url", "revu_base_url",
    "max_retries", "retry_backoff", "retry_backoff_max", "timeout", "max_connections",
    "session", "max_response_bytes",
]


def _check(exc: InvalidParameterError, name: str) -> None:
    assert exc.param == name.removesuffix("[item]")
    text = str(exc)
    assert text.startswith(exc.param + " ")
    assert len(text) < 300, text


@pytest.mark.parametrize("value", list(_BAD_VALUES.values()), ids=list(_BAD_VALUES))
@pytest.mark.parametrize("name", _CONSTRUCTOR_ARGS)
def test_every_constructor_argument_refuses_huge_and_non_finite_values(
    name: str, value: object
) -> None:
    with pytest.raises(InvalidParameterError) as info:
        make_session(**{name: value})
    _check(info.value, name)


_BOOL_ARGS = {"continue_playing", "include_sortmetric", "ordered"}


_BULK_ARGS = ["user_ids", "concurrency", "max_per_second", "on_progress", "lang",
              "continue_playing", "offer_ids", "offer_ids[item]"]


async def _gather(s: AsyncSession, name: str, value: object) -> object:
    if name == "user_ids":
        return await s.gather_users(value)  # type: ignore[arg-type]
    if name == "offer_ids[item]":
        return await s.gather_users(["u1"], offer_ids=[value])  # type: ignore[list-item]
    return await s.gather_users(["u1"], **{name: value})  # type: ignore[arg-type]


async def _history(s: AsyncSession, name: str, value: object) -> object:
    if name == "user_id":
        return await s.get_history(value)  # type: ignore[arg-type]
    if name == "offer_ids[item]":
        return await s.get_history("u1", offer_ids=[1, value])  # type: ignore[list-item]
    return await s.get_history("u1", **{name: value})  # type: ignore[arg-type]


async def _iter(s: AsyncSession, name: str, value: object) -> object:
    if name == "user_ids":
        return s.iter_users(value)  # type: ignore[arg-type]
    if name == "offer_ids[item]":
        return s.iter_users(["u1"], offer_ids=[value])  # type: ignore[list-item]
    return s.iter_users(["u1"], **{name: value})  # type: ignore[arg-type]


async def _personalized(s: AsyncSession, name: str, value: object) -> object:
    if name == "uid":
        return await s.get_personalized(value, numoffers=5)  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {"numoffers": 5, name: value}
    return await s.get_personalized("u1", **kwargs)


async def _raw_personalized(s: AsyncSession, name: str, value: object) -> object:
    kwargs: dict[str, Any] = {"numoffers": 5, name: value}
    return await s.with_raw_response.get_personalized("u1", **kwargs)


_CALLS: list[tuple[str, Any, str]] = (
    [("get_history", _history, n) for n in
     ["user_id", "lang", "continue_playing", "offer_ids", "offer_ids[item]"]]
    + [("get_personalized", _personalized, n) for n in
       ["uid", "numoffers", "wall", "sid3", "device", "ip", "os_version",
        "include_sortmetric", "bid_floor", "experiment_id"]]
    + [("raw.get_personalized", _raw_personalized, n) for n in
       ["numoffers", "wall", "os_version", "bid_floor"]]
    + [("gather_users", _gather, n) for n in _BULK_ARGS]
    + [("iter_users", _iter, n) for n in [*_BULK_ARGS, "ordered", "buffer"]]
)


# Every (call, argument, bad value), except True for a bool flag (where it is valid).
_CASES = [
    pytest.param(method, call, name, value, id=f"{method}-{name}-{label}")
    for method, call, name in _CALLS
    for label, value in _BAD_VALUES.items()
    if not (value is True and name in _BOOL_ARGS)
]


@pytest.mark.parametrize(("method", "call", "name", "value"), _CASES)
async def test_every_call_argument_refuses_huge_and_non_finite_values(
    adgate_server: StandInServer, method: str, call: Any, name: str, value: object
) -> None:
    async with make_session(**adgate_server.session_urls()) as s:
        with pytest.raises(InvalidParameterError) as info:
            await asyncio.wait_for(call(s, name, value), HANG)
    _check(info.value, name)
    assert adgate_server.count() == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [("aff_id", 2**63), ("wall_id", 2**63),
     ("max_retries", getattr(_config, "MAX_RETRIES_MAX", 100) + 1),
     ("max_connections", getattr(_config, "MAX_CONNECTIONS_MAX", 10_000) + 1),
     ("max_response_bytes", 2**63)],
)
def test_constructor_integers_have_an_upper_bound(name: str, value: int) -> None:
    with pytest.raises(InvalidParameterError) as info:
        make_session(**{name: value})
    _check(info.value, name)


async def test_call_integers_have_an_upper_bound(adgate_server: StandInServer) -> None:
    async with make_session(**adgate_server.session_urls()) as s:
        with pytest.raises(InvalidParameterError) as info:
            await s.get_personalized("u1", numoffers=5, wall=2**63)
        _check(info.value, "wall")
        with pytest.raises(InvalidParameterError) as info:
            s.iter_users(["u1"], buffer=_config.BULK_BUFFER_MAX + 1)
        _check(info.value, "buffer")
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http,
        make_session(session=http, **adgate_server.session_urls()) as s,
    ):
        with pytest.raises(InvalidParameterError) as info:
            s.iter_users(["u1"], concurrency=_config.BULK_CONCURRENCY_MAX + 1)
        _check(info.value, "concurrency")
    assert adgate_server.count() == 0


def test_a_huge_int_is_described_by_its_size_not_its_digits() -> None:
    with pytest.raises(InvalidParameterError) as info:
        make_session(aff_id=10**5000)
    assert "5001 digits" in str(info.value)


_BAD_CALLS: dict[str, Callable[[AsyncSession], Awaitable[object]]] = {
    "history: empty user id": lambda s: s.get_history(""),
    "history: user id not a str": lambda s: s.get_history(12345),  # type: ignore[arg-type]
    "history: user id too long": lambda s: s.get_history("x" * 300),
    "history: lone surrogate": lambda s: s.get_history("u\udcff"),
    "history: empty lang": lambda s: s.get_history("u", lang=""),
    "history: bad offer id": lambda s: s.get_history("u", offer_ids=[0]),
    "raw history: empty user id": lambda s: s.with_raw_response.get_history(""),
    "personalized: numoffers 0": lambda s: s.get_personalized("u", numoffers=0),
    "personalized: numoffers 501": lambda s: s.get_personalized("u", numoffers=501),
    "personalized: non-ascii uid": lambda s: s.get_personalized("é", numoffers=1),
    "personalized: device mobile": lambda s: s.get_personalized(
        "u", numoffers=1, device="mobile"
    ),
    "personalized: bad ip": lambda s: s.get_personalized("u", numoffers=1, ip="1.2.3"),
    "personalized: bad bid floor": lambda s: s.get_personalized(
        "u", numoffers=1, bid_floor=float("nan")
    ),
    "gather: bad concurrency": lambda s: s.gather_users(["u"], concurrency=0),
    "gather: ids as one str": lambda s: s.gather_users("u1"),
}


@pytest.mark.parametrize("name", list(_BAD_CALLS))
async def test_validation_errors_are_clean_and_send_nothing(
    adgate_server: StandInServer, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    caplog.set_level(logging.DEBUG)
    async with make_session(**adgate_server.session_urls()) as s:
        with pytest.raises(InvalidParameterError) as info:
            await _BAD_CALLS[name](s)
        assert_walk_clean(info.value)
        assert_pickle_clean(info.value)
        assert_session_clean(s)
    assert_logs_clean(caplog)
    assert adgate_server.count() == 0


_BAD_SESSIONS: dict[str, dict[str, Any]] = {
    "empty api_key": {"api_key": ""},
    "api_key as bytes": {"api_key": API_KEY.encode()},
    "api_key as a list": {"api_key": [API_KEY]},
    "bad aff_id": {"aff_id": 0},
    "empty wall_code": {"wall_code": ""},
    "http to a public host": {"adgate_base_url": "http://api.adgatemedia.com"},
    "not http at all": {"revu_base_url": "ftp://127.0.0.1"},
    "zero timeout": {"timeout": 0},
    "negative retries": {"max_retries": -1},
    "zero connections": {"max_connections": 0},
    "not an aiohttp session": {"session": object()},
}


@pytest.mark.parametrize("name", list(_BAD_SESSIONS))
def test_constructor_errors_are_clean(name: str) -> None:
    with pytest.raises((InvalidParameterError, TypeError)) as info:
        make_session(**_BAD_SESSIONS[name])
    assert_walk_clean(info.value)
    assert_pickle_clean(info.value)


@pytest.mark.parametrize(
    "base_url",
    [
        pytest.param(f"https://api.adgatemedia.com/?api_key={API_KEY}", id="key in query"),
        pytest.param(f"https://api.adgatemedia.com/?api_key={quote(API_KEY, safe='')}",
                     id="encoded key in query"),
        pytest.param(f"https://{AFF_ID}:{quote(API_KEY, safe='')}@api.adgatemedia.com",
                     id="key as URL password"),
    ],
)
def test_a_base_url_carrying_the_key_is_refused_without_echoing_it(base_url: str) -> None:
    """A caller pasting a full vendor URL (key included) as the base URL gets an error that
    names the rule, not one that prints the key it already holds."""
    with pytest.raises(InvalidParameterError) as info:
        make_session(adgate_base_url=base_url)
    assert info.value.param == "adgate_base_url"
    assert_walk_clean(info.value)


# ----------------------------------------------------- review findings 12 and 14


async def test_a_zero_dimensional_array_for_offer_ids_is_an_invalid_parameter(
    adgate_server: StandInServer,
) -> None:
    """Review finding 12: ``offer_ids=np.array(5)`` passes the ``Iterable`` check, then
    ``list()`` raised numpy's bare ``TypeError: iteration over a 0-d array``."""
    async with make_session(**adgate_server.session_urls()) as s:
        with pytest.raises(InvalidParameterError) as caught:
            await s.get_history("u1", offer_ids=np.array(5))
    assert caught.value.param == "offer_ids"


@pytest.mark.parametrize("slot", ["aff_id", "wall_id"])
def test_a_credential_in_the_wrong_slot_is_not_echoed_by_the_library(slot: str) -> None:
    """Review finding 14: ``AsyncSession(aff_id=<the key>, api_key=<the aff id>, ...)``
    (two variables swapped) raised an InvalidParameterError showing the key, which then
    lands in logs and error trackers. A str in the aff_id / wall_id slot is shown by its
    type and length only."""
    arguments: dict[str, Any] = {"aff_id": AFF_ID, "api_key": API_KEY, "wall_code": WALL_CODE}
    if slot == "aff_id":
        arguments.update(aff_id=API_KEY, api_key=str(AFF_ID))
    else:
        arguments.update(wall_id=API_KEY)
    with pytest.raises(InvalidParameterError) as caught:
        AsyncSession(**arguments)
    assert caught.value.param == slot
    text = f"{caught.value} {caught.value!r} {caught.value.args}"
    assert API_KEY[:8] not in text, text
