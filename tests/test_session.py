"""The session: lifecycle, closed session, loop binding, a caller's aiohttp session, pool
bounds, headers and base URLs, counters, logging, repr."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import warnings
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aioresponses import aioresponses

from adgate_async import (
    APITimeoutError,
    AsyncSession,
    NotFoundError,
    ServerError,
    UserBannedError,
)
from adgate_async.testing import (
    VENDOR_HISTORY_SAMPLE,
    VENDOR_PERSONALIZED_SAMPLE,
    VENDOR_SAMPLE_USER_ID,
    Answer,
    StandInServer,
)

from ._support import (
    AFF_ID,
    ANY,
    API_KEY,
    HANG,
    WALL_CODE,
    assert_clean,
    assert_walk_clean,
    free_port,
    make_session,
)


async def test_async_with_opens_and_closes(adgate_server: StandInServer) -> None:
    s = make_session(**adgate_server.session_urls())
    assert not s.closed
    async with s as entered:
        assert entered is s
        history = await s.get_history(VENDOR_SAMPLE_USER_ID)
        assert history.data[0].offer_id == 360819
    assert s.closed
    await s.aclose()  # idempotent
    assert s.closed


async def test_session_without_async_with(adgate_server: StandInServer) -> None:
    """The web-app pattern: create at start-up, await per request, aclose at shutdown."""
    s = make_session(**adgate_server.session_urls())
    results = await asyncio.gather(*(s.get_history(f"u{i}") for i in range(5)))
    assert [len(r.data) for r in results] == [3] * 5
    await s.aclose()


def test_session_can_be_built_outside_a_running_loop() -> None:
    s = make_session()  # no loop running here: nothing is created yet
    assert not s.closed
    asyncio.run(s.aclose())
    assert s.closed


async def test_closing_leaves_no_unclosed_warnings(adgate_server: StandInServer) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = make_session(**adgate_server.session_urls())
        await s.get_history("u")
        await s.get_personalized("u", numoffers=3)
        await s.aclose()
        del s
        gc.collect()
        await asyncio.sleep(0)
        gc.collect()
    assert [str(w.message) for w in caught] == []


async def test_a_caller_supplied_session_is_used_and_left_open(
    adgate_server: StandInServer
) -> None:
    async with aiohttp.ClientSession(headers={"X-Caller": "yes"}) as client:
        async with make_session(session=client, **adgate_server.session_urls()) as s:
            await s.get_history("u")
        assert s.closed
        assert not client.closed
        async with client.get(adgate_server.url + "/v1/user-based-api/history") as resp:
            assert resp.status == 400  # still usable: the stand-in wants parameters
    (first, _) = adgate_server.requests
    assert first.headers["X-Caller"] == "yes"
    assert first.headers["User-Agent"].startswith("adgate-async/")


async def test_headers_sent(adgate_server: StandInServer, adgate_session: AsyncSession) -> None:
    await adgate_session.get_history("u")
    (request,) = adgate_server.requests
    assert request.headers["User-Agent"].startswith("adgate-async/")
    assert request.headers["Accept"] == "application/json"


async def test_pool_bounds_requests_in_flight(adgate_server: StandInServer) -> None:
    for i in range(40):
        adgate_server.script(f"u{i}", Answer.ok(delay=0.02))
    async with make_session(max_connections=4, **adgate_server.session_urls()) as s:
        results = await asyncio.gather(*(s.get_history(f"u{i}") for i in range(40)))
    assert len(results) == 40
    assert adgate_server.peak_in_flight == 4


async def test_stats_count_what_happened(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    adgate_server.script("flaky", Answer.error(502))
    adgate_server.always("banned", Answer.ban())
    adgate_server.always("broken", Answer.ok(body=b"[]"))
    adgate_server.always("gone", Answer.error(404))
    await adgate_session.get_history("ok")
    await adgate_session.get_history("flaky")
    for user, exc in (("banned", UserBannedError), ("gone", NotFoundError)):
        with pytest.raises(exc):
            await adgate_session.get_history(user)
    with pytest.raises(Exception, match="does not match"):
        await adgate_session.get_history("broken")
    st = adgate_session.stats
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
    adgate_server: StandInServer, adgate_session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="adgate_async")
    adgate_server.script("u", Answer.error(500))
    await adgate_session.get_history("u")
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
    adgate_server: StandInServer, adgate_session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    adgate_server.always("u", Answer.error(500))
    with pytest.raises(ServerError):
        await adgate_session.get_history("u")
    assert caplog.records == []
    assert logging.getLogger("adgate_async").handlers == []


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


def test_session_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        AsyncSession(AFF_ID, API_KEY, WALL_CODE)  # type: ignore[misc]


async def test_a_caller_session_keeps_its_own_headers(adgate_server: StandInServer) -> None:
    async with aiohttp.ClientSession(
        headers={"User-Agent": "my-app/2.0", "X-Team": "ads"}
    ) as http, make_session(session=http, **adgate_server.session_urls()) as s:
        await s.get_history("u1")
    (request,) = adgate_server.requests
    assert request.headers["User-Agent"] == "my-app/2.0"
    assert request.headers["X-Team"] == "ads"


async def test_a_caller_session_without_a_user_agent_gets_ours(
    adgate_server: StandInServer
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        make_session(session=http, **adgate_server.session_urls()) as s,
    ):
        await s.get_history("u1")
    (request,) = adgate_server.requests
    assert request.headers["User-Agent"].startswith("adgate-async/")


async def test_a_caller_session_keeps_its_own_timeout(adgate_server: StandInServer) -> None:
    adgate_server.always("slow", Answer.hang(120))
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.5)) as http,
        make_session(session=http, max_retries=0, **adgate_server.session_urls()) as s,
    ):
        with pytest.raises(APITimeoutError):
            # Our 30 s default would outlast this bound.
            await asyncio.wait_for(s.get_history("slow"), HANG)


async def test_an_explicit_timeout_overrides_the_caller_session(
    adgate_server: StandInServer
) -> None:
    adgate_server.always("slow", Answer.hang(120))
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as http,
        make_session(session=http, timeout=0.5, max_retries=0, **adgate_server.session_urls()) as s,
    ):
        with pytest.raises(APITimeoutError, match=r"0\.5 s"):
            await asyncio.wait_for(s.get_history("slow"), HANG)


def test_the_timeout_default_still_reads_as_30_seconds() -> None:
    import inspect

    default = inspect.signature(AsyncSession).parameters["timeout"].default
    assert default == 30.0
    assert repr(default) == "30.0"


def test_session_repr_hides_the_key() -> None:
    s = make_session()
    assert "***" in repr(s)
    assert "aff_id=60000" in repr(s)
    assert "SECRET" not in repr(s)  # not even a part of the key
    assert_clean(repr(s))
    assert_clean(str(s))


def test_built_outside_a_loop_then_used_in_asyncio_run_closes_cleanly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    async def use(s: AsyncSession) -> tuple[int, int]:
        async with StandInServer(port=port) as server:
            history = await s.get_history("u")
            offers = await s.get_personalized("u", numoffers=4)
            results = await s.gather_users(["a", "b"])
            await s.aclose()
            return len(history.data) + len(offers.offers) + len(results), server.count()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = make_session(adgate_base_url=base, revu_base_url=base)  # no loop running here
        assert asyncio.run(use(s)) == (3 + 4 + 2, 4)
        assert s.closed
        del s
        gc.collect()
    assert [str(w.message) for w in caught] == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


Call = Callable[[AsyncSession], Awaitable[object]]


async def _iterate_once(s: AsyncSession) -> None:
    async with contextlib.aclosing(s.iter_users(["u1", "u2"])) as results:
        async for _ in results:
            pass


CALLS: dict[str, Call] = {
    "get_history": lambda s: s.get_history("u"),
    "get_personalized": lambda s: s.get_personalized("u", numoffers=2),
    "raw get_history": lambda s: s.with_raw_response.get_history("u"),
    "raw get_personalized": lambda s: s.with_raw_response.get_personalized("u", numoffers=2),
    "gather_users": lambda s: s.gather_users(["u1", "u2"]),
    "iter_users": _iterate_once,
}


@pytest.mark.parametrize("name", list(CALLS))
def test_a_session_bound_to_one_loop_refuses_another_before_sending(name: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    s = make_session(adgate_base_url=base, revu_base_url=base)

    async def from_another_loop() -> None:
        async with StandInServer(port=port) as server:
            with pytest.raises(RuntimeError, match="another event loop") as info:
                await CALLS[name](s)
            assert_walk_clean(info.value)
            assert server.count() == 0
            assert s.stats.attempts == 0
            # Control: the same call from a session of this loop does reach the server.
            async with make_session(adgate_base_url=base, revu_base_url=base) as fresh:
                await CALLS[name](fresh)
            assert server.count() > 0

    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(s.__aenter__())  # the pool is created in `first`
        asyncio.run(from_another_loop())
        assert not s.closed
        first.run_until_complete(s.aclose())
    finally:
        first.close()
    assert s.closed


@pytest.mark.parametrize("name", list(CALLS))
async def test_calls_after_aclose_raise_and_send_nothing(
    adgate_server: StandInServer, name: str
) -> None:
    never_used = make_session(**adgate_server.session_urls())
    await never_used.aclose()  # closed before its pool was ever created
    with pytest.raises(RuntimeError, match="closed") as info:
        await CALLS[name](never_used)
    assert_walk_clean(info.value)
    assert adgate_server.count() == 0
    s = make_session(**adgate_server.session_urls())
    await CALLS[name](s)  # the session works until it is closed
    sent = adgate_server.count()
    assert sent > 0
    await s.aclose()
    with pytest.raises(RuntimeError, match="closed") as info:
        await CALLS[name](s)
    assert_walk_clean(info.value)
    assert adgate_server.count() == sent


@pytest.mark.parametrize("how", ["single call", "batch"])
async def test_a_closed_caller_session_raises_the_clear_error(
    adgate_server: StandInServer, how: str
) -> None:
    """Review finding 11: with ``session=`` (the caller's own aiohttp session), closing
    that session under a call or a batch raised aiohttp's bare ``RuntimeError: Session is
    closed`` instead of saying which session was closed."""
    client = aiohttp.ClientSession()
    s = make_session(session=client, **adgate_server.session_urls())
    await client.close()
    call = s.get_history("u1") if how == "single call" else s.gather_users(["u1", "u2"])
    with pytest.raises(RuntimeError) as caught:
        await call
    assert "session=" in str(caught.value), str(caught.value)
    assert "closed" in str(caught.value)
    await s.aclose()
