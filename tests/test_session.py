"""Session lifecycle, pooling, counters, logging and raw responses, on the stand-in server."""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings

import aiohttp
import msgspec
import pytest

from adgate_async import (
    AsyncSession,
    History,
    NotFoundError,
    Personalized,
    RawResponse,
    ServerError,
    UserBannedError,
)
from adgate_async.testing import VENDOR_SAMPLE_USER_ID, Answer, StandInServer, make_history

from ._support import make_session


async def test_async_with_opens_and_closes(server: StandInServer) -> None:
    s = make_session(**server.session_urls())
    assert not s.closed
    async with s as entered:
        assert entered is s
        history = await s.get_history(VENDOR_SAMPLE_USER_ID)
        assert history.data[0].offer_id == 360819
    assert s.closed
    await s.aclose()  # idempotent
    assert s.closed


async def test_calls_after_close_raise(server: StandInServer) -> None:
    s = make_session(**server.session_urls())
    await s.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await s.get_history("u")
    assert server.count() == 0


async def test_session_without_async_with(server: StandInServer) -> None:
    """The web-app pattern: create at start-up, await per request, aclose at shutdown."""
    s = make_session(**server.session_urls())
    results = await asyncio.gather(*(s.get_history(f"u{i}") for i in range(5)))
    assert [len(r.data) for r in results] == [3] * 5
    await s.aclose()


def test_session_can_be_built_outside_a_running_loop() -> None:
    s = make_session()  # no loop running here: nothing is created yet
    assert not s.closed
    asyncio.run(s.aclose())
    assert s.closed


async def test_closing_leaves_no_unclosed_warnings(server: StandInServer) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = make_session(**server.session_urls())
        await s.get_history("u")
        await s.get_personalized("u", numoffers=3)
        await s.aclose()
        del s
        gc.collect()
        await asyncio.sleep(0)
        gc.collect()
    assert [str(w.message) for w in caught] == []


async def test_a_caller_supplied_session_is_used_and_left_open(server: StandInServer) -> None:
    async with aiohttp.ClientSession(headers={"X-Caller": "yes"}) as client:
        async with make_session(session=client, **server.session_urls()) as s:
            await s.get_history("u")
        assert s.closed
        assert not client.closed
        async with client.get(server.url + "/v1/user-based-api/history") as resp:
            assert resp.status == 400  # still usable: the stand-in wants parameters
    (first, _) = server.requests
    assert first.headers["X-Caller"] == "yes"
    assert first.headers["User-Agent"].startswith("adgate-async/")


async def test_headers_sent(server: StandInServer, session: AsyncSession) -> None:
    await session.get_history("u")
    (request,) = server.requests
    assert request.headers["User-Agent"].startswith("adgate-async/")
    assert request.headers["Accept"] == "application/json"


def test_a_session_is_bound_to_one_event_loop() -> None:
    async def start() -> AsyncSession:
        s = make_session()
        s._pool.client()  # creates the pool in this loop
        return s

    async def use(s: AsyncSession) -> None:
        try:
            with pytest.raises(RuntimeError, match="another event loop"):
                await s.get_history("u")
        finally:
            await asyncio.sleep(0)

    loop = asyncio.new_event_loop()
    try:
        s = loop.run_until_complete(start())
        asyncio.run(use(s))
        loop.run_until_complete(s.aclose())
    finally:
        loop.close()


async def test_pool_bounds_requests_in_flight(server: StandInServer) -> None:
    for i in range(40):
        server.script(f"u{i}", Answer.ok(delay=0.02))
    async with make_session(max_connections=4, **server.session_urls()) as s:
        results = await asyncio.gather(*(s.get_history(f"u{i}") for i in range(40)))
    assert len(results) == 40
    assert server.peak_in_flight == 4


async def test_stats_count_what_happened(server: StandInServer, session: AsyncSession) -> None:
    server.script("flaky", Answer.error(502))
    server.always("banned", Answer.ban())
    server.always("broken", Answer.ok(body=b"[]"))
    server.always("gone", Answer.error(404))
    await session.get_history("ok")
    await session.get_history("flaky")
    for user, exc in (("banned", UserBannedError), ("gone", NotFoundError)):
        with pytest.raises(exc):
            await session.get_history(user)
    with pytest.raises(Exception, match="does not match"):
        await session.get_history("broken")
    st = session.stats
    assert (st.requests, st.attempts, st.successes, st.failures) == (5, 6, 2, 3)
    assert (st.retries, st.retries_by_reason) == (1, {"http_502": 1})
    assert (st.bans, st.decode_errors) == (1, 1)
    assert st.errors_by_type == {"UserBannedError": 1, "NotFoundError": 1, "DecodeError": 1}
    assert st.seconds_slept > 0
    snapshot = st.as_dict()
    assert snapshot["requests"] == 5
    snapshot["retries_by_reason"]["x"] = 1  # a copy: the live counters are untouched
    assert "x" not in st.retries_by_reason


async def test_one_debug_line_per_attempt(
    server: StandInServer, session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="adgate_async")
    server.script("u", Answer.error(500))
    await session.get_history("u")
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(debug) == 2
    first, second = (r.getMessage() for r in debug)
    assert "api_key=***" in first
    assert " -> 500 in " in first
    assert "(attempt 1)" in first
    assert " -> 200 in " in second
    assert "(attempt 2)" in second
    assert all(r.name == "adgate_async" for r in caplog.records)


async def test_quiet_by_default(
    server: StandInServer, session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    server.always("u", Answer.error(500))
    with pytest.raises(ServerError):
        await session.get_history("u")
    assert caplog.records == []
    assert logging.getLogger("adgate_async").handlers == []


async def test_raw_history_response(server: StandInServer, session: AsyncSession) -> None:
    raw = await session.with_raw_response.get_history("u")
    assert isinstance(raw, RawResponse)
    assert raw.status == 200
    assert raw.headers["Content-Type"].startswith("application/json")
    assert raw.json() == make_history("u")
    parsed = raw.parse()
    assert isinstance(parsed, History)
    assert parsed == await session.get_history("u")
    assert "api_key=***" in raw.url
    assert raw.attempts == 1


async def test_raw_response_reaches_unknown_fields(
    server: StandInServer, session: AsyncSession
) -> None:
    doc = {"status": "success", "publisher_id": 1, "wall_id": 2, "support_id": 3, "total": 1,
           "offset": 0, "limit": 0, "offers": [], "brand_new_field": {"x": 1}}
    server.always("u", Answer.ok(body=msgspec.json.encode(doc)), endpoint="personalized")
    raw = await session.with_raw_response.get_personalized("u", numoffers=1)
    assert raw.json()["brand_new_field"] == {"x": 1}
    assert isinstance(raw.parse(), Personalized)


async def test_raw_response_still_maps_errors_and_retries(
    server: StandInServer, session: AsyncSession
) -> None:
    server.script("u", Answer.error(503))
    raw = await session.with_raw_response.get_history("u")
    assert raw.attempts == 2
    server.always("b", Answer.ban("USER_BANNED"))
    with pytest.raises(UserBannedError):
        await session.with_raw_response.get_history("b")


@pytest.mark.parametrize("how", ["single call", "batch"])
async def test_a_closed_caller_session_raises_the_clear_error(
    server: StandInServer, how: str
) -> None:
    """Review finding 11: with ``session=`` (the caller's own aiohttp session), closing
    that session under a call or a batch raised aiohttp's bare ``RuntimeError: Session is
    closed`` instead of saying which session was closed."""
    client = aiohttp.ClientSession()
    s = make_session(session=client, **server.session_urls())
    await client.close()
    call = s.get_history("u1") if how == "single call" else s.gather_users(["u1", "u2"])
    with pytest.raises(RuntimeError) as caught:
        await call
    assert "session=" in str(caught.value), str(caught.value)
    assert "closed" in str(caught.value)
    await s.aclose()
