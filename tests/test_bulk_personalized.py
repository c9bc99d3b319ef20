"""gather_personalized / iter_personalized (the bulk ban check) against the stand-in server:
every uid accounted for once with its index, typed errors, the shared pause, bounds, and
a clean cancel. The engine is the one behind gather_users / iter_users."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from adgate_async import (
    AsyncSession,
    BatchIterator,
    DecodeError,
    InvalidParameterError,
    IPBannedError,
    NotFoundError,
    PersonalizedResult,
    ServerError,
    UserBannedError,
)
from adgate_async.testing import Answer, StandInServer

from ._support import make_session, package_tasks, wait_until

P = "personalized"


async def test_every_uid_accounted_for_in_input_order(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    adgate_server.always("banned", Answer.ban(), endpoint=P)
    adgate_server.always("ip-banned", Answer.ban("IP_BANNED"), endpoint=P)
    adgate_server.always("gone", Answer.error(404), endpoint=P)
    adgate_server.always("down", Answer.error(503), endpoint=P)
    adgate_server.always("garbled", Answer.ok(body=b"{}"), endpoint=P)
    adgate_server.script("flaky", Answer.error(500), Answer.error(502), endpoint=P)
    uids = [f"u{i}" for i in range(20)]
    uids[5:5] = ["banned", "u1", "gone", "flaky", "", "u1", "banned", "ip-banned", "down",
                 "garbled"]
    results = await adgate_session.gather_personalized(uids, concurrency=4, numoffers=3)
    assert [r.user_id for r in results] == uids
    assert [r.index for r in results] == list(range(len(uids)))
    assert all(type(r) is PersonalizedResult for r in results)
    for r in results:
        assert (r.personalized is None) != (r.error is None)
        assert r.ok == (r.error is None)
    by_index = dict(enumerate(results))
    assert isinstance(by_index[5].error, UserBannedError)
    assert isinstance(by_index[11].error, UserBannedError)
    assert isinstance(by_index[12].error, IPBannedError)
    assert isinstance(by_index[7].error, NotFoundError)
    assert isinstance(by_index[13].error, ServerError)
    assert isinstance(by_index[14].error, DecodeError)
    error = by_index[9].error
    assert isinstance(error, InvalidParameterError)
    assert error.param == "uid"
    flaky = by_index[8].personalized
    assert flaky is not None  # recovered after two 5xx
    assert len(flaky.offers) == 3
    assert sum(r.ok for r in results) == len(uids) - 7
    assert adgate_server.count("banned", P) == 2  # once per occurrence: bans are never retried
    assert adgate_server.count("flaky", P) == 3
    assert adgate_server.count("down", P) == 4  # retried up to max_retries=3
    assert adgate_server.count("u1", P) == 3  # u1 is in the input three times
    assert adgate_server.count(endpoint="history") == 0
    # The options, checked once, go with every request; wall falls back to wall_id.
    assert {(r.query["numoffers"], r.query["wall"])
            for r in adgate_server.requests} == {("3", "567")}


async def test_options_are_sent_for_every_uid(adgate_server: StandInServer) -> None:
    async with make_session(wall_id=None, **adgate_server.session_urls()) as s:
        results = await s.gather_personalized(
            ["a", "b"], numoffers=2, wall=9, device="ios", ip="203.0.113.7", sid3="t/1",
        )
    assert all(r.ok for r in results)
    for request in adgate_server.requests:
        assert request.query == {"wall": "9", "numoffers": "2", "sid3": "t/1",
                                 "device": "ios", "ip": "203.0.113.7"}


async def test_iter_personalized_yields_each_uid_once_mapped_by_index(
    adgate_server: StandInServer,
) -> None:
    adgate_server.script("slow", Answer.ok(delay=0.3), endpoint=P)
    uids = ["slow", "u1", "5", "u1", "gone"] + [f"v{i}" for i in range(10)]
    adgate_server.always("gone", Answer.error(404), endpoint=P)
    async with make_session(**adgate_server.session_urls()) as s:
        results = s.iter_personalized(uids, concurrency=4, numoffers=1)
        assert isinstance(results, BatchIterator)
        got = [r async for r in results]
        ordered = [r.user_id async for r in s.iter_personalized(uids, concurrency=4,
                                                                ordered=True, numoffers=1)]
    assert sorted(r.index for r in got) == list(range(len(uids)))
    assert all(uids[r.index] == r.user_id for r in got)
    assert got[-1].user_id == "slow"  # unordered: the slow one does not hold back the rest
    assert isinstance(next(r for r in got if r.user_id == "gone").error, NotFoundError)
    assert ordered == uids


async def test_in_flight_reaches_but_never_exceeds_concurrency() -> None:
    async with StandInServer(delay=0.02) as server, make_session(**server.session_urls()) as s:
        results = await s.gather_personalized([f"u{i}" for i in range(80)], concurrency=6,
                                               numoffers=1)
    assert all(r.ok for r in results)
    assert 4 <= server.peak_in_flight <= 6


async def test_a_slow_consumer_pauses_the_workers(adgate_server: StandInServer) -> None:
    async with (
        make_session(**adgate_server.session_urls()) as s,
        contextlib.aclosing(s.iter_personalized(
            (f"u{i}" for i in range(1000)), concurrency=4, buffer=8, numoffers=1,
        )) as results,
    ):
        await anext(results)
        await asyncio.sleep(0.3)  # a consumer busy elsewhere
        assert adgate_server.count() <= 8 + 1
    assert adgate_server.count() <= 8 + 1


async def test_429_retry_after_pauses_the_whole_batch() -> None:
    async with StandInServer(delay=0.01) as server:
        server.script("u2", Answer.error(429, retry_after=1), endpoint=P)
        uids = [f"u{i}" for i in range(60)]
        async with make_session(**server.session_urls()) as s:
            results = await s.gather_personalized(uids, concurrency=4, numoffers=1)
    assert all(r.ok for r in results)
    t429 = next(r.time for r in server.requests if r.user_id == "u2")
    later = sorted(r.time - t429 for r in server.requests if r.time > t429)
    # Requests already under way when the 429 arrived may still land within a few ms;
    # after that nothing new starts until the pause is over.
    assert not [d for d in later if 0.05 < d < 0.9], later[:10]
    assert later[-1] >= 0.9
    assert s.stats.retries_by_reason == {"http_429": 1}


async def test_the_pause_of_a_personalized_batch_does_not_hold_other_calls(
    adgate_server: StandInServer,
) -> None:
    adgate_server.script("u0", Answer.error(429, retry_after=1), endpoint=P)
    async with make_session(**adgate_server.session_urls()) as s:
        batch = asyncio.create_task(s.gather_personalized(["u0", "u1", "u2"], concurrency=1,
                                                          numoffers=1))
        await wait_until(lambda: adgate_server.count("u0", P) == 1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert (await s.get_history("other")).data
        assert (await s.get_personalized("other", numoffers=1)).offers
        assert loop.time() - started < 0.9  # not held by the batch's pause
        assert all(r.ok for r in await batch)


async def test_cancelling_gather_personalized_leaves_no_task_behind(
    adgate_server: StandInServer,
) -> None:
    adgate_server.always("u0", Answer.hang(), endpoint=P)
    async with make_session(**adgate_server.session_urls()) as s:
        task = asyncio.create_task(
            s.gather_personalized([f"u{i}" for i in range(50)], concurrency=4, numoffers=1)
        )
        await wait_until(lambda: adgate_server.count() >= 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert package_tasks() == []
        assert (await s.get_personalized("after", numoffers=1)).offers


async def test_leaving_iter_personalized_early_stops_the_workers(
    adgate_server: StandInServer,
) -> None:
    async with make_session(**adgate_server.session_urls()) as s:
        async with s.iter_personalized((f"u{i}" for i in range(10_000)), concurrency=4,
                                       numoffers=1) as results:
            async for result in results:
                assert result.ok
                break
        assert package_tasks() == []  # stopped and awaited on exit, not later
        count = adgate_server.count()
        await asyncio.sleep(0.1)
        assert adgate_server.count() == count


async def test_closing_the_session_under_the_batch_is_told_as_such(
    adgate_server: StandInServer,
) -> None:
    adgate_server.always("u3", Answer.hang(), endpoint=P)
    async with make_session(**adgate_server.session_urls()) as s:
        task = asyncio.create_task(
            s.gather_personalized([f"u{i}" for i in range(10)], concurrency=4, numoffers=1)
        )
        await wait_until(lambda: adgate_server.count("u3", P) == 1)
        await s.aclose()
        with pytest.raises(RuntimeError, match="closed while a gather_personalized batch"):
            await task
    assert package_tasks() == []


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, TypeError, "'numoffers'"),
        ({"numoffers": 0}, InvalidParameterError, "numoffers"),
        ({"numoffers": 1, "numofers": 2}, TypeError, "'numofers'"),
        ({"numoffers": 1, "device": "mobile"}, InvalidParameterError, "device"),
        ({"numoffers": 1, "concurrency": 10**6}, InvalidParameterError, "concurrency"),
        ({"numoffers": 1, "max_per_second": 0}, InvalidParameterError, "max_per_second"),
        ({"numoffers": 1, "on_progress": 5}, InvalidParameterError, "on_progress"),
    ],
)
async def test_bad_arguments_are_refused_before_any_request(
    adgate_server: StandInServer, kwargs: dict[str, object], error: type[Exception], match: str,
) -> None:
    async with make_session(**adgate_server.session_urls()) as s:
        with pytest.raises(error, match=match):
            await s.gather_personalized(["u1"], **kwargs)  # type: ignore[arg-type]
        with pytest.raises(error, match=match):
            s.iter_personalized(["u1"], **kwargs)  # type: ignore[arg-type]
    assert adgate_server.count() == 0


async def test_a_wall_is_required_when_the_session_has_none(adgate_server: StandInServer) -> None:
    async with make_session(wall_id=None, **adgate_server.session_urls()) as s:
        with pytest.raises(InvalidParameterError, match="wall is required"):
            await s.gather_personalized(["u1"], numoffers=1)
        with pytest.raises(InvalidParameterError, match="uids"):
            await s.gather_personalized("u1", numoffers=1, wall=3)
    assert adgate_server.count() == 0


async def test_progress_counts_every_uid_and_its_errors(adgate_server: StandInServer) -> None:
    adgate_server.always("banned", Answer.ban(), endpoint=P)
    seen: list[tuple[int, int | None, int]] = []
    async with make_session(**adgate_server.session_urls()) as s:
        await s.gather_personalized(["a", "banned", "b"], numoffers=1,
                                    on_progress=lambda *a: seen.append(a))
    assert seen[-1] == (3, 3, 1)
    assert [done for done, _, _ in seen] == [1, 2, 3]
