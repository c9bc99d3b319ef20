"""gather_users / iter_users against the stand-in server: accounting, bounds, pauses, cancel."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import resource
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

import adgate_async
from adgate_async import (
    AsyncSession,
    DecodeError,
    InvalidParameterError,
    NotFoundError,
    UserBannedError,
    UserResult,
)
from adgate_async.testing import Answer, StandInServer

from ._support import make_session, package_tasks, wait_until


async def test_every_user_accounted_for_in_input_order(
    server: StandInServer, session: AsyncSession
) -> None:
    server.always("banned", Answer.ban())
    server.always("gone", Answer.error(404))
    server.always("garbled", Answer.ok(body=b"{}"))
    server.script("flaky", Answer.error(500), Answer.error(502))
    ids = [f"u{i}" for i in range(30)]
    ids[3:3] = ["banned", "u1", "gone", "garbled", "flaky", "", "u1", "banned"]
    results = await session.gather_users(ids, concurrency=4)
    assert [r.user_id for r in results] == ids
    by_id = {r.user_id: r for r in results}
    assert isinstance(by_id["banned"].error, UserBannedError)
    assert isinstance(by_id["gone"].error, NotFoundError)
    assert isinstance(by_id["garbled"].error, DecodeError)
    assert isinstance(by_id[""].error, InvalidParameterError)
    assert by_id["flaky"].ok
    assert by_id["flaky"].history is not None
    assert sum(r.ok for r in results) == len(ids) - 5
    for r in results:
        assert (r.history is None) != (r.error is None)
    assert server.count("banned") == 2  # once per occurrence: bans are never retried
    assert server.count("u1") == 3


async def test_in_flight_reaches_but_never_exceeds_concurrency() -> None:
    async with StandInServer(delay=0.02) as server, make_session(**server.session_urls()) as s:
        results = await s.gather_users([f"u{i}" for i in range(120)], concurrency=8)
    assert len(results) == 120
    assert all(r.ok for r in results)
    assert 6 <= server.peak_in_flight <= 8


async def test_a_slow_user_does_not_hold_back_the_others(server: StandInServer) -> None:
    server.script("slow", Answer.ok(delay=1.0))
    ids = ["slow"] + [f"u{i}" for i in range(20)]
    started = time.monotonic()
    seen: list[tuple[str, float]] = []
    async with make_session(**server.session_urls()) as s:
        async for result in s.iter_users(ids, concurrency=4):
            seen.append((result.user_id, time.monotonic() - started))
    assert sorted(u for u, _ in seen) == sorted(ids)
    assert seen[-1][0] == "slow"
    assert all(at < 0.8 for user, at in seen if user != "slow")


async def test_ordered_mode_keeps_input_order(server: StandInServer) -> None:
    server.script("slow", Answer.ok(delay=0.3))
    ids = [f"u{i}" for i in range(10)] + ["slow"] + [f"v{i}" for i in range(10)]
    async with make_session(**server.session_urls()) as s:
        got = [r.user_id async for r in s.iter_users(ids, concurrency=4, ordered=True)]
    assert got == ids


async def test_a_slow_consumer_pauses_the_workers(server: StandInServer) -> None:
    async with (
        make_session(**server.session_urls()) as s,
        contextlib.aclosing(
            s.iter_users((f"u{i}" for i in range(1000)), concurrency=4, buffer=8)
        ) as results,
    ):
        await anext(results)
        await asyncio.sleep(0.3)  # a consumer busy elsewhere
        assert server.count() <= 8 + 1
    assert server.count() <= 8 + 1


async def test_429_retry_after_pauses_the_whole_batch() -> None:
    async with StandInServer(delay=0.01) as server:
        server.script("u2", Answer.error(429, retry_after=1))
        ids = [f"u{i}" for i in range(60)]
        async with make_session(**server.session_urls()) as s:
            results = await s.gather_users(ids, concurrency=4)
    assert all(r.ok for r in results)
    t429 = next(r.time for r in server.requests if r.user_id == "u2")
    later = sorted(r.time - t429 for r in server.requests if r.time > t429)
    # Requests already under way when the 429 arrived may still land within a few ms;
    # after that nothing new starts until the pause is over.
    assert not [d for d in later if 0.05 < d < 0.9], later[:10]
    assert later[-1] >= 0.9
    assert s.stats.retries_by_reason == {"http_429": 1}


async def test_the_shared_pause_also_holds_retries(server: StandInServer) -> None:
    server.script("a", Answer.error(500))  # retried after a short backoff...
    server.script("b", Answer.error(429, retry_after=1))  # ...but the batch is paused
    async with make_session(retry_backoff=0.05, retry_backoff_max=0.05,
                            **server.session_urls()) as s:
        results = await s.gather_users(["a", "b"], concurrency=2)
    assert all(r.ok for r in results)
    first = min(r.time for r in server.requests)
    retries = sorted(r.time - first for r in server.requests)[2:]
    assert len(retries) == 2
    assert all(at >= 0.9 for at in retries), retries


async def test_pool_size_of_a_caller_session_counts_limit_per_host(
    server: StandInServer,
) -> None:
    connector = aiohttp.TCPConnector(limit_per_host=2)
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        make_session(session=http, **server.session_urls()) as s,
    ):
        with pytest.raises(ValueError, match=r"pool size \(2\)"):
            await s.gather_users(["u"], concurrency=3)
        assert len(await s.gather_users(["u1", "u2", "u3"])) == 3  # default fits


async def test_the_shared_pause_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adgate_async._config, "RETRY_AFTER_CAP", 0.5)
    async with StandInServer() as server:
        server.script("u1", Answer.error(429, retry_after=30))
        async with make_session(max_retries=0, **server.session_urls()) as s:
            started = time.monotonic()
            results = await s.gather_users([f"u{i}" for i in range(8)], concurrency=2)
            elapsed = time.monotonic() - started
    assert [r.ok for r in results] == [True, False] + [True] * 6
    assert results[1].error.retry_after == 30  # type: ignore[union-attr]
    assert 0.4 <= elapsed < 5  # paused for the cap (0.5 s), not the 30 s asked for


async def test_max_per_second_limits_the_start_rate(server: StandInServer) -> None:
    async with make_session(**server.session_urls()) as s:
        started = time.monotonic()
        await s.gather_users([f"u{i}" for i in range(11)], concurrency=4, max_per_second=25)
        elapsed = time.monotonic() - started
    assert elapsed >= 0.35  # 11 starts at 25/s: the last one at 0.4 s
    starts = sorted(r.time for r in server.requests)
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.03


async def test_progress_and_stats_as_the_batch_runs(server: StandInServer) -> None:
    server.always("u3", Answer.ban())
    calls: list[tuple[int, int | None, int]] = []
    async with make_session(**server.session_urls()) as s:

        def progress(done: int, total: int | None, errors: int) -> None:
            calls.append((done, total, errors))
            assert s.stats.requests >= done

        await s.gather_users([f"u{i}" for i in range(10)], on_progress=progress)
        assert [c[0] for c in calls] == list(range(1, 11))
        assert {c[1] for c in calls} == {10}
        assert calls[-1][2] == 1
        assert s.stats.requests == 10
        assert s.stats.bans == 1
        calls.clear()
        await s.gather_users((f"g{i}" for i in range(3)), on_progress=progress)
        assert {c[1] for c in calls} == {None}  # a generator has no length


async def test_async_iterable_input(server: StandInServer, session: AsyncSession) -> None:
    async def ids() -> AsyncIterator[str]:
        for i in range(25):
            if i % 5 == 0:
                await asyncio.sleep(0)
            yield f"a{i}"

    results = await session.gather_users(ids(), concurrency=3)
    assert [r.user_id for r in results] == [f"a{i}" for i in range(25)]


async def test_bad_arguments_fail_before_any_request(
    server: StandInServer, session: AsyncSession
) -> None:
    with pytest.raises(ValueError, match="offer_ids"):
        await session.gather_users(["u"], offer_ids=["x"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="concurrency"):
        session.iter_users(["u"], concurrency=0)
    with pytest.raises(ValueError, match="max_per_second"):
        await session.gather_users(["u"], max_per_second=0)
    with pytest.raises(ValueError, match="user_ids"):
        await session.gather_users("u1")  # a str is not a list of ids
    assert server.count() == 0


async def test_concurrency_above_the_pool_is_refused(server: StandInServer) -> None:
    async with make_session(max_connections=5, **server.session_urls()) as s:
        with pytest.raises(ValueError, match=r"pool size \(5\)"):
            await s.gather_users(["u"], concurrency=6)
        results = await s.gather_users([f"u{i}" for i in range(30)])  # default fits the pool
    assert len(results) == 30
    assert server.peak_in_flight <= 5


async def test_cancelling_gather_leaves_no_task_behind(server: StandInServer) -> None:
    server.always("u0", Answer.hang())
    async with make_session(**server.session_urls()) as s:
        task = asyncio.create_task(s.gather_users([f"u{i}" for i in range(50)], concurrency=4))
        await wait_until(lambda: server.count() >= 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert package_tasks() == []
        assert (await s.get_history("after")).data  # the session still answers


async def test_breaking_out_of_iter_users_leaves_no_task_behind(
    server: StandInServer,
) -> None:
    async with make_session(**server.session_urls()) as s:
        async for result in s.iter_users((f"u{i}" for i in range(10_000)), concurrency=8):
            assert result.ok
            break
        await wait_until(lambda: not package_tasks(), within=2.0)
        count = server.count()
        await asyncio.sleep(0.1)
        assert server.count() == count  # nothing more was sent
        assert (await s.get_history("after")).data


async def test_a_failing_input_aborts_the_batch_cleanly(
    server: StandInServer, session: AsyncSession
) -> None:
    def ids() -> Iterator[str]:
        yield "u1"
        yield "u2"
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        await session.gather_users(ids())
    assert package_tasks() == []


async def test_cancellation_is_not_turned_into_a_user_error(server: StandInServer) -> None:
    server.always("u1", Answer.hang())
    got: list[UserResult] = []
    async with make_session(**server.session_urls()) as s:

        async def consume() -> None:
            async for r in s.iter_users(["u0", "u1", "u2"], concurrency=3):
                got.append(r)

        task = asyncio.create_task(consume())
        await wait_until(lambda: len(got) == 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert all(r.ok for r in got)
    assert {r.user_id for r in got} == {"u0", "u2"}


async def test_memory_does_not_grow_with_the_number_of_users() -> None:
    """Peak RSS over 30,000 ids stays within a few MB of that over 3,000 (the full 10^4 to
    10^6 figures are in benchmarks/bulk_memory.py)."""
    async with (
        StandInServer(offers_per_user=1, record=False) as server,
        make_session(max_retries=0, **server.session_urls()) as s,
    ):

        async def run(n: int) -> int:
            done = 0
            async for result in s.iter_users((f"m{i}" for i in range(n)), concurrency=16):
                done += result.ok
            return done

        assert await run(3_000) == 3_000
        small = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert await run(30_000) == 30_000
        large = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in KiB on Linux. One-task-per-user would add tens of MB here.
    assert large - small < 16 * 1024, (small, large)
