"""Where a batch decodes its answers: an iterator's workers hand each answer to the task
reading the results, which decodes it just before yielding it (a dropped result is then
freed while still in the CPU cache); ``gather_*`` decodes in its workers. Errors of the
decoding stay each user's own result."""

from __future__ import annotations

import asyncio

import pytest

from adgate_async import AsyncSession, DecodeError, PersonalizedResult, UserResult
from adgate_async.testing import Answer, StandInServer

from ._support import wait_until


async def test_iter_users_decodes_each_answer_when_it_is_taken(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    stats = adgate_session.stats
    async with adgate_session.iter_users([f"u{i}" for i in range(40)], concurrency=4,
                                         buffer=8) as results:
        first = await anext(results)
        assert first.ok
        # The workers fill the window (8 ids past the one taken) and stop there.
        await wait_until(lambda: stats.attempts >= 9)
        await asyncio.sleep(0.3)  # let their answers arrive (a bound, not a speed check)
        assert stats.successes == 1  # answered, but nothing decoded before it is taken
        taken = [first]
        async for result in results:
            assert result.ok
            taken.append(result)
            assert stats.successes == len(taken)
    assert sorted(r.index for r in taken) == list(range(40))
    assert stats.successes == stats.requests == 40


async def test_an_iterator_stopped_early_decodes_none_of_the_answers_left(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    stats = adgate_session.stats
    results = adgate_session.iter_users([f"u{i}" for i in range(40)], concurrency=4, buffer=8)
    assert (await anext(results)).ok
    await wait_until(lambda: stats.attempts >= 9)
    await asyncio.sleep(0.3)
    await results.aclose()
    assert stats.successes == 1
    assert stats.failures == 0
    with pytest.raises(StopAsyncIteration):
        await anext(results)


@pytest.mark.parametrize("ordered", [False, True])
async def test_a_body_that_does_not_decode_is_that_users_result_in_iter_users(
    adgate_server: StandInServer, adgate_session: AsyncSession, ordered: bool
) -> None:
    adgate_server.always("garbled", Answer.ok(body=b"{}"))
    adgate_server.always("broken", Answer.ok(body=b'{"data": ['))
    ids = [f"u{i}" for i in range(20)]
    ids[5:5] = ["garbled", "u1", "broken"]
    progress: list[tuple[int, int | None, int]] = []
    results: list[UserResult] = [
        r async for r in adgate_session.iter_users(
            ids, concurrency=4, ordered=ordered,
            on_progress=lambda done, total, errors: progress.append((done, total, errors)))
    ]
    if ordered:
        assert [r.index for r in results] == list(range(len(ids)))
    by_index = {r.index: r for r in results}
    assert sorted(by_index) == list(range(len(ids)))
    assert isinstance(by_index[5].error, DecodeError)
    assert isinstance(by_index[7].error, DecodeError)
    assert (by_index[5].user_id, by_index[7].user_id) == ("garbled", "broken")
    assert all(r.ok and r.history is not None for i, r in by_index.items() if i not in (5, 7))
    assert progress[-1] == (len(ids), len(ids), 2)
    stats = adgate_session.stats
    assert (stats.decode_errors, stats.failures, stats.successes) == (2, 2, len(ids) - 2)


async def test_iter_personalized_decodes_in_the_task_taking_the_results(
    adgate_server: StandInServer, adgate_session: AsyncSession
) -> None:
    adgate_server.always("garbled", Answer.ok(body=b"[]"))
    uids = [f"p{i}" for i in range(12)] + ["garbled"]
    results: list[PersonalizedResult] = []
    async for result in adgate_session.iter_personalized(uids, concurrency=3, numoffers=3):
        results.append(result)
        assert adgate_session.stats.successes == sum(r.ok for r in results)
    by_id = {r.user_id: r for r in results}
    assert isinstance(by_id["garbled"].error, DecodeError)
    assert sum(r.ok for r in results) == 12
