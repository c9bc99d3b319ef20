"""Argument hardening: numbers of any numeric type, a caller's own aiohttp session, rate
floors, and huge or non-finite values on every argument (issue 9, items 10, 13, 14, 15)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import numpy as np
import pytest

from adgate_async import APITimeoutError, AsyncSession, InvalidParameterError, _config
from adgate_async.testing import Answer, StandInServer

from ._support import AFF_ID, API_KEY, WALL_CODE, make_session

# A generous bound: only there to turn a hang into a failure.
HANG = 20.0


class ReprFloat(float):
    """A float subclass whose repr is not a number (as numpy's float64 is in NumPy 2)."""

    def __repr__(self) -> str:
        return f"ReprFloat({float(self)!r})"


class ReprInt(int):
    """An int subclass whose repr is not a number."""

    def __repr__(self) -> str:
        return f"ReprInt({int(self)!r})"


# --------------------------------------------------------------- item 10: numbers


@pytest.mark.parametrize(
    ("os_version", "bid_floor", "numoffers", "wall", "sent"),
    [
        (np.float64(17.1), np.float64(0.25), np.int64(5), np.int64(567),
         ("17.1", "0.25", "5", "567")),
        (np.int64(14), np.float64(1e20), 5, 567, ("14", "1e+20", "5", "567")),
        (ReprFloat(17.1), ReprFloat(0.25), ReprInt(5), ReprInt(567),
         ("17.1", "0.25", "5", "567")),
        (ReprInt(14), 0.5, 5, 567, ("14", "0.5", "5", "567")),
    ],
    ids=["numpy-floats-and-ints", "numpy-int-os-version", "float-int-subclasses",
         "int-subclass-os-version"],
)
async def test_numbers_are_sent_as_plain_numbers(
    server: StandInServer, os_version: Any, bid_floor: Any, numoffers: Any, wall: Any,
    sent: tuple[str, str, str, str],
) -> None:
    async with make_session(**server.session_urls()) as s:
        await s.get_personalized("u1", numoffers=numoffers, wall=wall,
                                 os_version=os_version, bid_floor=bid_floor)
    (request,) = server.requests
    got = (request.query["os_version"], request.query["bid_floor"],
           request.query["numoffers"], request.query["wall"])
    assert got == sent


async def test_numpy_offer_ids_are_sent_as_plain_numbers(server: StandInServer) -> None:
    async with make_session(**server.session_urls()) as s:
        await s.get_history("u1", offer_ids=[np.int64(1477425), ReprInt(148199)])
    (request,) = server.requests
    assert request.query["offer_ids"] == "1477425,148199"


def test_numpy_ints_are_accepted_by_the_constructor() -> None:
    s = make_session(aff_id=np.int64(60000), wall_id=np.int64(567), max_retries=np.int64(2))
    assert "aff_id=60000" in repr(s)
    assert "wall_id=567" in repr(s)


@pytest.mark.parametrize("flag", [True, False, np.bool_(True)])
async def test_a_bool_is_still_refused_as_a_number(server: StandInServer, flag: Any) -> None:
    async with make_session(**server.session_urls()) as s:
        for name in ("os_version", "bid_floor", "numoffers", "wall"):
            kwargs: dict[str, Any] = {"numoffers": 5, name: flag}
            with pytest.raises(InvalidParameterError) as info:
                await s.get_personalized("u1", **kwargs)
            assert info.value.param == name
        with pytest.raises(InvalidParameterError):
            await s.get_history("u1", offer_ids=[flag])
    assert server.count() == 0


# ---------------------------------------------------- item 13: the caller's session


async def test_a_caller_session_keeps_its_own_headers(server: StandInServer) -> None:
    async with aiohttp.ClientSession(
        headers={"User-Agent": "my-app/2.0", "X-Team": "ads"}
    ) as http, make_session(session=http, **server.session_urls()) as s:
        await s.get_history("u1")
    (request,) = server.requests
    assert request.headers["User-Agent"] == "my-app/2.0"
    assert request.headers["X-Team"] == "ads"


async def test_a_caller_session_without_a_user_agent_gets_ours(server: StandInServer) -> None:
    async with (
        aiohttp.ClientSession() as http,
        make_session(session=http, **server.session_urls()) as s,
    ):
        await s.get_history("u1")
    (request,) = server.requests
    assert request.headers["User-Agent"].startswith("adgate-async/")


async def test_a_caller_session_keeps_its_own_timeout(server: StandInServer) -> None:
    server.always("slow", Answer.hang(120))
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.5)) as http,
        make_session(session=http, max_retries=0, **server.session_urls()) as s,
    ):
        with pytest.raises(APITimeoutError):
            # Our 30 s default would outlast this bound.
            await asyncio.wait_for(s.get_history("slow"), HANG)


async def test_an_explicit_timeout_overrides_the_caller_session(server: StandInServer) -> None:
    server.always("slow", Answer.hang(120))
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as http,
        make_session(session=http, timeout=0.5, max_retries=0, **server.session_urls()) as s,
    ):
        with pytest.raises(APITimeoutError, match=r"0\.5 s"):
            await asyncio.wait_for(s.get_history("slow"), HANG)


def test_the_timeout_default_still_reads_as_30_seconds() -> None:
    import inspect

    default = inspect.signature(AsyncSession).parameters["timeout"].default
    assert default == 30.0
    assert repr(default) == "30.0"


# ----------------------------------------------------------- item 14: rate floor


@pytest.mark.parametrize("rate", [5e-324, 1e-300, 0.0009])
async def test_a_rate_below_the_floor_is_refused(server: StandInServer, rate: float) -> None:
    async with make_session(**server.session_urls()) as s:
        with pytest.raises(InvalidParameterError) as info:
            await asyncio.wait_for(s.gather_users(["u1", "u2"], max_per_second=rate), HANG)
        assert info.value.param == "max_per_second"
        assert str(_config.MIN_PER_SECOND) in str(info.value)
        with pytest.raises(InvalidParameterError):
            s.iter_users(["u1"], max_per_second=rate)
    assert server.count() == 0


async def test_the_rate_floor_itself_is_accepted(server: StandInServer) -> None:
    async with make_session(**server.session_urls()) as s:
        results = await asyncio.wait_for(
            s.gather_users(["u1"], max_per_second=_config.MIN_PER_SECOND), HANG
        )
    assert results[0].ok


async def test_cli_rate_below_the_floor_exits_2_before_any_request(
    server: StandInServer,
) -> None:
    from .test_cli import env_for, run_cli, urls

    rc, _stdout, stderr = await asyncio.wait_for(
        run_cli("bulk", "-", "--rate", "1e-300", *urls(server), env=env_for(server),
                stdin=b"u1\nu2\n"),
        60,
    )
    assert rc != 0
    assert "max_per_second" in stderr
    assert server.count() == 0


# ---------------------------------------------- item 15: huge and non-finite values

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

async def _history(s: AsyncSession, name: str, value: object) -> object:
    if name == "user_id":
        return await s.get_history(value)  # type: ignore[arg-type]
    if name == "offer_ids[item]":
        return await s.get_history("u1", offer_ids=[1, value])  # type: ignore[list-item]
    return await s.get_history("u1", **{name: value})  # type: ignore[arg-type]


async def _personalized(s: AsyncSession, name: str, value: object) -> object:
    if name == "uid":
        return await s.get_personalized(value, numoffers=5)  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {"numoffers": 5, name: value}
    return await s.get_personalized("u1", **kwargs)


async def _raw_personalized(s: AsyncSession, name: str, value: object) -> object:
    kwargs: dict[str, Any] = {"numoffers": 5, name: value}
    return await s.with_raw_response.get_personalized("u1", **kwargs)


async def _gather(s: AsyncSession, name: str, value: object) -> object:
    if name == "user_ids":
        return await s.gather_users(value)  # type: ignore[arg-type]
    if name == "offer_ids[item]":
        return await s.gather_users(["u1"], offer_ids=[value])  # type: ignore[list-item]
    return await s.gather_users(["u1"], **{name: value})  # type: ignore[arg-type]


async def _iter(s: AsyncSession, name: str, value: object) -> object:
    if name == "user_ids":
        return s.iter_users(value)  # type: ignore[arg-type]
    if name == "offer_ids[item]":
        return s.iter_users(["u1"], offer_ids=[value])  # type: ignore[list-item]
    return s.iter_users(["u1"], **{name: value})  # type: ignore[arg-type]


_BULK_ARGS = ["user_ids", "concurrency", "max_per_second", "on_progress", "lang",
              "continue_playing", "offer_ids", "offer_ids[item]"]
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
_BOOL_ARGS = {"continue_playing", "include_sortmetric", "ordered"}
# Every (call, argument, bad value), except True for a bool flag (where it is valid).
_CASES = [
    pytest.param(method, call, name, value, id=f"{method}-{name}-{label}")
    for method, call, name in _CALLS
    for label, value in _BAD_VALUES.items()
    if not (value is True and name in _BOOL_ARGS)
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


@pytest.mark.parametrize(("method", "call", "name", "value"), _CASES)
async def test_every_call_argument_refuses_huge_and_non_finite_values(
    server: StandInServer, method: str, call: Any, name: str, value: object
) -> None:
    async with make_session(**server.session_urls()) as s:
        with pytest.raises(InvalidParameterError) as info:
            await asyncio.wait_for(call(s, name, value), HANG)
    _check(info.value, name)
    assert server.count() == 0


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


async def test_call_integers_have_an_upper_bound(server: StandInServer) -> None:
    async with make_session(**server.session_urls()) as s:
        with pytest.raises(InvalidParameterError) as info:
            await s.get_personalized("u1", numoffers=5, wall=2**63)
        _check(info.value, "wall")
        with pytest.raises(InvalidParameterError) as info:
            s.iter_users(["u1"], buffer=_config.BULK_BUFFER_MAX + 1)
        _check(info.value, "buffer")
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http,
        make_session(session=http, **server.session_urls()) as s,
    ):
        with pytest.raises(InvalidParameterError) as info:
            s.iter_users(["u1"], concurrency=_config.BULK_CONCURRENCY_MAX + 1)
        _check(info.value, "concurrency")
    assert server.count() == 0


def test_a_huge_int_is_described_by_its_size_not_its_digits() -> None:
    with pytest.raises(InvalidParameterError) as info:
        make_session(aff_id=10**5000)
    assert "5001 digits" in str(info.value)


# ----------------------------------------------------- review findings 12 and 14


async def test_a_zero_dimensional_array_for_offer_ids_is_an_invalid_parameter(
    server: StandInServer,
) -> None:
    """Review finding 12: ``offer_ids=np.array(5)`` passes the ``Iterable`` check, then
    ``list()`` raised numpy's bare ``TypeError: iteration over a 0-d array``."""
    async with make_session(**server.session_urls()) as s:
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
