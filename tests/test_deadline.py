"""The time limit of an attempt (adgate_async._deadline): one periodic check per session,
not one timer per request, with asyncio.timeout's rules for cancellations."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from adgate_async import APITimeoutError
from adgate_async._deadline import Deadlines
from adgate_async.testing import Answer, StandInServer

from ._support import HANG, make_session


async def stalled(deadlines: Deadlines) -> str:
    """An attempt that never ends by itself: "timed out" once its limit fires."""
    try:
        with deadlines.limit():
            await asyncio.sleep(HANG)
    except TimeoutError:
        return "timed out"
    return "finished"


async def test_an_attempt_past_its_limit_raises_timeout_error() -> None:
    deadlines = Deadlines(0.05)
    started = time.perf_counter()
    with pytest.raises(TimeoutError), deadlines.limit():
        await asyncio.sleep(HANG)
    assert time.perf_counter() - started < HANG / 2  # fired, not slept through
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0


async def test_an_attempt_within_its_limit_is_left_alone() -> None:
    deadlines = Deadlines(0.05)
    with deadlines.limit():
        await asyncio.sleep(0)
    await asyncio.sleep(0.2)  # several checks later: no cancellation was left behind
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0


async def test_a_cancellation_from_elsewhere_is_not_taken_for_a_timeout() -> None:
    deadlines = Deadlines(HANG)
    entered = asyncio.Event()

    async def attempt() -> None:
        with deadlines.limit():
            entered.set()
            await asyncio.sleep(HANG)

    task = asyncio.create_task(attempt())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancellation_that_meets_an_expired_limit_stays_a_cancellation() -> None:
    deadlines = Deadlines(0.05)
    entered = asyncio.Event()

    async def attempt() -> None:
        with deadlines.limit():
            entered.set()
            try:
                await asyncio.sleep(HANG)
            finally:  # cancelled by the check: the caller cancels too before we leave
                task = asyncio.current_task()
                assert task is not None
                task.cancel()
                await asyncio.sleep(0)

    task = asyncio.create_task(attempt())
    await entered.wait()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, HANG)


async def test_one_check_serves_many_attempts_and_stops_when_none_runs() -> None:
    deadlines = Deadlines(0.2)
    quick_done = 0

    async def quick() -> None:
        nonlocal quick_done
        with deadlines.limit():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)  # a later await of the same task is never cancelled
        quick_done += 1

    attempts = [*(stalled(deadlines) for _ in range(20)), *(quick() for _ in range(20))]
    results = await asyncio.wait_for(asyncio.gather(*attempts), HANG)
    assert results[:20] == ["timed out"] * 20
    assert quick_done == 20
    await asyncio.sleep(deadlines.period * 3)
    assert deadlines._handle is None  # nothing runs: no check left on the loop
    assert not deadlines._limits


@pytest.mark.parametrize(("seconds", "period"), [(30.0, 0.25), (0.5, 0.025), (0.05, 0.01)])
def test_the_check_period_is_a_twentieth_of_the_limit_within_bounds(
    seconds: float, period: float
) -> None:
    assert Deadlines(seconds).period == pytest.approx(period)


async def test_requests_do_not_arm_a_timer_each(
    adgate_server: StandInServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: aiohttp armed a total-timeout timer per request (call_at on the loop).
    loop = asyncio.get_running_loop()
    armed = 0
    call_at = loop.call_at

    def counting(when: float, callback: Any, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        nonlocal armed
        armed += 1
        return call_at(when, callback, *args, **kwargs)

    async with make_session(**adgate_server.session_urls()) as s:
        await s.get_history("warm-up")
        monkeypatch.setattr(loop, "call_at", counting)
        results = await s.gather_users([f"u{i}" for i in range(60)], concurrency=8)
    assert all(r.ok for r in results)
    assert armed < 20, armed  # the session's check (every 0.25 s), not 60 timers


async def test_a_caller_sessions_read_limit_is_still_kept_by_aiohttp(
    adgate_server: StandInServer
) -> None:
    adgate_server.always("slow", Answer.hang(120))
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_read=0.3)) as http,
        make_session(session=http, max_retries=0, **adgate_server.session_urls()) as s,
    ):
        with pytest.raises(APITimeoutError):
            await asyncio.wait_for(s.get_history("slow"), HANG)


async def test_a_session_timeout_still_ends_a_stalled_answer(adgate_server: StandInServer) -> None:
    adgate_server.always("slow", Answer.hang(120))
    async with make_session(timeout=0.3, max_retries=1, **adgate_server.session_urls()) as s:
        with pytest.raises(APITimeoutError, match=r"0\.3 s") as caught:
            await asyncio.wait_for(s.get_history("slow"), HANG)
        assert caught.value.attempts == 2
        task = asyncio.current_task()
        assert task is not None
        assert task.cancelling() == 0
        assert (await s.get_history("fine")).data is not None  # the task goes on normally


def test_a_check_left_pending_on_a_closed_loop_does_not_stop_the_next_loops() -> None:
    deadlines = Deadlines(0.05)

    async def quick() -> None:
        with deadlines.limit():
            await asyncio.sleep(0)

    asyncio.run(quick())  # its loop closes before the check it armed ever runs
    assert asyncio.run(asyncio.wait_for(stalled(deadlines), HANG)) == "timed out"
