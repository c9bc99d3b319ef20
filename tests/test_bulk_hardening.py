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
        # Every request begun while the consumer was still ending (workers run until it
        # has processed its cancellation). Such a request may reach the stand-in server
        # only after this point, so the server's count at one instant proves nothing:
        # compare with what the session began.
        started = s.stats.attempts
        # Every worker already has its cancellation by the time the consumer is done...
        assert all(t.cancelling() for t in package_tasks())
        # ...and finishes at once, beginning no other request.
        await wait_until(lambda: not package_tasks(), within=2.0)
        assert s.stats.attempts == started
        await asyncio.sleep(0.2)
        assert server.count() <= started
        assert s.stats.attempts == started


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


# ------------------ review finding 1: __anext__ awaited from more than one task


async def test_iter_users_driven_through_wait_for_yields_every_user(
    server: StandInServer,
) -> None:
    """Review finding 1 (iter_users workers tied to the first task calling ``__anext__``):
    ``asyncio.wait_for(anext(it))`` runs each ``__anext__`` in a task of its own on Python
    3.11; the first such task returning cancelled every worker and the iteration ended
    normally after a handful of users."""
    ids = [f"u{i}" for i in range(40)]
    got: list[UserResult] = []
    async with make_session(**server.session_urls()) as s:
        results = s.iter_users(ids, concurrency=4)
        while True:
            try:
                got.append(await asyncio.wait_for(anext(results), timeout=60))
            except StopAsyncIteration:
                break
    assert sorted(r.index for r in got) == list(range(len(ids)))


async def test_iter_users_driven_by_ensure_future_yields_every_user(
    server: StandInServer,
) -> None:
    """Review finding 1, the other common shape: ``ensure_future(anext(it))`` raced against
    a stop event with ``asyncio.wait``."""
    ids = [f"u{i}" for i in range(40)]
    got: list[UserResult] = []
    async with make_session(**server.session_urls()) as s:
        results = s.iter_users(ids, concurrency=4)
        stop = asyncio.Event()
        stopper = asyncio.ensure_future(stop.wait())
        try:
            while True:
                step = asyncio.ensure_future(anext(results))
                await asyncio.wait({step, stopper}, return_when=asyncio.FIRST_COMPLETED)
                try:
                    got.append(step.result())
                except StopAsyncIteration:
                    break
        finally:
            stopper.cancel()
    assert sorted(r.index for r in got) == list(range(len(ids)))


async def test_an_iterator_whose_reader_was_cancelled_does_not_end_quietly(
    server: StandInServer,
) -> None:
    """Review finding 1: workers stopped because the task reading the results was cancelled
    must never look like the end of the input; a later ``__anext__`` (from another task)
    raises a clear error instead of ``StopAsyncIteration``."""
    async with make_session(**server.session_urls()) as s:
        results = s.iter_users((f"u{i}" for i in range(10_000)), concurrency=4)
        got: list[UserResult] = []

        async def read_one_then_hang() -> None:
            got.append(await anext(results))
            await asyncio.sleep(60)

        task = asyncio.create_task(read_one_then_hang())
        await wait_until(lambda: len(got) == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(RuntimeError, match="stopped because the task"):
            await anext(results)
        await wait_until(lambda: not package_tasks(), within=2.0)


# ------------------------------ review finding 2: an id whose str() raises


@pytest.mark.parametrize("how", ["gather_users", "iter_users"])
async def test_a_huge_int_id_does_not_abort_the_batch(server: StandInServer, how: str) -> None:
    """Review finding 2: ``10**5000`` among the ids is one user's InvalidParameterError;
    building its result must not call a ``str()`` that raises and aborts the batch."""
    ids: list[object] = ["a", 10**5000, "b"]
    async with make_session(**server.session_urls()) as s:
        if how == "gather_users":
            results = await s.gather_users(ids)  # type: ignore[arg-type]
        else:
            results = [r async for r in s.iter_users(ids)]  # type: ignore[arg-type]
    by_index = {r.index: r for r in results}
    assert sorted(by_index) == [0, 1, 2]
    assert by_index[0].ok
    assert by_index[2].ok
    assert isinstance(by_index[1].error, InvalidParameterError)
