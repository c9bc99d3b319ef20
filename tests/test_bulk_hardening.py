"""Bulk hardening (issue 9): a batch's pause stays in the batch, input positions on every
result, a clear error when the session closes under a batch, workers tied to the consumer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adgate_async import AsyncSession, InvalidParameterError, UserResult
from adgate_async.testing import Answer, StandInServer

from ._support import make_session, package_tasks, wait_until

# ------------------------------------------- item 9: the pause belongs to the batch only


async def test_a_batch_pause_does_not_hold_an_unrelated_call() -> None:
    async with StandInServer(delay=0.01) as server:
        server.script("limited", Answer.error(429, retry_after=20))
        server.script("web", Answer.error(500), endpoint="personalized")
        async with make_session(**server.session_urls()) as s:
            batch = asyncio.create_task(
                s.gather_users(["limited"] + [f"u{i}" for i in range(20)], concurrency=2)
            )
            # The batch has seen its 429 and is paused for 20 s.
            await wait_until(lambda: s.stats.retries_by_reason.get("http_429", 0) >= 1)
            started = time.monotonic()
            offers = await asyncio.wait_for(s.get_personalized("web", numoffers=2), 15)
            elapsed = time.monotonic() - started
            assert len(offers.offers) == 2
            assert server.count("web") == 2  # the 500, then the retry
            assert elapsed < 10, elapsed  # its own backoff only, not the batch's 20 s
            assert not batch.done()  # the batch itself is still paused
            batch.cancel()
            with pytest.raises(asyncio.CancelledError):
                await batch


async def test_a_revu_429_does_not_pause_a_history_batch() -> None:
    async with StandInServer(delay=0.03) as server:
        server.script("web", Answer.error(429, retry_after=20), endpoint="personalized")
        async with make_session(**server.session_urls()) as s:
            ids = [f"u{i}" for i in range(40)]
            batch = asyncio.create_task(s.gather_users(ids, concurrency=2))
            await wait_until(lambda: server.count(endpoint="history") >= 2)
            web = asyncio.create_task(s.get_personalized("web", numoffers=2))
            await wait_until(lambda: s.stats.retries_by_reason.get("http_429", 0) >= 1)
            results = await asyncio.wait_for(batch, 15)  # 40 users, not a 20 s pause
            assert [r.user_id for r in results] == ids
            assert all(r.ok for r in results)
            assert not web.done()  # the RevU call waits out its own Retry-After
            web.cancel()
            with pytest.raises(asyncio.CancelledError):
                await web


async def test_a_batch_429_still_pauses_that_batch_and_its_retries(
    server: StandInServer,
) -> None:
    server.script("a", Answer.error(500))
    server.script("b", Answer.error(429, retry_after=1))
    async with make_session(retry_backoff=0.05, retry_backoff_max=0.05,
                            **server.session_urls()) as s:
        results = await s.gather_users(["a", "b", "c"], concurrency=2)
    assert all(r.ok for r in results)
    first = min(r.time for r in server.requests)
    later = sorted(r.time - first for r in server.requests)[2:]
    assert len(later) == 3  # a's retry, b's retry, c
    assert all(at >= 0.9 for at in later), later


# ------------------------------------------------------ item 12: the input position


async def test_every_result_carries_its_input_index(
    server: StandInServer, session: AsyncSession
) -> None:
    ids: list[Any] = [5, "5", "u", "u", ""]
    results = await session.gather_users(ids)
    assert [r.index for r in results] == [0, 1, 2, 3, 4]
    assert [r.user_id for r in results] == ["5", "5", "u", "u", ""]
    assert isinstance(results[0].error, InvalidParameterError)  # 5 is not a str
    assert results[1].ok
    assert isinstance(results[4].error, InvalidParameterError)


@pytest.mark.parametrize("ordered", [False, True])
async def test_iter_users_results_map_back_to_the_input(
    server: StandInServer, session: AsyncSession, ordered: bool
) -> None:
    server.script("slow", Answer.ok(delay=0.2))
    ids: list[Any] = ["slow", 5, "5", "a", "a"] + [f"u{i}" for i in range(20)]
    got = [r async for r in session.iter_users(ids, concurrency=4, ordered=ordered)]
    assert sorted(r.index for r in got) == list(range(len(ids)))
    for r in got:
        assert r.user_id == str(ids[r.index])
        assert r.ok == isinstance(ids[r.index], str)
    if ordered:
        assert [r.index for r in got] == list(range(len(ids)))


def test_user_result_built_by_hand_still_works() -> None:
    result = UserResult(user_id="u")
    assert result.index == -1
    assert UserResult(user_id="u", index=3).index == 3
    assert UserResult.__doc__ is not None
    assert "index" in UserResult.__doc__


# ------------------------------------- item 8: async iterables, and a blocking warning


async def _ids(n: int, prefix: str = "a") -> AsyncIterator[str]:
    for i in range(n):
        if i % 3 == 0:
            await asyncio.sleep(0)
        yield f"{prefix}{i}"


@pytest.mark.parametrize("ordered", [False, True])
async def test_iter_users_takes_an_async_iterable(
    server: StandInServer, session: AsyncSession, ordered: bool
) -> None:
    got = [r async for r in session.iter_users(_ids(30), concurrency=4, ordered=ordered)]
    assert sorted((r.index, r.user_id) for r in got) == [(i, f"a{i}") for i in range(30)]
    assert all(r.ok for r in got)


async def test_a_failing_async_input_aborts_the_batch_cleanly(
    server: StandInServer, session: AsyncSession
) -> None:
    async def ids() -> AsyncIterator[str]:
        yield "u1"
        yield "u2"
        await asyncio.sleep(0)
        raise OSError("stream gone")

    with pytest.raises(OSError, match="stream gone"):
        await session.gather_users(ids())
    assert package_tasks() == []
    with pytest.raises(OSError, match="stream gone"):
        async for _ in session.iter_users(ids()):
            pass
    assert package_tasks() == []


def test_the_docs_say_a_sync_iterable_must_not_block() -> None:
    doc = AsyncSession.iter_users.__doc__ or ""
    assert "must not block" in doc
    assert "async iterable" in doc


# ------------------------------------- item 17: closing the session under a batch


def _gather(s: AsyncSession, n: int) -> Any:
    return s.gather_users([f"u{i}" for i in range(n)], concurrency=4)


async def _iterate(s: AsyncSession, n: int) -> list[UserResult]:
    return [r async for r in s.iter_users([f"u{i}" for i in range(n)], concurrency=4)]


@pytest.mark.parametrize("run", [_gather, _iterate], ids=["gather_users", "iter_users"])
@pytest.mark.parametrize("max_retries", [0, 3])
async def test_closing_the_session_under_a_batch_raises_a_clear_error(
    run: Any, max_retries: int
) -> None:
    async with StandInServer(delay=0.05) as server:
        s = make_session(max_retries=max_retries, **server.session_urls())
        task = asyncio.create_task(run(s, 200))
        await wait_until(lambda: server.count() >= 8)
        await s.aclose()
        with pytest.raises(RuntimeError, match="AsyncSession was closed while") as info:
            await asyncio.wait_for(task, 10)
        assert type(info.value) is RuntimeError
        assert "Session is closed" not in str(info.value)
        assert package_tasks() == []
        assert server.count() < 200


async def test_closing_the_session_under_a_retrying_call_raises_a_clear_error(
    server: StandInServer,
) -> None:
    server.script("u", Answer.error(500))
    s = make_session(retry_backoff=0.3, retry_backoff_max=0.3, **server.session_urls())
    task = asyncio.create_task(s.get_history("u"))
    await wait_until(lambda: s.stats.retries == 1)  # asleep before its retry
    await s.aclose()
    with pytest.raises(RuntimeError, match="AsyncSession was closed while this call") as info:
        await asyncio.wait_for(task, 10)
    assert "Session is closed" not in str(info.value)
    assert server.count("u") == 1


# ------------------------------ item 18: the workers are tied to the consuming task


@pytest.mark.parametrize("named", [False, True])
async def test_cancelling_a_consumer_busy_in_its_loop_body_stops_the_workers(
    server: StandInServer, named: bool
) -> None:
    got: list[UserResult] = []
    async with make_session(**server.session_urls()) as s:

        async def consume() -> None:
            ids = (f"u{i}" for i in range(10_000))
            if named:
                results = s.iter_users(ids, concurrency=4)
                async for r in results:
                    got.append(r)
                    await asyncio.sleep(10)
            else:
                async for r in s.iter_users(ids, concurrency=4):
                    got.append(r)
                    await asyncio.sleep(10)

        task = asyncio.create_task(consume())
        await wait_until(lambda: len(got) == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Every worker already has its cancellation by the time the consumer is done...
        assert all(t.cancelling() for t in package_tasks())
        # ...and finishes at once, sending nothing more.
        await wait_until(lambda: not package_tasks(), within=2.0)
        count = server.count()
        await asyncio.sleep(0.2)
        assert server.count() == count


async def test_iter_users_as_a_context_manager_stops_the_workers_on_exit(
    server: StandInServer,
) -> None:
    async with make_session(**server.session_urls()) as s:
        async with s.iter_users((f"u{i}" for i in range(10_000)), concurrency=4) as results:
            async for result in results:
                assert result.ok
                break
        assert package_tasks() == []  # stopped and awaited on exit, not later
        count = server.count()
        await asyncio.sleep(0.1)
        assert server.count() == count


async def test_a_finished_iteration_leaves_no_callback_on_the_consumer(
    server: StandInServer, session: AsyncSession
) -> None:
    task = asyncio.current_task()
    assert task is not None
    for _ in range(3):
        assert len([r async for r in session.iter_users(["u1", "u2"])]) == 2
    # The consumer's done-callbacks hold no finished batch (no leak across many batches).
    assert not [cb for cb in getattr(task, "_callbacks", []) if "_Batch" in repr(cb)]
