"""Stopping a batch: cancellation, breaking out, a failing input, closing the session
under a batch; no task, callback or worker is left behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from adgate_async import (
    AsyncSession,
    InvalidParameterError,
    UserResult,
)
from adgate_async.testing import Answer, StandInServer

from ._support import (
    make_session,
    package_tasks,
    wait_until,
)


async def test_cancelling_gather_leaves_no_task_behind(adgate_server: StandInServer) -> None:
    adgate_server.always("u0", Answer.hang())
    async with make_session(**adgate_server.session_urls()) as s:
        task = asyncio.create_task(s.gather_users([f"u{i}" for i in range(50)], concurrency=4))
        await wait_until(lambda: adgate_server.count() >= 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert package_tasks() == []
        assert (await s.get_history("after")).data  # the session still answers


async def test_breaking_out_of_iter_users_leaves_no_task_behind(
    adgate_server: StandInServer,
) -> None:
    async with make_session(**adgate_server.session_urls()) as s:
        async for result in s.iter_users((f"u{i}" for i in range(10_000)), concurrency=8):
            assert result.ok
            break
        await wait_until(lambda: not package_tasks(), within=2.0)
        count = adgate_server.count()
        await asyncio.sleep(0.1)
        assert adgate_server.count() == count  # nothing more was sent
        assert (await s.get_history("after")).data


async def test_a_failing_input_aborts_the_batch_cleanly(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    def ids() -> Iterator[str]:
        yield "u1"
        yield "u2"
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        await adgate_session.gather_users(ids())
    assert package_tasks() == []


async def test_cancellation_is_not_turned_into_a_user_error(adgate_server: StandInServer) -> None:
    adgate_server.always("u1", Answer.hang())
    got: list[UserResult] = []
    async with make_session(**adgate_server.session_urls()) as s:

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


async def test_a_failing_async_input_aborts_the_batch_cleanly(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    async def ids() -> AsyncIterator[str]:
        yield "u1"
        yield "u2"
        await asyncio.sleep(0)
        raise OSError("stream gone")

    with pytest.raises(OSError, match="stream gone"):
        await adgate_session.gather_users(ids())
    assert package_tasks() == []
    with pytest.raises(OSError, match="stream gone"):
        async for _ in adgate_session.iter_users(ids()):
            pass
    assert package_tasks() == []


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
    adgate_server: StandInServer,
) -> None:
    adgate_server.script("u", Answer.error(500))
    s = make_session(retry_backoff=0.3, retry_backoff_max=0.3, **adgate_server.session_urls())
    task = asyncio.create_task(s.get_history("u"))
    await wait_until(lambda: s.stats.retries == 1)  # asleep before its retry
    await s.aclose()
    with pytest.raises(RuntimeError, match="AsyncSession was closed while this call") as info:
        await asyncio.wait_for(task, 10)
    assert "Session is closed" not in str(info.value)
    assert adgate_server.count("u") == 1


@pytest.mark.parametrize("named", [False, True])
async def test_cancelling_a_consumer_busy_in_its_loop_body_stops_the_workers(
    adgate_server: StandInServer, named: bool
) -> None:
    got: list[UserResult] = []
    async with make_session(**adgate_server.session_urls()) as s:

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
        assert adgate_server.count() <= started
        assert s.stats.attempts == started


async def test_iter_users_as_a_context_manager_stops_the_workers_on_exit(
    adgate_server: StandInServer,
) -> None:
    async with make_session(**adgate_server.session_urls()) as s:
        async with s.iter_users((f"u{i}" for i in range(10_000)), concurrency=4) as results:
            async for result in results:
                assert result.ok
                break
        assert package_tasks() == []  # stopped and awaited on exit, not later
        count = adgate_server.count()
        await asyncio.sleep(0.1)
        assert adgate_server.count() == count


async def test_a_finished_iteration_leaves_no_callback_on_the_consumer(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    task = asyncio.current_task()
    assert task is not None
    for _ in range(3):
        assert len([r async for r in adgate_session.iter_users(["u1", "u2"])]) == 2
    # The consumer's done-callbacks hold no finished batch (no leak across many batches).
    assert not [cb for cb in getattr(task, "_callbacks", []) if "_Batch" in repr(cb)]


# ------------------ review finding 1: __anext__ awaited from more than one task


async def test_iter_users_driven_through_wait_for_yields_every_user(
    adgate_server: StandInServer,
) -> None:
    """Review finding 1 (iter_users workers tied to the first task calling ``__anext__``):
    ``asyncio.wait_for(anext(it))`` runs each ``__anext__`` in a task of its own on Python
    3.11; the first such task returning cancelled every worker and the iteration ended
    normally after a handful of users."""
    ids = [f"u{i}" for i in range(40)]
    got: list[UserResult] = []
    async with make_session(**adgate_server.session_urls()) as s:
        results = s.iter_users(ids, concurrency=4)
        while True:
            try:
                got.append(await asyncio.wait_for(anext(results), timeout=60))
            except StopAsyncIteration:
                break
    assert sorted(r.index for r in got) == list(range(len(ids)))


async def test_iter_users_driven_by_ensure_future_yields_every_user(
    adgate_server: StandInServer,
) -> None:
    """Review finding 1, the other common shape: ``ensure_future(anext(it))`` raced against
    a stop event with ``asyncio.wait``."""
    ids = [f"u{i}" for i in range(40)]
    got: list[UserResult] = []
    async with make_session(**adgate_server.session_urls()) as s:
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
    adgate_server: StandInServer,
) -> None:
    """Review finding 1: workers stopped because the task reading the results was cancelled
    must never look like the end of the input; a later ``__anext__`` (from another task)
    raises a clear error instead of ``StopAsyncIteration``."""
    async with make_session(**adgate_server.session_urls()) as s:
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
async def test_a_huge_int_id_does_not_abort_the_batch(
    adgate_server: StandInServer, how: str
) -> None:
    """Review finding 2: ``10**5000`` among the ids is one user's InvalidParameterError;
    building its result must not call a ``str()`` that raises and aborts the batch."""
    ids: list[object] = ["a", 10**5000, "b"]
    async with make_session(**adgate_server.session_urls()) as s:
        if how == "gather_users":
            results = await s.gather_users(ids)  # type: ignore[arg-type]
        else:
            results = [r async for r in s.iter_users(ids)]  # type: ignore[arg-type]
    by_index = {r.index: r for r in results}
    assert sorted(by_index) == [0, 1, 2]
    assert by_index[0].ok
    assert by_index[2].ok
    assert isinstance(by_index[1].error, InvalidParameterError)
